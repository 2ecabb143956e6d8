/* fetch_jsonl: a source that reads JSON-lines files (also gzipped), one record per line, for
 * bulk backfills. A field mapping in the config names the input's id, title, text, date, url and
 * outlet keys. The body goes to `raw` as text/plain (clean_text turns it into `text`; the journal
 * then keeps only the small fields and refetch reads the line again); set_text also puts it in
 * `text` for pipelines without a cleaning stage. source.uri is file://PATH#ID, the record id is
 * that uri's hash. Workers share the lines by line number. A ledger of acknowledged ids (and of
 * refused lines) keeps a restart from reading finished lines again; after a crash, refetch reads
 * the lines still in flight again in one pass over the input. It does not clean, deduplicate or
 * guess charsets. */
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
#include <xxhash.h>
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
     ".ndjson and .jsonl.gz files are read in name order.", .min = "1",
     .flags = NF_OPT_READ_FILE | NF_OPT_READ_DIR},
    {"id_field", NF_OPT_STRING, "id", offsetof(struct fetch_jsonl_conf, id_field),
     "Key of the input's own id (a string or an integer), kept after '#' in source.uri.",
     .min = "1"},
    {"title_field", NF_OPT_STRING, "title", offsetof(struct fetch_jsonl_conf, title_field),
     "Key of the headline; empty: none."},
    {"text_field", NF_OPT_STRING, "text", offsetof(struct fetch_jsonl_conf, text_field),
     "Key of the body (plain text). A line without it is an error.", .min = "1"},
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
     "Longest line read; a longer one is an error and is skipped.", .min = "1"},
    {"remember", NF_OPT_BOOL, "true", offsetof(struct fetch_jsonl_conf, remember),
     "Keep a ledger of the ids whose records reached the end of the pipeline, and of the bad "
     "lines dead-lettered, and skip those lines after a restart (a bad line only while it is "
     "unchanged)."},
    {.name = NULL},
};

/* A window over an (inflated) input file, from which lines are cut: buf[pos..fill) is read
 * and not yet cut, buf[0] is at byte `base` of the file. */
struct fj_window {
    char *buf;
    size_t cap, pos, fill;
    uint64_t base;
    bool eof;
    uint64_t read; /* inflated bytes read into it, ever */
};

/* Where a line is, for refetch: the record id's first 64 bits -> file, offset and line. */
struct fj_where {
    uint64_t key;
    uint64_t off, lineno;
    uint32_t file;
};

/* How far refetch has read a file (to byte `off`, line `lineno`); `whole`: the index has every
 * line of it that is not finished. */
struct fj_seen {
    uint64_t off, lineno;
    bool whole;
};

/* Refetch's own reader, so that next() keeps its place. The host asks for journaled records in
 * the order they were sent, which is the order of the input, so the reader moves forward and
 * reads each file once; it opens a file again only when asked for a line behind it. */
struct fj_refetch {
    gzFile in;
    size_t file;
    uint64_t lineno;
    struct fj_window win;
    struct nfu_ledger_table where; /* of struct fj_where: every line passed */
    struct fj_seen *seen;          /* per file */
    uint64_t reported;             /* win.read already counted in refetch_bytes */
};

struct fetch_jsonl {
    const struct fetch_jsonl_conf *conf;
    int worker, workers;
    char **files; /* absolute paths, sorted */
    size_t n_files, file;
    gzFile in;
    /* progress: the files' bytes on disk, and those of the files already read through */
    int64_t bytes_total, bytes_before;
    uint64_t lineno;
    struct fj_window win; /* next()'s */
    json_t *cur; /* the last line's document: raw points into it until the next call */
    char *uri;
    size_t uri_cap;
    struct fj_refetch *re; /* while the host recovers its journal */
    struct nfu_ledger_table done;    /* of uint64_t keys: the ids acknowledged */
    struct nfu_ledger_table refused; /* of struct fj_refused: lines dead-lettered */
    struct nfu_ledger ledger;
    uint64_t skipped, skipped_refused;
};

/* A line refused (and dead-lettered) in an earlier run, by its record's id: the line's length
 * and hash then, or for a line over max_line its offset and 0. */
struct fj_refused {
    uint64_t key;
    uint64_t a, b;
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
        nf_ctx_error(ctx, "cannot open %s (%s): %s", s->conf->path,
                     nf_ctx_option_where(ctx, "path"), strerror(errno));
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

/* Reads the next line of `g` into w->buf (without the newline): 1 a line, 0 end of file,
 * -1 error (a read error, or a line over `max`: then skipped, *too_long set). `pos` is where
 * the next line starts. */
static int fj_line(struct fj_window *w, gzFile g, size_t max, const char **line, size_t *len,
                   uint64_t *off, bool *too_long)
{
    *too_long = false;
    if (!w->buf) {
        w->buf = malloc(2 * FJ_CHUNK);
        if (!w->buf)
            return -1;
        w->cap = 2 * FJ_CHUNK;
    }
    for (;;) {
        char *nl = memchr(w->buf + w->pos, '\n', w->fill - w->pos);
        if (nl || (w->eof && w->fill > w->pos)) {
            size_t n = nl ? (size_t)(nl - (w->buf + w->pos)) : w->fill - w->pos;
            *line = w->buf + w->pos;
            *len = n;
            *off = w->base + w->pos;
            w->pos += n + (nl != NULL);
            if (n > max) {
                *too_long = true; /* it fit in a buffer grown for an earlier line */
                return -1;
            }
            if (n > 0 && (*line)[n - 1] == '\r')
                (*len)--;
            return 1;
        }
        if (w->eof)
            return 0;
        /* Move the partial line to the front and read more. */
        size_t keep = w->fill - w->pos;
        if (keep > max) {
            /* Too long: drop what we have and skip to the next newline. */
            *too_long = true;
            *off = w->base + w->pos;
            for (;;) {
                w->base += w->fill;
                w->pos = w->fill = 0;
                int r = gzread(g, w->buf, (unsigned)w->cap);
                if (r <= 0) {
                    w->eof = true;
                    return -1;
                }
                w->read += (uint64_t)r;
                w->fill = (size_t)r;
                char *e = memchr(w->buf, '\n', w->fill);
                if (e) {
                    w->pos = (size_t)(e - w->buf) + 1;
                    return -1;
                }
            }
        }
        memmove(w->buf, w->buf + w->pos, keep);
        w->base += w->pos;
        w->pos = 0;
        w->fill = keep;
        if (w->cap - w->fill < FJ_CHUNK) {
            size_t cap = w->cap * 2;
            char *b = realloc(w->buf, cap);
            if (!b)
                return -1;
            w->buf = b;
            w->cap = cap;
        }
        int r = gzread(g, w->buf + w->fill, (unsigned)(w->cap - w->fill));
        if (r < 0)
            return -1;
        if (r == 0)
            w->eof = true;
        w->read += (uint64_t)r;
        w->fill += (size_t)r;
    }
}

/* Starts the window over at byte `off` of a file, keeping its buffer. */
static void fj_window_reset(struct fj_window *w, uint64_t off)
{
    w->pos = w->fill = 0;
    w->base = off;
    w->eof = false;
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

/* A line refused for what it holds, stamped by a and b: true when it was refused as it is in
 * an earlier run (then it is passed over: its dead letter exists), else the ledger will
 * remember it once the host has dead-lettered it. */
static bool fj_refused_before(struct fetch_jsonl *s, struct nf_record *rec, uint64_t a,
                              uint64_t b)
{
    const char *rid = nf_record_str(rec, NF_F_ID, NULL);
    if (!rid || strlen(rid) != 32)
        return false;
    const struct fj_refused *r = nfu_ledger_table_get(&s->refused, nfu_ledger_key(rid));
    if (r && r->a == a && r->b == b)
        return true;
    nfu_ledger_hold_refused(&s->ledger, rid, a, b);
    return false;
}

/* ---- the ledger ---------------------------------------------------------------------- */

/* Ledger lines: "ID\n", every 32-character word of a line read as an id; and "!ID A B\n" for a
 * refused line (see struct fj_refused). */
static int fj_ledger_line(void *arg, const char *line, bool mine)
{
    struct fetch_jsonl *s = arg;
    (void)mine;
    char id[64];
    int used;
    uint64_t a, b;
    if (nfu_ledger_parse_refused(line, id, &a, &b)) {
        struct fj_refused *r = nfu_ledger_table_put(&s->refused, nfu_ledger_key(id), NULL);
        if (!r)
            return -1;
        r->a = a;
        r->b = b;
        return 0;
    }
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

static void fj_refetch_end(struct fetch_jsonl *s);

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
    free(s->win.buf);
    free(s->uri);
    fj_refetch_end(s);
    nfu_ledger_table_free(&s->done);
    nfu_ledger_table_free(&s->refused);
    nfu_ledger_close(&s->ledger);
    free(s);
}

static int fetch_jsonl_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    /* path, id_field and text_field not empty and max_line > 0: the option table's bounds */
    const struct fetch_jsonl_conf *conf = vconf;
    struct fetch_jsonl *s = calloc(1, sizeof(*s));
    if (!s) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = conf;
    s->done.size = sizeof(uint64_t);
    s->refused.size = sizeof(struct fj_refused);
    s->worker = nf_ctx_worker(ctx);
    s->workers = nf_ctx_workers(ctx);
    nfu_ledger_init(&s->ledger, "fetch_jsonl", s->worker);
    if (fj_list(s, ctx) < 0 ||
        (conf->remember && (nfu_ledger_read(&s->ledger, ctx, fj_ledger_line, s) < 0 ||
                            nfu_ledger_open(&s->ledger, ctx) < 0)))
        goto fail;
    for (size_t i = 0; i < s->n_files; i++) {
        struct stat st;
        if (stat(s->files[i], &st) == 0)
            s->bytes_total += st.st_size;
    }
    nf_log(ctx, NF_LOG_INFO, "%zu %s to read%s", s->n_files, s->n_files == 1 ? "file" : "files",
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
    /* The host recovers its journal before it asks for new records: that is over. */
    fj_refetch_end(s);
    nfu_ledger_settle(&s->ledger, ctx);
    /* how far, in bytes of the files as they are on disk (compressed or not) */
    nf_ctx_progress(ctx, s->bytes_before + (s->in ? (int64_t)gzoffset(s->in) : 0),
                    s->bytes_total, "bytes");
    for (;;) {
        if (!s->in) {
            if (s->file >= s->n_files) {
                if (s->skipped)
                    nf_log(ctx, NF_LOG_INFO,
                           "%llu lines were finished in an earlier run and not read again",
                           (unsigned long long)s->skipped);
                if (s->skipped_refused)
                    nf_log(ctx, NF_LOG_INFO,
                           "%llu bad lines were dead-lettered in an earlier run and are "
                           "unchanged: not again",
                           (unsigned long long)s->skipped_refused);
                s->skipped = s->skipped_refused = 0;
                return NF_EOF;
            }
            s->in = fj_open(s, s->file, 0, ctx);
            if (!s->in) {
                s->file++;
                return NF_ERR;
            }
            s->lineno = 0;
            fj_window_reset(&s->win, 0);
        }
        const char *file = s->files[s->file];
        const char *line;
        size_t len;
        uint64_t off, stamp_a, stamp_b;
        bool too_long;
        int r = fj_line(&s->win, s->in, (size_t)s->conf->max_line, &line, &len, &off,
                        &too_long);
        if (r == 0 || (r < 0 && !too_long)) {
            int e = gzclose(s->in);
            s->in = NULL;
            struct stat st;
            if (stat(file, &st) == 0)
                s->bytes_before += st.st_size;
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
            fj_name_line(s, rec, file, s->lineno);
            stamp_a = off;
            stamp_b = 0;
            goto bad_line;
        }
        if (len == 0 || strspn(line, " \t") == len)
            continue; /* blank lines are allowed */
        char id[1024], rid[33];
        stamp_a = len;
        stamp_b = XXH3_64bits(line, len);
        json_t *doc = fj_parse(s, ctx, file, s->lineno, line, len, id, sizeof(id));
        if (!doc) {
            nf_record_set_bytes(rec, NF_F_RAW, line, len);
            fj_name_line(s, rec, file, s->lineno);
            goto bad_line;
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
        if (fj_fill(s, ctx, rec, doc, file, s->lineno, true) == NF_OK)
            return NF_OK;
        nf_record_set_bytes(rec, NF_F_RAW, line, len);
    bad_line:
        if (!fj_refused_before(s, rec, stamp_a, stamp_b))
            return NF_ERR;
        s->skipped_refused++;
        nf_record_reset(rec);
    }
}

/* ---- refetch ------------------------------------------------------------------------ */

/* Whether an input id is written in JSON as it is: printable ASCII that no writer escapes
 * (JSON writers escape quotes, backslashes, control characters, often '/' and anything beyond
 * ASCII). */
static bool fj_plain(const char *id)
{
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\' || *p == '/')
            return false;
    return id[0] != '\0';
}

/* Forgets refetch's reader and index. */
static void fj_refetch_end(struct fetch_jsonl *s)
{
    struct fj_refetch *r = s->re;
    if (!r)
        return;
    if (r->in)
        gzclose(r->in);
    free(r->win.buf);
    nfu_ledger_table_free(&r->where);
    free(r->seen);
    free(r);
    s->re = NULL;
}

/* Puts the reader on file `fi` so that it reads from byte `off`, line `lineno` (the line there
 * has number lineno + 1), or from where it is if that is not past them: reading on is cheaper
 * than seeking, which in a gzipped file inflates everything before the offset again. */
static int fj_refetch_at(struct fetch_jsonl *s, struct nf_ctx *ctx, size_t fi, uint64_t off,
                         uint64_t lineno)
{
    struct fj_refetch *r = s->re;
    if (r->in && r->file == fi && r->win.base + r->win.pos <= off)
        return 0;
    if (r->in) {
        gzclose(r->in);
        r->in = NULL;
    }
    if (off < r->seen[fi].off)
        nf_ctx_count(ctx, "refetch_rereads", 1); /* asked for a line behind the reader */
    r->in = fj_open(s, fi, off, ctx);
    if (!r->in)
        return -1;
    if (off && !gzdirect(r->in))
        r->win.read += off; /* gzseek inflated all of it */
    r->file = fi;
    r->lineno = lineno;
    fj_window_reset(&r->win, off);
    return 0;
}

/* Reads on from the reader's place up to the line whose id has `key`, putting the ids of the
 * lines it parses in the index (but for finished ones): 1 found (*line_out, *len_out,
 * *lineno_out, borrowed from the window until the next read), 0 the file ended without it, -1
 * error (reason given). With a `needle`, only lines that contain it are parsed: parsing every
 * line costs several times what inflating it does. */
static int fj_refetch_scan(struct fetch_jsonl *s, struct nf_ctx *ctx, uint64_t key,
                           const char *needle, const char **line_out, size_t *len_out,
                           uint64_t *lineno_out)
{
    size_t nl = needle ? strlen(needle) : 0;
    struct fj_refetch *r = s->re;
    const char *file = s->files[r->file];
    struct fj_seen *seen = &r->seen[r->file];
    const char *line;
    size_t len;
    uint64_t off;
    bool too_long;
    int lr;
    char id[1024], lid[33];
    while ((lr = fj_line(&r->win, r->in, (size_t)s->conf->max_line, &line, &len, &off,
                         &too_long)) != 0) {
        if (lr < 0 && !too_long) {
            nf_ctx_error(ctx, "%s:%llu: read error (truncated or damaged file?)", file,
                         (unsigned long long)r->lineno + 1);
            gzclose(r->in);
            r->in = NULL;
            return -1;
        }
        r->lineno++;
        if (r->win.base + r->win.pos > seen->off) {
            seen->off = r->win.base + r->win.pos;
            seen->lineno = r->lineno;
        }
        if (lr < 0 || len == 0 || (nl && !memmem(line, len, needle, nl)) ||
            strspn(line, " \t") == len)
            continue;
        json_error_t err;
        json_t *doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
        bool named = doc && json_is_object(doc) &&
                     fj_id(doc, s->conf->id_field, id, sizeof(id)) == 0;
        json_decref(doc);
        if (!named)
            continue; /* a bad line: never journaled, so never asked for */
        if (fj_set_uri(s, file, id) < 0)
            goto nomem;
        nf_id_make(s->uri, strlen(s->uri), lid);
        uint64_t k = nfu_ledger_key(lid);
        if (k != key && nfu_ledger_table_get(&s->done, k))
            continue; /* finished: never asked for */
        struct fj_where *w = nfu_ledger_table_put(&r->where, k, NULL);
        if (!w)
            goto nomem;
        *w = (struct fj_where){k, off, r->lineno, (uint32_t)r->file};
        if (k == key) {
            *line_out = line;
            *len_out = len;
            *lineno_out = r->lineno;
            return 1;
        }
    }
    return 0;
nomem:
    nf_ctx_error(ctx, "out of memory");
    return -1;
}

/* Finds the line of a journaled record again and fills in its raw (and text). */
static int fetch_jsonl_refetch(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct fetch_jsonl *s = state;
    nfu_ledger_settle(&s->ledger, ctx);
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
    if (!s->re) {
        s->re = calloc(1, sizeof(*s->re));
        if (s->re)
            s->re->seen = calloc(s->n_files, sizeof(*s->re->seen));
        if (!s->re || !s->re->seen) {
            free(s->re);
            s->re = NULL;
            nf_ctx_error(ctx, "out of memory");
            return NF_ERR;
        }
        s->re->where.size = sizeof(struct fj_where);
    }
    struct fj_refetch *r = s->re;
    uint64_t key = nfu_ledger_key(rid);
    const struct fj_where *w = nfu_ledger_table_get(&r->where, key);
    const struct fj_seen *seen = &r->seen[fi];
    if ((!w || w->file != fi) && seen->whole) {
        nf_ctx_error(ctx, "%s: no line has this id any more", uri);
        return NF_ERR;
    }
    const char *line = NULL;
    size_t len = 0;
    uint64_t lineno = 0;
    int rc;
    if (w && w->file == fi) {
        /* A line passed before: from its offset. */
        rc = fj_refetch_at(s, ctx, fi, w->off, w->lineno - 1);
        if (rc == 0)
            rc = fj_refetch_scan(s, ctx, key, NULL, &line, &len, &lineno);
    } else {
        /* On from where reading stopped in that file, looking only at lines that hold the id
         * as it is written (when it needs no escape in JSON); then from the start (a line
         * behind the reader); then at every line (an id written with escapes, or a line gone:
         * the index then answers the next question about a gone line). */
        const char *needle = fj_plain(hash + 1) ? hash + 1 : NULL;
        rc = fj_refetch_at(s, ctx, fi, seen->off, seen->lineno);
        if (rc == 0)
            rc = fj_refetch_scan(s, ctx, key, needle, &line, &len, &lineno);
        for (int pass = needle ? 0 : 1; rc == 0 && pass < 2; pass++) {
            rc = fj_refetch_at(s, ctx, fi, 0, 0);
            if (rc == 0)
                rc = fj_refetch_scan(s, ctx, key, pass ? NULL : needle, &line, &len, &lineno);
        }
        if (rc == 0)
            r->seen[fi].whole = true;
    }
    nf_ctx_count(ctx, "refetch_bytes", (int64_t)(r->win.read - r->reported));
    r->reported = r->win.read;
    if (rc <= 0) {
        if (rc == 0)
            nf_ctx_error(ctx, "%s: no line has this id any more", uri);
        return NF_ERR;
    }
    char id[1024];
    json_t *doc = fj_parse(s, ctx, s->files[fi], lineno, line, len, id, sizeof(id));
    if (!doc)
        return NF_ERR;
    if (fj_set_uri(s, s->files[fi], id) < 0 || strcmp(s->uri, uri) != 0) {
        json_decref(doc);
        nf_ctx_error(ctx, "%s:%llu: the line has another id now (the file changed)",
                     s->files[fi], (unsigned long long)lineno);
        return NF_ERR;
    }
    json_decref(s->cur);
    s->cur = doc;
    return fj_fill(s, ctx, rec, doc, s->files[fi], lineno, false);
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
