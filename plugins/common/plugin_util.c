/* Helpers shared by plugins: see plugin_util.h. */
#include "plugin_util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int nfu_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    return nfu_grow_from(pp, cap, need, elem, 256);
}

int nfu_grow_from(void *pp, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : first ? first : 1;
    while (c < need)
        c *= 2;
    void **p = pp;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

pcre2_code *nfu_compile(struct nf_ctx *ctx, const char *what, const char *re, uint32_t flags)
{
    int code;
    PCRE2_SIZE at;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_UCP | flags, &code, &at, NULL);
    if (!c) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof(msg));
        nf_ctx_error(ctx, "%s: %s at offset %zu", what, (const char *)msg, (size_t)at);
        return NULL;
    }
    (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* without JIT: slower, not wrong */
    return c;
}

/* String columns taken straight from the record's fields. */
static const struct {
    enum nfu_col col;
    enum nf_field field;
} nfu_field_cols[] = {
    {NFU_COL_FETCHED_AT, NF_F_FETCHED_AT}, {NFU_COL_CONTENT_TYPE, NF_F_CONTENT_TYPE},
    {NFU_COL_TITLE, NF_F_TITLE},           {NFU_COL_BYLINE, NF_F_BYLINE},
    {NFU_COL_OUTLET, NF_F_OUTLET},         {NFU_COL_PUBLISHED_AT, NF_F_PUBLISHED_AT},
    {NFU_COL_LANG, NF_F_LANG},             {NFU_COL_URL, NF_F_URL},
    {NFU_COL_TEXT, NF_F_TEXT},             {NFU_COL_DUP_OF, NF_F_DUP_OF},
    {NFU_COL_STORY_ID, NF_F_STORY_ID},
};

static void nfu_col_cstr(const char *val_out[], size_t len_out[], enum nfu_col c, const char *s)
{
    val_out[c] = s;
    len_out[c] = s ? strlen(s) : 0;
}

void nfu_article_cols(struct nf_record *rec, bool with_raw, const char *val_out[NFU_COL_COUNT],
                      size_t len_out[NFU_COL_COUNT])
{
    len_out[NFU_COL_ID] = 0;
    val_out[NFU_COL_ID] = nf_record_str(rec, NF_F_ID, &len_out[NFU_COL_ID]);
    const char *uri = NULL, *kind = NULL;
    nf_record_source(rec, &uri, &kind);
    nfu_col_cstr(val_out, len_out, NFU_COL_SOURCE_URI, uri);
    nfu_col_cstr(val_out, len_out, NFU_COL_SOURCE_KIND, kind);
    nfu_col_cstr(val_out, len_out, NFU_COL_DATELINE, nf_record_dateline_place(rec));
    for (size_t i = 0; i < sizeof(nfu_field_cols) / sizeof(*nfu_field_cols); i++) {
        enum nfu_col c = nfu_field_cols[i].col;
        len_out[c] = 0;
        val_out[c] = nf_record_str(rec, nfu_field_cols[i].field, &len_out[c]);
    }
    len_out[NFU_COL_RAW] = 0;
    val_out[NFU_COL_RAW] = with_raw ? nf_record_bytes(rec, NF_F_RAW, &len_out[NFU_COL_RAW]) : NULL;
}

int nfu_mkdir_parents(const char *path, char *fail_out)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    char *last = strrchr(dir, '/');
    if (!last || last == dir)
        return 0; /* in the working directory, or in / */
    *last = '\0';
    /* each prefix in turn, from the top: the ones that exist are passed over */
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
            if (fail_out)
                snprintf(fail_out, PATH_MAX, "%s", dir);
            return -1;
        }
        *p = c;
        if (!c)
            return 0;
    }
}
