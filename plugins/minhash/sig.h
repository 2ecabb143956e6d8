/* Near-duplicate signatures: word shingles of the normalised text, one-permutation MinHash with
 * optimal densification, and an exact hash of the normalised text. Shared by the minhash stage
 * (which computes them), dedup (which reads them, or computes them when a record has none) and
 * the benchmark. It keeps no index and knows nothing about records. */
#ifndef NF_MINHASH_SIG_H
#define NF_MINHASH_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bins of the one-permutation MinHash. 64 bins: enough for a Jaccard estimate within about
 * +-0.06 at 0.6, small enough to keep per-article state in dedup under 300 bytes. */
#define NF_SIG_K 64
#define NF_SIG_VERSION 4
/* Encoded: 'M', version, shingle, NF_SIG_K; then little-endian uint32s: shingles, words, the
 * headline's figures, the exact hash (4 words, low first), the text's figures (2 words), the
 * headline's hash, 0; then the NF_SIG_K bins. Version 1 had no headline and a 32-byte header;
 * version 2 split numbers at their separators and counted version markers as headline figures;
 * version 3 had the text's shingles alone in its bins. */
/* The headline's shingles together count as this share of the text's shingles (each as at
 * least 1 and at most NF_SIG_HEADLINE_MAX_WEIGHT shingles of the text; nf_sig_headline).
 * Chosen on three make_corpus corpora (seeds 1-3) with copies edited word by word, cut to half
 * and retitled (bench/more_edits.py): a share of 0.1 gains less, 0.3 or a fixed weight of 3
 * to 6 loses retitled copies, whose headline weighs too much in short reports. */
#define NF_SIG_HEADLINE_SHARE 0.15
#define NF_SIG_HEADLINE_MAX_WEIGHT 6
#define NF_SIG_HEADER 48
/* Steps of each bin's densification sequence kept in the work buffers (sig.c). */
#define NF_SIG_BORROW 16
#define NF_SIG_BYTES (NF_SIG_HEADER + 4 * NF_SIG_K)

struct nf_sig {
    uint8_t version;   /* NF_SIG_VERSION */
    uint8_t shingle;   /* words per shingle */
    uint32_t shingles; /* distinct-ish shingle count (the number hashed; repeats included),
                        * and the headline's as weighed (nf_sig_headline) */
    uint32_t words;
    uint64_t exact_lo, exact_hi; /* XXH3-128 of the normalised text */
    uint32_t figures;  /* the headline's figures (nf_sig_headline); 0: no headline known */
    uint64_t body_figures; /* one bit (of 64, by hash) for each figure of the text: a word
                            * holding a digit, a number by its digits alone */
    uint32_t headline; /* hash of the normalised headline, never 0; 0: no headline known */
    uint32_t v[NF_SIG_K];        /* minimum per bin, densified; all zero when shingles == 0 */
};

/* Reusable work buffers; zero-initialise, free with nf_sig_work_free. Not thread-safe. */
struct nf_sig_work {
    uint8_t *norm;
    size_t norm_cap;
    uint32_t *starts; /* byte offset of each word in norm */
    size_t starts_cap;
    uint32_t mins[NF_SIG_K]; /* the last signature's minima before densification */
    uint64_t filled;         /* and its bins that have one */
    uint8_t borrow[NF_SIG_K][NF_SIG_BORROW]; /* each empty bin's first bins to borrow from */
    bool borrow_ready;
};
void nf_sig_work_free(struct nf_sig_work *w);

/* Normalises `text` (case folded, accents and compatibility forms undone; words are runs of
 * letters and digits, joined by one space) into w->norm and returns its length; the word count
 * goes to *words_out. A number is written one way however the text writes it: its integer
 * part in groups of three digits joined by commas, a decimal fraction after a point, each
 * group a word ("3.892.000", "3 892 000" and "3892000" are "3,892,000"; "3,5" is "3.5").
 * -1 with *why set on invalid UTF-8 or out of memory. */
long nf_sig_normalise(struct nf_sig_work *w, const char *text, size_t n, size_t *words_out,
                      const char **why);

/* Computes the signature of `text` with shingles of `shingle` words (1..16). 0, or -1 with
 * *why set. A text without words gives shingles == 0. Keeps the bins' minima in w for
 * nf_sig_headline, which is to be called next for the same signature. */
int nf_sig_compute(struct nf_sig_work *w, const char *text, size_t n, int shingle,
                   struct nf_sig *out, const char **why);

/* Sets out->headline (a hash of the normalised headline) and out->figures from the headline,
 * and adds the headline's shingles to the bins (weighing NF_SIG_HEADLINE_SHARE of the text's;
 * not when the text has no words): a copy keeps its headline, so a copy with
 * words edited or its tail cut stays nearer its original, and two reports that share a
 * template's body under headlines of their own move apart. The headline's figures are:
 * a key of the multiset of its figures ("1st", "2024", "12", "3,892,000" by its digits), never
 * 0, the same for any order and case. Two headlines with different figures name different
 * reports (another quarter, toll, score or part) however much of the body they share; dedup
 * does not call them copies. A wire version marker ("UPDATE 2-", "CORRECTED-", "REFILE-",
 * "(2)" at the end, a republisher's "BREAKING: ") is not part of the headline: a later version
 * of a story has its first version's figures and hash, and the bodies decide. NULL or empty
 * headline: both 0; figures 0 agrees with anything. Uses w->norm (call after nf_sig_compute).
 * 0, or -1 with *why set on invalid UTF-8 or out of memory. */
int nf_sig_headline(struct nf_sig_work *w, const char *title, size_t n, struct nf_sig *out,
                    const char **why);

/* Whether two articles' figures allow them to be copies of each other: their headlines carry
 * the same figures (or one headline is unknown), and it is not so that each text has at least
 * two figures the other lacks. A copy cut short, reworded or wrapped in boilerplate keeps a
 * subset of its original's figures; the next week's jobless claims, another company's quarter on
 * the same template, or the price raised where the other cut it, carry figures of their own on
 * both sides. A text with very many figures fills its 64 bits and then agrees with most. */
static inline int nf_sig_figures_agree(uint32_t head_a, uint64_t body_a, uint32_t head_b,
                                       uint64_t body_b)
{
    if (head_a && head_b && head_a != head_b)
        return 0;
    return __builtin_popcountll(body_a & ~body_b) < 2 || __builtin_popcountll(body_b & ~body_a) < 2;
}

/* Encodes into exactly NF_SIG_BYTES bytes. */
void nf_sig_encode(const struct nf_sig *s, uint8_t out[NF_SIG_BYTES]);
/* Decodes; -1 when the bytes are not a signature of this version. */
int nf_sig_decode(const void *p, size_t n, struct nf_sig *out);

/* Estimated Jaccard similarity of two signatures (share of equal bins). */
double nf_sig_jaccard(const struct nf_sig *a, const struct nf_sig *b);

#endif
