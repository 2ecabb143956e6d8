/* Dead-letter store, in SQLite or in a JSON-lines file, and its replay into a running pipeline.
 * Dead letters are rare, so every put is durable on its own (a transaction, or a write and an
 * fdatasync): simple to reason about, and done before the record is acknowledged. Reading back
 * and replaying are for an operator's commands, not for the stages' hot path. */
#include "deadletter.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>
#include <zmq.h>

#include "config.h"
#include "newsflow/record.h"

struct nf_dlq {
    char *path;
    bool jsonl;
    /* SQLite */
    sqlite3 *db;
    sqlite3_stmt *ins;
    /* JSON lines */
    int fd;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS dead_letters ("
    " n INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, id TEXT, source_uri TEXT,"
    " stage TEXT, worker INTEGER, attempt INTEGER, error TEXT NOT NULL, record BLOB,"
    " replayed_at TEXT);"
    "CREATE INDEX IF NOT EXISTS dead_letters_id ON dead_letters(id);";

static bool is_jsonl(const char *path)
{
    size_t n = strlen(path);
    return n >= 6 && strcmp(path + n - 6, ".jsonl") == 0;
}

struct nf_dlq *nf_dlq_new(const char *path)
{
    struct nf_dlq *d = calloc(1, sizeof(*d));
    if (d && !(d->path = strdup(path))) {
        free(d);
        return NULL;
    }
    if (d) {
        d->jsonl = is_jsonl(path);
        d->fd = -1;
    }
    return d;
}

void nf_dlq_destroy(struct nf_dlq **pd)
{
    if (!pd || !*pd)
        return;
    sqlite3_finalize((*pd)->ins);
    sqlite3_close((*pd)->db);
    if ((*pd)->fd >= 0)
        close((*pd)->fd);
    free((*pd)->path);
    free(*pd);
    *pd = NULL;
}

/* ---- SQLite ---------------------------------------------------------------------------------- */

static int sql_open(struct nf_dlq *d, char *err, size_t errlen)
{
    if (d->ins)
        return 0;
    if (sqlite3_open(d->path, &d->db) != SQLITE_OK)
        goto fail;
    /* SQLite creates the file with the process's umask (0644 under the usual 022; workers run
     * under 077, but this is also opened by commands like `dlq list`), and its WAL and
     * shared-memory files take the database's mode: make it private before anything is
     * written, whatever the umask. */
    chmod(d->path, 0600);
    sqlite3_busy_timeout(d->db, 10000);
    /* Several workers may create the store at the same moment. Switching to WAL can fail with
     * SQLITE_BUSY without the busy handler being consulted (another connection holds a read
     * lock while upgrading), so the creation is retried for a while. */
    int rc = SQLITE_BUSY;
    for (int tries = 0; tries < 200; tries++) {
        rc = sqlite3_exec(d->db, schema, NULL, NULL, NULL);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
        struct timespec pause = {0, 25 * 1000000};
        nanosleep(&pause, NULL);
    }
    if (rc != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(d->db,
                           "INSERT INTO dead_letters(at, id, source_uri, stage, worker, attempt,"
                           " error, record) VALUES(strftime('%Y-%m-%dT%H:%M:%fZ','now'),"
                           " ?, ?, ?, ?, ?, ?, ?)",
                           -1, &d->ins, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "dead-letter store %s: %s", d->path,
             d->db ? sqlite3_errmsg(d->db) : "cannot open");
    sqlite3_close(d->db);
    d->db = NULL;
    return -1;
}

static int sql_put(struct nf_dlq *d, const char *id, const char *source_uri, const char *stage,
                   int worker, int64_t attempt, const char *error, const void *bytes, size_t n,
                   char *err, size_t errlen)
{
    if (sql_open(d, err, errlen) < 0)
        return -1;
    sqlite3_stmt *s = d->ins;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, source_uri, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, stage, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, worker);
    sqlite3_bind_int64(s, 5, attempt);
    sqlite3_bind_text(s, 6, error ? error : "unknown error", -1, SQLITE_STATIC);
    if (bytes)
        sqlite3_bind_blob64(s, 7, bytes, n, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    int rc = sqlite3_step(s);
    for (int tries = 0; (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && tries < 200; tries++) {
        sqlite3_reset(s);
        struct timespec pause = {0, 25 * 1000000};
        nanosleep(&pause, NULL);
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "dead-letter store %s: %s", d->path, sqlite3_errmsg(d->db));
        return -1;
    }
    return 0;
}

static int sql_mark(struct nf_dlq *d, const int64_t *ns, size_t count, char *err, size_t errlen)
{
    if (sql_open(d, err, errlen) < 0)
        return -1;
    sqlite3_stmt *s = NULL;
    if (sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(d->db,
                           "UPDATE dead_letters SET replayed_at ="
                           " strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE n = ?",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < count; i++) {
        sqlite3_bind_int64(s, 1, ns[i]);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            goto fail;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "dead-letter store %s: %s", d->path, sqlite3_errmsg(d->db));
    sqlite3_finalize(s);
    sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

static int sql_scan(const char *path, int (*fn)(void *, const struct nf_dead_letter *), void *arg,
                    char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int rows = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(db, 10000);
    /* One statement reads one snapshot: rows put while the scan runs (a replayed record that
     * fails again) are not visited. */
    if (sqlite3_prepare_v2(db,
                           "SELECT n, at, id, source_uri, stage, worker, attempt, error, record,"
                           " replayed_at FROM dead_letters ORDER BY n",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    int count = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct nf_dead_letter dl = {
            .n = sqlite3_column_int64(s, 0),
            .at = (const char *)sqlite3_column_text(s, 1),
            .id = (const char *)sqlite3_column_text(s, 2),
            .source_uri = (const char *)sqlite3_column_text(s, 3),
            .stage = (const char *)sqlite3_column_text(s, 4),
            .worker = sqlite3_column_int(s, 5),
            .attempt = sqlite3_column_int64(s, 6),
            .error = (const char *)sqlite3_column_text(s, 7),
            .replayed_at = (const char *)sqlite3_column_text(s, 9),
        };
        /* sqlite3_column_blob gives NULL for an empty blob too: the type tells them apart */
        if (sqlite3_column_type(s, 8) != SQLITE_NULL) {
            dl.record = sqlite3_column_blob(s, 8);
            dl.record_len = (size_t)sqlite3_column_bytes(s, 8);
            if (!dl.record)
                dl.record = "";
        }
        count++;
        if (fn(arg, &dl) < 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    rows = count;
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rows;
}

/* ---- JSON lines ------------------------------------------------------------------------------ */

/* A JSON string for text that should be UTF-8 but may not be (a file name in another encoding):
 * bytes that are not UTF-8 become U+FFFD, so the line stays valid JSON. NULL text: null. */
static json_t *jl_text(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t len = strlen(s), o = 0;
    char *fixed = malloc(len * 3 + 1);
    if (!fixed)
        return NULL;
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k > 0) {
            memcpy(fixed + o, s + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    j = json_stringn(fixed, o);
    free(fixed);
    return j;
}

/* base64 (RFC 4648, padded) of n bytes as a JSON string; NULL on allocation failure. */
static json_t *jl_base64(const void *bytes, size_t n)
{
    size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap);
    if (!b64)
        return NULL;
    sodium_bin2base64(b64, cap, bytes, n, sodium_base64_VARIANT_ORIGINAL);
    json_t *j = json_stringn_nocheck(b64, cap - 1); /* ASCII by construction */
    free(b64);
    return j;
}

/* Decodes base64 into buf (grown as needed). Returns 0 or -1 if it is not base64. */
static int jl_unbase64(const char *b64, size_t len, unsigned char **buf, size_t *cap,
                       size_t *n_out)
{
    size_t need = len / 4 * 3 + 3;
    if (need > *cap) {
        unsigned char *p = realloc(*buf, need);
        if (!p)
            return -1;
        *buf = p;
        *cap = need;
    }
    const char *end = NULL;
    if (sodium_base642bin(*buf, *cap, b64, len, NULL, n_out, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + len)
        return -1;
    return 0;
}

static void sync_parent(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    int dfd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
}

static int jl_open(struct nf_dlq *d, char *err, size_t errlen)
{
    if (d->fd >= 0)
        return 0;
    /* read-write: the last byte is checked before appending (see jl_append) */
    int fd = open(d->path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(d->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            sync_parent(d->path); /* a new file's name must survive a crash as well */
    }
    if (fd < 0) {
        snprintf(err, errlen, "dead-letter store %s: %s", d->path, strerror(errno));
        return -1;
    }
    d->fd = fd;
    return 0;
}

static int lock(int fd, int how)
{
    while (flock(fd, how) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* Appends whole lines (text ends with '\n') in one write under an exclusive lock, then
 * fdatasync. Linux appends one write(2) to a regular file atomically anyway, but the lock lets a
 * short write (disk full) be cut back off, so no later line is ever glued to a torn one; and a
 * file left ending mid-line by a writer killed mid-write gets the newline it lacked first. */
static int jl_append(struct nf_dlq *d, const char *text, size_t len, char *err, size_t errlen)
{
    if (jl_open(d, err, errlen) < 0)
        return -1;
    if (lock(d->fd, LOCK_EX) < 0) {
        snprintf(err, errlen, "dead-letter store %s: lock: %s", d->path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (fstat(d->fd, &st) < 0)
        goto out;
    char last = '\n';
    if (st.st_size > 0 && pread(d->fd, &last, 1, st.st_size - 1) != 1)
        goto out;
    struct iovec iov[2] = {{"\n", last == '\n' ? 0 : 1}, {(void *)text, len}};
    size_t total = iov[0].iov_len + len, done = 0;
    while (done < total) {
        ssize_t k;
        if (done == 0) {
            k = writev(d->fd, iov, 2);
        } else {
            size_t skip = done - iov[0].iov_len; /* a short first write: go on with the rest */
            k = write(d->fd, text + skip, len - skip);
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            if (ftruncate(d->fd, st.st_size) < 0) { /* best effort: the lines stay whole */
            }
            errno = e;
            goto out;
        }
        done += (size_t)k; /* k > 0: the optional newline, one byte, went with the first */
    }
    rc = 0;
out:
    if (rc < 0)
        snprintf(err, errlen, "dead-letter store %s: %s", d->path, strerror(errno));
    lock(d->fd, LOCK_UN);
    if (rc == 0 && fdatasync(d->fd) < 0) {
        snprintf(err, errlen, "dead-letter store %s: fdatasync: %s", d->path, strerror(errno));
        rc = -1;
    }
    return rc;
}

static int jl_put(struct nf_dlq *d, const char *id, const char *source_uri, const char *stage,
                  int worker, int64_t attempt, const char *error, const void *bytes, size_t n,
                  char *err, size_t errlen)
{
    char at[NF_LOG_TIME_LEN];
    nf_log_time(at, sizeof(at));
    json_t *o = json_object();
    char *line = NULL;
    int rc = -1;
    if (!o || json_object_set_new(o, "at", json_string(at)) < 0 ||
        json_object_set_new(o, "id", jl_text(id)) < 0 ||
        json_object_set_new(o, "source_uri", jl_text(source_uri)) < 0 ||
        json_object_set_new(o, "stage", jl_text(stage)) < 0 ||
        json_object_set_new(o, "worker", json_integer(worker)) < 0 ||
        json_object_set_new(o, "attempt", json_integer(attempt)) < 0 ||
        json_object_set_new(o, "error", jl_text(error ? error : "unknown error")) < 0 ||
        json_object_set_new(o, "record", bytes ? jl_base64(bytes, n) : json_null()) < 0 ||
        !(line = json_dumps(o, JSON_COMPACT))) {
        snprintf(err, errlen, "dead-letter store %s: out of memory", d->path);
        goto out;
    }
    size_t len = strlen(line);
    line[len] = '\n'; /* json_dumps' NUL becomes the line's end */
    rc = jl_append(d, line, len + 1, err, errlen);
out:
    free(line);
    json_decref(o);
    return rc;
}

static int jl_mark(struct nf_dlq *d, const int64_t *ns, size_t count, char *err, size_t errlen)
{
    char at[NF_LOG_TIME_LEN];
    nf_log_time(at, sizeof(at));
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) {
        snprintf(err, errlen, "dead-letter store %s: %s", d->path, strerror(errno));
        return -1;
    }
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        json_t *o = json_pack("{s:I, s:s}", "replayed", (json_int_t)ns[i], "at", at);
        ok = o && json_dumpf(o, m, JSON_COMPACT) == 0 && fputc('\n', m) != EOF;
        json_decref(o);
    }
    if (fclose(m) != 0 || !ok) {
        free(text);
        snprintf(err, errlen, "dead-letter store %s: out of memory", d->path);
        return -1;
    }
    int rc = len ? jl_append(d, text, len, err, errlen) : 0;
    free(text);
    return rc;
}

struct marker {
    int64_t n;
    size_t order; /* position in the file */
    char at[40];
};

static int cmp_marker(const void *a, const void *b)
{
    const struct marker *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_marker_line(const void *a, const void *b)
{
    const struct marker *x = a, *y = b;
    return x->n < y->n ? -1 : x->n > y->n;
}

static const char *obj_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A marker line: {"replayed": n, "at": ...}. Returns true and fills m when it is one. */
static bool jl_marker(json_t *o, struct marker *m)
{
    json_t *r = json_object_get(o, "replayed");
    if (!json_is_integer(r))
        return false;
    m->n = json_integer_value(r);
    const char *at = obj_str(o, "at");
    snprintf(m->at, sizeof(m->at), "%s", at ? at : "?");
    return true;
}

static int jl_scan(const char *path, int (*fn)(void *, const struct nf_dead_letter *), void *arg,
                   char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rows = -1;
    char *line = NULL;
    size_t cap = 0;
    struct marker *marks = NULL;
    size_t n_marks = 0, cap_marks = 0;
    unsigned char *rec = NULL;
    size_t rec_cap = 0;
    /* The file as it is now, taken under the writers' lock so that no half-written line is in
     * it; what is appended later (a replayed record that fails again) is not visited. */
    struct stat st;
    if (lock(fileno(f), LOCK_SH) < 0 || fstat(fileno(f), &st) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    lock(fileno(f), LOCK_UN);
    off_t size = st.st_size;

    /* First pass: the replay markers. They are short; long lines are dead letters and are not
     * parsed twice. */
    off_t off = 0;
    ssize_t len;
    while (off < size && (len = getline(&line, &cap, f)) > 0) {
        off += len;
        if (len > 512)
            continue;
        json_t *o = json_loadb(line, (size_t)len, 0, NULL);
        struct marker m;
        if (o && jl_marker(o, &m)) {
            if (n_marks == cap_marks) {
                size_t nc = cap_marks ? cap_marks * 2 : 16;
                struct marker *p = realloc(marks, nc * sizeof(*p));
                if (!p) {
                    json_decref(o);
                    snprintf(err, errlen, "%s: out of memory", path);
                    goto out;
                }
                marks = p;
                cap_marks = nc;
            }
            m.order = n_marks;
            marks[n_marks++] = m;
        }
        json_decref(o);
    }
    /* by line, then file order: of several markers for one line (--force), the last is latest */
    if (n_marks)
        qsort(marks, n_marks, sizeof(*marks), cmp_marker);

    rewind(f);
    off = 0;
    int64_t lineno = 0;
    int count = 0;
    while (off < size && (len = getline(&line, &cap, f)) > 0) {
        off += len;
        lineno++;
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)len, 0, &jerr);
        struct nf_dead_letter dl = {.n = lineno};
        struct marker m;
        char why[300];
        if (o && jl_marker(o, &m)) {
            json_decref(o);
            continue;
        }
        if (!o || !json_is_object(o) || !obj_str(o, "error")) {
            if (!o)
                snprintf(why, sizeof(why), "line %lld is not JSON: %s", (long long)lineno,
                         jerr.text);
            else
                snprintf(why, sizeof(why), "line %lld is not a dead letter (no \"error\")",
                         (long long)lineno);
            dl.damaged = true;
            dl.error = why;
        } else {
            dl.at = obj_str(o, "at");
            dl.id = obj_str(o, "id");
            dl.source_uri = obj_str(o, "source_uri");
            dl.stage = obj_str(o, "stage");
            dl.error = obj_str(o, "error");
            dl.worker = (int)json_integer_value(json_object_get(o, "worker"));
            dl.attempt = json_integer_value(json_object_get(o, "attempt"));
            json_t *r = json_object_get(o, "record");
            if (json_is_string(r)) {
                size_t n = 0;
                if (jl_unbase64(json_string_value(r), json_string_length(r), &rec, &rec_cap,
                                &n) < 0) {
                    snprintf(why, sizeof(why), "line %lld: its record is not base64: %s",
                             (long long)lineno, dl.error);
                    dl.error = why;
                } else {
                    dl.record = rec;
                    dl.record_len = n;
                }
            }
            /* the last marker for this line */
            struct marker key = {.n = lineno};
            struct marker *hit =
                n_marks ? bsearch(&key, marks, n_marks, sizeof(*marks), cmp_marker_line) : NULL;
            if (hit) {
                while (hit + 1 < marks + n_marks && hit[1].n == lineno)
                    hit++;
                dl.replayed_at = hit->at;
            }
        }
        count++;
        int stop = fn(arg, &dl);
        json_decref(o);
        if (stop < 0)
            goto out;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    rows = count;
out:
    free(rec);
    free(marks);
    free(line);
    fclose(f);
    return rows;
}

/* ---- the API --------------------------------------------------------------------------------- */

int nf_dlq_put(struct nf_dlq *d, const char *id, const char *source_uri, const char *stage,
               int worker, int64_t attempt, const char *error, const void *bytes, size_t n,
               char *err, size_t errlen)
{
    return d->jsonl ? jl_put(d, id, source_uri, stage, worker, attempt, error, bytes, n, err,
                             errlen)
                    : sql_put(d, id, source_uri, stage, worker, attempt, error, bytes, n, err,
                              errlen);
}

int nf_dlq_mark_replayed(struct nf_dlq *d, const int64_t *ns, size_t count, char *err,
                         size_t errlen)
{
    if (count == 0)
        return 0;
    return d->jsonl ? jl_mark(d, ns, count, err, errlen) : sql_mark(d, ns, count, err, errlen);
}

int nf_dlq_scan(const char *path, int (*fn)(void *arg, const struct nf_dead_letter *dl),
                void *arg, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0 && errno == ENOENT)
        return 0; /* nothing was ever dead-lettered: an empty store, not an error */
    return is_jsonl(path) ? jl_scan(path, fn, arg, err, errlen)
                          : sql_scan(path, fn, arg, err, errlen);
}

struct tail {
    int64_t skip; /* rows to pass over before the newest ones */
    int (*fn)(void *, const struct nf_dead_letter *);
    void *arg;
};

static int count_row(void *arg, const struct nf_dead_letter *dl)
{
    (void)dl;
    ++*(int64_t *)arg;
    return 0;
}

static int tail_row(void *arg, const struct nf_dead_letter *dl)
{
    struct tail *t = arg;
    if (t->skip > 0) {
        t->skip--;
        return 0;
    }
    struct nf_dead_letter copy = *dl;
    copy.record = NULL;
    copy.record_len = 0;
    return t->fn(t->arg, &copy);
}

int64_t nf_dlq_latest(const char *path, int limit,
                      int (*fn)(void *, const struct nf_dead_letter *), void *arg, char *err,
                      size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0 && errno == ENOENT)
        return 0;
    if (is_jsonl(path)) { /* a file read twice: to count, then to the newest */
        int64_t total = 0;
        if (jl_scan(path, count_row, &total, err, errlen) < 0)
            return -1;
        struct tail t = {total > limit ? total - limit : 0, fn, arg};
        return jl_scan(path, tail_row, &t, err, errlen) < 0 ? -1 : total;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *c = NULL, *q = NULL;
    int64_t total = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        goto out;
    }
    sqlite3_busy_timeout(db, 2000);
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK || /* one snapshot for both */
        sqlite3_prepare_v2(db, "SELECT count(*) FROM dead_letters", -1, &c, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "SELECT n, at, id, source_uri, stage, worker, attempt, error,"
                           " replayed_at FROM (SELECT * FROM dead_letters ORDER BY n DESC"
                           " LIMIT ?) ORDER BY n",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_bind_int(q, 1, limit) != SQLITE_OK || sqlite3_step(c) != SQLITE_ROW) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    int64_t n = sqlite3_column_int64(c, 0);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        struct nf_dead_letter dl = {
            .n = sqlite3_column_int64(q, 0),
            .at = (const char *)sqlite3_column_text(q, 1),
            .id = (const char *)sqlite3_column_text(q, 2),
            .source_uri = (const char *)sqlite3_column_text(q, 3),
            .stage = (const char *)sqlite3_column_text(q, 4),
            .worker = sqlite3_column_int(q, 5),
            .attempt = sqlite3_column_int64(q, 6),
            .error = (const char *)sqlite3_column_text(q, 7),
            .replayed_at = (const char *)sqlite3_column_text(q, 8),
        };
        if (fn(arg, &dl) < 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    total = n;
out:
    sqlite3_finalize(c);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return total;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static int list_row(void *arg, const struct nf_dead_letter *dl)
{
    FILE *out = arg;
    if (dl->damaged) {
        fprintf(out, "%-5lld (damaged) %s\n", (long long)dl->n, dl->error);
        return 0;
    }
    char bytes[24] = "-";
    if (dl->record)
        snprintf(bytes, sizeof(bytes), "%zu", dl->record_len);
    fprintf(out, "%-5lld %-24s %-12.12s %-10s %-8s %s\n      %s", (long long)dl->n,
            or_empty(dl->at), or_empty(dl->id), or_empty(dl->stage), bytes, or_empty(dl->error),
            or_empty(dl->source_uri));
    if (dl->replayed_at)
        fprintf(out, "%sreplayed %s", dl->source_uri ? "  " : "", dl->replayed_at);
    fputc('\n', out);
    return 0;
}

int nf_dlq_list(const char *path, FILE *out, char *err, size_t errlen)
{
    /* rows go to memory first: the header is printed only when the store could be read */
    char *body = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&body, &len);
    if (!m) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rows = nf_dlq_scan(path, list_row, m, err, errlen);
    fclose(m);
    if (rows >= 0) {
        fprintf(out, "%-5s %-24s %-12s %-10s %-8s %s\n", "n", "at", "id", "stage", "bytes",
                "error / source");
        fwrite(body, 1, len, out);
    }
    free(body);
    return rows;
}

struct json_list {
    FILE *out;
    bool failed;
};

static int list_json_row(void *arg, const struct nf_dead_letter *dl)
{
    struct json_list *L = arg;
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "n", json_integer(dl->n)) < 0)
        goto nomem;
    if (dl->damaged) {
        if (json_object_set_new(o, "damaged", json_true()) < 0 ||
            json_object_set_new(o, "error", jl_text(dl->error)) < 0)
            goto nomem;
    } else if (json_object_set_new(o, "at", jl_text(dl->at)) < 0 ||
               json_object_set_new(o, "id", jl_text(dl->id)) < 0 ||
               json_object_set_new(o, "source_uri", jl_text(dl->source_uri)) < 0 ||
               json_object_set_new(o, "stage", jl_text(dl->stage)) < 0 ||
               json_object_set_new(o, "worker", json_integer(dl->worker)) < 0 ||
               json_object_set_new(o, "attempt", json_integer(dl->attempt)) < 0 ||
               json_object_set_new(o, "error", jl_text(dl->error)) < 0 ||
               json_object_set_new(o, "record", dl->record
                                                    ? jl_base64(dl->record, dl->record_len)
                                                    : json_null()) < 0 ||
               json_object_set_new(o, "replayed_at", jl_text(dl->replayed_at)) < 0) {
        goto nomem;
    }
    if (json_dumpf(o, L->out, JSON_COMPACT) < 0 || fputc('\n', L->out) == EOF)
        goto nomem;
    json_decref(o);
    return 0;
nomem:
    json_decref(o);
    L->failed = true;
    return -1;
}

int nf_dlq_list_json(const char *path, FILE *out, char *err, size_t errlen)
{
    struct json_list L = {.out = out};
    int rows = nf_dlq_scan(path, list_json_row, &L, err, errlen);
    if (L.failed)
        snprintf(err, errlen, "%s: cannot write the listing: %s", path, strerror(errno));
    return rows;
}

/* ---- replay ---------------------------------------------------------------------------------- */

struct replay_dest {
    char endpoint[320];
    void *sock;
};

struct replay {
    const struct nf_config *cfg;
    const struct nf_dlq_replay_opts *o;
    FILE *out;
    char *err;
    size_t errlen;
    void *zctx;
    struct replay_dest *dests;
    int n_dests;
    struct nf_record *rec;
    struct nf_buf buf;
    int64_t *sent;
    size_t n_sent, cap_sent;
    int matched, already, unreadable, refused;
};

static bool replay_selects(const struct replay *R, const struct nf_dead_letter *dl)
{
    if (R->o->all)
        return true;
    if (dl->damaged)
        return false;
    if (R->o->stage && (!dl->stage || strcmp(dl->stage, R->o->stage) != 0))
        return false;
    if (R->o->n_ids == 0)
        return true;
    for (int i = 0; i < R->o->n_ids; i++)
        if (dl->id && strncmp(dl->id, R->o->ids[i], strlen(R->o->ids[i])) == 0)
            return true;
    return false;
}

/* A PUSH socket to one stage's inbox. Opened here rather than with nf_socket_open because
 * ZMQ_IMMEDIATE must be set before connecting: without it ZeroMQ queues to an inbox nobody has
 * bound and the send "succeeds" while the pipeline is down. */
static void *replay_socket(struct replay *R, int stage, char *ep, size_t eplen)
{
    /* a direct stage's workers are each an inbox: connect to them all, ZeroMQ deals out */
    bool direct = nf_config_direct(R->cfg, stage);
    int n = direct ? R->cfg->stages[stage].workers : 1;
    if ((direct ? nf_config_worker_inbox(R->cfg, stage, 0, ep, eplen)
                : nf_config_inbox(R->cfg, stage, false, false, ep, eplen)) < 0) {
        snprintf(R->err, R->errlen, "stage %s: no usable inbox endpoint",
                 R->cfg->stages[stage].name);
        return NULL;
    }
    for (int i = 0; i < R->n_dests; i++)
        if (strcmp(R->dests[i].endpoint, ep) == 0)
            return R->dests[i].sock;
    struct replay_dest *d = realloc(R->dests, (size_t)(R->n_dests + 1) * sizeof(*d));
    if (!d) {
        snprintf(R->err, R->errlen, "out of memory");
        return NULL;
    }
    R->dests = d;
    void *s = zmq_socket(R->zctx, ZMQ_PUSH);
    if (!s) {
        snprintf(R->err, R->errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int immediate = 1, linger = R->o->timeout_ms, timeout = R->o->timeout_ms;
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
    char each[320];
    for (int k = 0; k < n; k++) {
        if (direct && nf_config_worker_inbox(R->cfg, stage, k, each, sizeof(each)) < 0)
            continue; /* checked when the config was loaded */
        if (zmq_connect(s, direct ? each : ep) < 0) {
            snprintf(R->err, R->errlen, "connect %s: %s", direct ? each : ep,
                     zmq_strerror(errno));
            zmq_close(s);
            return NULL;
        }
    }
    d = &R->dests[R->n_dests++];
    snprintf(d->endpoint, sizeof(d->endpoint), "%s", ep);
    d->sock = s;
    return s;
}

static int replay_send(struct replay *R, const struct nf_dead_letter *dl, int stage)
{
    char ep[320];
    void *s = replay_socket(R, stage, ep, sizeof(ep));
    if (!s)
        return -1;
    while (zmq_send(s, R->buf.data, R->buf.len, 0) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            snprintf(R->err, R->errlen,
                     "dead letter %lld: the inbox of stage %s (%s) took nothing within %d ms: is "
                     "the pipeline running?",
                     (long long)dl->n, R->cfg->stages[stage].name, ep, R->o->timeout_ms);
        else
            snprintf(R->err, R->errlen, "dead letter %lld: send to %s: %s", (long long)dl->n, ep,
                     zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int replay_one(void *arg, const struct nf_dead_letter *dl)
{
    struct replay *R = arg;
    if (!replay_selects(R, dl))
        return 0;
    R->matched++;
    FILE *out = R->out;
    if (dl->damaged) {
        fprintf(out, "skipped %lld: %s\n", (long long)dl->n, dl->error);
        R->unreadable++;
        return 0;
    }
    if (dl->replayed_at && !R->o->force) {
        R->already++;
        return 0;
    }
    const char *what = dl->source_uri ? dl->source_uri : dl->id ? dl->id : "(no id)";
    if (!dl->record || dl->record_len == 0) {
        fprintf(out, "skipped %lld (%s, %s): no record bytes were kept with it (%s)\n",
                (long long)dl->n, or_empty(dl->stage), what, or_empty(dl->error));
        R->unreadable++;
        return 0;
    }
    int si = dl->stage ? nf_config_stage_index(R->cfg, dl->stage) : -1;
    if (si < 0) {
        fprintf(out, "skipped %lld (%s): stage '%s' is not in %s\n", (long long)dl->n, what,
                or_empty(dl->stage), R->cfg->path);
        R->unreadable++;
        return 0;
    }
    if (nf_config_head(R->cfg, si) != si) {
        /* filed by the stage's own workers before it was fused: its bytes are what that stage
         * took in, which the chain's first stage must not be handed */
        fprintf(out, "skipped %lld (%s): stage %s is fused into the workers of %s now and has "
                     "no inbox; set fuse = false on it to replay what it dead-lettered before\n",
                (long long)dl->n, what, dl->stage, R->cfg->stages[nf_config_head(R->cfg, si)].name);
        R->unreadable++;
        return 0;
    }
    if (nf_record_decode(R->rec, dl->record, dl->record_len) < 0) {
        fprintf(out, "skipped %lld (%s, %s): the stored bytes are not a readable record: %s\n",
                (long long)dl->n, dl->stage, what, nf_record_error(R->rec));
        R->unreadable++;
        return 0;
    }
    /* No one is waiting for this record any more: without the delivery fields the stage where it
     * ends acknowledges nothing (a stale ack_to would reach a source that forgot it long ago). */
    nf_record_unset(R->rec, NF_F_ACK_TO);
    nf_record_unset(R->rec, NF_F_SEQ);
    nf_record_unset(R->rec, NF_F_ATTEMPT);
    R->buf.len = 0;
    if (nf_record_encode(R->rec, &R->buf) < 0) {
        snprintf(R->err, R->errlen, "dead letter %lld: %s", (long long)dl->n,
                 nf_record_error(R->rec));
        return -1;
    }
    const struct nf_stage_conf *st = &R->cfg->stages[si];
    /* a source's dead letter is a record it could not get acknowledged: its consumers retry */
    bool source = st->n_inputs == 0;
    if (source && dl->attempt == 0) {
        /* never sent: the source refused this input by its own checks (binary, too big, bad
         * JSON line). Only the source may judge it again: fix the input and the source reads
         * it anew (it remembers a refusal only until the input changes). */
        fprintf(out, "skipped %lld (%s): refused by source %s when it read it (%s); fix the "
                     "input and %s reads it again\n",
                (long long)dl->n, what, st->name, or_empty(dl->error), st->name);
        R->refused++;
        return 0;
    }
    int n_to = source ? st->n_consumers : 1;
    for (int i = 0; i < n_to; i++)
        if (replay_send(R, dl, source ? st->consumers[i] : si) < 0)
            return -1;
    if (R->n_sent == R->cap_sent) {
        size_t nc = R->cap_sent ? R->cap_sent * 2 : 64;
        int64_t *p = realloc(R->sent, nc * sizeof(*p));
        if (!p) {
            snprintf(R->err, R->errlen, "out of memory");
            return -1;
        }
        R->sent = p;
        R->cap_sent = nc;
    }
    R->sent[R->n_sent++] = dl->n;
    fprintf(out, "sent %lld (%s, dead-lettered by %s: %s) to", (long long)dl->n, what, dl->stage,
            or_empty(dl->error));
    for (int i = 0; i < n_to; i++)
        fprintf(out, " %s", R->cfg->stages[source ? st->consumers[i] : si].name);
    fputc('\n', out);
    return 0;
}

int nf_dlq_replay(const struct nf_config *cfg, const struct nf_dlq_replay_opts *opts, FILE *out,
                  char *err, size_t errlen)
{
    struct nf_dlq_replay_opts o = *opts;
    if (o.timeout_ms <= 0)
        o.timeout_ms = 5000;
    struct replay R = {.cfg = cfg, .o = &o, .out = out, .err = err, .errlen = errlen};
    struct nf_dlq *d = NULL;
    int rc = -1;
    err[0] = '\0';
    if (!(R.zctx = zmq_ctx_new()) || !(R.rec = nf_record_new())) {
        snprintf(err, errlen, "cannot set up the replay: out of memory");
        goto out;
    }
    int rows = nf_dlq_scan(cfg->deadletter, replay_one, &R, err, errlen);
    /* Let what was sent reach the inboxes (bounded by the linger) before it is marked. */
    for (int i = 0; i < R.n_dests; i++)
        zmq_close(R.dests[i].sock);
    R.n_dests = 0;
    zmq_ctx_term(R.zctx);
    R.zctx = NULL;
    if (R.n_sent) {
        char merr[512];
        if (!(d = nf_dlq_new(cfg->deadletter)) ||
            nf_dlq_mark_replayed(d, R.sent, R.n_sent, merr, sizeof(merr)) < 0) {
            /* keep the first error: it says why the replay stopped */
            if (rows >= 0)
                snprintf(err, errlen, "sent %zu dead letters but could not mark them replayed: "
                         "%s", R.n_sent, d ? merr : "out of memory");
            rows = -1;
        }
    }
    if (rows < 0)
        goto out;
    if (R.matched == 0) {
        snprintf(err, errlen, "no dead letter in %s matches the selection (%d in the store)",
                 cfg->deadletter, rows);
        goto out;
    }
    rc = (int)R.n_sent;
out:
    if (R.matched || R.n_sent) {
        fprintf(out, "%zu sent, %d skipped (no readable record or stage), %d refused by their "
                     "source (fix the input instead), %d already replayed%s.\n",
                R.n_sent, R.unreadable, R.refused, R.already,
                R.already && !o.force ? " (--force sends them again)" : "");
        if (R.n_sent)
            fprintf(out, "Replayed records carry no ack_to, seq or attempt: nobody waits for "
                         "their acknowledgement, and one that fails again is dead-lettered "
                         "again as a new entry.\n");
    }
    for (int i = 0; i < R.n_dests; i++)
        zmq_close(R.dests[i].sock);
    if (R.zctx)
        zmq_ctx_term(R.zctx);
    free(R.dests);
    free(R.sent);
    nf_buf_free(&R.buf);
    nf_record_destroy(&R.rec);
    nf_dlq_destroy(&d);
    return rc;
}
