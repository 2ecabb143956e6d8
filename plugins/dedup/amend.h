/* Amendments: corrections of verdicts a stateful stage gave earlier records, carried to the
 * stores by a later record in its extension key "amend" (docs/record.md):
 *     {"dup_of": {ID: ROOT or nil, ...}, "story_id": {OLD: NEW, ...},
 *      "story_of": {ID: STORY, ...}}
 * dup_of: the stored article ID now has dup_of ROOT (nil: it is an original);
 * story_id: every stored article of story OLD is now in story NEW;
 * story_of: the stored article ID alone is now in story STORY (a story split in two), applied
 * after the record's story_id renames.
 * dedup and story write them, the stores apply them; this file does not judge anything. Shared
 * by those plugins as ../minhash/sig.c is (compiled into each). */
#ifndef NF_DEDUP_AMEND_H
#define NF_DEDUP_AMEND_H

#include <stdbool.h>
#include <stddef.h>

#include "newsflow/record.h"

#define NF_AMEND_KEY "amend"

enum nf_amend_kind { NF_AMEND_DUP_OF, NF_AMEND_STORY_ID, NF_AMEND_STORY_OF, NF_AMEND_KINDS };

struct nf_amend_entry {
    enum nf_amend_kind kind;
    char key[33];
    char val[33]; /* "" is nil (dup_of only) */
};

/* The amendments being gathered for one record, and the bytes the record is then re-read from.
 * Zero-initialise; reuse across records; nf_amend_free releases it. */
struct nf_amend {
    struct nf_amend_entry *e;
    size_t n, cap;
    struct nf_buf out;
};

void nf_amend_free(struct nf_amend *a);

/* Adds one amendment (ids of 32 hex digits; val NULL: nil, dup_of only). A later one for the
 * same kind and key replaces an earlier one. Returns 0 or -1 (out of memory). */
int nf_amend_add(struct nf_amend *a, enum nf_amend_kind kind, const char *key, const char *val);

/* Puts the gathered amendments, after those the record already carries, into its "amend" key,
 * then forgets them (a->n = 0). The record is re-read from a->out, which must stay unchanged
 * until the record is reset or decoded again (the next record). Nothing to do when none were
 * gathered. Returns 0, or -1 with the reason in *why. */
int nf_amend_apply(struct nf_amend *a, struct nf_record *rec, const char **why);

/* Calls fn for each amendment the record carries, dup_of, then story_id, then story_of, each in
 * the order they were written; val is NULL for nil. Stops at and returns fn's first non-zero
 * value. Returns 0, or -1 with the reason in *why when "amend" is not as described above. */
int nf_amend_each(struct nf_record *rec,
                  int (*fn)(void *arg, enum nf_amend_kind kind, const char *key, const char *val),
                  void *arg, const char **why);

/* Whether the record carries amendments. */
bool nf_amend_has(const struct nf_record *rec);

#endif
