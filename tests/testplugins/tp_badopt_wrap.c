/* A filter whose option offset is so large that offset + width wraps around SIZE_MAX, as a
 * corrupted descriptor could hold. A bounds check that adds before comparing lets it through. */
#include <stdint.h>

#include "newsflow/plugin.h"

struct wrap_conf {
    int64_t limit;
};

static int wrap_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

static const struct nf_option wrap_options[] = {
    {"limit", NF_OPT_INT, "10", SIZE_MAX - 3, "Offset that wraps when the width is added."},
    {.name = NULL},
};

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "tp_badopt_wrap",
    .description = "Option offset that overflows the bounds check",
    .kind = NF_PLUGIN_FILTER,
    .options = wrap_options,
    .conf_size = sizeof(struct wrap_conf),
    .process = wrap_process,
};
