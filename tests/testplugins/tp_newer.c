/* A plugin of the same ABI built against newer headers that appended a member to the
 * descriptor: its declared size is larger than this host's struct. The append-only rule makes
 * it loadable; the host must copy only the part it knows. */
#include "newsflow/plugin.h"

struct newer_descriptor {
    struct nf_plugin base;
    uint64_t appended[4]; /* members this host does not know */
};

static int newer_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct newer_descriptor nf_plugin = {
    .base =
        {
            .abi = NF_PLUGIN_ABI,
            .size = sizeof(struct newer_descriptor),
            .name = "tp_newer",
            .description = "Descriptor larger than this host's",
            .kind = NF_PLUGIN_FILTER,
            .process = newer_process,
        },
    .appended = {1, 2, 3, 4},
};
