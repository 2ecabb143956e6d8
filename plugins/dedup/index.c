/* The near-duplicate index: a ring of articles and open-addressing tables over it.
 * Each table entry is 32 bits, the slot (24 bits) and an 8-bit fingerprint of the key, so a
 * band costs about 5 bytes per article; the key itself stays in the article, which a probe reads
 * only when the fingerprint matches. Eviction removes entries with backward-shift deletion
 * (linear probing needs no tombstones), so the tables never fill with the dead.
 * Verdicts follow the read order, not the arrival: an article is judged against those read
 * before it, and one that arrives after articles read later corrects their verdicts (each keeps
 * the earlier match it ranks best, and its root is that match's root), so that the result is
 * the one a single reader in read order would give. */
#include "index.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DUP_TABLES (NF_DUP_BANDS + 4) /* the bands, then exact text, id, headline, root */
#define DUP_T_EXACT NF_DUP_BANDS
#define DUP_T_ID (NF_DUP_BANDS + 1)
#define DUP_T_HEADLINE (NF_DUP_BANDS + 2)
#define DUP_T_ROOT (NF_DUP_BANDS + 3)
/* Articles of one headline kept in its table: the first few read (a copy keeps its original's
 * headline; a headline that many share, "Live updates", would make a long run to probe). */
#define DUP_HEADLINE_CAP 8
#define DUP_MAX_CAND 64
#ifndef DUP_T_START
#define DUP_T_START 65536 /* articles the tables are first sized for */
#endif
/* 4: read order and the earlier match kept per article; 5: bands and bins of signatures of
 * version 4 (the headline weighed in), which an older index's would not match */
/* Version 6 adds `upto` to the header (the log generations a snapshot holds); 5 is still read. */
#define DUP_SNAP_MAGIC "NFDUPIX6"
#define DUP_SNAP_MAGIC_5 "NFDUPIX5"
/* Links followed from an article towards its root before giving up (a chain is short). */
#define DUP_MAX_DEPTH 64

struct dup_item {
    uint8_t id[16];
    uint8_t root[16];
    uint8_t parent[16]; /* the earlier article it is a copy of, ranked best; its own id: none */
    int64_t order;      /* read order (record.h) */
    int64_t porder;     /* the parent's */
    uint32_t band[NF_DUP_BANDS];
    uint64_t exact;
    uint32_t shingles;
    uint32_t figures; /* the headline's figures (sig.h) */
    uint64_t body_figures;
    uint32_t headline; /* hash of the normalised headline; 0 unknown */
    float pj;            /* the parent's estimated Jaccard */
    uint8_t copy;
    uint8_t by_headline; /* in the headline table */
    uint8_t pexact;      /* the parent has the same text */
    uint8_t corrected;   /* its root changed after it was first judged */
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
    size_t t_cap;       /* articles the tables are sized for (they grow up to the window) */
    struct dup_table t[DUP_TABLES];
    uint64_t candidates;
    int64_t last_order; /* the article read last so far */
    uint8_t last_id[16];
    bool any;
    uint32_t *dirty; /* slots changed since the log was last appended to */
    size_t n_dirty, cap_dirty;
    uint32_t *group; /* scratch: the slots of one group */
    size_t cap_group;
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

/* An article's key in table t. */
static uint64_t dup_key(const struct dup_item *it, int t)
{
    return t < NF_DUP_BANDS    ? it->band[t]
           : t == DUP_T_EXACT  ? it->exact
           : t == DUP_T_ID     ? dup_load64(it->id)
           : t == DUP_T_ROOT   ? dup_load64(it->root)
                               : it->headline;
}

static uint64_t dup_item_key(const struct nf_dup_index *x, int t, uint32_t slot)
{
    return dup_key(&x->items[slot], t);
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

/* Gives every table a new, empty array for `cap` articles at a load of at most 3/4: short runs
 * for linear probing. Returns 0, or -1 when the memory cannot be had (the arrays are then the
 * ones they were; the caller keeps or frees them). */
static uint32_t dup_table_size(size_t cap)
{
    return (uint32_t)(cap + cap / 3 + 2);
}

static int dup_tables_alloc(struct nf_dup_index *x, size_t cap)
{
    uint32_t size = dup_table_size(cap);
    uint32_t *e[DUP_TABLES];
    for (int t = 0; t < DUP_TABLES; t++) {
        e[t] = calloc(size, sizeof(uint32_t));
        if (!e[t]) {
            while (t-- > 0)
                free(e[t]);
            return -1;
        }
    }
    for (int t = 0; t < DUP_TABLES; t++) {
        x->t[t].e = e[t];
        x->t[t].size = size;
    }
    return 0;
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
    /* The items are touched as the ring fills, but every table entry is written somewhere at
     * random: tables sized for the whole window would be resident at once. They start at
     * DUP_T_START articles (7 MB), the whole of a smaller window, and double as articles
     * come (dup_reserve). */
    x->t_cap = p->window < DUP_T_START ? p->window : DUP_T_START;
    if (dup_tables_alloc(x, x->t_cap) < 0)
        goto fail;
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
    free(x->dirty);
    free(x->group);
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

static bool dup_same_id(const struct dup_item *it, const void *id)
{
    return memcmp(it->id, id, 16) == 0;
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

/* Whether article a was read before b (ties, records without a read order, by id). */
static bool dup_before(int64_t oa, const uint8_t *ia, int64_t ob, const uint8_t *ib)
{
    return oa != ob ? oa < ob : memcmp(ia, ib, 16) < 0;
}

/* Whether an earlier match (exact text, Jaccard, read order, id) ranks above another: the same
 * text first, read first among those; else the most similar, read first on a tie. */
static bool dup_better(bool ea, float ja, int64_t oa, const uint8_t *ia, bool eb, float jb,
                       int64_t ob, const uint8_t *ib)
{
    if (ea != eb)
        return ea;
    if (!ea && ja != jb)
        return ja > jb;
    return dup_before(oa, ia, ob, ib);
}

static int dup_mark_dirty(struct nf_dup_index *x, uint32_t slot)
{
    if (x->n_dirty == x->cap_dirty) {
        size_t cap = x->cap_dirty ? x->cap_dirty * 2 : 64;
        uint32_t *d = realloc(x->dirty, cap * sizeof(*d));
        if (!d)
            return -1;
        x->dirty = d;
        x->cap_dirty = cap;
    }
    x->dirty[x->n_dirty++] = slot;
    return 0;
}

/* Estimated Jaccard of two articles from their 8-bit bins. */
static float dup_jaccard(const struct dup_item *a, const struct dup_item *b)
{
    int eq = 0;
    for (int i = 0; i < NF_SIG_K; i++)
        eq += a->sig[i] == b->sig[i];
    /* 8-bit values also agree by chance one time in 256: take that out. */
    double j = ((double)eq / NF_SIG_K - 1.0 / 256) / (1.0 - 1.0 / 256);
    return j < 0 ? 0.0f : (float)j;
}

/* Whether the headline table holds articles of this headline with different roots: reports
 * that are not copies of one another recur under it (a weekly list of filings, a daily market
 * report), their template's wording shared. */
static bool dup_headline_recurs(const struct nf_dup_index *x, uint32_t headline)
{
    const struct dup_table *tb = &x->t[DUP_T_HEADLINE];
    uint32_t fp, i = dup_home(tb, DUP_T_HEADLINE, headline, &fp);
    const uint8_t *root = NULL;
    for (uint32_t e; (e = tb->e[i]); i = i + 1 == tb->size ? 0 : i + 1) {
        const struct dup_item *it = &x->items[(e & 0xFFFFFF) - 1];
        if ((e & 0xFF000000u) != fp || it->headline != headline)
            continue;
        if (!root)
            root = it->root;
        else if (memcmp(root, it->root, 16) != 0)
            return true;
    }
    return false;
}

/* Whether `later` is a near-copy of `earlier` (not by exact text): *j_out its estimated Jaccard,
 * *why_out how it matched. */
static bool dup_verify(const struct nf_dup_index *x, const struct dup_item *earlier,
                       const struct dup_item *later, float *j_out, const char **why_out)
{
    if (!nf_sig_figures_agree(earlier->figures, earlier->body_figures, later->figures,
                              later->body_figures))
        return false;
    double j = *j_out = dup_jaccard(earlier, later);
    double a = later->shingles, o = earlier->shingles;
    double small = a < o ? a : o, large = a < o ? o : a;
    double inter = j * (a + o) / (1.0 + j);
    double contained = inter / small;
    bool ratio = small >= x->p.min_ratio * large;
    if (j >= x->p.jaccard) {
        *why_out = "similar";
        return true;
    }
    if (contained >= x->p.containment && ratio) {
        *why_out = "contained";
        return true;
    }
    /* Below the thresholds, the same headline makes a copy only when one text's figures are
     * among the other's: a copy reworded keeps its original's figures (or some) and adds none,
     * where a recurring report under a fixed headline (a daily market or weather report, a
     * weekly rate table) brings figures of its own. It lowers both bars by as much: a copy
     * with more words changed, and a copy cut short that keeps only the first half or so of
     * a short text, whose containment the 64 bins estimate loosely (fewer than 100 shingles
     * leave some bins empty, and the estimate of a wholly contained half falls below 0.8
     * for about one such copy in 200). The latter not under a headline that reports of
     * their own recur under: the half of one such report that its template's wording fills
     * is as contained in the next. */
    if (!later->headline || earlier->headline != later->headline ||
        !dup_figures_nearly_nested(earlier->body_figures, later->body_figures))
        return false;
    double lower = x->p.jaccard - x->p.same_headline;
    *why_out = j >= x->p.same_headline ? "same headline"
               : lower > 0 && contained >= x->p.containment - lower && ratio &&
                       !dup_headline_recurs(x, later->headline)
                   ? "cut short"
                   : NULL;
    return *why_out != NULL;
}

/* Whether `later` has the same text as `earlier` (and figures that agree). */
static bool dup_exact(const struct dup_item *earlier, const struct dup_item *later)
{
    return earlier->exact == later->exact &&
           nf_sig_figures_agree(earlier->figures, earlier->body_figures, later->figures,
                                later->body_figures);
}

static void dup_item_fill(const struct nf_dup_index *x, struct dup_item *it, const uint8_t id[16],
                          int64_t order, const struct nf_sig *sig)
{
    memset(it, 0, sizeof(*it));
    memcpy(it->id, id, 16);
    memcpy(it->root, id, 16);
    memcpy(it->parent, id, 16);
    it->order = order;
    it->exact = sig->exact_lo;
    it->shingles = sig->shingles;
    it->figures = sig->figures;
    it->headline = sig->headline;
    it->body_figures = sig->body_figures;
    for (int b = 0; b < NF_DUP_BANDS; b++)
        it->band[b] = dup_band_key(sig, x->p.rows, b);
    for (int i = 0; i < NF_SIG_K; i++)
        it->sig[i] = (uint8_t)sig->v[i];
}

/* The headline table keeps the first DUP_HEADLINE_CAP articles of a headline in read order:
 * whether the new article `it` goes in, making room by taking out the one read last when it
 * was read before that one. */
static int dup_headline_admit(struct nf_dup_index *x, const struct dup_item *it)
{
    if (!it->headline)
        return 0;
    const struct dup_table *tb = &x->t[DUP_T_HEADLINE];
    uint32_t fp, i = dup_home(tb, DUP_T_HEADLINE, it->headline, &fp);
    int n = 0;
    long last = -1;
    for (uint32_t e; (e = tb->e[i]); i = i + 1 == tb->size ? 0 : i + 1) {
        uint32_t slot = (e & 0xFFFFFF) - 1;
        if ((e & 0xFF000000u) != fp || x->items[slot].headline != it->headline)
            continue;
        n++;
        const struct dup_item *o = &x->items[slot];
        if (last < 0 || dup_before(x->items[last].order, x->items[last].id, o->order, o->id))
            last = slot;
    }
    if (n < DUP_HEADLINE_CAP)
        return 1;
    struct dup_item *o = &x->items[last];
    if (!dup_before(it->order, it->id, o->order, o->id))
        return 0;
    dup_table_del(x, DUP_T_HEADLINE, o->headline, (uint32_t)last);
    o->by_headline = 0;
    return dup_mark_dirty(x, (uint32_t)last) < 0 ? -1 : 1;
}

/* Makes the tables hold n articles (at most the window) at a load of at most 3/4, for short
 * runs of linear probing: twice the articles they held, each put again (putting again costs at
 * most one put more per article; growing four times as much would cost a third, but leave up to
 * three quarters of the tables empty: 14 MB at 100,000 articles). Returns 0, or -1 when memory
 * for the larger tables cannot be had (the old ones are kept). */
static int dup_reserve(struct nf_dup_index *x, size_t n)
{
    if (n <= x->t_cap)
        return 0;
    size_t cap = x->t_cap;
    while (cap < n)
        cap *= 2;
    if (cap > x->p.window)
        cap = x->p.window;
    struct dup_table old[DUP_TABLES];
    memcpy(old, x->t, sizeof(old));
    if (dup_tables_alloc(x, cap) < 0)
        return -1;
    size_t start = (x->head + x->p.window - x->count) % x->p.window;
    for (size_t i = 0; i < x->count; i++) {
        uint32_t slot = (uint32_t)((start + i) % x->p.window);
        for (int t = 0; t < DUP_TABLES; t++)
            if (dup_in_table(x, t, slot))
                dup_table_put(x, t, dup_item_key(x, t, slot), slot);
    }
    for (int t = 0; t < DUP_TABLES; t++)
        free(old[t].e);
    x->t_cap = cap;
    return 0;
}

/* Puts a filled article into the ring and its tables. Returns its slot, or -1. */
static long dup_put(struct nf_dup_index *x, const struct dup_item *it)
{
    if (x->count == x->p.window)
        dup_evict_oldest(x);
    else if (dup_reserve(x, x->count + 1) < 0)
        return -1;
    int admit = dup_headline_admit(x, it);
    if (admit < 0)
        return -1;
    uint32_t slot = (uint32_t)x->head;
    x->items[slot] = *it;
    x->items[slot].by_headline = (uint8_t)admit;
    for (int t = 0; t < DUP_TABLES; t++)
        if (dup_in_table(x, t, slot))
            dup_table_put(x, t, dup_item_key(x, t, slot), slot);
    x->head = x->head + 1 == x->p.window ? 0 : x->head + 1;
    x->count++;
    if (!x->any || dup_before(x->last_order, x->last_id, it->order, it->id)) {
        x->any = true;
        x->last_order = it->order;
        memcpy(x->last_id, it->id, 16);
    }
    return slot;
}

int nf_dup_index_add(struct nf_dup_index *x, const uint8_t id[16], int64_t order,
                     const struct nf_sig *sig, enum nf_dup_kind kind, const uint8_t root[16])
{
    struct dup_item it;
    dup_item_fill(x, &it, id, order, sig);
    if (kind == NF_DUP_COPY) {
        /* a verdict from elsewhere is final: nothing ranks above this parent */
        memcpy(it.root, root, 16);
        memcpy(it.parent, root, 16);
        it.copy = 1;
        it.pexact = 1;
        it.porder = INT64_MIN;
        it.pj = 1;
    }
    return dup_put(x, &it) < 0 ? -1 : 0;
}

/* Candidates of `me` (up to DUP_MAX_CAND): with `exact`, the articles of the same text; else
 * those sharing a band or among the first of the same headline. */
static int dup_candidates(struct nf_dup_index *x, const struct dup_item *me, bool exact,
                          uint32_t *out)
{
    int n = 0;
    for (int b = exact ? NF_DUP_BANDS + 1 : 0; b <= (exact ? NF_DUP_BANDS + 1 : NF_DUP_BANDS);
         b++) {
        int t = b < NF_DUP_BANDS ? b : b == NF_DUP_BANDS ? DUP_T_HEADLINE : DUP_T_EXACT;
        uint64_t key = b < NF_DUP_BANDS ? me->band[b] : t == DUP_T_HEADLINE ? me->headline
                                                                             : me->exact;
        if (t == DUP_T_HEADLINE && !key)
            continue;
        const struct dup_table *tb = &x->t[t];
        uint32_t fp, i = dup_home(tb, t, key, &fp);
        for (uint32_t e; (e = tb->e[i]) && n < DUP_MAX_CAND; i = i + 1 == tb->size ? 0 : i + 1) {
            if ((e & 0xFF000000u) != fp)
                continue;
            uint32_t slot = (e & 0xFFFFFF) - 1;
            if (dup_item_key(x, t, slot) != key)
                continue;
            bool seen = false;
            for (int c = 0; c < n && !seen; c++)
                seen = out[c] == slot;
            if (!seen)
                out[n++] = slot;
        }
    }
    x->candidates += (uint64_t)n;
    return n;
}

/* The slot of the article with this id, or -1. */
static long dup_slot_of(const struct nf_dup_index *x, const uint8_t id[16])
{
    return dup_find(x, DUP_T_ID, dup_load64(id), dup_same_id, id);
}

/* The slots of the articles whose root is `root`, into x->group. Returns how many, or -1. */
static long dup_members(struct nf_dup_index *x, const uint8_t root[16])
{
    const struct dup_table *tb = &x->t[DUP_T_ROOT];
    uint64_t key = dup_load64(root);
    uint32_t fp, i = dup_home(tb, DUP_T_ROOT, key, &fp);
    size_t n = 0;
    for (uint32_t e; (e = tb->e[i]); i = i + 1 == tb->size ? 0 : i + 1) {
        uint32_t slot = (e & 0xFFFFFF) - 1;
        if ((e & 0xFF000000u) != fp || memcmp(x->items[slot].root, root, 16) != 0)
            continue;
        if (n == x->cap_group) {
            size_t cap = x->cap_group ? x->cap_group * 2 : 64;
            uint32_t *g = realloc(x->group, cap * sizeof(*g));
            if (!g)
                return -1;
            x->group = g;
            x->cap_group = cap;
        }
        x->group[n++] = slot;
    }
    return (long)n;
}

/* Whether the article at `slot` is `top` or one of its copies (through its chain of parents). */
static bool dup_descends(const struct nf_dup_index *x, uint32_t slot, const uint8_t top[16])
{
    const struct dup_item *it = &x->items[slot];
    for (int d = 0; d < DUP_MAX_DEPTH; d++) {
        if (memcmp(it->id, top, 16) == 0)
            return true;
        if (memcmp(it->parent, it->id, 16) == 0)
            return false;
        long p = dup_slot_of(x, it->parent);
        if (p < 0)
            return false;
        it = &x->items[p];
    }
    return false;
}

/* The article at `slot` now has root `root`, and so have its copies: each one whose root
 * changes is told to `changed`. */
static int dup_reroot(struct nf_dup_index *x, uint32_t slot, const uint8_t root[16],
                      nf_dup_changed_fn changed, void *arg)
{
    uint8_t old[16], top[16];
    memcpy(old, x->items[slot].root, 16);
    memcpy(top, x->items[slot].id, 16);
    if (memcmp(old, root, 16) == 0)
        return 0;
    bool whole = memcmp(old, top, 16) == 0; /* it was the group's original */
    long n = dup_members(x, old);
    if (n < 0)
        return -1;
    for (long i = 0; i < n; i++) {
        uint32_t m = x->group[i];
        if (!whole && !dup_descends(x, m, top))
            continue;
        struct dup_item *it = &x->items[m];
        dup_table_del(x, DUP_T_ROOT, dup_load64(it->root), m);
        memcpy(it->root, root, 16);
        it->copy = memcmp(root, it->id, 16) != 0;
        it->corrected = 1;
        dup_table_put(x, DUP_T_ROOT, dup_load64(it->root), m);
        if (dup_mark_dirty(x, m) < 0)
            return -1;
        if (changed)
            changed(arg, it->id, it->copy ? NF_DUP_COPY : NF_DUP_ORIGINAL, it->root);
    }
    return 0;
}

int nf_dup_index_judge(struct nf_dup_index *x, const uint8_t id[16], int64_t order,
                       const struct nf_sig *sig, uint8_t root_out[16], const char **why_out,
                       nf_dup_changed_fn changed, void *arg)
{
    *why_out = NULL;
    struct dup_item me;
    dup_item_fill(x, &me, id, order, sig);
    /* The cache line where each of its keys lives in its table (its root's is its own id until
     * it is judged), asked for at once: each table is probed at a place of its own, at random,
     * and one probe after the other each would wait for its line from memory (bench_dedup's
     * judging, 50,000 and 100,000 articles: 7-8% and 7-40% more articles per second of CPU).
     * Here and not in a function of its own, which GCC 12 finds to have no effect and drops. */
    for (int t = 0; t < DUP_TABLES; t++) {
        uint32_t fp, at = dup_home(&x->t[t], t, dup_key(&me, t), &fp);
        __builtin_prefetch(x->t[t].e + at);
    }
    uint32_t ex[DUP_MAX_CAND], cand[DUP_MAX_CAND];
    int nex = dup_candidates(x, &me, true, ex), nc = 0;
    bool late = x->any && dup_before(order, id, x->last_order, x->last_id);
    /* The best match among the articles read before this one. */
    long best = -1;
    bool bexact = false;
    float bj = 0;
    for (int c = 0; c < nex; c++) {
        const struct dup_item *it = &x->items[ex[c]];
        if (!dup_before(it->order, it->id, order, id) || !dup_exact(it, &me))
            continue;
        if (best < 0 || dup_before(it->order, it->id, x->items[best].order, x->items[best].id)) {
            best = ex[c];
            bexact = true;
            bj = 1;
            *why_out = "exact";
        }
    }
    /* The same text read before decides; else the near copies (and, arriving late, the
     * articles read after it that it may be a better match of). */
    if (!bexact || late)
        nc = dup_candidates(x, &me, false, cand);
    for (int c = 0; c < nc && !bexact; c++) {
        const struct dup_item *it = &x->items[cand[c]];
        float j;
        const char *why;
        if (!dup_before(it->order, it->id, order, id) || !dup_verify(x, it, &me, &j, &why))
            continue;
        if (best < 0 || dup_better(false, j, it->order, it->id, false, bj,
                                   x->items[best].order, x->items[best].id)) {
            best = cand[c];
            bj = j;
            *why_out = why;
        }
    }
    if (best >= 0) {
        const struct dup_item *p = &x->items[best];
        memcpy(me.parent, p->id, 16);
        memcpy(me.root, p->root, 16);
        me.porder = p->order;
        me.pj = bj;
        me.pexact = bexact;
        me.copy = 1;
    }
    memcpy(root_out, me.root, 16);
    long mine = dup_put(x, &me);
    if (mine < 0)
        return -1;
    if (!late)
        return me.copy ? NF_DUP_COPY : NF_DUP_ORIGINAL;
    /* Articles read after this one that reached the index first: it is an earlier match of
     * each one it matches, which then keeps the better of it and the match it had. */
    for (int pass = 0; pass < 2; pass++) {
        int n = pass == 0 ? nex : nc;
        for (int c = 0; c < n; c++) {
            uint32_t slot = pass == 0 ? ex[c] : cand[c];
            if (slot == (uint32_t)mine)
                continue; /* evicted to make room for it, and reused */
            struct dup_item *l = &x->items[slot];
            if (!dup_before(order, id, l->order, l->id))
                continue;
            bool exact = pass == 0 && dup_exact(&me, l);
            float j = exact ? 1 : 0;
            const char *why;
            if (!exact && (pass == 0 || !dup_verify(x, &me, l, &j, &why)))
                continue;
            bool has_parent = memcmp(l->parent, l->id, 16) != 0;
            if (has_parent && !dup_better(exact, j, order, id, l->pexact, l->pj, l->porder,
                                          l->parent))
                continue;
            memcpy(l->parent, id, 16);
            l->porder = order;
            l->pj = j;
            l->pexact = exact;
            if (dup_mark_dirty(x, slot) < 0 || dup_reroot(x, slot, me.root, changed, arg) < 0)
                return -1;
        }
    }
    return me.copy ? NF_DUP_COPY : NF_DUP_ORIGINAL;
}

int nf_dup_index_group(struct nf_dup_index *x, const uint8_t id[16], nf_dup_changed_fn fn,
                       void *arg)
{
    long slot = dup_slot_of(x, id);
    if (slot < 0)
        return 0;
    uint8_t root[16];
    memcpy(root, x->items[slot].root, 16);
    long n = dup_members(x, root);
    if (n < 0)
        return -1;
    int told = 0;
    for (long i = 0; i < n; i++) {
        const struct dup_item *it = &x->items[x->group[i]];
        if (!it->corrected)
            continue;
        fn(arg, it->id, it->copy ? NF_DUP_COPY : NF_DUP_ORIGINAL, it->root);
        told++;
    }
    return told;
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

size_t nf_dup_index_bytes_full(const struct nf_dup_index *x)
{
    return sizeof(*x) + x->p.window * sizeof(*x->items) +
           DUP_TABLES * (size_t)dup_table_size(x->p.window) * sizeof(uint32_t);
}

uint64_t nf_dup_index_candidates(const struct nf_dup_index *x)
{
    return x->candidates;
}

struct dup_snap_header {
    char magic[8];
    uint32_t item_size, rows, bands, k;
    uint64_t count;
    uint64_t upto; /* version 6: the log generations a snapshot holds; 0 in a log */
};

/* Version 5's header ended before `upto`. */
#define DUP_SNAP_HEADER_5 offsetof(struct dup_snap_header, upto)

/* A log's header: its count is unknown when it is written; articles run to the end of file. */
#define DUP_COUNT_STREAM UINT64_MAX

int nf_dup_index_log_header(const struct nf_dup_index *x, FILE *f)
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
    /* then the older ones whose verdict changed since: a load keeps the last of an id */
    for (size_t i = 0; i < x->n_dirty; i++)
        if (fwrite(&x->items[x->dirty[i]], sizeof(struct dup_item), 1, f) != 1)
            return -1;
    return fflush(f) == 0 ? 0 : -1;
}

void nf_dup_index_log_written(struct nf_dup_index *x)
{
    x->n_dirty = 0;
}

int64_t nf_dup_index_last_order(const struct nf_dup_index *x)
{
    return x->any ? x->last_order : INT64_MIN;
}

size_t nf_dup_index_changed(const struct nf_dup_index *x)
{
    return x->n_dirty;
}

int nf_dup_index_write(const struct nf_dup_index *x, FILE *f, uint64_t upto)
{
    struct dup_snap_header h = {.item_size = sizeof(struct dup_item),
                                .rows = (uint32_t)x->p.rows,
                                .bands = NF_DUP_BANDS,
                                .k = NF_SIG_K,
                                .count = x->count,
                                .upto = upto};
    memcpy(h.magic, DUP_SNAP_MAGIC, 8);
    bool ok = fwrite(&h, sizeof(h), 1, f) == 1;
    /* oldest first, so that a load replays the window in order: at most two runs of the ring */
    size_t start = (x->head + x->p.window - x->count) % x->p.window;
    size_t first = x->count < x->p.window - start ? x->count : x->p.window - start;
    ok = ok && fwrite(&x->items[start], sizeof(struct dup_item), first, f) == first;
    ok = ok && fwrite(x->items, sizeof(struct dup_item), x->count - first, f) == x->count - first;
    return ok && fflush(f) == 0 ? 0 : -1;
}

int nf_dup_index_load(struct nf_dup_index *x, const char *path, uint64_t *upto, char *why,
                      size_t n)
{
    if (upto)
        *upto = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, n, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct dup_snap_header h = {0};
    int rc = -1;
    bool v5 = false;
    int c = fgetc(f);
    if (c == EOF && !ferror(f)) {
        fclose(f); /* empty: a log begun and not appended to yet */
        return 0;
    }
    ungetc(c, f);
    if (fread(&h, DUP_SNAP_HEADER_5, 1, f) != 1 ||
        (!(v5 = memcmp(h.magic, DUP_SNAP_MAGIC_5, 8) == 0) &&
         (memcmp(h.magic, DUP_SNAP_MAGIC, 8) != 0 ||
          fread(&h.upto, sizeof(h.upto), 1, f) != 1)) ||
        h.item_size != sizeof(struct dup_item) || h.bands != NF_DUP_BANDS || h.k != NF_SIG_K) {
        snprintf(why, n, "%s is not a dedup snapshot of this version", path);
        goto out;
    }
    if (h.rows != (uint32_t)x->p.rows) {
        snprintf(why, n, "%s was made with %u rows per band, not %d (threshold changed)", path,
                 h.rows, x->p.rows);
        goto out;
    }
    if (upto && !v5)
        *upto = h.upto;
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
        long had = dup_slot_of(x, it.id);
        if (had >= 0) {
            /* an article whose verdict changed after it was written: the later one counts */
            uint32_t slot = (uint32_t)had;
            for (int t = 0; t < DUP_TABLES; t++)
                if (dup_in_table(x, t, slot))
                    dup_table_del(x, t, dup_item_key(x, t, slot), slot);
            x->items[slot] = it;
            for (int t = 0; t < DUP_TABLES; t++)
                if (dup_in_table(x, t, slot))
                    dup_table_put(x, t, dup_item_key(x, t, slot), slot);
            continue;
        }
        if (x->count == x->p.window) {
            dup_evict_oldest(x);
        } else if (dup_reserve(x, x->count + 1) < 0) {
            snprintf(why, n, "%s: out of memory for the index of %zu articles", path,
                     x->count + 1);
            goto out;
        }
        uint32_t slot = (uint32_t)x->head;
        x->items[slot] = it;
        for (int t = 0; t < DUP_TABLES; t++)
            if (dup_in_table(x, t, slot))
                dup_table_put(x, t, dup_item_key(x, t, slot), slot);
        x->head = x->head + 1 == x->p.window ? 0 : x->head + 1;
        x->count++;
        if (!x->any || dup_before(x->last_order, x->last_id, it.order, it.id)) {
            x->any = true;
            x->last_order = it.order;
            memcpy(x->last_id, it.id, 16);
        }
    }
    rc = 1;
out:
    fclose(f);
    return rc;
}
