/* A filter whose descriptor declares itself shorter than the current ABI's required members
 * (it stops before flush), as an older or truncated build would. The loader must refuse it. */
#include "newsflow/plugin.h"

static int small_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = offsetof(struct nf_plugin, flush),
    .name = "tp_small",
    .description = "Declares a descriptor too small for this ABI",
    .kind = NF_PLUGIN_FILTER,
    .process = small_process,
};
