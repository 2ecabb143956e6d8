/* A filter that crashes the worker (abort) on a record titled exactly "poison" and passes every
 * other record unchanged: end-to-end tests use it to check crash recovery and dead-lettering of
 * a record that kills every worker it reaches. */
#include <stdlib.h>
#include <string.h>

#include "newsflow/plugin.h"

static int poison_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    size_t n;
    const char *title = nf_record_str(rec, NF_F_TITLE, &n);
    if (title && n == 6 && memcmp(title, "poison", 6) == 0)
        abort();
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "tp_poison",
    .description = "Aborts the process on a record titled \"poison\"; passes the rest",
    .kind = NF_PLUGIN_FILTER,
    .process = poison_process,
};
