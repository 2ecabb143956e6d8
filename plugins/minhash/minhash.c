/* minhash: a stateless filter that gives each article its near-duplicate signature (the
 * `minhash` field: word shingles of the normalised text, one-permutation MinHash, and the hash of
 * the whole normalised text for exact copies; layout in sig.h). It scales with workers and
 * judges nothing: dedup compares signatures. Records without text pass unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "newsflow/plugin.h"
#include "sig.h"

struct minhash_conf {
    int64_t shingle;
};

static const struct nf_option minhash_options[] = {
    {"shingle", NF_OPT_INT, "4", offsetof(struct minhash_conf, shingle),
     "Words per shingle (1-16). Fewer words make a few changed words cost less similarity; "
     "more make unrelated articles share fewer shingles. dedup must see one value throughout."},
    {.name = NULL},
};

struct minhash {
    int shingle;
    struct nf_sig_work work;
    struct nf_sig sig;
    uint8_t enc[NF_SIG_BYTES];
};

static int minhash_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    const struct minhash_conf *conf = vconf;
    if (conf->shingle < 1 || conf->shingle > 16) {
        nf_ctx_error(ctx, "option 'shingle' must be between 1 and 16, not %lld",
                     (long long)conf->shingle);
        return NF_ERR;
    }
    struct minhash *s = calloc(1, sizeof(*s));
    if (!s) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->shingle = (int)conf->shingle;
    *state_out = s;
    return NF_OK;
}

static int minhash_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct minhash *s = state;
    size_t n;
    const char *text = nf_record_str(rec, NF_F_TEXT, &n);
    if (!text) {
        nf_record_unset(rec, NF_F_MINHASH); /* a stale signature would describe other text */
        return NF_OK;
    }
    const char *why = NULL;
    if (nf_sig_compute(&s->work, text, n, s->shingle, &s->sig, &why) < 0) {
        nf_ctx_error(ctx, "cannot sign the text: %s", why);
        return NF_ERR;
    }
    size_t tn;
    const char *title = nf_record_str(rec, NF_F_TITLE, &tn);
    if (nf_sig_headline(&s->work, title, title ? tn : 0, &s->sig, &why) < 0) {
        nf_ctx_error(ctx, "cannot read the title's figures: %s", why);
        return NF_ERR;
    }
    nf_sig_encode(&s->sig, s->enc);
    if (nf_record_set_bytes(rec, NF_F_MINHASH, s->enc, sizeof(s->enc)) < 0) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    /* Long texts grow the buffers; do not keep megabytes for one outlier. */
    if (s->work.norm_cap > (4u << 20))
        nf_sig_work_free(&s->work);
    return NF_OK;
}

static void minhash_destroy(void *state)
{
    struct minhash *s = state;
    if (!s)
        return;
    nf_sig_work_free(&s->work);
    free(s);
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "minhash",
    .description = "Gives each article its near-duplicate signature (minhash) for dedup",
    .kind = NF_PLUGIN_FILTER,
    .options = minhash_options,
    .conf_size = sizeof(struct minhash_conf),
    .init = minhash_init,
    .process = minhash_process,
    .destroy = minhash_destroy,
};
