/* story: members, and splitting a story (story.h has the state). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_util.h"
#include "story.h"

/* A split needs this many members with terms, two a side, and is found in at most
 * STORY_SPLIT_ROUNDS rounds of moves. */
#define STORY_SPLIT_MIN 4
#define STORY_SPLIT_ROUNDS 10
/* A member list's first capacity, doubled up to STORY_SPLIT_MAX: most stories keep one or two
 * members, and each list is its own allocation */
#define STORY_MEMBERS_FIRST 2

/* ---- members, and splitting a story ------------------------------------------------------ */

/* A story of STORY_SPLIT_MIN to STORY_SPLIT_MAX members keeps each member's strongest terms,
 * entities, date and year, so that a story that gathered two events of one kind can be split:
 * two tellings of one event agree on its figures (a toll, a score, an age), two events of one
 * kind do not, while both share the kind's words. After each join the story's members are split
 * in two by their similarities (the two least alike begin each side, and each member goes to the
 * side it is closer to on average, again until none moves); the story is split when the mean
 * similarity across the sides is under split_ratio of the mean within them and the figures'
 * alone under split_figures of theirs (taken when at least split_figure_pairs of the member
 * pairs both give figures). The side with the member read first keeps the story; the
 * other becomes a story named by its own member read first, and the record carries each of its
 * members to it ("story_of") for the stores, itself included (and the kept side's members to
 * the kept story when the new side's name was one of the kept story's former names); the moves
 * are kept in a ring, by the record, to be carried again if it is sent again
 * (story_moves_again). A story whose members are not all known (restored from an older
 * snapshot, past STORY_SPLIT_MAX, or dropped when more than split_members were kept) is not
 * split. */

void story_mlist_free(struct story *s, uint32_t slot, bool off)
{
    struct story_mlist *l = &s->mem[slot];
    s->mem_total -= l->n;
    free(l->m);
    *l = (struct story_mlist){.off = off};
}

/* Drops the member lists of the stories that went longest without a new member until at most
 * three quarters of split_members are kept. */
static void story_members_trim(struct story *s)
{
    size_t n = 0;
    uint32_t *o = s->order;
    for (size_t i = 0; i < s->nitems; i++)
        if (s->items[i].live && s->mem[i].n)
            o[n++] = (uint32_t)i;
    qsort_r(o, n, sizeof(*o), story_cmp_seq, s->items);
    size_t want = (size_t)s->conf->split_members / 4 * 3;
    for (size_t i = 0; i < n && s->mem_total > want; i++)
        story_mlist_free(s, o[i], true);
}

/* Adds the record just judged (its terms in s->dt, or none for a copy of `of`) to the member
 * list of the story at slot. Returns 0, or -1 when out of memory. */
int story_member_add(struct story *s, uint32_t slot, const uint64_t key[2], const uint64_t of[2],
                     int64_t order, double t, const struct story_ent *re, size_t nre, bool terms)
{
    struct story_mlist *l = &s->mem[slot];
    if (l->off || !(s->conf->split_ratio > 0))
        return 0;
    if (l->n >= STORY_SPLIT_MAX) {
        story_mlist_free(s, slot, true);
        return 0;
    }
    if (nfu_grow_from(&l->m, &l->cap, l->n + 1, sizeof(*l->m), STORY_MEMBERS_FIRST) < 0)
        return -1;
    struct story_member *m = &l->m[l->n++];
    memset(m, 0, sizeof(*m));
    m->k[0] = key[0], m->k[1] = key[1];
    if (of)
        m->of[0] = of[0], m->of[1] = of[1];
    m->order = order;
    m->t = t;
    m->year = terms ? s->year : 0;
    float w[STORY_MEMBER_TERMS]; /* the kept terms' weights, strongest first */
    for (size_t i = 0; terms && i < s->ndt; i++) {
        const struct story_dterm *d = &s->dt[i];
        size_t j = m->nterms;
        if (j == STORY_MEMBER_TERMS) {
            if (!(d->w > w[j - 1]))
                continue;
            j--;
        } else {
            m->nterms++;
        }
        for (; j > 0 && w[j - 1] < d->w; j--)
            m->terms[j] = m->terms[j - 1], w[j] = w[j - 1];
        m->terms[j] = (struct story_mterm){.h = d->h, .tf = d->tf, .kind = d->kind,
                                           .named = d->named};
        w[j] = d->w;
    }
    /* its strongest entities, strongest first (an earlier one first among equals) */
    for (size_t i = 0; terms && i < nre; i++) {
        size_t j = m->nents;
        if (j == STORY_MEMBER_ENTS) {
            if (!(re[i].mass > m->ents[j - 1].mass))
                continue;
            j--;
        } else {
            m->nents++;
        }
        for (; j > 0 && m->ents[j - 1].mass < re[i].mass; j--)
            m->ents[j] = m->ents[j - 1];
        m->ents[j] = re[i];
    }
    if (++s->mem_total > (size_t)s->conf->split_members)
        story_members_trim(s);
    return 0;
}

/* Puts the members of the story at `gone` after those of `keep` (a merge). */
int story_members_merge(struct story *s, uint32_t keep, uint32_t gone)
{
    struct story_mlist *a = &s->mem[keep], *b = &s->mem[gone];
    if (a->off || b->off || a->n + b->n > STORY_SPLIT_MAX) {
        story_mlist_free(s, gone, false);
        story_mlist_free(s, keep, true);
        return 0;
    }
    if (nfu_grow_from(&a->m, &a->cap, a->n + b->n, sizeof(*a->m), STORY_MEMBERS_FIRST) < 0)
        return -1;
    if (b->n)
        memcpy(a->m + a->n, b->m, b->n * sizeof(*b->m));
    a->n += b->n;
    s->mem_total += b->n;
    story_mlist_free(s, gone, false);
    return 0;
}

/* A member's terms weighed with the IDF of now, normalised within each kind, by hash; `at`:
 * each term's number among the story's (story_split_sides). */
struct story_mvec {
    uint64_t h[STORY_MEMBER_TERMS];
    float w[STORY_MEMBER_TERMS];
    uint16_t at[STORY_MEMBER_TERMS];
    uint8_t kind[STORY_MEMBER_TERMS];
    uint8_t n;
    bool has[STORY_KINDS];
};

/* The distinct terms of a story's members numbered (open addressing on the hash, at most half
 * full), and one member's weights spread over those numbers: a pair's dot products are then
 * read off at the other member's terms, in its order (by hash, as a merge of the two would
 * meet them, so the sums are the same to the bit), without a merge's branches. */
#define STORY_TERM_SLOTS (2 * STORY_SPLIT_MAX * STORY_MEMBER_TERMS)
struct story_terms_seen {
    uint64_t h[STORY_TERM_SLOTS];
    double w[STORY_TERM_SLOTS]; /* zero but while a member's weights are spread */
};

/* story_split_sides' tables (48 KB: too large for its stack, and the state's own so that two
 * instances of the stage never share them) */
struct story_split_work {
    double sim[STORY_SPLIT_MAX][STORY_SPLIT_MAX], fig[STORY_SPLIT_MAX][STORY_SPLIT_MAX];
    struct story_terms_seen t;
};

static void story_mvec_of(struct story *s, const struct story_member *m, struct story_mvec *v)
{
    double norm[STORY_KINDS] = {0};
    v->n = m->nterms;
    memset(v->has, 0, sizeof(v->has));
    for (uint8_t i = 0; i < m->nterms; i++) {
        /* by insertion, on the hash: two vectors are then compared in one pass */
        uint8_t j = i;
        for (; j > 0 && v->h[j - 1] > m->terms[i].h; j--)
            v->h[j] = v->h[j - 1], v->w[j] = v->w[j - 1], v->kind[j] = v->kind[j - 1];
        double w = m->terms[i].tf * story_idf_of(s, m->terms[i].h);
        v->h[j] = m->terms[i].h, v->w[j] = (float)w, v->kind[j] = m->terms[i].kind;
        norm[m->terms[i].kind] += w * w;
    }
    for (uint8_t i = 0; i < v->n; i++) {
        v->w[i] = (float)(v->w[i] / sqrt(norm[v->kind[i]]));
        v->has[v->kind[i]] = true;
    }
}

/* The similarity of member b to member a, whose weights are spread in t->w, weighed as an
 * article's against a story (the kinds both have); *fig: the figures' cosine, or -1 when one of
 * them gives none. */
static double story_mvec_sim(const struct story *s, const struct story_terms_seen *t,
                             const struct story_mvec *a, const struct story_mvec *b, double *fig)
{
    double dot[STORY_KINDS] = {0};
    for (uint8_t j = 0; j < b->n; j++)
        dot[b->kind[j]] += t->w[b->at[j]] * b->w[j];
    const double weight[STORY_KINDS] = {1, s->conf->name_weight, s->conf->figure_weight};
    double sum = 0, wsum = 0;
    for (int k = 0; k < STORY_KINDS; k++)
        if (a->has[k] && b->has[k] && weight[k] > 0)
            sum += weight[k] * dot[k], wsum += weight[k];
    *fig = a->has[STORY_FIGURE] && b->has[STORY_FIGURE] ? dot[STORY_FIGURE] : -1;
    return wsum > 0 ? sum / wsum : 0;
}

/* Makes the story at slot again from its member list: terms, entities, dates, year, members,
 * name (its member read first) and index entries. */
static int story_rebuild(struct story *s, uint32_t slot)
{
    struct story_item *it = &s->items[slot];
    const struct story_mlist *l = &s->mem[slot];
    size_t n = 0, need = (size_t)l->n * STORY_MEMBER_TERMS;
    if (story_merge_reserve(s, need) < 0)
        return -1;
    struct story_ent ents[STORY_MAX_ENTS];
    it->nents = 0;
    it->tmin = it->tmax = NAN;
    it->year = 0;
    it->members = l->n;
    const struct story_member *first = NULL;
    for (uint32_t i = 0; i < l->n; i++) {
        const struct story_member *m = &l->m[i];
        if (!first || m->order < first->order)
            first = m;
        for (uint8_t j = 0; j < m->nterms; j++) {
            const struct story_mterm *x = &m->terms[j];
            size_t at = 0;
            while (at < n && s->merge[at].h != x->h)
                at++;
            if (at == n)
                s->merge[n++] = (struct story_term){.h = x->h, .kind = x->kind};
            s->merge[at].mass += x->tf;
            s->merge[at].docs += s->merge[at].docs < UINT16_MAX;
            s->merge[at].named += x->named && s->merge[at].named < UINT8_MAX;
        }
        story_ents_add(it, ents, m->ents, m->nents);
        if (m->year > it->year)
            it->year = m->year;
        if (!isnan(m->t)) {
            if (isnan(it->tmin) || m->t < it->tmin)
                it->tmin = m->t;
            if (isnan(it->tmax) || m->t > it->tmax)
                it->tmax = m->t;
        }
    }
    memcpy(story_ents_of(s, slot), ents, it->nents * sizeof(*ents));
    if (first && it->order == INT64_MAX) { /* a new story: named by its member read first */
        memcpy(it->id, first->k, 16);
        it->order = first->order;
    }
    for (size_t i = 0; i < n; i++)
        s->merge[i].mass = (float)(s->merge[i].mass * story_idf_of(s, s->merge[i].h));
    return story_set_centroid(s, slot, n);
}

/* The side (0 or 1) of each member of the story at slot, split as said above; returns 1 when
 * the story is to be split, 0 when not, -1 when out of memory. */
static int story_split_sides(struct story *s, struct nf_ctx *ctx, uint32_t slot,
                             uint8_t side[STORY_SPLIT_MAX])
{
    const struct story_mlist *l = &s->mem[slot];
    struct story_mvec v[STORY_SPLIT_MAX];
    uint32_t at[STORY_SPLIT_MAX], n = 0; /* members with terms */
    for (uint32_t i = 0; i < l->n; i++)
        if (l->m[i].nterms)
            story_mvec_of(s, &l->m[i], &v[n]), at[n++] = i;
    if (n < STORY_SPLIT_MIN)
        return 0;
    if (!s->split_work && !(s->split_work = calloc(1, sizeof(*s->split_work))))
        return -1;
    double (*sim)[STORY_SPLIT_MAX] = s->split_work->sim;
    double (*fig)[STORY_SPLIT_MAX] = s->split_work->fig;
    struct story_terms_seen *t = &s->split_work->t;
    memset(t->h, 0, sizeof(t->h));
    for (uint32_t i = 0; i < n; i++)
        for (uint8_t k = 0; k < v[i].n; k++) {
            uint64_t h = v[i].h[k]; /* never 0 (story_hash) */
            uint32_t x = (uint32_t)h & (STORY_TERM_SLOTS - 1);
            while (t->h[x] && t->h[x] != h)
                x = (x + 1) & (STORY_TERM_SLOTS - 1);
            t->h[x] = h;
            v[i].at[k] = (uint16_t)x;
        }
    uint32_t lo_a = 0, lo_b = 1;
    for (uint32_t i = 0; i < n; i++) {
        for (uint8_t k = 0; k < v[i].n; k++)
            t->w[v[i].at[k]] = v[i].w[k];
        for (uint32_t j = i + 1; j < n; j++) {
            sim[i][j] = sim[j][i] = story_mvec_sim(s, t, &v[i], &v[j], &fig[i][j]);
            fig[j][i] = fig[i][j];
            if (sim[i][j] < sim[lo_a][lo_b])
                lo_a = i, lo_b = j;
        }
        for (uint8_t k = 0; k < v[i].n; k++)
            t->w[v[i].at[k]] = 0;
    }
    uint8_t g[STORY_SPLIT_MAX] = {0}, next[STORY_SPLIT_MAX];
    g[lo_b] = 1;
    for (int round = 0; round < STORY_SPLIT_ROUNDS; round++) {
        uint32_t ones = 0;
        bool moved = false;
        for (uint32_t i = 0; i < n; i++) {
            double to[2] = {0, 0};
            uint32_t cnt[2] = {0, 0};
            for (uint32_t j = 0; j < n; j++)
                if (j != i)
                    to[g[j]] += sim[i][j], cnt[g[j]]++;
            double a = cnt[0] ? to[0] / cnt[0] : -1, b = cnt[1] ? to[1] / cnt[1] : -1;
            next[i] = b > a;
            ones += next[i];
            moved |= next[i] != g[i];
        }
        if (!moved || ones == 0 || ones == n)
            break;
        memcpy(g, next, n);
    }
    double in = 0, across = 0, fin = 0, facross = 0;
    uint32_t nin = 0, nacross = 0, nfin = 0, nfacross = 0, ones = 0;
    for (uint32_t i = 0; i < n; i++) {
        ones += g[i];
        for (uint32_t j = i + 1; j < n; j++) {
            if (g[i] == g[j])
                in += sim[i][j], nin++;
            else
                across += sim[i][j], nacross++;
            if (fig[i][j] < 0)
                continue;
            if (g[i] == g[j])
                fin += fig[i][j], nfin++;
            else
                facross += fig[i][j], nfacross++;
        }
    }
    if (ones < 2 || n - ones < 2 || !nfin || !nfacross || !(in > 0) || !(fin > 0))
        return 0;
    double ratio = (across / nacross) / (in / nin), fratio = (facross / nfacross) / (fin / nfin);
    /* a figures' ratio taken on a few pairs says nothing: in a story of short tellings where
     * most give no figure or one (a casting's age), two or three pairs would decide it */
    double pairs = (double)(nfin + nfacross) / (double)(nin + nacross);
    const struct story_item *it = &s->items[slot];
    bool split = ratio < s->conf->split_ratio && fratio < s->conf->split_figures &&
                 pairs >= s->conf->split_figure_pairs;
    nf_log(ctx, NF_LOG_DEBUG, "  story %02x%02x%02x%02x.. (%u members) in two of %u and %u: "
           "across/within %.3f, figures %.3f (of %.0f%% of the pairs)%s", it->id[0], it->id[1],
           it->id[2], it->id[3], it->members, n - ones, ones, ratio, fratio, 100 * pairs,
           split ? ", split" : "");
    if (!split)
        return 0;
    /* copies and members without terms go with their original, else with the first side */
    memset(side, 0, STORY_SPLIT_MAX);
    for (uint32_t i = 0; i < n; i++)
        side[at[i]] = g[i];
    for (uint32_t i = 0; i < l->n; i++) {
        const struct story_member *m = &l->m[i];
        if (m->nterms || (!m->of[0] && !m->of[1]))
            continue;
        for (uint32_t j = 0; j < l->n; j++)
            if (l->m[j].nterms && l->m[j].k[0] == m->of[0] && l->m[j].k[1] == m->of[1])
                side[i] = side[j];
    }
    /* side 0 keeps the story: the side of its member read first */
    uint32_t first = 0;
    for (uint32_t i = 1; i < l->n; i++)
        if (l->m[i].order < l->m[first].order)
            first = i;
    if (side[first])
        for (uint32_t i = 0; i < l->n; i++)
            side[i] = !side[i];
    return 1;
}

/* A new entry of the moves ring (made by story_split) for a split by the record `by`, in place
 * of the oldest when the ring is full. */
static struct story_moves *story_moves_new(struct story *s, const uint64_t by[2])
{
    struct story_moves *mv = &s->moves[s->moves_next];
    s->moves_next = (s->moves_next + 1) % STORY_MOVES_KEPT;
    s->moves_n += s->moves_n < STORY_MOVES_KEPT;
    mv->by[0] = by[0], mv->by[1] = by[1];
    mv->n = 0;
    return mv;
}

/* After the record `key` joined the story at slot: splits it when its members fall in two as
 * said above. Returns the slot of the record's story now, -1 when out of memory. */
long story_split(struct story *s, struct nf_ctx *ctx, uint32_t slot, const uint64_t key[2])
{
    if (!(s->conf->split_ratio > 0) || s->mem[slot].off || s->mem[slot].n < STORY_SPLIT_MIN)
        return slot;
    uint8_t side[STORY_SPLIT_MAX];
    int split = story_split_sides(s, ctx, slot, side);
    if (split <= 0)
        return split < 0 ? -1 : (long)slot;
    /* the ring first: nothing is changed when it cannot be had */
    if (!s->moves && !(s->moves = malloc(STORY_MOVES_KEPT * sizeof(*s->moves))))
        return -1;
    long to = story_slot_new(s);
    if (to < 0)
        return -1;
    struct story_item *it = &s->items[to];
    uint32_t serial = it->serial;
    *it = (struct story_item){.serial = serial, .live = true, .order = INT64_MAX,
                              .last_seq = s->items[slot].last_seq};
    s->alive[to] = 0;
    struct story_mlist *a = &s->mem[slot], *b = &s->mem[to];
    if (nfu_grow_from(&b->m, &b->cap, a->n, sizeof(*b->m), STORY_MEMBERS_FIRST) < 0)
        return -1;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        if (side[i])
            b->m[b->n++] = a->m[i];
        else
            a->m[kept++] = a->m[i];
    }
    a->n = kept;
    if (story_rebuild(s, slot) < 0 || story_rebuild(s, (uint32_t)to) < 0)
        return -1;
    struct story_moves *mv = story_moves_new(s, key);
    /* The new side may be named after a story this one took in (a name given again; often by
     * this very record, whose merge renamed it away just before). A store keeps the rows of
     * that story's members under the name until the rename reaches it, and the rename may be
     * lost with the commit of the record that carried it; carried again, it would take the new
     * story's rows along, so it is not (story_renames_again skips a name a live story has).
     * The kept side's members are then moved one by one too, and the name stops being a
     * former name of the kept story. */
    bool again = story_former_take(s, slot, s->items[to].id);
    /* every member's pair leads to its side's story now, whatever name it joined under */
    long mine = slot;
    char aid[33];
    for (int k = 0; k < 2; k++) {
        uint32_t sl = k ? (uint32_t)to : slot;
        const struct story_item *x = &s->items[sl];
        const struct story_mlist *l = &s->mem[sl];
        char sid[33];
        story_hex(x->id, sid);
        for (uint32_t i = 0; i < l->n; i++) {
            const struct story_member *m = &l->m[i];
            bool me = m->k[0] == key[0] && m->k[1] == key[1];
            if (me)
                mine = sl;
            struct story_idpair *p = story_ids_find(s, m->k);
            if (p) {
                p->slot = sl, p->serial = x->serial;
                memcpy(&p->s0, x->id, 8), memcpy(&p->s1, x->id + 8, 8);
            }
            /* the record itself too: its story may have the name its merge, just before,
             * renamed away (a store writes its row before the renames it carries) */
            if (!k && !again)
                continue;
            story_id_hex(m->k, aid);
            if (nf_amend_add(&s->amend, NF_AMEND_STORY_OF, aid, sid) < 0)
                return -1;
            mv->k[mv->n][0] = m->k[0], mv->k[mv->n][1] = m->k[1];
            mv->n++;
        }
    }
    if (!s->replaying)
        nf_ctx_count(ctx, "story_split", 1);
    return mine;
}

/* The moves a split made when this record joined, for the record sent again (the first time
 * it carried them, it may have been lost before the store committed it): each article moved
 * to the story it is in now, renames and later splits followed. */
int story_moves_again(struct story *s, const uint64_t key[2])
{
    for (uint32_t i = 0; i < s->moves_n; i++) {
        const struct story_moves *mv = &s->moves[i];
        if (mv->by[0] != key[0] || mv->by[1] != key[1])
            continue;
        for (uint32_t j = 0; j < mv->n; j++) {
            const struct story_idpair *p = story_live_at(s, mv->k[j]);
            if (!p)
                continue;
            char sid[33], aid[33];
            story_hex(s->items[p->slot].id, sid);
            story_id_hex(mv->k[j], aid);
            if (nf_amend_add(&s->amend, NF_AMEND_STORY_OF, aid, sid) < 0)
                return -1;
        }
    }
    return 0;
}
