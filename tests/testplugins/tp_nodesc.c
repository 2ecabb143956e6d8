/* A plugin whose author forgot NF_PLUGIN_EXPORT: with -fvisibility=hidden the descriptor is
 * not exported, so the .so loads but has no `nf_plugin` symbol. The loader must say so. */
#include "newsflow/plugin.h"

static int nodesc_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "tp_nodesc",
    .description = "Descriptor not exported",
    .kind = NF_PLUGIN_FILTER,
    .process = nodesc_process,
};
