/* Near-duplicate signatures: word shingles of the normalised text, one-permutation MinHash with
 * optimal densification, and an exact hash of the normalised text. Shared by the minhash stage
 * (which computes them), dedup (which reads them, or computes them when a record has none) and
 * the benchmark. It keeps no index and knows nothing about records. */
#ifndef NF_MINHASH_SIG_H
#define NF_MINHASH_SIG_H

#include <stddef.h>
#include <stdint.h>

/* Bins of the one-permutation MinHash. 64 bins: enough for a Jaccard estimate within about
 * +-0.06 at 0.6, small enough to keep per-article state in dedup under 300 bytes. */
#define NF_SIG_K 64
#define NF_SIG_VERSION 1
/* Encoded size: the header below, then NF_SIG_K little-endian uint32 values. */
#define NF_SIG_HEADER 32
#define NF_SIG_BYTES (NF_SIG_HEADER + 4 * NF_SIG_K)

struct nf_sig {
    uint8_t version;   /* NF_SIG_VERSION */
    uint8_t shingle;   /* words per shingle */
    uint32_t shingles; /* distinct-ish shingle count (the number hashed; repeats included) */
    uint32_t words;
    uint64_t exact_lo, exact_hi; /* XXH3-128 of the normalised text */
    uint32_t v[NF_SIG_K];        /* minimum per bin, densified; all zero when shingles == 0 */
};

/* Reusable work buffers; zero-initialise, free with nf_sig_work_free. Not thread-safe. */
struct nf_sig_work {
    uint8_t *norm;
    size_t norm_cap;
    uint32_t *starts; /* byte offset of each word in norm */
    size_t starts_cap;
};
void nf_sig_work_free(struct nf_sig_work *w);

/* Normalises `text` (case folded, accents and compatibility forms undone; words are runs of
 * letters and digits, joined by one space) into w->norm and returns its length; the word count
 * goes to *words_out. -1 with *why set on invalid UTF-8 or out of memory. */
long nf_sig_normalise(struct nf_sig_work *w, const char *text, size_t n, size_t *words_out,
                      const char **why);

/* Computes the signature of `text` with shingles of `shingle` words (1..16). 0, or -1 with
 * *why set. A text without words gives shingles == 0. */
int nf_sig_compute(struct nf_sig_work *w, const char *text, size_t n, int shingle,
                   struct nf_sig *out, const char **why);

/* Encodes into exactly NF_SIG_BYTES bytes. */
void nf_sig_encode(const struct nf_sig *s, uint8_t out[NF_SIG_BYTES]);
/* Decodes; -1 when the bytes are not a signature of this version. */
int nf_sig_decode(const void *p, size_t n, struct nf_sig *out);

/* Estimated Jaccard similarity of two signatures (share of equal bins). */
double nf_sig_jaccard(const struct nf_sig *a, const struct nf_sig *b);

#endif
