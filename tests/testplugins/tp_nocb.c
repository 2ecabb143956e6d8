/* A filter without a process callback: it could never handle a record, so the loader must
 * refuse it at start-up rather than let the stage host call a NULL pointer later. */
#include <stdlib.h>

#include "newsflow/plugin.h"

static void nocb_destroy(void *state)
{
    free(state);
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "tp_nocb",
    .description = "Filter with no process callback",
    .kind = NF_PLUGIN_FILTER,
    .destroy = nocb_destroy,
};
