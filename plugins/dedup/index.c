/* The near-duplicate index: a ring of articles and open-addressing tables over it.
 * Each table entry is 32 bits, the slot (24 bits) and an 8-bit fingerprint of the key, so a
 * band costs about 5 bytes per article; the key itself stays in the article, which a probe reads
 * only when the fingerprint matches. Eviction removes entries with backward-shift deletion
 * (linear probing needs no tombstones), so the tables never fill with the dead. */
#include "index.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DUP_TABLES (NF_DUP_BANDS + 3) /* the bands, then exact text, id, headline */
#define DUP_T_EXACT NF_DUP_BANDS
#define DUP_T_ID (NF_DUP_BANDS + 1)
#define DUP_T_HEADLINE (NF_DUP_BANDS + 2)
/* Articles of one headline kept in its table: the first few (a copy keeps its original's
 * headline; a headline that many share, "Live updates", would make a long run to probe). */
#define DUP_HEADLINE_CAP 8
#define DUP_MAX_CAND 64
#define DUP_SNAP_MAGIC "NFDUPIX3" /* 3: signatures of version 3 (sig.h) */

struct dup_item {
    uint8_t id[16];
    uint8_t root[16];
    uint32_t band[NF_DUP_BANDS];
    uint64_t exact;
    uint32_t shingles;
    uint32_t figures; /* the headline's figures (sig.h) */
    uint64_t body_figures;
    uint32_t headline; /* hash of the normalised headline; 0 unknown */
    uint8_t copy;
    uint8_t by_headline; /* in the headline table */
    uint8_t pad[2];
    uint8_t sig[NF_SIG_K]; /* the low 8 bits of each bin */
};

struct dup_table {
    uint32_t *e;
    uint32_t size;
};

struct nf_dup_index {
    struct nf_dup_params p;
    struct dup_item *items;
    size_t head, count; /* the next slot to fill; live articles end just before it */
    struct dup_table t[DUP_TABLES];
    uint64_t candidates;
};

static uint64_t dup_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDull;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ull;
    return x ^ (x >> 33);
}

static uint64_t dup_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int nf_dup_rows_for(double t)
{
    int rows = 1;
    for (int r = 2; r <= NF_SIG_K / NF_DUP_BANDS; r++)
        if (1.0 - pow(1.0 - pow(t, r), NF_DUP_BANDS) >= 0.985)
            rows = r;
    return rows;
}

static uint32_t dup_band_key(const struct nf_sig *s, int rows, int b)
{
    uint64_t h = (uint64_t)b * 0x9E3779B97F4A7C15ull;
    for (int r = 0; r < rows; r++)
        h = dup_mix(h ^ s->v[b * rows + r]);
    return (uint32_t)h;
}

static uint64_t dup_item_key(const struct nf_dup_index *x, int t, uint32_t slot)
{
    const struct dup_item *it = &x->items[slot];
    return t < NF_DUP_BANDS    ? it->band[t]
           : t == DUP_T_EXACT  ? it->exact
           : t == DUP_T_ID     ? dup_load64(it->id)
                               : it->headline;
}

/* Whether the article at `slot` has an entry in table t (all do, but in the headline table). */
static bool dup_in_table(const struct nf_dup_index *x, int t, uint32_t slot)
{
    return t != DUP_T_HEADLINE || x->items[slot].by_headline;
}

/* Where a key lives: its home position and fingerprint. */
static uint32_t dup_home(const struct dup_table *tb, int t, uint64_t key, uint32_t *fp)
{
    uint64_t h = dup_mix(key + (uint64_t)t * 0xD6E8FEB86659FD93ull);
    *fp = (uint32_t)(h >> 56) << 24;
    return (uint32_t)(((h & 0xFFFFFFFFu) * tb->size) >> 32);
}

static void dup_table_put(struct nf_dup_index *x, int t, uint64_t key, uint32_t slot)
{
    struct dup_table *tb = &x->t[t];
    uint32_t fp, i = dup_home(tb, t, key, &fp);
    while (tb->e[i])
        i = i + 1 == tb->size ? 0 : i + 1;
    tb->e[i] = fp | (slot + 1);
}

static void dup_table_del(struct nf_dup_index *x, int t, uint64_t key, uint32_t slot)
{
    struct dup_table *tb = &x->t[t];
    uint32_t fp, i = dup_home(tb, t, key, &fp);
    while (tb->e[i] && (tb->e[i] & 0xFFFFFF) != slot + 1)
        i = i + 1 == tb->size ? 0 : i + 1;
    if (!tb->e[i])
        return; /* not there: nothing to do */
    /* Backward shift: move later entries of the run into the hole when their home allows. */
    uint32_t hole = i;
    for (uint32_t j = hole + 1 == tb->size ? 0 : hole + 1; tb->e[j];
         j = j + 1 == tb->size ? 0 : j + 1) {
        uint32_t f, home = dup_home(tb, t, dup_item_key(x, t, (tb->e[j] & 0xFFFFFF) - 1), &f);
        /* j's entry may move to the hole when home is not cyclically within (hole, j] */
        bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            tb->e[hole] = tb->e[j];
            hole = j;
        }
    }
    tb->e[hole] = 0;
}

struct nf_dup_index *nf_dup_index_new(const struct nf_dup_params *p)
{
    if (p->window < 1 || p->window > NF_DUP_MAX_WINDOW || p->rows < 1 ||
        p->rows * NF_DUP_BANDS > NF_SIG_K)
        return NULL;
    struct nf_dup_index *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->p = *p;
    x->items = calloc(p->window, sizeof(*x->items));
    if (!x->items)
        goto fail;
    /* Load at most 3/4 when the window is full: short runs for linear probing. */
    uint32_t size = (uint32_t)(p->window + p->window / 3 + 2);
    for (int t = 0; t < DUP_TABLES; t++) {
        x->t[t].size = size;
        x->t[t].e = calloc(size, sizeof(uint32_t));
        if (!x->t[t].e)
            goto fail;
    }
    return x;
fail:
    nf_dup_index_destroy(&x);
    return NULL;
}

void nf_dup_index_destroy(struct nf_dup_index **px)
{
    struct nf_dup_index *x = *px;
    if (!x)
        return;
    for (int t = 0; t < DUP_TABLES; t++)
        free(x->t[t].e);
    free(x->items);
    free(x);
    *px = NULL;
}

/* The first live slot whose table-t key is `key` and that `ok` accepts (NULL: any), scanning
 * the key's run. */
static long dup_find(const struct nf_dup_index *x, int t, uint64_t key,
                     bool (*ok)(const struct dup_item *, const void *), const void *arg)
{
    const struct dup_table *tb = &x->t[t];
    uint32_t fp, i = dup_home(tb, t, key, &fp);
    for (uint32_t e; (e = tb->e[i]); i = i + 1 == tb->size ? 0 : i + 1) {
        if ((e & 0xFF000000u) != fp)
            continue;
        uint32_t slot = (e & 0xFFFFFF) - 1;
        if (dup_item_key(x, t, slot) != key)
            continue;
        if (ok && !ok(&x->items[slot], arg))
            continue;
        return slot;
    }
    return -1;
}

/* How many live articles have `key` in table t, counting up to `cap`. */
static int dup_count(const struct nf_dup_index *x, int t, uint64_t key, int cap)
{
    const struct dup_table *tb = &x->t[t];
    uint32_t fp, i = dup_home(tb, t, key, &fp);
    int n = 0;
    for (uint32_t e; n < cap && (e = tb->e[i]); i = i + 1 == tb->size ? 0 : i + 1)
        n += (e & 0xFF000000u) == fp && dup_item_key(x, t, (e & 0xFFFFFF) - 1) == key;
    return n;
}

static bool dup_same_id(const struct dup_item *it, const void *id)
{
    return memcmp(it->id, id, 16) == 0;
}

/* Whether an article of the same text is a copy: its figures agree (sig.h). */
static bool dup_figures_agree(const struct dup_item *it, const void *vsig)
{
    const struct nf_sig *sig = vsig;
    return nf_sig_figures_agree(it->figures, it->body_figures, sig->figures, sig->body_figures);
}

/* Whether one text's figures are among the other's, but for one on each side at most (a
 * number swapped for another). */
static bool dup_figures_nearly_nested(uint64_t a, uint64_t b)
{
    int only_a = __builtin_popcountll(a & ~b), only_b = __builtin_popcountll(b & ~a);
    return only_a == 0 || only_b == 0 || (only_a == 1 && only_b == 1);
}

int nf_dup_index_lookup(const struct nf_dup_index *x, const uint8_t id[16],
                        enum nf_dup_kind *kind_out, uint8_t root_out[16])
{
    long slot = dup_find(x, DUP_T_ID, dup_load64(id), dup_same_id, id);
    if (slot < 0)
        return 0;
    const struct dup_item *it = &x->items[slot];
    *kind_out = it->copy ? NF_DUP_COPY : NF_DUP_ORIGINAL;
    memcpy(root_out, it->root, 16);
    return 1;
}

static void dup_evict_oldest(struct nf_dup_index *x)
{
    uint32_t slot = (uint32_t)x->head; /* the ring is full: head is the oldest */
    for (int t = 0; t < DUP_TABLES; t++)
        if (dup_in_table(x, t, slot))
            dup_table_del(x, t, dup_item_key(x, t, slot), slot);
    x->count--;
}

int nf_dup_index_add(struct nf_dup_index *x, const uint8_t id[16], const struct nf_sig *sig,
                     enum nf_dup_kind kind, const uint8_t root[16])
{
    if (x->count == x->p.window)
        dup_evict_oldest(x);
    uint32_t slot = (uint32_t)x->head;
    struct dup_item *it = &x->items[slot];
    memcpy(it->id, id, 16);
    memcpy(it->root, kind == NF_DUP_COPY ? root : id, 16);
    it->copy = kind == NF_DUP_COPY;
    it->exact = sig->exact_lo;
    it->shingles = sig->shingles;
    it->figures = sig->figures;
    it->headline = sig->headline;
    it->body_figures = sig->body_figures;
    for (int b = 0; b < NF_DUP_BANDS; b++)
        it->band[b] = dup_band_key(sig, x->p.rows, b);
    for (int i = 0; i < NF_SIG_K; i++)
        it->sig[i] = (uint8_t)sig->v[i];
    it->by_headline = sig->headline && dup_count(x, DUP_T_HEADLINE, sig->headline,
                                                 DUP_HEADLINE_CAP) < DUP_HEADLINE_CAP;
    for (int t = 0; t < DUP_TABLES; t++)
        if (dup_in_table(x, t, slot))
            dup_table_put(x, t, dup_item_key(x, t, slot), slot);
    x->head = x->head + 1 == x->p.window ? 0 : x->head + 1;
    x->count++;
    return 0;
}

int nf_dup_index_judge(struct nf_dup_index *x, const uint8_t id[16], const struct nf_sig *sig,
                       uint8_t root_out[16], const char **why_out)
{
    *why_out = NULL;
    long best = dup_find(x, DUP_T_EXACT, sig->exact_lo, dup_figures_agree, sig);
    if (best >= 0) {
        *why_out = "exact";
    } else {
        uint32_t cand[DUP_MAX_CAND];
        int nc = 0;
        /* The candidates: articles that share a band, and the first few of the same
         * headline (a copy keeps its headline; cut to half or reworded, it may share no band). */
        for (int b = 0; b <= NF_DUP_BANDS && nc < DUP_MAX_CAND; b++) {
            int t = b < NF_DUP_BANDS ? b : DUP_T_HEADLINE;
            uint64_t key = b < NF_DUP_BANDS ? dup_band_key(sig, x->p.rows, b) : sig->headline;
            if (t == DUP_T_HEADLINE && !key)
                break;
            const struct dup_table *tb = &x->t[t];
            uint32_t fp, i = dup_home(tb, t, key, &fp);
            for (uint32_t e; (e = tb->e[i]) && nc < DUP_MAX_CAND;
                 i = i + 1 == tb->size ? 0 : i + 1) {
                if ((e & 0xFF000000u) != fp)
                    continue;
                uint32_t slot = (e & 0xFFFFFF) - 1;
                if (dup_item_key(x, t, slot) != key)
                    continue;
                bool seen = false;
                for (int c = 0; c < nc && !seen; c++)
                    seen = cand[c] == slot;
                if (!seen)
                    cand[nc++] = slot;
            }
        }
        x->candidates += (uint64_t)nc;
        uint8_t mine[NF_SIG_K];
        for (int i = 0; i < NF_SIG_K; i++)
            mine[i] = (uint8_t)sig->v[i];
        double best_j = -1;
        for (int c = 0; c < nc; c++) {
            const struct dup_item *it = &x->items[cand[c]];
            if (!dup_figures_agree(it, sig))
                continue;
            int eq = 0;
            for (int i = 0; i < NF_SIG_K; i++)
                eq += it->sig[i] == mine[i];
            /* 8-bit values also agree by chance one time in 256: take that out. */
            double j = ((double)eq / NF_SIG_K - 1.0 / 256) / (1.0 - 1.0 / 256);
            if (j < 0)
                j = 0;
            double a = sig->shingles, o = it->shingles;
            double small = a < o ? a : o, large = a < o ? o : a;
            double inter = j * (a + o) / (1.0 + j);
            double contained = inter / small;
            /* Below the threshold, the same headline makes a copy only when one text's figures
             * are among the other's: a copy reworded keeps its original's figures (or some)
             * and adds none, where a recurring report under a fixed headline (a daily market
             * or weather report, a weekly rate table) brings figures of its own. */
            const char *why =
                j >= x->p.jaccard ? "similar"
                : contained >= x->p.containment && small >= x->p.min_ratio * large ? "contained"
                : j >= x->p.same_headline && sig->headline && it->headline == sig->headline &&
                        dup_figures_nearly_nested(it->body_figures, sig->body_figures)
                    ? "same headline"
                    : NULL;
            if (why && j > best_j) {
                best_j = j;
                best = cand[c];
                *why_out = why;
            }
        }
    }
    enum nf_dup_kind kind = NF_DUP_ORIGINAL;
    if (best >= 0) {
        kind = NF_DUP_COPY;
        memcpy(root_out, x->items[best].root, 16);
    }
    if (nf_dup_index_add(x, id, sig, kind, root_out) < 0)
        return -1;
    return kind;
}

size_t nf_dup_index_count(const struct nf_dup_index *x)
{
    return x->count;
}

size_t nf_dup_index_bytes(const struct nf_dup_index *x)
{
    size_t n = sizeof(*x) + x->p.window * sizeof(*x->items);
    for (int t = 0; t < DUP_TABLES; t++)
        n += (size_t)x->t[t].size * sizeof(uint32_t);
    return n;
}

uint64_t nf_dup_index_candidates(const struct nf_dup_index *x)
{
    return x->candidates;
}

struct dup_snap_header {
    char magic[8];
    uint32_t item_size, rows, bands, k;
    uint64_t count;
};

/* A log's header: its count is unknown when it is written; articles run to the end of file. */
#define DUP_COUNT_STREAM UINT64_MAX

int nf_dup_index_log_start(const struct nf_dup_index *x, FILE *f)
{
    struct dup_snap_header h = {.item_size = sizeof(struct dup_item),
                                .rows = (uint32_t)x->p.rows,
                                .bands = NF_DUP_BANDS,
                                .k = NF_SIG_K,
                                .count = DUP_COUNT_STREAM};
    memcpy(h.magic, DUP_SNAP_MAGIC, 8);
    return fwrite(&h, sizeof(h), 1, f) == 1 && fflush(f) == 0 ? 0 : -1;
}

int nf_dup_index_log_append(const struct nf_dup_index *x, FILE *f, size_t n)
{
    if (n > x->count)
        n = x->count;
    size_t start = (x->head + x->p.window - n) % x->p.window;
    for (size_t i = 0; i < n; i++)
        if (fwrite(&x->items[(start + i) % x->p.window], sizeof(struct dup_item), 1, f) != 1)
            return -1;
    return fflush(f) == 0 ? 0 : -1;
}

int nf_dup_index_save(const struct nf_dup_index *x, const char *path)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return errno = ENAMETOOLONG, -1;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    struct dup_snap_header h = {.item_size = sizeof(struct dup_item),
                                .rows = (uint32_t)x->p.rows,
                                .bands = NF_DUP_BANDS,
                                .k = NF_SIG_K,
                                .count = x->count};
    memcpy(h.magic, DUP_SNAP_MAGIC, 8);
    bool ok = fwrite(&h, sizeof(h), 1, f) == 1;
    /* oldest first, so that a load replays the window in order */
    size_t start = (x->head + x->p.window - x->count) % x->p.window;
    for (size_t i = 0; ok && i < x->count; i++)
        ok = fwrite(&x->items[(start + i) % x->p.window], sizeof(struct dup_item), 1, f) == 1;
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

int nf_dup_index_load(struct nf_dup_index *x, const char *path, char *why, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, n, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct dup_snap_header h;
    int rc = -1;
    if (fread(&h, sizeof(h), 1, f) != 1 || memcmp(h.magic, DUP_SNAP_MAGIC, 8) != 0 ||
        h.item_size != sizeof(struct dup_item) || h.bands != NF_DUP_BANDS || h.k != NF_SIG_K) {
        snprintf(why, n, "%s is not a dedup snapshot of this version", path);
        goto out;
    }
    if (h.rows != (uint32_t)x->p.rows) {
        snprintf(why, n, "%s was made with %u rows per band, not %d (threshold changed)", path,
                 h.rows, x->p.rows);
        goto out;
    }
    /* A smaller window keeps the newest. */
    uint64_t skip = h.count != DUP_COUNT_STREAM && h.count > x->p.window ? h.count - x->p.window
                                                                         : 0;
    if (skip && fseek(f, (long)(skip * sizeof(struct dup_item)), SEEK_CUR) != 0) {
        snprintf(why, n, "%s: %s", path, strerror(errno));
        goto out;
    }
    struct dup_item it;
    for (uint64_t i = skip; i < h.count; i++) {
        if (fread(&it, sizeof(it), 1, f) != 1) {
            if (h.count == DUP_COUNT_STREAM)
                break; /* the end of a log, or its last article half written */
            snprintf(why, n, "%s is truncated after %llu articles", path,
                     (unsigned long long)(i - skip));
            goto out;
        }
        if (x->count == x->p.window)
            dup_evict_oldest(x);
        uint32_t slot = (uint32_t)x->head;
        x->items[slot] = it;
        for (int t = 0; t < DUP_TABLES; t++)
            if (dup_in_table(x, t, slot))
                dup_table_put(x, t, dup_item_key(x, t, slot), slot);
        x->head = x->head + 1 == x->p.window ? 0 : x->head + 1;
        x->count++;
    }
    rc = 1;
out:
    fclose(f);
    return rc;
}
