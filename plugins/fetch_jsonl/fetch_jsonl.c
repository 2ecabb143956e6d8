/* fetch_jsonl: a source that reads JSON-lines files (also gzipped), one record per line, for
 * bulk backfills. A field mapping in the config names the input's id, title, text, date, url and
 * outlet keys. The body goes to `raw` as text/plain (clean_text turns it into `text`; the journal
 * then keeps only the small fields and refetch reads the line again); set_text also puts it in
 * `text` for pipelines without a cleaning stage. source.uri is file://PATH#ID, the record id is
 * that uri's hash. Workers share the lines by line number. A ledger of acknowledged ids keeps a
 * restart from reading finished lines again. It does not clean, deduplicate or guess charsets. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "dates.h"
#include "ledger.h"
#include "newsflow/plugin.h"

#define FJ_CHUNK (256u << 10)

struct fetch_jsonl_conf {
    const char *path;
    const char *id_field, *title_field, *text_field, *date_field, *url_field, *outlet_field;
    bool set_text;
    int64_t max_line;
    bool remember;
};

static const struct nf_option fetch_jsonl_options[] = {
    {"path", NF_OPT_PATH, NULL, offsetof(struct fetch_jsonl_conf, path),
     "A JSON-lines file (NAME.jsonl, or gzipped NAME.jsonl.gz), or a directory whose .jsonl, "
     ".ndjson and .jsonl.gz files are read in name order."},
    {"id_field", NF_OPT_STRING, "id", offsetof(struct fetch_jsonl_conf, id_field),
     "Key of the input's own id (a string or an integer), kept after '#' in source.uri."},
    {"title_field", NF_OPT_STRING, "title", offsetof(struct fetch_jsonl_conf, title_field),
     "Key of the headline; empty: none."},
    {"text_field", NF_OPT_STRING, "text", offsetof(struct fetch_jsonl_conf, text_field),
     "Key of the body (plain text). A line without it is an error."},
    {"date_field", NF_OPT_STRING, "date", offsetof(struct fetch_jsonl_conf, date_field),
     "Key of the publication date; ISO 8601, RFC 822 and 26-FEB-1987 15:01:01 forms become "
     "published_at as ISO 8601, others are left out. Empty: none."},
    {"url_field", NF_OPT_STRING, "url", offsetof(struct fetch_jsonl_conf, url_field),
     "Key of the article's URL; empty: none."},
    {"outlet_field", NF_OPT_STRING, "outlet", offsetof(struct fetch_jsonl_conf, outlet_field),
     "Key of the outlet's name; empty: none."},
    {"set_text", NF_OPT_BOOL, "false", offsetof(struct fetch_jsonl_conf, set_text),
     "Also set `text` to the body, for pipelines without clean_text (the journal then holds "
     "the body too)."},
    {"max_line", NF_OPT_SIZE, "16M", offsetof(struct fetch_jsonl_conf, max_line),
     "Longest line read; a longer one is an error and is skipped."},
    {"remember", NF_OPT_BOOL, "true", offsetof(struct fetch_jsonl_conf, remember),
     "Keep a ledger of the ids whose records reached the end of the pipeline and skip their "
     "lines after a restart."},
    {.name = NULL},
};

/* Where a line is, for refetch: the record id's first 64 bits -> file and offset. Built only
 * when a refetch asks (journal recovery after a restart), by reading the file once. */
struct fj_where {
    uint64_t key;
    uint32_t file;
    uint64_t off;
};

struct fetch_jsonl {
    const struct fetch_jsonl_conf *conf;
    int worker, workers;
    char **files; /* absolute paths, sorted */
    size_t n_files, file;
    gzFile in;
    uint64_t lineno;
    /* The line being read: buf[0..len), its offset in the (inflated) file. */
    char *buf;
    size_t len, cap, pos, fill;
    uint64_t base; /* file offset of buf[0] */
    bool eof;
    json_t *cur; /* the last line's document: raw points into it until the next call */
    char *uri;
    size_t uri_cap;
    struct fj_where *where;
    size_t n_where, cap_where;
    bool *indexed; /* per file: every line's id is in `where` */
    struct nfu_ledger_table done; /* of uint64_t keys: the ids acknowledged */
    struct nfu_ledger ledger;
    uint64_t skipped;
};

/* ---- small helpers ------------------------------------------------------------------- */

static bool fj_is_input(const char *name)
{
    size_t n = strlen(name);
    static const char *const ext[] = {".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"};
    if (name[0] == '.')
        return false;
    for (size_t i = 0; i < sizeof(ext) / sizeof(*ext); i++) {
        size_t e = strlen(ext[i]);
        if (n > e && strcasecmp(name + n - e, ext[i]) == 0)
            return true;
    }
    return false;
}

static int fj_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fj_list(struct fetch_jsonl *s, struct nf_ctx *ctx)
{
    char *root = realpath(s->conf->path, NULL);
    struct stat st;
    if (!root || stat(root, &st) < 0) {
        nf_ctx_error(ctx, "cannot open %s: %s", s->conf->path, strerror(errno));
        free(root);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        s->files = malloc(sizeof(*s->files));
        if (!s->files) {
            free(root);
            goto nomem;
        }
        s->files[s->n_files++] = root;
        return 0;
    }
    DIR *d = opendir(root);
    if (!d) {
        nf_ctx_error(ctx, "cannot read directory %s: %s", root, strerror(errno));
        free(root);
        return -1;
    }
    size_t cap = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!fj_is_input(de->d_name))
            continue;
        if (s->n_files == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(s->files, cap * sizeof(*v));
            if (!v)
                goto nomem_dir;
            s->files = v;
        }
        size_t n = strlen(root) + strlen(de->d_name) + 2;
        char *p = malloc(n);
        if (!p)
            goto nomem_dir;
        snprintf(p, n, "%s/%s", root, de->d_name);
        s->files[s->n_files++] = p;
    }
    closedir(d);
    free(root);
    if (s->n_files > 1)
        qsort(s->files, s->n_files, sizeof(*s->files), fj_cmp);
    return 0;
nomem_dir:
    closedir(d);
    free(root);
nomem:
    nf_ctx_error(ctx, "out of memory");
    return -1;
}

/* ---- reading lines ------------------------------------------------------------------- */

/* Opens files[i] for reading from offset `off` of its inflated content. */
static gzFile fj_open(struct fetch_jsonl *s, size_t i, uint64_t off, struct nf_ctx *ctx)
{
    gzFile g = gzopen(s->files[i], "rb");
    if (!g) {
        nf_ctx_error(ctx, "cannot open %s: %s", s->files[i], strerror(errno ? errno : ENOMEM));
        return NULL;
    }
    gzbuffer(g, FJ_CHUNK);
    if (off && gzseek(g, (z_off_t)off, SEEK_SET) != (z_off_t)off) {
        nf_ctx_error(ctx, "%s: cannot seek to byte %llu", s->files[i], (unsigned long long)off);
        gzclose(g);
        return NULL;
    }
    return g;
}

/* Reads the next line of `g` into s->buf (without the newline): 1 a line, 0 end of file,
 * -1 error (a read error, or a line over max_line: then skipped, *too_long set). The buffer
 * works as a window over the file: `pos` is where the next line starts. */
static int fj_line(struct fetch_jsonl *s, gzFile g, const char **line, size_t *len,
                   uint64_t *off, bool *too_long)
{
    *too_long = false;
    size_t max = (size_t)s->conf->max_line;
    if (!s->buf) {
        s->buf = malloc(2 * FJ_CHUNK);
        if (!s->buf)
            return -1;
        s->cap = 2 * FJ_CHUNK;
    }
    for (;;) {
        char *nl = memchr(s->buf + s->pos, '\n', s->fill - s->pos);
        if (nl || (s->eof && s->fill > s->pos)) {
            size_t n = nl ? (size_t)(nl - (s->buf + s->pos)) : s->fill - s->pos;
            *line = s->buf + s->pos;
            *len = n;
            *off = s->base + s->pos;
            s->pos += n + (nl != NULL);
            if (n > max) {
                *too_long = true; /* it fit in a buffer grown for an earlier line */
                return -1;
            }
            if (n > 0 && (*line)[n - 1] == '\r')
                (*len)--;
            return 1;
        }
        if (s->eof)
            return 0;
        /* Move the partial line to the front and read more. */
        size_t keep = s->fill - s->pos;
        if (keep > max) {
            /* Too long: drop what we have and skip to the next newline. */
            *too_long = true;
            *off = s->base + s->pos;
            for (;;) {
                s->base += s->fill;
                s->pos = s->fill = 0;
                int r = gzread(g, s->buf, (unsigned)s->cap);
                if (r <= 0) {
                    s->eof = true;
                    return -1;
                }
                s->fill = (size_t)r;
                char *e = memchr(s->buf, '\n', s->fill);
                if (e) {
                    s->pos = (size_t)(e - s->buf) + 1;
                    return -1;
                }
            }
        }
        memmove(s->buf, s->buf + s->pos, keep);
        s->base += s->pos;
        s->pos = 0;
        s->fill = keep;
        if (s->cap - s->fill < FJ_CHUNK) {
            size_t cap = s->cap ? s->cap * 2 : 2 * FJ_CHUNK;
            char *b = realloc(s->buf, cap);
            if (!b)
                return -1;
            s->buf = b;
            s->cap = cap;
        }
        int r = gzread(g, s->buf + s->fill, (unsigned)(s->cap - s->fill));
        if (r < 0)
            return -1;
        if (r == 0)
            s->eof = true;
        s->fill += (size_t)r;
    }
}

/* ---- one line to one record ---------------------------------------------------------- */

static const char *fj_str(json_t *doc, const char *key, size_t *len)
{
    if (!key || !key[0])
        return NULL;
    json_t *v = json_object_get(doc, key);
    if (!json_is_string(v))
        return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

/* The input's id as text: a string, or an integer written in decimal. */
static int fj_id(json_t *doc, const char *key, char *out, size_t n)
{
    json_t *v = json_object_get(doc, key);
    if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < n) {
        memcpy(out, json_string_value(v), json_string_length(v) + 1);
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    }
    return -1;
}

/* An ISO 8601 date or date-time from a few common forms; -1 when none fits or the day does not
 * exist (strptime takes 31 February). */
static int fj_date(const char *in, char *out, size_t n)
{
    static const char *const forms[] = {
        "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d-%b-%Y %H:%M:%S", "%a, %d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M:%S", "%Y-%m-%d",          "%d-%b-%Y",          "%B %d, %Y",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(*forms); i++) {
        struct tm tm = {0};
        /* Fractions of seconds or a zone may follow: the date and time before them hold. */
        if (!strptime(in, forms[i], &tm) || !nfu_date_valid_tm(&tm))
            continue;
        bool timed = strchr(forms[i], 'H') != NULL;
        if (strftime(out, n, timed ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d", &tm) == 0)
            return -1;
        return 0;
    }
    return -1;
}

static int fj_set_uri(struct fetch_jsonl *s, const char *file, const char *id)
{
    size_t n = strlen(file) + strlen(id) + sizeof("file://#");
    if (n > s->uri_cap) {
        char *p = realloc(s->uri, n);
        if (!p)
            return -1;
        s->uri = p;
        s->uri_cap = n;
    }
    snprintf(s->uri, n, "file://%s#%s", file, id);
    return 0;
}

/* Parses one line into a document and its id; the reason of a failure in ctx. */
static json_t *fj_parse(struct fetch_jsonl *s, struct nf_ctx *ctx, const char *file,
                        uint64_t lineno, const char *line, size_t len, char *id, size_t idn)
{
    json_error_t err;
    json_t *doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) {
        nf_ctx_error(ctx, "%s:%llu: not JSON: %s", file, (unsigned long long)lineno, err.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        nf_ctx_error(ctx, "%s:%llu: not a JSON object", file, (unsigned long long)lineno);
        goto fail;
    }
    if (fj_id(doc, s->conf->id_field, id, idn) < 0) {
        nf_ctx_error(ctx, "%s:%llu: no id ('%s' is missing, empty or not a string or integer)",
                     file, (unsigned long long)lineno, s->conf->id_field);
        goto fail;
    }
    return doc;
fail:
    json_decref(doc);
    return NULL;
}

/* Fills rec from a parsed line. */
static int fj_fill(struct fetch_jsonl *s, struct nf_ctx *ctx, struct nf_record *rec,
                   json_t *doc, const char *file, uint64_t lineno, bool small_fields)
{
    size_t n;
    const char *text = fj_str(doc, s->conf->text_field, &n);
    if (!text) {
        nf_ctx_error(ctx, "%s:%llu: no text ('%s' is missing or not a string)", file,
                     (unsigned long long)lineno, s->conf->text_field);
        return NF_ERR;
    }
    if (nf_record_set_bytes_ref(rec, NF_F_RAW, text, n) < 0 ||
        (s->conf->set_text && nf_record_set_str(rec, NF_F_TEXT, text, n) < 0))
        goto nomem;
    if (!small_fields)
        return NF_OK;
    if (nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain; charset=utf-8") < 0)
        goto nomem;
    const char *v;
    if ((v = fj_str(doc, s->conf->title_field, &n)) && n &&
        nf_record_set_str(rec, NF_F_TITLE, v, n) < 0)
        goto nomem;
    if ((v = fj_str(doc, s->conf->url_field, &n)) && n &&
        nf_record_set_str(rec, NF_F_URL, v, n) < 0)
        goto nomem;
    if ((v = fj_str(doc, s->conf->outlet_field, &n)) && n &&
        nf_record_set_str(rec, NF_F_OUTLET, v, n) < 0)
        goto nomem;
    char date[40];
    if ((v = fj_str(doc, s->conf->date_field, &n)) && fj_date(v, date, sizeof(date)) == 0 &&
        nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, date) < 0)
        goto nomem;
    return NF_OK;
nomem:
    nf_ctx_error(ctx, "out of memory");
    return NF_ERR;
}

static int fj_where_add(struct fetch_jsonl *s, uint64_t key, uint32_t file, uint64_t off)
{
    if (s->n_where == s->cap_where) {
        size_t cap = s->cap_where ? s->cap_where * 2 : 1024;
        struct fj_where *v = realloc(s->where, cap * sizeof(*v));
        if (!v)
            return -1;
        s->where = v;
        s->cap_where = cap;
    }
    s->where[s->n_where++] = (struct fj_where){key, file, off};
    return 0;
}

/* A line without a usable id: its dead letter is named after the line (file#line-N). */
static void fj_name_line(struct fetch_jsonl *s, struct nf_record *rec, const char *file,
                         uint64_t lineno)
{
    char where[40], rid[33];
    snprintf(where, sizeof(where), "line-%llu", (unsigned long long)lineno);
    if (fj_set_uri(s, file, where) == 0) {
        nf_id_make(s->uri, strlen(s->uri), rid);
        nf_record_set_cstr(rec, NF_F_ID, rid);
        nf_record_set_source(rec, s->uri, "jsonl");
    }
}

/* ---- the ledger ---------------------------------------------------------------------- */

/* Ledger lines: "ID\n"; every 32-character word of a line is read as an id. */
static int fj_ledger_line(void *arg, const char *line, bool mine)
{
    struct fetch_jsonl *s = arg;
    (void)mine;
    char id[64];
    int used;
    while (sscanf(line, "%63s%n", id, &used) == 1) {
        if (strlen(id) == 32 && !nfu_ledger_table_put(&s->done, nfu_ledger_key(id), NULL))
            return -1;
        line += used;
    }
    return 0;
}

/* The line of `id` reached the end of the pipeline. No fsync: a lost line only means the line
 * is read once more after a crash, and the stages after are idempotent. */
static void fetch_jsonl_acked(void *state, struct nf_ctx *ctx, const char *id)
{
    struct fetch_jsonl *s = state;
    if (s->ledger.fd < 0 || strlen(id) != 32)
        return;
    char line[40];
    int n = snprintf(line, sizeof(line), "%s\n", id);
    nfu_ledger_append(&s->ledger, ctx, line, (size_t)n);
    nfu_ledger_table_put(&s->done, nfu_ledger_key(id), NULL);
}

/* ---- the plugin ---------------------------------------------------------------------- */

static void fetch_jsonl_destroy(void *state)
{
    struct fetch_jsonl *s = state;
    if (!s)
        return;
    if (s->in)
        gzclose(s->in);
    json_decref(s->cur);
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    free(s->files);
    free(s->buf);
    free(s->uri);
    free(s->where);
    free(s->indexed);
    nfu_ledger_table_free(&s->done);
    nfu_ledger_close(&s->ledger);
    free(s);
}

static int fetch_jsonl_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    const struct fetch_jsonl_conf *conf = vconf;
    if (!conf->path || !conf->path[0] || !conf->id_field[0] || !conf->text_field[0]) {
        nf_ctx_error(ctx, "options 'path', 'id_field' and 'text_field' must not be empty");
        return NF_ERR;
    }
    if (conf->max_line <= 0) {
        nf_ctx_error(ctx, "option 'max_line' must be positive");
        return NF_ERR;
    }
    struct fetch_jsonl *s = calloc(1, sizeof(*s));
    if (!s) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = conf;
    s->done.size = sizeof(uint64_t);
    s->worker = nf_ctx_worker(ctx);
    s->workers = nf_ctx_workers(ctx);
    nfu_ledger_init(&s->ledger, "fetch_jsonl", s->worker);
    if (fj_list(s, ctx) < 0 ||
        (conf->remember && (nfu_ledger_read(&s->ledger, ctx, fj_ledger_line, s) < 0 ||
                            nfu_ledger_open(&s->ledger, ctx) < 0)))
        goto fail;
    s->indexed = calloc(s->n_files + 1, sizeof(bool));
    if (!s->indexed) {
        nf_ctx_error(ctx, "out of memory");
        goto fail;
    }
    nf_log(ctx, NF_LOG_INFO, "%zu files to read%s", s->n_files,
           s->done.n ? ", skipping lines finished before" : "");
    *state_out = s;
    return NF_OK;
fail:
    fetch_jsonl_destroy(s);
    return NF_ERR;
}

static int fetch_jsonl_next(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct fetch_jsonl *s = state;
    json_decref(s->cur);
    s->cur = NULL;
    for (;;) {
        if (!s->in) {
            if (s->file >= s->n_files) {
                if (s->skipped)
                    nf_log(ctx, NF_LOG_INFO,
                           "%llu lines were finished in an earlier run and not read again",
                           (unsigned long long)s->skipped);
                s->skipped = 0;
                return NF_EOF;
            }
            s->in = fj_open(s, s->file, 0, ctx);
            if (!s->in) {
                s->file++;
                return NF_ERR;
            }
            s->lineno = 0;
            s->pos = s->fill = 0;
            s->base = 0;
            s->eof = false;
        }
        const char *file = s->files[s->file];
        const char *line;
        size_t len;
        uint64_t off;
        bool too_long;
        int r = fj_line(s, s->in, &line, &len, &off, &too_long);
        if (r == 0 || (r < 0 && !too_long)) {
            int e = gzclose(s->in);
            s->in = NULL;
            s->file++;
            if (r < 0 || e != Z_OK) {
                nf_ctx_error(ctx, "%s:%llu: read error (truncated or damaged file?)", file,
                             (unsigned long long)s->lineno + 1);
                fj_name_line(s, rec, file, s->lineno + 1);
                return NF_ERR;
            }
            continue;
        }
        s->lineno++;
        /* Sharding: worker w reads lines w+1, w+1+N, ... and never parses the others. */
        if (s->workers > 1 && (s->lineno - 1) % (uint64_t)s->workers != (uint64_t)s->worker)
            continue;
        if (too_long) {
            nf_ctx_error(ctx, "%s:%llu: line longer than max_line (%lld bytes)", file,
                         (unsigned long long)s->lineno, (long long)s->conf->max_line);
            goto bad_line_id;
        }
        if (len == 0 || strspn(line, " \t") == len)
            continue; /* blank lines are allowed */
        char id[1024], rid[33];
        json_t *doc = fj_parse(s, ctx, file, s->lineno, line, len, id, sizeof(id));
        if (!doc) {
            nf_record_set_bytes(rec, NF_F_RAW, line, len);
            goto bad_line_id;
        }
        if (fj_set_uri(s, file, id) < 0) {
            json_decref(doc);
            nf_ctx_error(ctx, "out of memory");
            return NF_ERR;
        }
        nf_id_make(s->uri, strlen(s->uri), rid);
        if (nfu_ledger_table_get(&s->done, nfu_ledger_key(rid))) {
            s->skipped++;
            json_decref(doc);
            continue;
        }
        s->cur = doc;
        if (nf_record_set_cstr(rec, NF_F_ID, rid) < 0 ||
            nf_record_set_source(rec, s->uri, "jsonl") < 0) {
            nf_ctx_error(ctx, "out of memory");
            return NF_ERR;
        }
        int rc = fj_fill(s, ctx, rec, doc, file, s->lineno, true);
        if (rc != NF_OK)
            nf_record_set_bytes(rec, NF_F_RAW, line, len);
        return rc;
    bad_line_id:
        fj_name_line(s, rec, file, s->lineno);
        return NF_ERR;
    }
}

/* Finds the line of a journaled record again. The host asks only while it recovers its journal
 * after a restart, so the first refetch of a file reads it once and indexes every line's id. */
static int fetch_jsonl_refetch(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct fetch_jsonl *s = state;
    const char *uri = NULL, *rid = nf_record_str(rec, NF_F_ID, NULL);
    nf_record_source(rec, &uri, NULL);
    const char *hash = uri ? strrchr(uri, '#') : NULL;
    if (!uri || !rid || strncmp(uri, "file://", 7) != 0 || !hash) {
        nf_ctx_error(ctx, "%s is not a line of a JSON-lines file", uri ? uri : "(no source uri)");
        return NF_ERR;
    }
    size_t fl = (size_t)(hash - (uri + 7));
    size_t fi = 0;
    while (fi < s->n_files && !(strlen(s->files[fi]) == fl && !memcmp(s->files[fi], uri + 7, fl)))
        fi++;
    if (fi == s->n_files) {
        nf_ctx_error(ctx, "%.*s is not one of this source's files", (int)fl, uri + 7);
        return NF_ERR;
    }
    uint64_t key = nfu_ledger_key(rid);
    const struct fj_where *w = NULL;
    for (size_t i = s->n_where; i-- > 0 && !w;)
        if (s->where[i].key == key && s->where[i].file == fi)
            w = &s->where[i];
    /* A separate reader, so that next() keeps its place. */
    struct fetch_jsonl r = {.conf = s->conf};
    int rc = NF_ERR;
    gzFile g = NULL;
    if (!w) {
        if (s->indexed[fi]) {
            nf_ctx_error(ctx, "%s: no line has this id any more", uri);
            return NF_ERR;
        }
        g = fj_open(s, fi, 0, ctx);
        if (!g)
            return NF_ERR;
        const char *line;
        size_t len;
        uint64_t off, lineno = 0;
        bool too_long;
        int lr;
        char id[1024], lid[33];
        while ((lr = fj_line(&r, g, &line, &len, &off, &too_long)) != 0) {
            lineno++;
            if (lr < 0) {
                if (!too_long)
                    break;
                continue;
            }
            json_t *doc = len ? fj_parse(s, ctx, s->files[fi], lineno, line, len, id, sizeof(id))
                              : NULL;
            if (!doc)
                continue;
            json_decref(doc);
            if (fj_set_uri(s, s->files[fi], id) < 0 ||
                (nf_id_make(s->uri, strlen(s->uri), lid),
                 fj_where_add(s, nfu_ledger_key(lid), (uint32_t)fi, off) < 0)) {
                nf_ctx_error(ctx, "out of memory");
                goto out;
            }
        }
        gzclose(g);
        g = NULL;
        s->indexed[fi] = true;
        for (size_t i = s->n_where; i-- > 0 && !w;)
            if (s->where[i].key == key && s->where[i].file == fi)
                w = &s->where[i];
        if (!w) {
            nf_ctx_error(ctx, "%s: no line has this id any more", uri);
            goto out;
        }
        free(r.buf);
        r = (struct fetch_jsonl){.conf = s->conf};
    }
    g = fj_open(s, fi, w->off, ctx);
    if (!g)
        goto out;
    r.base = w->off;
    const char *line;
    size_t len;
    uint64_t off;
    bool too_long;
    char id[1024];
    if (fj_line(&r, g, &line, &len, &off, &too_long) != 1) {
        nf_ctx_error(ctx, "%s: the file ends before the line", uri);
        goto out;
    }
    json_t *doc = fj_parse(s, ctx, s->files[fi], 0, line, len, id, sizeof(id));
    if (!doc)
        goto out;
    if (fj_set_uri(s, s->files[fi], id) < 0 || strcmp(s->uri, uri) != 0) {
        json_decref(doc);
        nf_ctx_error(ctx, "%s: the line at byte %llu has another id now (the file changed)", uri,
                     (unsigned long long)w->off);
        goto out;
    }
    json_decref(s->cur);
    s->cur = doc;
    rc = fj_fill(s, ctx, rec, doc, s->files[fi], 0, false);
out:
    if (g)
        gzclose(g);
    free(r.buf);
    return rc;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "fetch_jsonl",
    .description = "Reads articles from JSON-lines files (also .gz), one record per line",
    .kind = NF_PLUGIN_SOURCE,
    .options = fetch_jsonl_options,
    .conf_size = sizeof(struct fetch_jsonl_conf),
    .init = fetch_jsonl_init,
    .next = fetch_jsonl_next,
    .acked = fetch_jsonl_acked,
    .destroy = fetch_jsonl_destroy,
    .refetch = fetch_jsonl_refetch,
};
