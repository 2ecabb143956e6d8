/* Date strings as news pages write them: ISO 8601 and its relatives in attributes, and the
 * numeric and month-name forms of running text in the common European languages. Parsing only:
 * which date of a page is its publication date is decided in meta.c. */
#ifndef CLEAN_HTML_META_DATE_H
#define CLEAN_HTML_META_DATE_H

#include <stdbool.h>
#include <stddef.h>

struct md_date {
    int y, m, d;
    int hh, mi, ss;
    int tz_min;    /* offset east of UTC in minutes, when has_tz */
    bool has_time;
    bool has_tz;
};

/* What a scan may accept. */
enum md_flags {
    MD_MDY = 1 << 0,     /* n/n/yyyy with both parts <= 12 is month/day (US), else day/month */
    MD_COMPACT = 1 << 1, /* yyyymmdd as one number (attributes and URLs, not running text) */
};

/* A date in a machine-written value (meta content, datetime attribute, JSON-LD): ISO 8601 with
 * or without time, yyyymmdd, then any textual form. Returns true and fills *out. */
bool md_parse_value(const char *s, size_t n, int flags, struct md_date *out);

/* The first well-formed date in `n` bytes of text; *end_out (may be NULL) is the offset just past
 * it. Validity against a calendar is checked, plausibility (range of years) is not. */
bool md_find(const char *s, size_t n, int flags, struct md_date *out, size_t *end_out);

/* As md_find, and *start_out (may be NULL) is the offset where the date begins. */
bool md_find_span(const char *s, size_t n, int flags, struct md_date *out, size_t *start_out,
                  size_t *end_out);

/* A date in a URL path: /2019/05/31/, /2019-05-31/, /20190531/, a20190531120000 and the
 * like. */
bool md_from_url(const char *url, struct md_date *out);

/* Days since 1970-01-01 of the date part; for comparisons. */
long md_days(const struct md_date *d);

/* Writes "YYYY-MM-DD", or "YYYY-MM-DDTHH:MM:SS" with "Z"/"+HH:MM" when the time is known.
 * `out` holds at least 32 bytes. */
void md_format(const struct md_date *d, char out[32]);

#endif
