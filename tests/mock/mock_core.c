/* Mock stage host: the plugin ABI's context calls, backed by plain variables. */
#include "mock_core.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <zlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "plugin_loader.h"

#ifndef NF_PLUGIN_DIR
#error "NF_PLUGIN_DIR must point at the built plugins"
#endif

struct nf_ctx {
    const char *stage;
    int worker, workers;
    char set[1024]; /* " key1 key2 ": the options the test set (copied: its array may go) */
    char where[256];
};

struct mock_plugin {
    struct nf_plugin_handle *h;
    struct nf_strpool *pool;
    void *conf;
    void *state;
    struct nf_ctx ctx;
};

static char last_error[1024];
static char state_dir[256];
static int next_worker = 0, next_workers = 1;
/* Names are copied: a plugin's static strings go away when its object is unloaded between two
 * instances of a test. */
static struct {
    char name[64];
    int64_t value;
} counters[64];

void nf_ctx_error(struct nf_ctx *ctx, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
}

void nf_log(struct nf_ctx *ctx, enum nf_log_level level, const char *fmt, ...)
{
    (void)ctx;
    if (level > NF_LOG_WARN && !getenv("MOCK_VERBOSE"))
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[plugin log %d] ", (int)level);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *nf_ctx_stage(const struct nf_ctx *ctx)
{
    return ctx->stage;
}

/* As the real host, with "mock option N" for the place a test's option came from. */
const char *nf_ctx_option_where(struct nf_ctx *ctx, const char *option)
{
    char key[130];
    snprintf(key, sizeof(key), " %s ", option);
    snprintf(ctx->where, sizeof(ctx->where), "stage %s, option %s (%s)", ctx->stage, option,
             strstr(ctx->set, key) ? "set by the test" : "default");
    return ctx->where;
}

int nf_ctx_worker(const struct nf_ctx *ctx)
{
    return ctx->worker;
}

int nf_ctx_workers(const struct nf_ctx *ctx)
{
    return ctx->workers;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* The state directory goes when the test process ends, whatever the plugins left in it. */
static void remove_state_dir(void)
{
    if (state_dir[0])
        nftw(state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *mock_state_dir(void)
{
    if (!state_dir[0]) {
        snprintf(state_dir, sizeof(state_dir), "/tmp/nf-mock-XXXXXX");
        if (!mkdtemp(state_dir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_state_dir);
    }
    return state_dir;
}

const char *nf_ctx_state_dir(const struct nf_ctx *ctx)
{
    (void)ctx;
    return mock_state_dir();
}

int64_t nf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nf_ctx_count(struct nf_ctx *ctx, const char *name, int64_t delta)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        if (!counters[i].name[0] || strcmp(counters[i].name, name) == 0) {
            snprintf(counters[i].name, sizeof(counters[i].name), "%s", name);
            counters[i].value += delta;
            return;
        }
    }
}

static int64_t progress_done = -1, progress_total = -1;
static char progress_unit[16];

static int wait_fd = -1;

void nf_ctx_wait_fd(struct nf_ctx *ctx, int fd)
{
    (void)ctx;
    wait_fd = fd;
}

int mock_wait_fd(void)
{
    return wait_fd;
}

void nf_ctx_progress(struct nf_ctx *ctx, int64_t done, int64_t total, const char *unit)
{
    (void)ctx;
    progress_done = done;
    progress_total = total;
    snprintf(progress_unit, sizeof(progress_unit), "%s", unit ? unit : "");
}

const char *mock_progress(int64_t *done, int64_t *total)
{
    *done = progress_done;
    *total = progress_total;
    return progress_unit;
}

int64_t mock_counter(const char *name)
{
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]) && counters[i].name[0]; i++)
        if (strcmp(counters[i].name, name) == 0)
            return counters[i].value;
    return 0;
}

const char *mock_last_error(void)
{
    return last_error;
}

void mock_set_worker(int worker, int workers)
{
    next_worker = worker;
    next_workers = workers;
}

struct mock_plugin *mock_plugin_new(const char *name, const char *const *opts)
{
    char err[1024];
    last_error[0] = '\0';
    struct mock_plugin *mp = calloc(1, sizeof(*mp));
    if (!mp)
        return NULL;
    mp->h = nf_plugin_load(NF_PLUGIN_DIR, name, err, sizeof(err));
    if (!mp->h)
        goto fail;
    const struct nf_plugin *p = &mp->h->desc;
    mp->pool = nf_strpool_new();
    mp->conf = calloc(1, p->conf_size ? p->conf_size : 1);
    if (!mp->pool || !mp->conf)
        goto fail;
    if (nf_options_defaults(p->options, mp->conf, NULL, mp->pool, err, sizeof(err)) < 0)
        goto fail;
    for (size_t i = 0; opts && opts[i]; i++) {
        const char *eq = strchr(opts[i], '=');
        char key[128];
        if (!eq || (size_t)(eq - opts[i]) >= sizeof(key)) {
            snprintf(err, sizeof(err), "mock option \"%s\" is not key=value", opts[i]);
            goto fail;
        }
        memcpy(key, opts[i], (size_t)(eq - opts[i]));
        key[eq - opts[i]] = '\0';
        const struct nf_option *o = nf_option_find(p->options, key);
        if (!o) {
            snprintf(err, sizeof(err), "plugin %s has no option '%s'", name, key);
            goto fail;
        }
        if (nf_option_set(o, mp->conf, NF_VAL_TEXT, eq + 1, NULL, mp->pool, err,
                          sizeof(err)) < 0)
            goto fail;
    }
    /* as the real core: a required option (no default) left out is refused before init */
    for (const struct nf_option *o = p->options; o && o->name; o++) {
        if (o->def)
            continue;
        bool given = false;
        size_t kl = strlen(o->name);
        for (size_t i = 0; opts && opts[i] && !given; i++)
            given = strncmp(opts[i], o->name, kl) == 0 && opts[i][kl] == '=';
        if (!given) {
            snprintf(err, sizeof(err), "plugin %s needs option '%s' (%s)", name, o->name,
                     o->description ? o->description : "");
            goto fail;
        }
    }
    /* as the real core: the plugin's cross-option rules before init */
    const char *bad_opt;
    if (nf_options_validate(p, mp->conf, &bad_opt, err, sizeof(err)) < 0)
        goto fail;
    mp->ctx = (struct nf_ctx){name, next_worker, next_workers, " ", ""};
    for (size_t i = 0, n = 1; opts && opts[i]; i++) {
        int w = snprintf(mp->ctx.set + n, sizeof(mp->ctx.set) - n, "%.*s ",
                         (int)strcspn(opts[i], "="), opts[i]);
        if (w > 0 && (size_t)w < sizeof(mp->ctx.set) - n)
            n += (size_t)w;
    }
    if (p->init && p->init(&mp->ctx, mp->conf, &mp->state) != NF_OK) {
        snprintf(err, sizeof(err), "init failed: %.900s", last_error);
        goto fail;
    }
    return mp;
fail:
    fprintf(stderr, "mock_plugin_new(%s): %s\n", name, err);
    if (!last_error[0]) /* the host's own refusal, for mock_last_error */
        snprintf(last_error, sizeof(last_error), "%.1000s", err);
    nf_plugin_unload(&mp->h);
    nf_strpool_destroy(&mp->pool);
    free(mp->conf);
    free(mp);
    return NULL;
}

void mock_plugin_destroy(struct mock_plugin **pmp)
{
    if (!pmp || !*pmp)
        return;
    struct mock_plugin *mp = *pmp;
    if (mp->h->desc.destroy)
        mp->h->desc.destroy(mp->state);
    nf_plugin_unload(&mp->h);
    nf_strpool_destroy(&mp->pool);
    free(mp->conf);
    free(mp);
    *pmp = NULL;
}

const struct nf_plugin *mock_desc(struct mock_plugin *mp)
{
    return &mp->h->desc;
}

int mock_next(struct mock_plugin *mp, struct nf_record *rec)
{
    last_error[0] = '\0';
    nf_record_reset(rec);
    return mp->h->desc.next(mp->state, &mp->ctx, rec);
}

int mock_process(struct mock_plugin *mp, struct nf_record *rec)
{
    last_error[0] = '\0';
    return mp->h->desc.process(mp->state, &mp->ctx, rec);
}

int mock_flush_async(struct mock_plugin *mp)
{
    last_error[0] = '\0';
    return mp->h->desc.flush ? mp->h->desc.flush(mp->state, &mp->ctx) : NF_OK;
}

int64_t mock_durable(struct mock_plugin *mp, bool wait)
{
    last_error[0] = '\0';
    return mp->h->desc.durable ? mp->h->desc.durable(mp->state, &mp->ctx, wait) : NF_ERR;
}

int mock_flush(struct mock_plugin *mp)
{
    int rc = mock_flush_async(mp);
    if (rc == NF_AGAIN && mp->h->desc.durable) /* as the host stops: until durable */
        rc = mock_durable(mp, true) < 0 ? NF_ERR : NF_OK;
    return rc;
}

int mock_refetch(struct mock_plugin *mp, struct nf_record *rec)
{
    last_error[0] = '\0';
    return mp->h->desc.refetch ? mp->h->desc.refetch(mp->state, &mp->ctx, rec) : NF_ERR;
}

void mock_acked(struct mock_plugin *mp, const char *id)
{
    if (mp->h->desc.acked)
        mp->h->desc.acked(mp->state, &mp->ctx, id);
}

int mock_roundtrip(struct nf_record *rec)
{
    static struct nf_buf a, b;
    a.len = 0;
    if (nf_record_encode(rec, &a) < 0)
        return -1;
    /* Decode from a second buffer so the record never borrows the one being refilled. */
    b.len = 0;
    if (nf_buf_append(&b, a.data, a.len) < 0)
        return -1;
    return nf_record_decode(rec, b.data, b.len);
}

char *mock_slurp(const char *path, size_t *len_out)
{
    /* through zlib: a .gz fixture comes back inflated, any other file as it is */
    gzFile f = gzopen(path, "rb");
    if (!f) {
        fprintf(stderr, "mock_slurp: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *p = malloc(cap + 1);
    int r = 0;
    while (p && (r = gzread(f, p + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)r;
        if (len == cap) {
            char *q = realloc(p, (cap *= 2) + 1);
            if (!q)
                free(p);
            p = q;
        }
    }
    gzclose(f);
    if (!p || r < 0) {
        fprintf(stderr, "mock_slurp: cannot read %s\n", path);
        free(p);
        return NULL;
    }
    p[len] = '\0';
    if (len_out)
        *len_out = len;
    return p;
}

/* ---- fsync held ---------------------------------------------------------------------------- */

/* One call held (fsync or fdatasync): the test arms it, the plugin's call waits in it. */
struct held_call {
    atomic_int armed;
    sem_t entered, go;
    pthread_once_t once;
};

static struct held_call fsync_call = {.once = PTHREAD_ONCE_INIT};
static struct held_call fdatasync_call = {.once = PTHREAD_ONCE_INIT};

static void fsync_call_init(void)
{
    sem_init(&fsync_call.entered, 0, 0);
    sem_init(&fsync_call.go, 0, 0);
}

static void fdatasync_call_init(void)
{
    sem_init(&fdatasync_call.entered, 0, 0);
    sem_init(&fdatasync_call.go, 0, 0);
}

static void held_call_wait(struct held_call *c)
{
    if (atomic_exchange(&c->armed, 0)) {
        sem_post(&c->entered);
        sem_wait(&c->go);
    }
}

static bool held_call_entered(struct held_call *c)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    return sem_timedwait(&c->entered, &until) == 0;
}

int fsync(int fd)
{
    held_call_wait(&fsync_call);
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    held_call_wait(&fdatasync_call);
    return (int)syscall(SYS_fdatasync, fd);
}

void mock_fsync_hold(void)
{
    pthread_once(&fsync_call.once, fsync_call_init);
    atomic_store(&fsync_call.armed, 1);
}

bool mock_fsync_held(void)
{
    pthread_once(&fsync_call.once, fsync_call_init);
    return held_call_entered(&fsync_call);
}

void mock_fsync_release(void)
{
    sem_post(&fsync_call.go);
}

void mock_fdatasync_hold(void)
{
    pthread_once(&fdatasync_call.once, fdatasync_call_init);
    atomic_store(&fdatasync_call.armed, 1);
}

bool mock_fdatasync_held(void)
{
    pthread_once(&fdatasync_call.once, fdatasync_call_init);
    return held_call_entered(&fdatasync_call);
}

void mock_fdatasync_release(void)
{
    sem_post(&fdatasync_call.go);
}
