/* A filter as it was built against ABI 1's headers: option rows of five members (name, type,
 * default, offset, description) and a descriptor that ends after refetch. The loader reads it
 * through ABI 1's row layout; read as ABI 2 rows, the second row's name would be taken for the
 * first row's min. Its validate, past the size it declares, must never be called. */
#include "newsflow/plugin.h"

struct abi1_option {
    const char *name;
    enum nf_opt_type type;
    const char *def;
    size_t offset;
    const char *description;
};

struct abi1_conf {
    int64_t limit;
    const char *label;
    double ratio;
};

static const struct abi1_option abi1_options[] = {
    {"limit", NF_OPT_INT, "7", offsetof(struct abi1_conf, limit), "A number."},
    {"label", NF_OPT_STRING, "old", offsetof(struct abi1_conf, label), "A word."},
    {"ratio", NF_OPT_DOUBLE, "0.5", offsetof(struct abi1_conf, ratio), "A share."},
    {.name = NULL},
};

static int abi1_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

static int abi1_validate(const void *conf, const char **option_out, char *err, size_t errlen)
{
    (void)conf;
    (void)err;
    (void)errlen;
    *option_out = "limit";
    return NF_ERR;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = 1,
    .size = offsetof(struct nf_plugin, validate),
    .name = "tp_abi1",
    .description = "Built against ABI 1",
    .kind = NF_PLUGIN_FILTER,
    .options = (const struct nf_option *)(const void *)abi1_options,
    .conf_size = sizeof(struct abi1_conf),
    .process = abi1_process,
    .validate = abi1_validate,
};
