/* filter_pass: hands every record on unchanged. For wiring tests, for benchmarks of the
 * runtime itself, and as a placeholder stage while a pipeline is being built. */
#include "newsflow/plugin.h"

static int pass_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "filter_pass",
    .description = "Passes every record on unchanged",
    .kind = NF_PLUGIN_FILTER,
    .process = pass_process,
};
