/* story's state, shared by its files: story.c (words, scoring, merging, the snapshot and the
 * log, the plugin), story_split.c (members, and splitting a story). Internal to the plugin: the
 * functions below are hidden in the module like the rest (C_VISIBILITY_PRESET hidden). */
#ifndef NEWSFLOW_STORY_H
#define NEWSFLOW_STORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <utf8proc.h>
#include <xxhash.h>

#include "../dedup/amend.h"
#include "newsflow/plugin.h"
#include "savefile.h"

#define STORY_MAX_ENTS 16  /* entities kept per story */
#define STORY_MAX_PLACES 64 /* words of a record's known places left out of its names */
/* A record's terms are of three kinds, each a sub-vector of its own (normalised apart and
 * compared apart): the words, the names (who, where) and the figures (scores, tolls, years). */
enum { STORY_WORD, STORY_NAME, STORY_FIGURE, STORY_KINDS };
/* Names a story had before its latest, and those of the stories it took in, kept so that a
 * resent member carries the renames again (the record that carried one may have been lost before
 * the store committed it). Only a record not yet committed can have been lost, and its renames
 * are the story's latest: a story keeps its latest STORY_FORMER_MAX former names. Snapshots of
 * versions 4 to 9 kept the latest STORY_FORMER_V9 in the story's item. */
#define STORY_FORMER_MAX 64
#define STORY_FORMER_V9 4
/* Splitting a story (story_split.c): beyond STORY_SPLIT_MAX members, a story's members are no
 * longer kept; a member keeps its strongest terms and entities. */
#define STORY_SPLIT_MAX 32
#define STORY_MEMBER_TERMS 32
#define STORY_MEMBER_ENTS 8
/* The moves of the latest splits kept to be carried again (story_moves_again): a record resent
 * after this many later splits finds its own forgotten. */
#define STORY_MOVES_KEPT 1024

struct story_conf {
    double threshold;
    double window_days;
    double time_weight;
    double year_weight;
    double entity_weight;
    double title_weight;
    double name_weight;
    double figure_weight;
    double lead_weight;
    double agree_weight;
    double disagree_young_weight;
    double merge_threshold;
    double merge_grown;
    double merge_grown_figures;
    double split_ratio;
    double split_figures;
    double split_figure_pairs;
    double anchor_share;
    double common_share;
    double name_share;
    int64_t anchors;
    int64_t top_terms;
    int64_t max_stories;
    int64_t max_terms;
    int64_t max_ids;
    int64_t split_members;
    int64_t snapshot_s;
    const char *idf_bootstrap;
    const char *idf_export;
};

/* ---- the state ---------------------------------------------------------------------------- */

/* Document frequencies: open addressing on the term's 64-bit hash (0 marks an empty slot). */
struct story_df {
    uint64_t *key;
    uint32_t *df;
    char **text; /* the terms themselves, kept only when exporting */
    size_t cap, n;
};

struct story_idpair {
    uint64_t k0, k1; /* the article's id */
    uint64_t s0, s1; /* its story's id */
    uint32_t slot, serial; /* where the story is, if it is still there */
};

/* Article id -> story, in two generations: when the young one is full the old one is dropped,
 * so memory is bounded and the newest ids are always remembered. */
struct story_idmap {
    struct story_idpair *e;
    size_t cap, n;
};

struct story_term {
    uint64_t h;
    float mass; /* sum over members of their normalised log-tf: times the IDF it is a weight */
    uint16_t docs; /* members that had it (saturating) */
    uint8_t kind;  /* STORY_WORD, STORY_NAME or STORY_FIGURE */
    uint8_t named; /* members that wrote the word as a name (see story_emit), at most 255 */
};

struct story_ent {
    uint64_t h;
    float mass;
};

struct story_item {
    uint8_t id[16];
    uint32_t serial; /* bumped when the slot is reused: index entries of the old story die */
    uint32_t members;
    uint32_t nterms, nents;
    bool live;
    uint16_t year; /* the latest year its members mention or were published in; 0: none
                    * (in what was padding: the layout's sizes are those of version 5) */
    double tmin, tmax; /* days since the epoch of published members; NAN when none */
    uint64_t last_seq; /* arrival number of the last member */
    int64_t order; /* read order of the member read first, whose id the story has */
    /* where versions 4-9 of the snapshot kept the latest former names (story_names), which a
     * restore moves to the story's list: zero otherwise (the layout's sizes stay version 5's) */
    uint8_t v9_former[STORY_FORMER_V9][16];
    uint32_t v9_nformer;
    double norm[STORY_KINDS]; /* |centroid| of each kind with the IDF of norm_docs documents */
    uint64_t norm_docs;
};

struct story_posting {
    uint32_t *e; /* pairs slot, serial */
    uint32_t n, cap;
};

/* The inverted index: term hash -> stories that have it among their top terms. */
struct story_index {
    uint64_t *key;
    struct story_posting *list;
    size_t cap, n;
    size_t entries;
};

struct story_dterm {
    uint64_t h;
    float tf, idf, w; /* w: TF-IDF weight, normalised within its kind */
    uint32_t df;      /* documents that have it, this one included */
    uint8_t kind;
    bool named; /* a word this record writes as a name */
    bool seen; /* scratch of story_absorb */
};

struct story_cand {
    uint32_t slot;
    float partial;
};

/* A member of a story, kept while the story may be split (see story_split). */
struct story_mterm {
    uint64_t h;
    float tf; /* its normalised log-tf in the member, as story_term.mass sums them */
    uint8_t kind, named;
};

struct story_member {
    uint64_t k[2];  /* the article's id */
    uint64_t of[2]; /* a copy's original, else zero */
    int64_t order;
    double t; /* published, in days since the epoch; NAN when undated */
    uint16_t year;
    uint8_t nterms, nents;
    struct story_mterm terms[STORY_MEMBER_TERMS]; /* strongest first */
    struct story_ent ents[STORY_MEMBER_ENTS];
};

/* A story's former names, the oldest first (see STORY_FORMER_MAX). */
struct story_names {
    uint8_t (*v)[16];
    size_t cap;
    uint32_t n;
};

struct story_mlist {
    struct story_member *m;
    uint32_t n;
    size_t cap;
    bool off; /* its members are not all known: the story is not split */
};

/* The articles a split moved to the other side's story, by the record whose join split it:
 * what that record carried as story_of, to be carried again if it is sent again. */
struct story_moves {
    uint64_t by[2];
    uint32_t n;
    uint64_t k[STORY_SPLIT_MAX][2];
};

struct story {
    const struct story_conf *conf;
    struct nf_ctx *ctx; /* the host's, valid until destroy: for the shutdown snapshot's log */
    char *snap_path;
    uint32_t stop_set_cap;
    uint64_t *stop_set;
    struct story_df df;
    uint64_t docs;
    uint64_t seq;
    /* stories: parallel arrays indexed by slot */
    struct story_item *items;
    struct story_term *terms; /* top_terms per slot */
    struct story_ent *ents;   /* STORY_MAX_ENTS per slot */
    uint32_t *free_slots;
    struct story_mlist *mem; /* members of stories that may be split */
    struct story_names *former; /* per slot: its former names (story_renames_again) */
    size_t mem_total;
    struct story_moves *moves; /* a ring of STORY_MOVES_KEPT, made at the first split */
    struct story_split_work *split_work; /* story_split_sides' tables, made at its first use */
    uint32_t moves_n, moves_next; /* entries in use; where the next goes */
    size_t nitems, cap_items, nfree, live;
    struct story_index index;
    struct story_idmap ids[2]; /* [0] young, [1] old */
    /* per-record scratch, reused */
    struct story_dterm *dt;
    size_t ndt, cap_dt;
    uint32_t *dmap; /* open addressing: index+1 into dt, 0 empty */
    uint32_t *dstamp;
    uint32_t stamp;
    size_t dmap_cap;
    uint32_t *alive;   /* per slot: the version of the story's index entries while it lives,
                        * else 0 (compact: the index scan reads it for every entry) */
    uint32_t iver;     /* last index version given out */
    float *acc;        /* partial scores per slot */
    uint32_t *touched; /* slots with a partial score */
    size_t ntouched;
    utf8proc_int32_t *cps;
    size_t cps_cap;
    struct story_term *merge;
    size_t merge_cap;
    float *topw; /* story_norm_top's weights of one kind */
    size_t topw_cap;
    uint32_t *order;
    size_t order_cap;
    bool has_kind[STORY_KINDS]; /* the record has terms of this kind */
    float name_count; /* what one mention of a name counts (lead_weight in the lead) */
    uint16_t year; /* the latest year the record mentions or was published in, 0: none */
    uint16_t year_cap; /* the year it was published in, else fetched in: later ones are plans */
    uint64_t places[STORY_MAX_PLACES]; /* name terms of the record's known places */
    size_t nplaces;
    double log_docs; /* log(docs + 1), for log_docs_at = docs + 1 */
    uint64_t log_docs_at;
    int64_t last_snapshot_ms;
    bool dirty;
    struct nfu_bgsave save; /* the snapshot, written from a thread */
    uint64_t log_gen;       /* the last log generation begun (story.log.<g>) */
    int64_t encode_ms;      /* the last snapshot's encoding: the worker's pause for it */
    struct nf_buf snap_stage; /* story_out's */
    XXH3_state_t *snap_hash;
    struct nf_amend amend; /* the renames the record being judged carries */
    /* the log: what a replay of the records judged since the snapshot needs */
    char *log_path;
    struct nf_buf log_buf; /* entries not yet appended */
    struct nf_record *log_rec;
    bool replaying; /* judging the log's records at start: nothing logged or counted */
    long second; /* the next best story story_best scored, -1: none */
};

/* ---- story.c, for story_split.c ------------------------------------------------------------ */

/* The IDF of now of the term with hash h (smoothed, floored: story.c's STORY_IDF_FLOOR). */
double story_idf_of(struct story *s, uint64_t h);
/* The STORY_MAX_ENTS entity slots of the story at slot. */
struct story_ent *story_ents_of(struct story *s, uint32_t slot);
/* qsort_r's order of slots (arg: the items) by the arrival of their last member, oldest first. */
int story_cmp_seq(const void *a, const void *b, void *arg);
/* A slot for a new story (a free one, else a new one): live, its member list empty; -1 when out
 * of memory. The caller sets the item. */
long story_slot_new(struct story *s);
/* A story's name as it is kept (16 bytes), and an article's id as two words, in hex. */
void story_hex(const uint8_t b[16], char out[33]);
void story_id_hex(const uint64_t bits[2], char out[33]);
/* Drops `name` from the former names of the story at slot; whether it was one. */
bool story_former_take(struct story *s, uint32_t slot, const uint8_t name[16]);
/* The pair of article id k (young table, then old), or NULL. */
struct story_idpair *story_ids_find(struct story *s, const uint64_t k[2]);
/* Where the article of pair p is now (see story.c). */
const struct story_idpair *story_follow(struct story *s, const struct story_idpair *p);
/* The pair of the live story article k is in now (followed as story_follow does), or NULL
 * when the article is unknown or its story gone. */
const struct story_idpair *story_live_at(struct story *s, const uint64_t k[2]);
/* Adds n entities to a story's se, keeping the STORY_MAX_ENTS strongest. */
void story_ents_add(struct story_item *it, struct story_ent *se, const struct story_ent *add,
                    size_t n);
/* Makes s->merge, the scratch list of terms, hold at least need; 0, or -1 out of memory. */
int story_merge_reserve(struct story *s, size_t need);
/* Makes the n terms in s->merge the centroid of the story at slot; 0, or -1 out of memory. */
int story_set_centroid(struct story *s, uint32_t slot, size_t n);

/* ---- story_split.c ------------------------------------------------------------------------ */

/* Empties the member list of the story at slot; off: its members are no longer all known. */
void story_mlist_free(struct story *s, uint32_t slot, bool off);
/* Adds the record just judged (its terms in s->dt, or none for a copy of `of`) to the member
 * list of the story at slot. 0, or -1 out of memory. */
int story_member_add(struct story *s, uint32_t slot, const uint64_t key[2], const uint64_t of[2],
                     int64_t order, double t, const struct story_ent *re, size_t nre, bool terms);
/* Puts the members of the story at `gone` after those of `keep` (a merge). */
int story_members_merge(struct story *s, uint32_t keep, uint32_t gone);
/* After the record `key` joined the story at slot: splits it if its members fall in two; the
 * slot of the record's story now, -1 when out of memory. */
long story_split(struct story *s, struct nf_ctx *ctx, uint32_t slot, const uint64_t key[2]);
/* The moves of the split this record made, carried again for the record sent again. */
int story_moves_again(struct story *s, const uint64_t key[2]);

#endif
