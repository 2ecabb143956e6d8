/* A filter whose option table holds a rule that cannot work (a min above its max): no value
 * could ever pass, so the loader refuses the plugin and names the row. */
#include "newsflow/plugin.h"

struct badrule_conf {
    int64_t window;
};

static const struct nf_option badrule_options[] = {
    {"window", NF_OPT_INT, "8", offsetof(struct badrule_conf, window), "In flight.", .min = "16",
     .max = "4"},
    {.name = NULL},
};

static int badrule_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "tp_badrule",
    .description = "An option whose min is above its max",
    .kind = NF_PLUGIN_FILTER,
    .options = badrule_options,
    .conf_size = sizeof(struct badrule_conf),
    .process = badrule_process,
};
