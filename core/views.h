/* What the stores hold, for operators: `newsflow show` (the latest articles, or one story's, or
 * those since a day) and `newsflow query` (full-text search over titles and texts, best matches
 * first). Both read every store_sqlite stage's file and every store_pg stage's tables (FTS5 or
 * the tsv column), where and how taken from the stage's own options, read-only while the
 * pipeline writes. */
#ifndef NF_VIEWS_H
#define NF_VIEWS_H

#include <stdio.h>

#include "config.h"

struct nf_show_opts {
    int limit;         /* rows at most (0: 50) */
    const char *story; /* only this story's articles (an id or its first characters) */
    const char *since; /* only articles published (or fetched) on or after this ISO date */
    const char *match; /* query: the full-text search, FTS5 syntax or plain words for SQLite,
                        * web-search syntax (websearch_to_tsquery) for PostgreSQL */
};

/* Prints the rows in columns that never run into each other, then a count line, for each store
 * stage in turn. Returns the exit code (0, or 1 with the reason on stderr: a store that cannot be
 * opened or reached, a missing table). */
int nf_show(const struct nf_config *cfg, const struct nf_show_opts *o, FILE *out);

/* The largest stories among the embedded store's `recent` latest articles, `top` of them, the
 * biggest first: fn(arg, story id, articles, a title of it). Returns how many, or -1 when there
 * is no store_sqlite stage or its file cannot be read yet. */
int nf_recent_stories(const struct nf_config *cfg, int recent, int top,
                      void (*fn)(void *arg, const char *story, int n, const char *title),
                      void *arg);

#endif
