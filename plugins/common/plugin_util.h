/* Small helpers several plugins share: growing a buffer, compiling a PCRE2 pattern once at
 * init with a message that says what and where, the columns the SQL stores give an article.
 * Linked statically into each plugin that uses them; not part of the plugin ABI. */
#ifndef NF_PLUGIN_UTIL_H
#define NF_PLUGIN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "newsflow/plugin.h"

/* Makes *pp (an array of elements of `elem` bytes, capacity *cap) hold at least `need`
 * elements, doubling from 256. Returns 0, or -1 with *pp unchanged on allocation failure. */
int nfu_grow(void *pp, size_t *cap, size_t need, size_t elem);

/* The same, doubling from `first`: for the many small arrays of one kind (a story's members). */
int nfu_grow_from(void *pp, size_t *cap, size_t need, size_t elem, size_t first);

/* Makes the missing directories above the file `path` (mode 0777 less the umask), as `mkdir -p`
 * on its dirname would: a store whose directory is not there yet creates it. Returns 0, or -1
 * with errno set and the directory that could not be made in fail_out (may be NULL, at least
 * PATH_MAX bytes otherwise). */
int nfu_mkdir_parents(const char *path, char *fail_out);

/* Compiles `re` with PCRE2_UTF|PCRE2_UCP|flags and JIT (when JIT is unavailable the pattern
 * still works, slower). NULL with "WHAT: message at offset N" given to nf_ctx_error. */
pcre2_code *nfu_compile(struct nf_ctx *ctx, const char *what, const char *re, uint32_t flags);

/* The columns store_sqlite and store_pg give an article, in their tables' order; each store
 * adds its own after them. */
enum nfu_col {
    NFU_COL_ID, NFU_COL_SOURCE_URI, NFU_COL_SOURCE_KIND, NFU_COL_FETCHED_AT,
    NFU_COL_CONTENT_TYPE, NFU_COL_TITLE, NFU_COL_BYLINE, NFU_COL_OUTLET, NFU_COL_PUBLISHED_AT,
    NFU_COL_DATELINE, NFU_COL_LANG, NFU_COL_URL, NFU_COL_TEXT, NFU_COL_DUP_OF, NFU_COL_STORY_ID,
    NFU_COL_RAW, NFU_COL_COUNT
};

/* The record's value of each column: val_out[c] NULL where it has none, else len_out[c] bytes
 * (not NUL-terminated), borrowed from rec until it changes. Text but for NFU_COL_RAW, the bytes
 * as fetched, which is NULL unless with_raw. */
void nfu_article_cols(struct nf_record *rec, bool with_raw, const char *val_out[NFU_COL_COUNT],
                      size_t len_out[NFU_COL_COUNT]);

#endif
