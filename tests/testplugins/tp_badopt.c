/* A filter whose option table points past its conf struct (an offset from another struct).
 * Filling it would write outside the conf the host allocates; the loader must refuse it. */
#include "newsflow/plugin.h"

struct badopt_conf {
    int64_t limit;
};

struct badopt_other {
    char pad[64];
    int64_t limit;
};

static int badopt_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

static const struct nf_option badopt_options[] = {
    {"limit", NF_OPT_INT, "10", offsetof(struct badopt_other, limit), "Offset of another struct."},
    {.name = NULL},
};

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "tp_badopt",
    .description = "Option offset outside conf_size",
    .kind = NF_PLUGIN_FILTER,
    .options = badopt_options,
    .conf_size = sizeof(struct badopt_conf),
    .process = badopt_process,
};
