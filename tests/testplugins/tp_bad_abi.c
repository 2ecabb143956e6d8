/* A filter that claims the next plugin ABI, as a .so built against newer headers would.
 * The loader must refuse it before trusting any other member. */
#include "newsflow/plugin.h"

static int bad_abi_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI + 1,
    .size = sizeof(struct nf_plugin),
    .name = "tp_bad_abi",
    .description = "Declares an ABI this host does not speak",
    .kind = NF_PLUGIN_FILTER,
    .process = bad_abi_process,
};
