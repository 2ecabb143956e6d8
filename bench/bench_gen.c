/* Benchmark source: N synthetic articles of about `bytes` bytes each, with stable ids. The text
 * is real-looking prose assembled from a fixed word list, so downstream stages do real work. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsflow/plugin.h"

struct gen_conf {
    int64_t count;
    int64_t bytes;
};

struct gen {
    struct gen_conf conf;
    int64_t next;
    char *body;
    size_t body_len;
};

static const struct nf_option gen_options[] = {
    {"count", NF_OPT_INT, "100000", offsetof(struct gen_conf, count),
     "Number of records to produce, then end of input."},
    {"bytes", NF_OPT_SIZE, "3K", offsetof(struct gen_conf, bytes),
     "Approximate size of each record's text."},
    {.name = NULL},
};

static int gen_init(struct nf_ctx *ctx, const void *conf, void **state_out)
{
    static const char *const words[] = {"the", "pact", "Sahel", "security", "alliance",
                                        "Mali", "Niger", "forces", "border", "regional",
                                        "officials", "said", "on", "Friday", "joint"};
    struct gen *g = calloc(1, sizeof(*g));
    if (!g)
        return NF_ERR;
    memcpy(&g->conf, conf, sizeof(g->conf));
    g->body = malloc((size_t)g->conf.bytes + 32);
    if (!g->body) {
        free(g);
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    size_t n = 0;
    for (unsigned i = 0; n + 16 < (size_t)g->conf.bytes; i = i * 7 + 3) {
        const char *w = words[i % (sizeof(words) / sizeof(words[0]))];
        size_t l = strlen(w);
        memcpy(g->body + n, w, l);
        n += l;
        g->body[n++] = (i % 11 == 0) ? '.' : ' ';
    }
    g->body_len = n;
    /* workers split the range between them */
    g->next = nf_ctx_worker(ctx);
    *state_out = g;
    return NF_OK;
}

static int gen_next(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct gen *g = state;
    if (g->next >= g->conf.count)
        return NF_EOF;
    char uri[64], id[33];
    int n = snprintf(uri, sizeof(uri), "bench://gen/%lld", (long long)g->next);
    nf_id_make(uri, (size_t)n, id);
    g->next += nf_ctx_workers(ctx);
    if (nf_record_set_cstr(rec, NF_F_ID, id) < 0 || nf_record_set_source(rec, uri, "bench") < 0 ||
        nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain") < 0 ||
        nf_record_set_bytes_ref(rec, NF_F_RAW, g->body, g->body_len) < 0) {
        nf_ctx_error(ctx, "cannot build record: %s", nf_record_error(rec));
        return NF_ERR;
    }
    return NF_OK;
}

/* The body is the same for every record: re-reading is attaching it again. */
static int gen_refetch(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct gen *g = state;
    (void)ctx;
    return nf_record_set_bytes(rec, NF_F_RAW, g->body, g->body_len) < 0 ? NF_ERR : NF_OK;
}

static void gen_destroy(void *state)
{
    struct gen *g = state;
    if (g)
        free(g->body);
    free(g);
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "bench_gen",
    .description = "Produces synthetic articles for benchmarks",
    .kind = NF_PLUGIN_SOURCE,
    .options = gen_options,
    .conf_size = sizeof(struct gen_conf),
    .init = gen_init,
    .next = gen_next,
    .destroy = gen_destroy,
    .refetch = gen_refetch,
};
