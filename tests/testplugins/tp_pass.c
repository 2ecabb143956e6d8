/* A pass-through filter: leaves every record as it is. End-to-end tests put it in a stage to
 * measure or exercise the host and transport without any plugin work. */
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
    .name = "tp_pass",
    .description = "Passes every record on unchanged",
    .kind = NF_PLUGIN_FILTER,
    .process = pass_process,
};
