/* Stage host. One process runs one worker: it loads the stage's plugin, connects its sockets,
 * and moves records: a source assigns sequence numbers, keeps every record it sent until the
 * end of each of its paths acknowledges it, and resends what times out; a filter or sink takes
 * records from its inbox, calls the plugin, forwards, acknowledges or dead-letters them.
 * The host never interprets a record beyond the delivery fields. */
#include "stage.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <xxhash.h>
#include <zmq.h>

#include "deadletter.h"
#include "journal.h"
#include "order.h"
#include "newsflow/plugin.h"
#include "plugin_loader.h"
#include "security.h"
#include "stats.h"
#include "statedir.h"
#include "transport.h"

static volatile sig_atomic_t stop_requested;
/* sources: a worker died, resend early what it may have held (the supervisor's SIGURG) */
static volatile sig_atomic_t resend_requested;
/* A source resends what a dead worker may have held once the pipes to it are gone: at most this
 * long after the signal, or NF_RESEND_AFTER_CLOSE_MS after one of its own connections was seen
 * to close (the dead worker was a consumer of this source: ZeroMQ tells the monitor first and
 * takes the pipe out of the socket's rotation right after). A worker further down has an
 * upstream worker for a sender, which sees its connection close as soon; the longer wait
 * covers it. */
#define NF_RESEND_SETTLE_MS 500
#define NF_RESEND_AFTER_CLOSE_MS 20

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_resend(int sig)
{
    (void)sig;
    resend_requested = 1;
}

struct counter {
    const char *name;
    int64_t value;
};

struct nf_ctx {
    const struct nf_config *cfg;
    const struct nf_stage_conf *st;
    int stage, worker;
    char error[1024];
    char who[96];
    char state_dir[PATH_MAX];
    struct counter counters[32];
    /* what the stats page shows besides the counters (stats.h) */
    struct nf_stats_page *page;
    int64_t started_ms;
    int64_t done, total; /* sources: nf_ctx_progress */
    char unit[16];
    bool exhausted;
    int64_t in_flight, journal_bytes;
    int64_t latency[NF_STATS_BUCKETS], latency_sum_us;
    char option_where[PATH_MAX + 160]; /* nf_ctx_option_where's answer */
    int64_t blocked_since_ms; /* waiting to send to stage blocked_on (stats.h) */
    int wait_fd;              /* nf_ctx_wait_fd (sources; sinks with durable()), -1 none */
    const char *blocked_on;
    bool fused;               /* a stage run inside another's worker (nf_config_head) */
    int64_t report_sum;       /* its counters' sum when they were last logged */
};

/* ---- the context calls plugins make ------------------------------------------------------ */

void nf_ctx_error(struct nf_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof(ctx->error), fmt, ap);
    va_end(ap);
}



void nf_log(struct nf_ctx *ctx, enum nf_log_level level, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    nf_log_vwrite(level, fmt, ap);
    va_end(ap);
}

/* "stage S, option K (FILE:LINE)", or "(default)" when the config does not set it. */
const char *nf_ctx_option_where(struct nf_ctx *ctx, const char *option)
{
    const char *where = NULL;
    for (int i = ctx->st->n_opts - 1; i >= 0 && !where; i--) /* the last setting wins */
        if (strcmp(ctx->st->opts[i].key, option) == 0)
            where = ctx->st->opts[i].where;
    snprintf(ctx->option_where, sizeof(ctx->option_where), "stage %s, option %s (%s)",
             ctx->st->name, option, where ? where : "default");
    return ctx->option_where;
}

const char *nf_ctx_stage(const struct nf_ctx *ctx)
{
    return ctx->st->name;
}

int nf_ctx_worker(const struct nf_ctx *ctx)
{
    return ctx->worker;
}

int nf_ctx_workers(const struct nf_ctx *ctx)
{
    return ctx->st->workers;
}

const char *nf_ctx_state_dir(const struct nf_ctx *ctx)
{
    return ctx->state_dir;
}

int64_t nf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nf_ctx_count(struct nf_ctx *ctx, const char *name, int64_t delta)
{
    for (size_t i = 0; i < sizeof(ctx->counters) / sizeof(ctx->counters[0]); i++) {
        struct counter *c = &ctx->counters[i];
        if (!c->name || c->name == name || strcmp(c->name, name) == 0) {
            c->name = name;
            c->value += delta;
            return;
        }
    }
}

void nf_ctx_wait_fd(struct nf_ctx *ctx, int fd)
{
    ctx->wait_fd = fd;
}

void nf_ctx_progress(struct nf_ctx *ctx, int64_t done, int64_t total, const char *unit)
{
    ctx->done = done;
    ctx->total = total;
    if (unit && strncmp(ctx->unit, unit, sizeof(ctx->unit) - 1) != 0) /* once, not per record */
        snprintf(ctx->unit, sizeof(ctx->unit), "%s", unit);
}

/* Time spent in the plugin for one record, into the latency histogram. */
static void latency_add(struct nf_ctx *ctx, int64_t us)
{
    ctx->latency[nf_stats_bucket(us)]++;
    ctx->latency_sum_us += us;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Copies what the worker counts into its stats page (stats.h), a few times a second. */
static void publish_stats(struct nf_ctx *ctx)
{
    struct nf_stats_page *p = ctx->page;
    if (!p)
        return;
    __atomic_store_n(&p->seq, p->seq + 1, __ATOMIC_RELAXED); /* odd: writing */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    p->started_ms = ctx->started_ms;
    p->updated_ms = nf_now_ms();
    p->done = ctx->done;
    p->total = ctx->total;
    memcpy(p->unit, ctx->unit, sizeof(p->unit));
    p->exhausted = ctx->exhausted;
    p->in_flight = ctx->in_flight;
    p->journal_bytes = ctx->journal_bytes;
    memcpy(p->latency, ctx->latency, sizeof(p->latency));
    p->latency_sum_us = ctx->latency_sum_us;
    int n = 0;
    for (size_t i = 0; i < sizeof(ctx->counters) / sizeof(ctx->counters[0]) &&
                       n < NF_STATS_COUNTERS && ctx->counters[i].name;
         i++, n++) {
        snprintf(p->counters[n].name, sizeof(p->counters[n].name), "%s", ctx->counters[i].name);
        p->counters[n].value = ctx->counters[i].value;
    }
    p->n_counters = n;
    p->blocked_since_ms = ctx->blocked_since_ms;
    snprintf(p->blocked_on, sizeof(p->blocked_on), "%s", ctx->blocked_on ? ctx->blocked_on : "");
    __atomic_store_n(&p->seq, p->seq + 1, __ATOMIC_RELEASE); /* even: done */
}

static int64_t count_of(struct nf_ctx *ctx, const char *name)
{
    for (size_t i = 0; i < sizeof(ctx->counters) / sizeof(ctx->counters[0]); i++)
        if (ctx->counters[i].name && strcmp(ctx->counters[i].name, name) == 0)
            return ctx->counters[i].value;
    return 0;
}

static void log_counters(struct nf_ctx *ctx)
{
    char line[1024];
    size_t n = 0;
    line[0] = '\0';
    for (size_t i = 0; i < sizeof(ctx->counters) / sizeof(ctx->counters[0]); i++) {
        if (!ctx->counters[i].name)
            break;
        int w = snprintf(line + n, sizeof(line) - n, "%s%s=%lld", n ? " " : "",
                         ctx->counters[i].name, (long long)ctx->counters[i].value);
        if (w < 0 || (size_t)w >= sizeof(line) - n)
            break;
        n += (size_t)w;
    }
    if (ctx->fused)
        nf_logf(NF_LOG_INFO, "counts of %s: %s", ctx->who, n ? line : "none");
    else
        nf_logf(NF_LOG_INFO, "counts: %s", n ? line : "none");
}

/* ---- the worker --------------------------------------------------------------------------- */

/* A stage fused after the worker's own (config.h, nf_config_chain): its plugin, state, counters
 * and stats page, and its tap, in the worker of the chain's head. */
struct link {
    int si;
    struct nf_ctx ctx;
    struct nf_plugin_handle *plugin;
    struct nf_strpool *pool;
    void *conf;
    void *state;
    void *tap;
    int64_t tap_next;
};

/* the links, for the stats and counters that report_tick publishes (one worker a process) */
static struct link *report_links;
static int report_n_links;

struct slot {
    int64_t seq;
    int64_t remaining;
    int64_t due;
    int attempt;
    bool used;
    char id[40];
    int64_t sent_len; /* bytes of the record as sent: what window_bytes counts */
    bool lean;        /* bytes holds it without its raw, which refetch reads again */
    uint8_t passed;   /* the ordered stages that have it, a bit each by rank (order.h) */
    bool early;       /* due now because a worker died (resend_requested): not an attempt */
    bool early_sent;  /* resent so in this attempt already: the next death does not again */
    int64_t order;    /* its read_order */
    struct nf_buf bytes; /* the record to resend; a refetching source's without its raw */
};

/* Batches of a sink that may wait at once to be durable (plugin.h, durable()); one more waits
 * for the oldest. */
#define NF_DURABLE_PENDING 64

struct worker {
    const struct nf_config *cfg;
    const struct nf_stage_conf *st;
    struct nf_ctx ctx;
    struct nf_plugin_handle *plugin;
    struct nf_strpool *pool;
    void *conf;
    void *state;
    void *zctx;
    void *in;   /* filters and sinks: PULL from the inbox */
    void *acks; /* sources: PULL for acknowledgements */
    void **outs;
    int n_outs;
    int *out_stage; /* the consumer stage each of outs sends to */
    int *out_peers; /* direct consumers: how many of its workers' inboxes outs[i] connects to */
    void **out_mons; /* sources: the monitors of outs[i], which tell a peer's disconnection */
    int64_t disconnected_ms; /* when a monitor last told one; 0 never */
    int64_t peers_next;
    struct nf_acker *acker;
    void *tap; /* PUB socket while someone taps this stage (newsflow tap), else NULL */
    int64_t tap_next;
    /* the stages fused after this one (nf_config_chain), each record handed on in memory, and
     * what the last of them sends to */
    struct link *links;
    int n_links;
    const struct nf_stage_conf *tail;
    struct nf_buf tapbuf; /* a record encoded for a tapped stage of the chain */
    struct nf_dlq *dlq;
    struct nf_record *rec;
    struct nf_buf batch;
    char ack_to[300];
    bool once;
    /* source */
    struct slot *slots;
    int64_t window;
    int64_t inflight_bytes; /* encoded bytes of the records in flight (window_bytes) */
    int64_t next_counter;
    int64_t epoch;
    int64_t pending;
    struct nf_journal *journal;
    bool journal_dirty;       /* sent records buffered in the journal, not yet durable */
    char (*recovered_ids)[33]; /* ids replayed from the journal: not to be produced again */
    size_t n_recovered_ids;
    int64_t last_sync;
    /* a sync of the journal may read acknowledgements meanwhile: set by run_source around its
     * own flush only, as the paths that resend walk the slots that acknowledgements free */
    bool sync_serves_marks;
    int unflushed; /* records a filter with flush has handled since its last flush */
    /* a sink with durable(): the held acknowledgements of each batch that flush() answered
     * NF_AGAIN and that is not yet known durable, oldest first (their sum: durable_sum), and
     * how many batches were answered so since the start */
    size_t durable_held[NF_DURABLE_PENDING];
    int n_durable;
    size_t durable_sum;
    int64_t durable_asked;
    bool last_busy;    /* a record's last attempt is in flight: the one in slot last_slot */
    int64_t last_slot, last_seq;
    char (*ack_eps)[300]; /* every source worker's acknowledgement endpoint */
    size_t n_ack_eps;
    struct nf_buf jbuf;
    struct nf_record *jrec; /* compaction of a refetching source's journal */
    size_t *chunk_ends; /* message boundaries inside batch */
    size_t n_chunks, cap_chunks;
    int64_t *live; /* compaction: indexes of the slots in use */
    size_t n_live;
    /* read order (order.h), sources: the page, the ordered stages, the low marks published,
     * whether they are stale */
    struct nf_order_page *order_page;
    int n_ordered;
    /* a worker died (SIGURG) at resend_signal (0: none to look after): what was sent before it
     * is resent once the pipes to the dead worker are gone (at resend_due at the latest) and it
     * is a second old (resend_early_tick, which looks again at resend_next) */
    int64_t resend_signal, resend_due, resend_next;
    bool resend_go;
    uint8_t order_all; /* the bits of every ordered stage */
    int64_t order_low[NF_ORDER_STAGES], order_reading, order_next_scan;
    int order_gen[NF_ORDER_STAGES]; /* each ordered stage's worker incarnation; -1 not known */
    bool order_dirty;
    /* ... an ordered stage: its rank, the sources' marks, what it holds, the highest read order
     * it released, when it last said what it waits for */
    int order_rank, order_self; /* rank, incarnation */
    struct nf_order_reader *order;
    struct nf_order_heap *held;
    int64_t order_released, order_said;
    int order_direct; /* records it handed on at once since the loop last counted */
    size_t order_held_max, order_bytes_max; /* the most it held, for the log at the end */
    /* who this worker is to the stages it sends to, and the workers it heard from (transport.h:
     * what a dead worker left in a pipe is not taken once its successor is heard) */
    uint8_t sender[NF_SENDER_BYTES];
    struct nf_senders *senders;
};

#define SEQ_COUNTER_BITS 40
#define SEQ_COUNTER_MASK ((INT64_C(1) << SEQ_COUNTER_BITS) - 1)

/* What a dead letter keeps of bytes that could not be read as records (hostile or broken
 * input): enough to see what it was, never the whole of a flood. */
#define NF_DEAD_PREFIX ((size_t)64 << 10)

/* The record schema's id: 32 hex digits. Checked by every stage that receives a record, so a
 * bad one is refused where it enters, with the reason. */
static bool valid_id(const char *id, size_t len)
{
    if (!id || len != 32)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f') ||
              (id[i] >= 'A' && id[i] <= 'F')))
            return false;
    return true;
}

/* Returns 0 once the dead letter is durable, -1 if it could not be stored: then the record
 * must not be acknowledged, so that it comes back rather than being lost. */
static int dead_letter_at(struct worker *w, struct nf_ctx *by, const char *reason,
                          const void *bytes, size_t n, bool decoded)
{
    const char *id = NULL, *uri = NULL;
    int64_t attempt = 0;
    if (decoded) {
        id = nf_record_str(w->rec, NF_F_ID, NULL);
        nf_record_source(w->rec, &uri, NULL);
        nf_record_int(w->rec, NF_F_ATTEMPT, &attempt);
    }
    /* The bytes are the record as the worker took it in: filed under the worker's own stage,
     * to which a replay sends it (through the fused stages again); the reason says which of
     * them refused it. */
    char fused_reason[1400];
    if (by->fused) {
        snprintf(fused_reason, sizeof(fused_reason), "stage %s (fused after %s): %s",
                 by->st->name, w->st->name, reason);
        reason = fused_reason;
    }
    nf_logf(NF_LOG_WARN, "dead-lettered record %s (%s): %s", id ? id : "(no id)",
            uri ? uri : "no source", reason);
    char err[512];
    if (nf_dlq_put(w->dlq, id, uri, w->st->name, w->ctx.worker, attempt, reason, bytes, n, err,
                   sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "%s; the record is not acknowledged and will come back", err);
        nf_ctx_count(by, "dead_letter_failed", 1);
        return -1;
    }
    nf_ctx_count(by, "dead", 1);
    return 0;
}

/* A record the worker's own stage could not process (or could not take in at all); a stage
 * fused after it files its own with dead_letter_at. */
static int dead_letter(struct worker *w, const char *reason, const void *bytes, size_t n,
                       bool decoded)
{
    return dead_letter_at(w, &w->ctx, reason, bytes, n, decoded);
}

/* Sends to every output; blocks while a downstream is full (backpressure). Returns -1 when a
 * stop was requested meanwhile. A source keeps reading acknowledgements while it waits. */
static void drain_acks(struct worker *w);

static void watchdog_tick(void);
static void report_tick(struct nf_ctx *ctx);

/* newsflow tap: while a file RUN_DIR/tap/STAGE.PID exists, the stage's workers also publish
 * every batch they send on ipc://RUN_DIR/tap/STAGE-W, dropping what a slow reader cannot take,
 * so the flow is neither slowed nor changed. Looked at twice a second. */
static void tap_tick_one(struct worker *w, const char *stage, void **tap, int64_t *next)
{
    int64_t now = mono_ms();
    if (now < *next)
        return;
    *next = now + 500;
    char dir[PATH_MAX], prefix[160];
    snprintf(dir, sizeof(dir), "%s/tap", w->cfg->run_dir);
    snprintf(prefix, sizeof(prefix), "%s.", stage);
    bool wanted = false;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && !wanted && (e = readdir(d));)
        wanted = strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d)
        closedir(d);
    if (wanted && !*tap) {
        char ep[PATH_MAX + 200], err[512];
        snprintf(ep, sizeof(ep), "ipc://%s/%s-%d", dir, stage, w->ctx.worker);
        *tap = nf_socket_open(w->zctx, ZMQ_PUB, ep, true, 64, err, sizeof(err));
        if (*tap) {
            int linger = 0;
            zmq_setsockopt(*tap, ZMQ_LINGER, &linger, sizeof(linger));
            nf_logf(NF_LOG_INFO, "tapped: publishing what leaves on %s", ep);
        }
    } else if (!wanted && *tap) {
        nf_socket_close(tap);
        nf_logf(NF_LOG_INFO, "tap ended: %s", stage);
    }
}

static void tap_tick(struct worker *w)
{
    tap_tick_one(w, w->st->name, &w->tap, &w->tap_next);
    for (int i = 0; i < w->n_links; i++)
        tap_tick_one(w, w->links[i].ctx.st->name, &w->links[i].tap, &w->links[i].tap_next);
}

/* With stages fused after it, a worker's batches are what the last of them sends: each tapped
 * stage of the chain publishes the record as it leaves that stage instead, one at a time. */
static void tap_record(struct worker *w, void *tap)
{
    w->tapbuf.len = 0;
    if (nf_record_encode(w->rec, &w->tapbuf) == 0)
        zmq_send(tap, w->tapbuf.data, w->tapbuf.len, ZMQ_DONTWAIT);
}

/* The socket a worker sends to consumer stage c on. A direct consumer's workers each have their
 * own inbox and this socket connects to all of them: ZeroMQ deals the batches out round-robin
 * among those whose pipe has room. ZMQ_IMMEDIATE keeps batches off the pipe of a worker that
 * is not connected (restarting, or gone after a reload), so they go to the live ones; with
 * none live the send waits, as a full broker made it wait before. */
static int open_out(struct worker *w, const struct nf_config *cfg, int c)
{
    char ep[512], err[512];
    bool direct = nf_config_direct(cfg, c);
    void *s = nf_socket_new(w->zctx, ZMQ_PUSH, w->st->hwm, err, sizeof(err));
    if (!s) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        return -1;
    }
    int i = w->n_outs++;
    w->outs[i] = s; /* closed with the worker */
    w->out_stage[i] = c;
    int immediate = direct;
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    int n = direct ? cfg->stages[c].workers : 1;
    for (int k = 0; k < n; k++) {
        if ((direct ? nf_config_worker_inbox(cfg, c, k, ep, sizeof(ep))
                    : nf_config_inbox(cfg, c, false, false, ep, sizeof(ep))) < 0) {
            nf_logf(NF_LOG_ERROR, "endpoint of stage %s is too long for ipc (run_dir %s)",
                    cfg->stages[c].name, cfg->run_dir);
            return -1;
        }
        if (nf_socket_attach(s, ep, false, err, sizeof(err)) < 0) {
            nf_logf(NF_LOG_ERROR, "%s", err);
            return -1;
        }
    }
    w->out_peers[i] = direct ? n : 0;
    return 0;
}

/* A source watches its direct consumers' connections: a batch sent to a worker that has died
 * goes into the pipe to it until this process's ZeroMQ has seen the connection close, and is
 * lost with it. Resent before that, a record would be lost a second time (resend_early_tick). */
static void open_out_monitor(struct worker *w, int i)
{
    if (!w->out_peers[i])
        return;
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://nf-out-monitor-%d", i);
    if (zmq_socket_monitor(w->outs[i], ep, ZMQ_EVENT_DISCONNECTED) < 0)
        goto fail;
    void *m = zmq_socket(w->zctx, ZMQ_PAIR);
    int linger = 0;
    if (!m || zmq_setsockopt(m, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
        zmq_connect(m, ep) < 0) {
        if (m)
            zmq_close(m);
        goto fail;
    }
    w->out_mons[i] = m;
    return;
fail:
    nf_logf(NF_LOG_WARN, "cannot watch the connections to stage %s (%s): after a worker's "
                         "death, resends wait %d ms before they go",
            w->cfg->stages[w->out_stage[i]].name, zmq_strerror(zmq_errno()),
            NF_RESEND_SETTLE_MS);
}

/* Notes when a monitored connection last closed. An event is two frames: the event's number
 * and value, then the endpoint. */
static void drain_out_monitors(struct worker *w)
{
    for (int i = 0; i < w->n_outs; i++) {
        if (!w->out_mons[i])
            continue;
        zmq_msg_t f;
        zmq_msg_init(&f);
        while (zmq_msg_recv(&f, w->out_mons[i], ZMQ_DONTWAIT) >= 0) {
            bool more = zmq_msg_more(&f);
            if (zmq_msg_size(&f) >= 2) {
                uint16_t event;
                memcpy(&event, zmq_msg_data(&f), sizeof(event));
                if (event == ZMQ_EVENT_DISCONNECTED)
                    w->disconnected_ms = mono_ms();
            }
            while (more && zmq_msg_recv(&f, w->out_mons[i], ZMQ_DONTWAIT) >= 0)
                more = zmq_msg_more(&f);
        }
        zmq_msg_close(&f);
    }
}

/* A reload may give a direct consumer more workers while this worker runs on: once a second it
 * looks for an inbox beyond those it knows, and connects to it. (Fewer workers need nothing:
 * ZMQ_IMMEDIATE sends nothing to an inbox whose worker is gone.) */
#define NF_MAX_PEERS 1024

static void peers_tick(struct worker *w, int64_t now)
{
    if (now < w->peers_next)
        return;
    w->peers_next = now + 1000;
    for (int i = 0; i < w->n_outs; i++) {
        int c = w->out_stage[i];
        if (!nf_config_direct(w->cfg, c))
            continue;
        char ep[512], err[512];
        while (w->out_peers[i] < NF_MAX_PEERS &&
               nf_config_worker_inbox(w->cfg, c, w->out_peers[i], ep, sizeof(ep)) == 0 &&
               access(ep + 6, F_OK) == 0) {
            if (nf_socket_attach(w->outs[i], ep, false, err, sizeof(err)) < 0) {
                nf_logf(NF_LOG_WARN, "%s", err);
                break;
            }
            nf_logf(NF_LOG_INFO, "stage %s has a worker %d now: sending to it too",
                    w->cfg->stages[c].name, w->out_peers[i]);
            w->out_peers[i]++;
        }
    }
}

static int send_now(struct worker *w, const void *data, size_t len)
{
    if (w->tap && !w->n_links)
        zmq_send(w->tap, data, len, ZMQ_DONTWAIT); /* a full reader loses it, not the flow */
    for (int i = 0; i < w->n_outs; i++) {
        bool told = false; /* the sender frame went: the batch follows it on this socket */
        for (;;) {
            if (!told && zmq_send(w->outs[i], w->sender, sizeof(w->sender),
                                  ZMQ_DONTWAIT | ZMQ_SNDMORE) >= 0)
                told = true;
            if (told && zmq_send(w->outs[i], data, len, ZMQ_DONTWAIT) >= 0) {
                w->ctx.blocked_since_ms = 0;
                break;
            }
            if (errno != EAGAIN && errno != EINTR) {
                nf_logf(NF_LOG_ERROR, "send: %s", zmq_strerror(errno));
                return -1;
            }
            if (stop_requested) {
                w->ctx.blocked_since_ms = 0;
                return -1;
            }
            if (!w->ctx.blocked_since_ms) {
                w->ctx.blocked_since_ms = nf_now_ms();
                w->ctx.blocked_on = w->cfg->stages[w->out_stage[i]].name;
            }
            zmq_pollitem_t items[2] = {{w->outs[i], 0, ZMQ_POLLOUT, 0},
                                       {w->acks, 0, ZMQ_POLLIN, 0}};
            zmq_poll(items, w->acks ? 2 : 1, 200);
            /* held up by what comes after it, and still alive: for systemd, and for the stats
             * page, which says whom it waits for */
            watchdog_tick();
            report_tick(&w->ctx);
            if (w->acks && (items[1].revents & ZMQ_POLLIN))
                drain_acks(w);
        }
    }
    return 0;
}

/* Records travel in batches: concatenated encoded records in one message, so the per-message
 * costs of ZeroMQ (a wake-up, a syscall or two each side) are paid once per batch. A batch goes
 * out when it reaches NF_BATCH_BYTES or when the worker has nothing more to do right now. */
#define NF_BATCH_BYTES (256u << 10)

static void order_publish(struct worker *w, bool now, bool finished, int answered);

/* The journal's fdatasync takes from a fraction of a millisecond to tens of them on a busy
 * disk. A source feeding ordered stages does not stop meanwhile: an ordered stage holds each
 * record until the source has published that the record itself has passed it (order.h), and
 * would wait for the sync as well. So the sync runs beside it while it reads acknowledgements
 * and publishes its marks; the records of the batch still leave only after it has returned. */
static int journal_sync_serving_marks(struct worker *w, char *err, size_t errlen)
{
    int fd = nf_journal_sync_begin(w->journal, err, errlen);
    if (fd < 0)
        return -1;
    for (;;) {
        zmq_pollitem_t items[2] = {{NULL, fd, ZMQ_POLLIN, 0}, {w->acks, 0, ZMQ_POLLIN, 0}};
        /* a stale mark is recomputed within a millisecond (order_publish) */
        zmq_poll(items, 2, w->order_dirty ? 1 : 200);
        if (items[1].revents & ZMQ_POLLIN)
            drain_acks(w);
        order_publish(w, false, false, -1);
        if (items[0].revents & ZMQ_POLLIN)
            break;
    }
    return nf_journal_sync_end(w->journal, err, errlen);
}

static int journal_sync(struct worker *w, bool durable)
{
    if (!w->journal)
        return 0;
    char err[512];
    int rc = durable && w->sync_serves_marks
                 ? journal_sync_serving_marks(w, err, sizeof(err))
                 : nf_journal_sync(w->journal, durable, err, sizeof(err));
    if (rc < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        return -1;
    }
    if (durable)
        w->journal_dirty = false;
    return 0;
}

/* Sends the pending batch, in messages of about NF_BATCH_BYTES. A source's records must be
 * durable in its journal before any of them leaves: it syncs the journal at most every
 * NF_JOURNAL_SYNC_MS (group commit), holding the batch meanwhile, unless `force`. */
#define NF_JOURNAL_SYNC_MS 10
#define NF_JOURNAL_HOLD_BYTES (8u << 20)

static int flush_out_ex(struct worker *w, bool force)
{
    if (!w->batch.len)
        return 0;
    /* A stateful filter (one with flush: dedup, story) makes the state behind what it is about
     * to forward durable first: otherwise a crash between the two would leave records stored
     * downstream whose verdicts the filter has forgotten. */
    const struct nf_plugin *p = &w->plugin->desc;
    if (p->kind == NF_PLUGIN_FILTER && p->flush && w->unflushed) {
        w->ctx.error[0] = '\0';
        if (p->flush(w->state, &w->ctx) != NF_OK)
            nf_logf(NF_LOG_ERROR, "flush failed before forwarding: %s", w->ctx.error);
        w->unflushed = 0;
    }
    if (w->journal_dirty) {
        int64_t now = mono_ms();
        if (!force && now - w->last_sync < NF_JOURNAL_SYNC_MS &&
            w->batch.len < NF_JOURNAL_HOLD_BYTES)
            return 0;
        if (journal_sync(w, true) < 0)
            return -1;
        w->last_sync = now;
    }
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= w->n_chunks && rc == 0; i++) {
        size_t end = i < w->n_chunks ? w->chunk_ends[i] : w->batch.len;
        if (end > start)
            rc = send_now(w, w->batch.data + start, end - start);
        start = end;
    }
    w->batch.len = 0;
    w->n_chunks = 0;
    return rc;
}

static int flush_out(struct worker *w)
{
    return flush_out_ex(w, true);
}

static int send_all(struct worker *w, const void *data, size_t len)
{
    size_t chunk_start = w->n_chunks ? w->chunk_ends[w->n_chunks - 1] : 0;
    if (w->batch.len > chunk_start && w->batch.len - chunk_start + len > NF_BATCH_BYTES) {
        if (!w->journal_dirty)
            return flush_out(w) < 0 || nf_buf_append(&w->batch, data, len) < 0 ? -1 : 0;
        if (w->n_chunks == w->cap_chunks) {
            size_t cap = w->cap_chunks ? w->cap_chunks * 2 : 64;
            size_t *c = realloc(w->chunk_ends, cap * sizeof(*c));
            if (!c)
                return -1;
            w->chunk_ends = c;
            w->cap_chunks = cap;
        }
        w->chunk_ends[w->n_chunks++] = w->batch.len;
    }
    if (nf_buf_append(&w->batch, data, len) < 0)
        return -1;
    return w->batch.len >= NF_JOURNAL_HOLD_BYTES ? flush_out(w) : 0;
}

/* systemd: READY once the worker runs, WATCHDOG from its main loop at half the interval the
 * unit asks for, STOPPING on the way out. All are no-ops without $NOTIFY_SOCKET. */
static int64_t watchdog_every_ms, watchdog_next;

static void watchdog_tick(void)
{
    if (watchdog_every_ms <= 0)
        return;
    int64_t now = mono_ms();
    if (now >= watchdog_next) {
        sd_notify(0, "WATCHDOG=1");
        watchdog_next = now + watchdog_every_ms;
    }
}

/* ---- metrics files ---------------------------------------------------------------------- */

/* With metrics_dir set, every worker keeps METRICS_DIR/newsflow-STAGE-W.prom up to date (every
 * NF_METRICS_MS and when it ends) in the Prometheus text format, written whole and renamed, so
 * that a textfile collector (node_exporter's) or anything else never reads half a file. The
 * counts are the ones the worker logs, since the worker started: a restart starts them again,
 * which Prometheus counters allow. */
#define NF_METRICS_MS 5000
static int64_t metrics_next, metrics_started;
static bool metrics_failed;

static void metrics_label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f), fputc(*v, f);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void write_metrics(struct nf_ctx *ctx)
{
    const char *dir = ctx->cfg->metrics_dir;
    if (!dir)
        return;
    if (!metrics_started)
        metrics_started = nf_now_ms();
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    if (snprintf(path, sizeof(path), "%s/newsflow-%s-%d.prom", dir, ctx->st->name, ctx->worker) >=
            (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return;
    if (mkdir(dir, 0755) == 0) {
        chmod(dir, 0755); /* the collector, another user, reads it: not under our umask 077 */
    } else if (errno != EEXIST) {
        if (!metrics_failed)
            nf_logf(NF_LOG_WARN, "cannot make the metrics directory %s: %s", dir, strerror(errno));
        metrics_failed = true;
        return;
    }
    FILE *f = fopen(tmp, "w");
    /* counts, not secrets: readable by the collector, which runs as another user */
    if (f)
        fchmod(fileno(f), 0644);
    if (!f) {
        if (!metrics_failed)
            nf_logf(NF_LOG_WARN, "cannot write %s: %s", tmp, strerror(errno));
        metrics_failed = true;
        return;
    }
    const char *stage = ctx->st->name;
    fputs("# HELP newsflow_stage_count_total What a stage worker counted since it started "
          "(in, out, dead, resent, ... and each plugin's own counts).\n"
          "# TYPE newsflow_stage_count_total counter\n", f);
    for (size_t i = 0; i < sizeof(ctx->counters) / sizeof(ctx->counters[0]); i++) {
        if (!ctx->counters[i].name)
            break;
        fprintf(f, "newsflow_stage_count_total{stage=\"%s\",worker=\"%d\",count=\"", stage,
                ctx->worker);
        metrics_label(f, ctx->counters[i].name);
        fprintf(f, "\"} %lld\n", (long long)ctx->counters[i].value);
    }
    fprintf(f,
            "# HELP newsflow_stage_start_time_seconds When the worker started (Unix time).\n"
            "# TYPE newsflow_stage_start_time_seconds gauge\n"
            "newsflow_stage_start_time_seconds{stage=\"%s\",worker=\"%d\"} %.3f\n"
            "# HELP newsflow_stage_updated_time_seconds When this file was written (Unix time).\n"
            "# TYPE newsflow_stage_updated_time_seconds gauge\n"
            "newsflow_stage_updated_time_seconds{stage=\"%s\",worker=\"%d\"} %.3f\n",
            stage, ctx->worker, (double)metrics_started / 1000, stage, ctx->worker,
            (double)nf_now_ms() / 1000);
    bool ok = !ferror(f);
    if (fclose(f) != 0)
        ok = false;
    if (!ok || rename(tmp, path) < 0) {
        if (!metrics_failed)
            nf_logf(NF_LOG_WARN, "cannot write %s: %s", path, strerror(errno));
        metrics_failed = true;
        unlink(tmp);
        return;
    }
    metrics_failed = false;
}

/* A long-running worker says what it has done every NF_REPORT_MS, when anything changed. */
#define NF_REPORT_MS 60000
static int64_t report_next;

static void log_counters(struct nf_ctx *ctx);

/* Logs a stage's counts when they moved since it last did. */
static void log_counters_moved(struct nf_ctx *ctx)
{
    int64_t sum = 0;
    for (size_t i = 0; i < sizeof(ctx->counters) / sizeof(ctx->counters[0]); i++)
        sum += ctx->counters[i].value;
    if (sum != ctx->report_sum)
        log_counters(ctx);
    ctx->report_sum = sum;
}

/* At the worker's end: every stage it ran says its counts, and its metrics and page are final. */
static void report_final(struct nf_ctx *ctx)
{
    log_counters(ctx);
    write_metrics(ctx);
    publish_stats(ctx);
}

static int64_t stats_next;

static void report_tick(struct nf_ctx *ctx)
{
    int64_t now = mono_ms();
    if (now >= stats_next) {
        stats_next = now + 250;
        publish_stats(ctx);
        for (int i = 0; i < report_n_links; i++)
            publish_stats(&report_links[i].ctx);
    }
    if (ctx->cfg->metrics_dir && now >= metrics_next) {
        metrics_next = now + NF_METRICS_MS;
        write_metrics(ctx);
        for (int i = 0; i < report_n_links; i++)
            write_metrics(&report_links[i].ctx);
    }
    if (!report_next)
        report_next = now + NF_REPORT_MS;
    if (now < report_next)
        return;
    report_next = now + NF_REPORT_MS;
    log_counters_moved(ctx);
    for (int k = 0; k < report_n_links; k++)
        log_counters_moved(&report_links[k].ctx);
}

static void notify_ready(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        watchdog_every_ms = (int64_t)(usec / 2000);
    sd_notify(0, "READY=1");
}

/* ---- sources -------------------------------------------------------------------------------- */

/* The record in `s` needs nothing more from this source: acknowledged by every path, or
 * dead-lettered. Frees the slot, notes it in the journal and tells the plugin. */
static void slot_done(struct worker *w, struct slot *s)
{
    w->order_dirty = w->order_dirty || s->passed != w->order_all;
    s->remaining = 0;
    s->used = false;
    s->early = false;
    w->pending--;
    w->inflight_bytes -= s->sent_len;
    if (w->journal)
        nf_journal_acked(w->journal, s->seq);
    /* Only small buffers stay with their slot: a window of web pages would otherwise keep a
     * page's worth of memory in every slot it ever used, whatever window_bytes says. */
    if (s->bytes.cap > (64u << 10))
        nf_buf_free(&s->bytes);
    if (w->plugin->desc.acked)
        w->plugin->desc.acked(w->state, &w->ctx, s->id);
}

/* Read order (order.h): the low marks this source worker publishes. A stale mark is lower than
 * the true one, which only holds an ordered stage back; they are recomputed at most every
 * millisecond (a scan of the window), unless `now` says at once. answered: the rank of the
 * ordered stage whose reset was just carried out, or -1. */
static void order_publish(struct worker *w, bool now, bool finished, int answered)
{
    if (!w->order_page)
        return;
    int64_t t = mono_us();
    if (w->order_dirty && (now || t >= w->order_next_scan)) {
        for (int k = 0; k < w->n_ordered; k++)
            w->order_low[k] = INT64_MAX;
        for (int64_t i = 0; i < w->window; i++) {
            const struct slot *s = &w->slots[i];
            if (!s->used || s->passed == w->order_all)
                continue;
            for (int k = 0; k < w->n_ordered; k++)
                if (!(s->passed & (1u << k)) && s->order < w->order_low[k])
                    w->order_low[k] = s->order;
        }
        w->order_dirty = false;
        w->order_next_scan = t + 1000;
    }
    nf_order_publish(w->order_page, w->order_low, w->n_ordered, w->order_reading, finished,
                     answered);
}

/* A slot sent for the first time has passed no ordered stage: the marks go down with it (they
 * are published when reading stops; order_reading covers it meanwhile). */
static void order_sent(struct worker *w, struct slot *s)
{
    s->passed = 0;
    for (int k = 0; k < w->n_ordered; k++)
        if (s->order < w->order_low[k])
            w->order_low[k] = s->order;
}

/* A mark (weight < 0) of an ordered stage: it has record `seq`; seq 0: its worker started again
 * and everything it had is to be forgotten. */
static void on_pass(struct worker *w, int64_t seq, int64_t weight)
{
    int k, gen;
    nf_order_mark_of(weight, &k, &gen);
    if (k >= w->n_ordered)
        return; /* no ordered stage of this pipeline */
    if (seq == 0)
        w->order_gen[k] = gen;
    else if (w->order_gen[k] >= 0 && gen != w->order_gen[k])
        return; /* from a worker of that stage that has died since */
    if (seq == 0) {
        for (int64_t i = 0; i < w->window; i++)
            w->slots[i].passed &= (uint8_t)~(1u << k);
        w->order_dirty = true;
        order_publish(w, true, false, k);
        nf_logf(NF_LOG_INFO, "a read-ordered stage started again: the records it had count as "
                             "not passed");
        return;
    }
    struct slot *s = &w->slots[(seq & SEQ_COUNTER_MASK) % w->window];
    if (s->used && s->seq == seq && !(s->passed & (1u << k))) {
        s->passed |= (uint8_t)(1u << k);
        w->order_dirty = true;
    }
}

static void on_ack(void *arg, int64_t seq, int64_t weight)
{
    struct worker *w = arg;
    if (seq == NF_ACK_DIED_SEQ && weight == NF_ACK_DIED_WEIGHT) {
        /* the supervisor of another host: a worker died there (as SIGURG from this host's) */
        resend_requested = 1;
        nf_ctx_count(&w->ctx, "deaths_heard", 1);
        return;
    }
    if (weight < 0) {
        on_pass(w, seq, weight);
        return;
    }
    struct slot *s = &w->slots[(seq & SEQ_COUNTER_MASK) % w->window];
    if (!s->used || s->seq != seq || weight <= 0) {
        /* not a record in flight from this worker: one already finished (a duplicate, or one
         * for an earlier run), or never sent. Ignored, and counted. */
        nf_ctx_count(&w->ctx, "acks_ignored", 1);
        return;
    }
    s->remaining -= weight;
    if (s->remaining > 0)
        return;
    nf_ctx_count(&w->ctx, "acked", 1);
    slot_done(w, s);
}

static void drain_acks(struct worker *w)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, w->acks, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        if (nf_ack_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), on_ack, w) < 0) {
            nf_ctx_count(&w->ctx, "bad_ack", 1);
            nf_logf(NF_LOG_WARN, "ignored a malformed acknowledgement of %zu bytes",
                    zmq_msg_size(&msg));
        }
        zmq_msg_close(&msg);
    }
}

static int64_t backoff(const struct worker *w, int attempt)
{
    int64_t t = w->st->ack_timeout_ms;
    for (int i = 1; i < attempt && t < w->st->ack_timeout_ms * 16; i++)
        t *= 2;
    return t;
}

/* Resends records whose acknowledgement is overdue; dead-letters them after max_attempts.
 * A record's last attempt goes alone: while one is in flight, the next waits. Records whose
 * first tries died together (with a record that crashes a stage, in one worker's queue) would
 * otherwise die together again on their last, and all end in the dead-letter store. */
static void replay_overdue(struct worker *w, int64_t now)
{
    struct nf_buf tmp = {0};
    int64_t resent = 0;
    if (w->last_busy) {
        const struct slot *b = &w->slots[w->last_slot];
        w->last_busy = b->used && b->seq == w->last_seq && now < b->due;
    }
    for (int64_t i = 0; i < w->window; i++) {
        struct slot *s = &w->slots[i];
        if (!s->used || now < s->due)
            continue;
        if (!s->early && s->attempt + 1 == w->st->max_attempts) {
            if (w->last_busy)
                continue; /* still overdue: considered again at the next scan */
            w->last_busy = true;
            w->last_slot = i;
            w->last_seq = s->seq;
        }
        /* a lean slot (source_emit) gets its raw bytes again from the input */
        bool decoded = nf_record_decode(w->rec, s->bytes.data, s->bytes.len) == 0;
        bool lean = decoded && s->lean;
        const char *lost = NULL;
        if (lean) {
            w->ctx.error[0] = '\0';
            if (w->plugin->desc.refetch(w->state, &w->ctx, w->rec) != NF_OK)
                lost = w->ctx.error[0] ? w->ctx.error : "no reason given";
        }
        if (lost && s->attempt + 1 < w->st->max_attempts) {
            /* The first send may still be acknowledged (a stage held up, not a record lost):
             * dead-lettered now, it would end up stored as well. It waits as a resend would. */
            s->attempt++;
            s->due = now + backoff(w, s->attempt);
            nf_ctx_count(&w->ctx, "refetch_failed", 1);
            nf_logf(NF_LOG_WARN, "cannot read %s again to resend it (%s); waiting for its first "
                                 "send's acknowledgement (attempt %d of %d)",
                    s->id, lost, s->attempt, w->st->max_attempts);
            continue;
        }
        if (s->attempt >= w->st->max_attempts || lost) {
            char reason[1300];
            if (lost)
                snprintf(reason, sizeof(reason), "cannot read the input again to resend it, and "
                         "not acknowledged after %d attempts: %s", s->attempt + 1, lost);
            else
                snprintf(reason, sizeof(reason),
                         "not acknowledged after %d attempts (a stage crashes on it, or its "
                         "acknowledgements cannot reach this source)", s->attempt);
            const void *bytes = s->bytes.data;
            size_t len = s->bytes.len;
            tmp.len = 0;
            if (lean && !lost && nf_record_set_int(w->rec, NF_F_ATTEMPT, s->attempt) == 0 &&
                nf_record_encode(w->rec, &tmp) == 0) {
                bytes = tmp.data; /* the whole record, as it was sent */
                len = tmp.len;
            }
            if (dead_letter(w, reason, bytes, len, true) < 0) {
                s->due = now + backoff(w, s->attempt); /* keep it; try again later */
                continue;
            }
            slot_done(w, s);
            continue;
        }
        /* A resend because a worker died is no attempt of the record's own: a worker that keeps
         * crashing on another record would otherwise use up the attempts of every record sent
         * before it, which would then be dead-lettered for nothing. It is one once in each
         * attempt (early_sent), or the record that crashes it would be resent for ever. */
        if (!s->early)
            s->attempt++;
        s->early_sent = s->early;
        s->early = false;
        const void *out = s->bytes.data;
        size_t out_len = s->bytes.len;
        if (decoded && nf_record_set_int(w->rec, NF_F_ATTEMPT, s->attempt) == 0) {
            tmp.len = 0;
            if (nf_record_encode(w->rec, &tmp) == 0) {
                if (lean) { /* sent whole; the slot stays lean */
                    out = tmp.data;
                    out_len = tmp.len;
                } else {
                    struct nf_buf old = s->bytes;
                    s->bytes = tmp;
                    tmp = old;
                    out = s->bytes.data;
                    out_len = s->bytes.len;
                }
            }
        }
        s->due = now + backoff(w, s->attempt);
        nf_ctx_count(&w->ctx, "resent", 1);
        nf_logf(NF_LOG_DEBUG, "resending %s (attempt %d)", s->id, s->attempt);
        resent++;
        /* each in a message of its own: resent together, one record that crashes a stage
         * would take all the others down with it on every attempt */
        if (send_all(w, out, out_len) < 0 || flush_out(w) < 0)
            break;
    }
    flush_out(w);
    nf_buf_free(&tmp);
    if (resent) /* one line per scan, not one per record, when a stall makes many overdue */
        nf_logf(NF_LOG_INFO, "resent %lld records not acknowledged in time", (long long)resent);
}

/* The read order (docs/record.md): microseconds since NF_READ_ORDER_EPOCH of a record's first
 * send, strictly increasing in this process's source worker, above every order its journal
 * held, with the worker in the low bits. A record keeps it through resends and recovery, so
 * dedup and story can tell which of two articles the source read first, whatever order they
 * reach them in. */
static int64_t read_order_last; /* the last microsecond given (one source worker a process) */
static int64_t read_order_given; /* the last read order given by this process, 0: none yet */

static int64_t read_order_next(int worker)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t us = ((int64_t)ts.tv_sec - NF_READ_ORDER_EPOCH) * 1000000 + ts.tv_nsec / 1000;
    if (us <= read_order_last)
        us = read_order_last + 1;
    read_order_last = us;
    return us << NF_READ_ORDER_WORKER_BITS |
           (worker & ((1 << NF_READ_ORDER_WORKER_BITS) - 1));
}

/* Fills the delivery fields, encodes into a free slot and sends. Returns 0, or -1 on stop. */
static int source_emit(struct worker *w, struct slot *s)
{
    struct nf_record *r = w->rec;
    size_t idlen;
    const char *id = nf_record_str(r, NF_F_ID, &idlen);
    if (!valid_id(id, idlen)) {
        size_t n;
        const void *raw = nf_record_bytes(r, NF_F_RAW, &n);
        dead_letter(w, "the source plugin produced a record without a valid id (32 hex digits)",
                    raw, raw ? n : 0, true);
        return 0;
    }
    int64_t seq = (w->epoch << SEQ_COUNTER_BITS) | (w->next_counter & SEQ_COUNTER_MASK);
    nf_record_set_int(r, NF_F_V, NF_RECORD_VERSION);
    if (!nf_record_has(r, NF_F_FETCHED_AT)) {
        char now[NF_LOG_TIME_LEN];
        nf_log_time(now, sizeof(now));
        nf_record_set_cstr(r, NF_F_FETCHED_AT, now);
    }
    nf_record_set_int(r, NF_F_SEQ, seq);
    int64_t order;
    if (nf_record_int(r, NF_F_READ_ORDER, &order) < 0) {
        order = read_order_next(w->ctx.worker);
        nf_record_set_int(r, NF_F_READ_ORDER, order);
        /* read_prev: the order this process gave last. The first record of a process has
         * none: the order before it, from an earlier process, may belong to a record sent but
         * never journaled, which no one will send again (order.h) */
        if (read_order_given)
            nf_record_set_int(r, NF_F_READ_PREV, read_order_given);
        else
            nf_record_unset(r, NF_F_READ_PREV);
        read_order_given = order;
    }
    nf_record_set_int(r, NF_F_ATTEMPT, 1);
    nf_record_set_cstr(r, NF_F_ACK_TO, w->ack_to);
    if (w->cfg->trace)
        nf_record_trace_append(r, w->st->name, w->ctx.worker, nf_now_ms());
    /* A source that can read its input again keeps in the slot (and journals) the record
     * without its raw bytes: the whole record is encoded into a scratch buffer that the batch
     * copies, and a resend reads the input again. A window of web pages then holds their bytes
     * once, in the sockets, rather than also in every slot. */
    bool lean = w->plugin->desc.refetch && nf_record_has(r, NF_F_RAW);
    struct nf_buf *whole = lean ? &w->jbuf : &s->bytes;
    whole->len = 0;
    if (nf_record_encode(r, whole) < 0) {
        dead_letter(w, nf_record_error(r), NULL, 0, true);
        return 0;
    }
    if ((int64_t)whole->len > w->cfg->max_message) {
        char reason[200];
        snprintf(reason, sizeof(reason), "the record is %zu bytes, over max_message (%lld): "
                 "no stage would accept it", whole->len, (long long)w->cfg->max_message);
        size_t n;
        const void *raw = nf_record_bytes(r, NF_F_RAW, &n);
        dead_letter(w, reason, raw, raw ? (n > NF_DEAD_PREFIX ? NF_DEAD_PREFIX : n) : 0, true);
        return 0;
    }
    if (lean) {
        nf_record_unset(r, NF_F_RAW);
        s->bytes.len = 0;
        if (nf_record_encode(r, &s->bytes) < 0) {
            dead_letter(w, nf_record_error(r), NULL, 0, true);
            return 0;
        }
    }
    memcpy(s->id, id, idlen + 1);
    s->seq = seq;
    s->attempt = 1;
    s->early_sent = false;
    s->remaining = w->st->paths_below;
    s->due = mono_ms() + backoff(w, 1);
    s->used = true;
    s->sent_len = (int64_t)whole->len;
    s->lean = lean;
    s->order = order;
    order_sent(w, s);
    w->next_counter++;
    w->pending++;
    w->inflight_bytes += s->sent_len;
    if (w->journal) {
        if (nf_journal_sent(w->journal, seq, 1, s->bytes.data, s->bytes.len) < 0) {
            nf_logf(NF_LOG_ERROR, "cannot journal record %s", s->id);
            return -1;
        }
        w->journal_dirty = true;
    }
    nf_ctx_count(&w->ctx, "out", 1);
    return send_all(w, whole->data, whole->len);
}

/* ---- the journal: recovery and compaction ---------------------------------------------- */

static int live_slot(void *arg, size_t i, int64_t *seq, int *attempt, const uint8_t **bytes,
                     size_t *len)
{
    struct worker *w = arg;
    if (i >= w->n_live)
        return 0;
    const struct slot *s = &w->slots[w->live[i]];
    *seq = s->seq;
    *attempt = s->attempt;
    *bytes = s->bytes.data;
    *len = s->bytes.len;
    if (w->plugin->desc.refetch && w->jrec &&
        nf_record_decode(w->jrec, s->bytes.data, s->bytes.len) == 0 &&
        nf_record_has(w->jrec, NF_F_RAW)) {
        nf_record_unset(w->jrec, NF_F_RAW);
        w->jbuf.len = 0;
        if (nf_record_encode(w->jrec, &w->jbuf) == 0) {
            *bytes = w->jbuf.data;
            *len = w->jbuf.len;
        }
    }
    return 1;
}

static void journal_compact(struct worker *w)
{
    if (!w->journal)
        return;
    char err[512];
    free(w->live);
    w->live = calloc((size_t)w->window + 1, sizeof(*w->live));
    w->n_live = 0;
    if (!w->live) {
        nf_logf(NF_LOG_ERROR, "out of memory compacting the journal");
        return;
    }
    /* In the order they were sent (the slot of the oldest is next_counter's, the ring wraps):
     * a restart refetches them in that order, and a source reads its input once, forward. */
    for (int64_t k = 0; k < w->window; k++) {
        int64_t i = (w->next_counter + k) % w->window;
        if (w->slots[i].used)
            w->live[w->n_live++] = i;
    }
    if (nf_journal_compact(w->journal, live_slot, w, err, sizeof(err)) < 0)
        nf_logf(NF_LOG_ERROR, "%s", err);
    else
        w->journal_dirty = false;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool was_recovered(const struct worker *w, const char *id)
{
    return w->n_recovered_ids &&
           bsearch(id, w->recovered_ids, w->n_recovered_ids, sizeof(*w->recovered_ids),
                   cmp_id) != NULL;
}

/* Reads back what an earlier run of this worker sent and never saw acknowledged, gives each a
 * sequence number of this run, and sends it again. */
static int journal_recover(struct worker *w)
{
    if (!w->st->journal)
        return 0;
    char path[PATH_MAX + 32], err[512];
    snprintf(path, sizeof(path), "%s/journal-%d.log", w->ctx.state_dir, w->ctx.worker);
    w->jrec = nf_record_new();
    w->journal = nf_journal_open(path, err, sizeof(err));
    if (!w->journal) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        return -1;
    }
    size_t n = nf_journal_recovered(w->journal);
    if (n == 0)
        return 0;
    if ((int64_t)n > w->window) {
        struct slot *s = realloc(w->slots, n * sizeof(*s));
        if (!s)
            return -1;
        memset(s + w->window, 0, (n - (size_t)w->window) * sizeof(*s));
        w->slots = s;
        w->window = (int64_t)n;
    }
    w->recovered_ids = calloc(n, sizeof(*w->recovered_ids));
    if (!w->recovered_ids)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int64_t old_seq;
        int attempt;
        const uint8_t *bytes;
        size_t len;
        nf_journal_recovered_get(w->journal, i, &old_seq, &attempt, &bytes, &len);
        struct slot *s = &w->slots[w->next_counter % w->window];
        const char *id;
        size_t idlen;
        if (nf_record_decode(w->rec, bytes, len) < 0 ||
            !(id = nf_record_str(w->rec, NF_F_ID, &idlen)) || idlen >= sizeof(s->id)) {
            nf_logf(NF_LOG_WARN, "journal entry %zu unreadable: %s", i, nf_record_error(w->rec));
            continue;
        }
        if (w->plugin->desc.refetch && !nf_record_has(w->rec, NF_F_RAW)) {
            w->ctx.error[0] = '\0';
            if (w->plugin->desc.refetch(w->state, &w->ctx, w->rec) != NF_OK) {
                char reason[1200];
                snprintf(reason, sizeof(reason), "cannot read the input again to resend it: %s",
                         w->ctx.error[0] ? w->ctx.error : "no reason given");
                dead_letter(w, reason, bytes, len, true);
                continue;
            }
        }
        int64_t seq = (w->epoch << SEQ_COUNTER_BITS) | (w->next_counter & SEQ_COUNTER_MASK);
        /* it keeps the read order of its first send; what is read from now on comes after it,
         * even if the clock went back */
        int64_t order = 0; /* none: holds the ordered stage until it is acknowledged */
        if (nf_record_int(w->rec, NF_F_READ_ORDER, &order) == 0 &&
            order >> NF_READ_ORDER_WORKER_BITS > read_order_last)
            read_order_last = order >> NF_READ_ORDER_WORKER_BITS;
        nf_record_set_int(w->rec, NF_F_SEQ, seq);
        nf_record_set_int(w->rec, NF_F_ATTEMPT, attempt + 1);
        nf_record_set_cstr(w->rec, NF_F_ACK_TO, w->ack_to);
        s->bytes.len = 0;
        if (nf_record_encode(w->rec, &s->bytes) < 0)
            continue;
        memcpy(s->id, id, idlen + 1);
        memcpy(w->recovered_ids[w->n_recovered_ids++], id, idlen + 1);
        s->seq = seq;
        s->attempt = attempt + 1;
        s->early_sent = false;
        s->remaining = w->st->paths_below;
        s->due = mono_ms() + backoff(w, s->attempt);
        s->used = true;
        s->sent_len = (int64_t)s->bytes.len;
        s->lean = false; /* refetched whole above */
        s->order = order;
        order_sent(w, s);
        w->next_counter++;
        w->pending++;
        w->inflight_bytes += s->sent_len;
    }
    qsort(w->recovered_ids, w->n_recovered_ids, sizeof(*w->recovered_ids), cmp_id);
    nf_journal_recovered_free(w->journal);
    journal_compact(w); /* the journal now holds exactly the live slots, under their new seqs */
    nf_logf(NF_LOG_INFO, "recovered %lld unacknowledged records from the journal; resending",
            (long long)w->pending);
    nf_ctx_count(&w->ctx, "recovered", w->pending);
    for (int64_t i = 0; i < w->window; i++)
        if (w->slots[i].used && send_all(w, w->slots[i].bytes.data, w->slots[i].bytes.len) < 0)
            return -1;
    return flush_out(w);
}

/* Writes noted acknowledgements out (no fsync: a lost one only causes a harmless resend), and
 * rewrites the journal once it is far larger than what is still in flight. */
static void journal_maintain(struct worker *w)
{
    if (!w->journal)
        return;
    journal_sync(w, false);
    off_t size = nf_journal_size(w->journal);
    if (size < (64 << 20))
        return;
    off_t live = 0;
    for (int64_t i = 0; i < w->window; i++)
        if (w->slots[i].used)
            live += (off_t)w->slots[i].bytes.len + 32;
    if (size > 4 * live) {
        journal_compact(w);
        nf_ctx_count(&w->ctx, "journal_compactions", 1);
    }
    if (w->n_recovered_ids && w->pending == 0) {
        free(w->recovered_ids);
        w->recovered_ids = NULL;
        w->n_recovered_ids = 0;
    }
}

/* A worker died (the supervisor's SIGURG, or NF_ACK_DIED from another host's): each record sent
 * before it and still not acknowledged a second after its send may have died with it, and is
 * made due, as no attempt of its own.
 *  - Not before the pipes to the dead worker are gone, or the resend could go into one and be
 *    lost again (NF_RESEND_SETTLE_MS).
 *  - A record younger than that second is taken as still on its way until it is a second old:
 *    a queue in a live worker usually moves faster; one held longer there comes twice, which
 *    the stages after take as a replay.
 *  - Once in each attempt (early_sent): a record that crashes each worker that takes it would
 *    otherwise come back for ever, its attempts never used up, and never be dead-lettered.
 * Looked at every 50 ms until all sent before the death are a second old. True when records
 * were made due. */
static bool resend_early_tick(struct worker *w, int64_t now)
{
    drain_out_monitors(w);
    if (resend_requested) {
        resend_requested = 0;
        if (!w->resend_signal || w->resend_go) {
            w->resend_go = false;
            w->resend_due = now + NF_RESEND_SETTLE_MS;
        }
        w->resend_signal = now;
        w->resend_next = now;
    }
    if (!w->resend_signal || now < w->resend_next)
        return false;
    if (!w->resend_go) {
        /* a connection closed since the death, or just before the signal came */
        bool closed = w->disconnected_ms && w->disconnected_ms >= w->resend_signal - 1000 &&
                      now >= w->disconnected_ms + NF_RESEND_AFTER_CLOSE_MS;
        if (!closed && now < w->resend_due)
            return false;
        w->resend_go = true;
    }
    int64_t early = 0;
    for (int64_t i = 0; i < w->window; i++) {
        struct slot *s = &w->slots[i];
        if (!s->used || s->due <= now || s->attempt >= w->st->max_attempts || s->early_sent)
            continue;
        int64_t sent = s->due - backoff(w, s->attempt);
        if (sent <= w->resend_signal && sent <= now - 1000) {
            s->due = now;
            s->early = true;
            early++;
        }
    }
    if (early)
        nf_ctx_count(&w->ctx, "resent_early", early);
    w->resend_next = now + 50;
    if (now - 1000 >= w->resend_signal)
        w->resend_signal = 0; /* all sent before it are a second old, and were looked at */
    return early > 0;
}

static int run_source(struct worker *w)
{
    if (journal_recover(w) < 0)
        return 1;
    order_publish(w, true, false, -1);
    const struct nf_plugin *p = &w->plugin->desc;
    bool eof = false;
    int64_t next_scan = mono_ms() + 100;
    while (!stop_requested) {
        int produced = 0;
        bool again = false;
        if (w->order_page && !eof) { /* what it reads now comes after this (order.h) */
            w->order_reading = nf_order_now();
            order_publish(w, false, false, -1);
        }
        while (!eof && !stop_requested && produced < 256) {
            struct slot *s = &w->slots[w->next_counter % w->window];
            if (s->used || (w->pending && w->inflight_bytes >= w->st->window_bytes))
                break; /* the credit window is full: wait for acknowledgements */
            nf_record_reset(w->rec);
            w->ctx.error[0] = '\0';
            int64_t t0 = mono_us();
            int rc = p->next(w->state, &w->ctx, w->rec);
            if (rc == NF_OK || rc == NF_ERR)
                latency_add(&w->ctx, mono_us() - t0);
            if (rc == NF_AGAIN) {
                again = true;
                break;
            }
            if (rc == NF_EOF) {
                eof = true;
                w->ctx.exhausted = true;
                nf_logf(NF_LOG_INFO, "input exhausted after %lld records",
                        (long long)count_of(&w->ctx, "out"));
                break;
            }
            if (rc != NF_OK) {
                /* keep what the source made of it (id, source, raw) as a record, so that the
                 * dead letter can be replayed once the cause is fixed */
                size_t n = 0;
                const void *bytes = nf_record_bytes(w->rec, NF_F_RAW, &n);
                nf_record_set_int(w->rec, NF_F_V, NF_RECORD_VERSION);
                w->jbuf.len = 0;
                if (nf_record_encode(w->rec, &w->jbuf) == 0) {
                    bytes = w->jbuf.data;
                    n = w->jbuf.len;
                }
                dead_letter(w, w->ctx.error[0] ? w->ctx.error : "the source failed to read",
                            bytes, bytes ? n : 0, true);
                continue;
            }
            const char *id = nf_record_str(w->rec, NF_F_ID, NULL);
            if (id && was_recovered(w, id)) {
                nf_ctx_count(&w->ctx, "already_in_flight", 1);
                continue; /* resent from the journal already */
            }
            if (source_emit(w, s) < 0)
                break;
            produced++;
        }
        w->order_reading = 0; /* published after the acknowledgements below */
        w->sync_serves_marks = w->order_page != NULL;
        int flushed = flush_out_ex(w, eof || again);
        w->sync_serves_marks = false;
        if (flushed < 0)
            break;
        if (w->once && eof && w->pending == 0)
            break;
        int timeout = produced ? 0 : again ? 50 : w->pending ? 50 : 500;
        if (w->order_page && w->order_dirty && timeout > 1)
            timeout = 1; /* the ordered stage waits for the mark to move */
        if (w->batch.len && timeout > NF_JOURNAL_SYNC_MS)
            timeout = NF_JOURNAL_SYNC_MS;
        if ((resend_requested || w->resend_signal) && timeout > NF_RESEND_AFTER_CLOSE_MS)
            timeout = NF_RESEND_AFTER_CLOSE_MS;
        /* the source's own descriptor too, while it has nothing (nf_ctx_wait_fd) */
        zmq_pollitem_t items[2] = {{w->acks, 0, ZMQ_POLLIN, 0},
                                   {NULL, w->ctx.wait_fd, ZMQ_POLLIN, 0}};
        zmq_poll(items, again && w->ctx.wait_fd >= 0 ? 2 : 1, timeout);
        drain_acks(w);
        order_publish(w, false, false, -1);
        watchdog_tick();
        w->ctx.in_flight = w->pending;
        w->ctx.journal_bytes = w->journal ? (int64_t)nf_journal_size(w->journal) : 0;
        report_tick(&w->ctx);
        tap_tick(w);
        peers_tick(w, mono_ms());
        int64_t now = mono_ms();
        if (resend_early_tick(w, now))
            next_scan = now;
        if (now >= next_scan) {
            replay_overdue(w, now);
            next_scan = now + 100;
            journal_maintain(w);
        }
    }
    /* Stopping: no more intake; give what is in flight a grace period to be acknowledged. */
    int64_t until = mono_ms() + w->cfg->grace_ms;
    while (w->pending > 0 && mono_ms() < until) {
        zmq_pollitem_t item = {w->acks, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 100);
        drain_acks(w);
    }
    if (w->pending > 0)
        nf_logf(NF_LOG_WARN, "stopping with %lld records unacknowledged; they are in the "
                             "journal and will be resent on restart", (long long)w->pending);
    journal_compact(w);
    w->ctx.in_flight = w->pending;
    if (eof && w->pending == 0)
        order_publish(w, true, true, -1); /* nothing more will come from this worker */
    /* A finite run whose source read nothing and failed on what it tried: not a success. */
    int64_t inputs = count_of(&w->ctx, "inputs"), errors = count_of(&w->ctx, "input_errors");
    if (w->once && eof && count_of(&w->ctx, "out") == 0 &&
        (inputs > 0 ? errors >= inputs : errors > 0 || count_of(&w->ctx, "dead") > 0)) {
        nf_logf(NF_LOG_ERROR, "the source produced no record: every input it tried failed "
                              "(see above)");
        return 3;
    }
    return 0;
}

/* ---- filters and sinks ---------------------------------------------------------------------- */

/* Acknowledges the record in w->rec: its journey ends at this stage. */
/* ack_to comes off the wire: only a source endpoint of this pipeline is ever connected to,
 * never an address a record names. */
/* The source worker awaiting acknowledgements at `to`: its index in ack_eps, or -1. */
static int ack_index(const struct worker *w, const char *to)
{
    for (size_t i = 0; i < w->n_ack_eps; i++)
        if (strcmp(w->ack_eps[i], to) == 0)
            return (int)i;
    return -1;
}

static bool known_ack_to(const struct worker *w, const char *to)
{
    return ack_index(w, to) >= 0;
}

static void ack_current(struct worker *w, bool held)
{
    int64_t seq;
    const char *to = nf_record_str(w->rec, NF_F_ACK_TO, NULL);
    if (!to || nf_record_int(w->rec, NF_F_SEQ, &seq) < 0)
        return; /* injected without delivery fields: nobody waits for it */
    if (!known_ack_to(w, to)) {
        nf_ctx_count(&w->ctx, "bad_ack_to", 1);
        if (count_of(&w->ctx, "bad_ack_to") <= 10)
            nf_logf(NF_LOG_WARN, "record %s names ack_to %.80s, which is no source of this "
                                 "pipeline; not acknowledged",
                    nf_record_str(w->rec, NF_F_ID, NULL) ? nf_record_str(w->rec, NF_F_ID, NULL)
                                                         : "(no id)", to);
        return;
    }
    if (nf_acker_add(w->acker, to, seq, w->st->paths_below, held) < 0)
        nf_logf(NF_LOG_WARN, "cannot acknowledge to %s", to);
}

static void handle(struct worker *w, const void *data, size_t len);

/* ---- read order (order.h): the ordered stage's side ----------------------------------------- */

/* The ordered stages before stage `si` (config order): a stage's rank, or, for n_stages, their
 * number. */
static int ordered_before(const struct nf_config *cfg, int si)
{
    int n = 0;
    for (int s = 0; s < si; s++)
        n += cfg->stages[s].in_read_order;
    return n;
}

/* Asks the sources to forget what had passed (the last worker of this stage may have held it),
 * and opens their marks. */
static int order_start(struct worker *w)
{
    const struct nf_config *cfg = w->cfg;
    struct nf_order_src *src = calloc(w->n_ack_eps + 1, sizeof(*src));
    size_t n = 0;
    if (!src)
        return -1;
    for (int s = 0; s < cfg->n_stages; s++) /* the order of ack_eps (nf_stage_run) */
        for (int k = 0; cfg->stages[s].n_inputs == 0 && k < cfg->stages[s].workers; k++)
            src[n++] = (struct nf_order_src){cfg->stages[s].name, k};
    w->order_rank = ordered_before(cfg, w->ctx.stage);
    w->order_self = (int)(((unsigned)getpid() ^ (unsigned)time(NULL)) % NF_ORDER_GENS);
    w->order = nf_order_reader_new(cfg->run_dir, src, n, w->order_rank);
    free(src);
    w->held = nf_order_heap_new();
    if (!w->order || !w->held || n != w->n_ack_eps) {
        nf_logf(NF_LOG_ERROR, "cannot set up read order: out of memory");
        return -1;
    }
    w->order_released = INT64_MIN;
    w->order_said = mono_ms();
    /* before any record is said to have passed: what is said after the reset must count */
    for (size_t i = 0; i < w->n_ack_eps; i++)
        nf_acker_add(w->acker, w->ack_eps[i], 0,
                     nf_order_mark_weight(w->order_rank, w->order_self), false);
    nf_acker_send(w->acker);
    nf_logf(NF_LOG_INFO, "records go to the plugin in read order, from %zu source workers", n);
    return 0;
}

/* The record in w->rec (bytes data, len) has arrived: its source hears it has passed, and it
 * waits for the records read before it. */
static void order_take(struct worker *w, const void *data, size_t len)
{
    int64_t order, seq, prev;
    const char *to = nf_record_str(w->rec, NF_F_ACK_TO, NULL);
    int src = to ? ack_index(w, to) : -1;
    if (src >= 0 && nf_record_int(w->rec, NF_F_SEQ, &seq) == 0 && seq > 0)
        nf_acker_add(w->acker, to, seq, nf_order_mark_weight(w->order_rank, w->order_self),
                     false);
    if (nf_record_int(w->rec, NF_F_READ_PREV, &prev) < 0)
        prev = INT64_MAX; /* links to nothing */
    if (nf_record_int(w->rec, NF_F_READ_ORDER, &order) < 0) {
        /* without one (a journal of an older version, an injected record): nothing to wait for,
         * and its source has heard that it passed, so it holds nothing back either */
        handle(w, data, len);
        w->order_direct++;
        return;
    }
    if (order >= w->order_released &&
        nf_order_heap_push(w->held, order, prev, src, data, len) == 0) {
        if (nf_order_heap_size(w->held) > w->order_held_max)
            w->order_held_max = nf_order_heap_size(w->held);
        if (nf_order_heap_bytes(w->held) > w->order_bytes_max)
            w->order_bytes_max = nf_order_heap_bytes(w->held);
    } else {
        /* read before what went on already (a dead letter replayed, a resend after an outage):
         * it goes on at once */
        nf_ctx_count(&w->ctx, "late", 1);
        handle(w, data, len);
        w->order_direct++;
    }
}

/* Hands the plugin what no earlier record can come before any more. Returns how many. */
static int order_release(struct worker *w)
{
    if (!w->held)
        return 0;
    int64_t now = mono_ms();
    if (!nf_order_heap_size(w->held))
        return 0;
    const char *waiting = NULL;
    int ww = 0;
    int64_t low = nf_order_reader_low(w->order, now, &waiting, &ww);
    int n = 0;
    while (nf_order_heap_size(w->held)) {
        int64_t order = nf_order_heap_top(w->held);
        if (order >= low) { /* unless the record read just before it is in already */
            int64_t prev;
            int src;
            nf_order_heap_top_link(w->held, &prev, &src);
            low = nf_order_reader_follow(w->order, src, prev, order);
            if (order >= low)
                break;
            nf_ctx_count(&w->ctx, "linked", 1); /* before its source's mark */
        }
        size_t len;
        const void *data = nf_order_heap_top_bytes(w->held, &len);
        if (nf_record_decode(w->rec, data, len) == 0) /* it was read once already */
            handle(w, data, len);
        nf_log_record(NULL);
        if (order > w->order_released)
            w->order_released = order;
        nf_order_heap_pop(w->held);
        n++;
    }
    if (n)
        w->order_said = now;
    else if (now - w->order_said >= 10000 && waiting) {
        nf_logf(NF_LOG_WARN, "holding %zu records (%zu bytes) for read order: source %s[%d] "
                             "has records read before them in flight",
                nf_order_heap_size(w->held), nf_order_heap_bytes(w->held), waiting, ww);
        w->order_said = now;
    }
    return n;
}

/* One message: a batch of records. A record that cannot be framed makes the rest of the
 * message unreadable: it goes to the dead-letter store as one piece with the reason. */
static int handle_batch(struct worker *w, const uint8_t *data, size_t len)
{
    int n = 0;
    size_t off = 0;
    while (off < len) {
        size_t used;
        nf_ctx_count(&w->ctx, "in", 1);
        if (nf_record_decode_next(w->rec, data + off, len - off, &used) < 0) {
            char reason[320];
            size_t keep = len - off > NF_DEAD_PREFIX ? NF_DEAD_PREFIX : len - off;
            snprintf(reason, sizeof(reason), "malformed record at byte %zu of a %zu-byte "
                     "message: %s%s", off, len, nf_record_error(w->rec),
                     keep < len - off ? " (only the first 64 KiB kept)" : "");
            nf_ctx_count(&w->ctx, "malformed", 1);
            dead_letter(w, reason, data + off, keep, false);
            return n + 1;
        }
        if (w->held)
            order_take(w, data + off, used);
        else
            handle(w, data + off, used);
        nf_log_record(NULL);
        off += used;
        n++;
    }
    return n;
}

/* Takes one message from the inbox without waiting: its sender frame, if any, then its batch,
 * which goes to handle_batch unless its sender is stale (transport.h). Returns the records
 * handled, or -1 when nothing was there. */
static int take_message(struct worker *w)
{
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, w->in, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        return -1;
    }
    bool stale = false;
    struct nf_sender from = {0};
    if (zmq_msg_more(&msg)) {
        /* the rest of a message is there once its first frame is */
        stale = nf_sender_get(zmq_msg_data(&msg), zmq_msg_size(&msg), &from) == 0 &&
                nf_senders_stale(w->senders, &from, mono_ms());
        do {
            zmq_msg_close(&msg);
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, w->in, 0) < 0) {
                zmq_msg_close(&msg);
                return 0;
            }
            /* a part between the sender and the batch is no part of ours: kept aside whole */
            if (zmq_msg_more(&msg)) {
                size_t len = zmq_msg_size(&msg);
                dead_letter(w, "a message part between its sender and its batch",
                            zmq_msg_data(&msg), len > NF_DEAD_PREFIX ? NF_DEAD_PREFIX : len,
                            false);
            }
        } while (zmq_msg_more(&msg));
    }
    int n = 0;
    if (!stale) {
        n = handle_batch(w, zmq_msg_data(&msg), zmq_msg_size(&msg));
    } else {
        /* not acknowledged: each comes again from its source, to the successor's judgement */
        const uint8_t *data = zmq_msg_data(&msg);
        size_t len = zmq_msg_size(&msg), off = 0, used, left = 0;
        while (off < len && nf_record_decode_next(w->rec, data + off, len - off, &used) == 0)
            off += used, left++;
        const char *by = "?";
        for (int i = 0; i < w->cfg->n_stages; i++) {
            const char *name = w->cfg->stages[i].name;
            if (XXH3_64bits(name, strlen(name)) == from.stage)
                by = name;
        }
        nf_ctx_count(&w->ctx, "stale", (int64_t)left);
        nf_logf(NF_LOG_INFO, "left %zu records that an earlier run of %s[%u] sent: its "
                             "successor has sent since, and their sources send them again",
                left, by, from.worker);
    }
    zmq_msg_close(&msg);
    return n;
}

static void handle(struct worker *w, const void *data, size_t len)
{
    const struct nf_plugin *p = &w->plugin->desc;
    /* A record on its second or later attempt may be the one that crashed a worker: what is
     * batched so far leaves before the plugin sees it, and it leaves in a message of its own,
     * so that it cannot take other records down with it again, here or further on. */
    size_t idlen;
    const char *id = nf_record_str(w->rec, NF_F_ID, &idlen);
    if (!valid_id(id, idlen)) {
        nf_ctx_count(&w->ctx, "malformed", 1);
        if (dead_letter(w, "the record's id is not 32 hex digits", data, len, true) == 0)
            ack_current(w, false);
        return;
    }
    nf_log_record(id); /* JSON log lines name the record */
    int64_t attempt = 1;
    bool suspect = nf_record_int(w->rec, NF_F_ATTEMPT, &attempt) == 0 && attempt > 1;
    if (suspect)
        flush_out(w);
    w->ctx.error[0] = '\0';
    int64_t t0 = mono_us();
    int rc = p->process(w->state, &w->ctx, w->rec);
    latency_add(&w->ctx, mono_us() - t0);
    w->unflushed++;
    /* the stages fused after this one take the record in turn, in memory; `by` is the stage
     * whose verdict ends its way through the chain */
    struct nf_ctx *by = &w->ctx;
    void *by_tap = w->tap;
    for (int i = 0; rc == NF_OK && i < w->n_links; i++) {
        struct link *l = &w->links[i];
        nf_ctx_count(by, "out", 1);
        if (w->cfg->trace)
            nf_record_trace_append(w->rec, by->st->name, w->ctx.worker, nf_now_ms());
        if (by_tap)
            tap_record(w, by_tap);
        by = &l->ctx;
        by_tap = l->tap;
        nf_ctx_count(by, "in", 1);
        by->error[0] = '\0';
        t0 = mono_us();
        rc = l->plugin->desc.process(l->state, by, w->rec);
        latency_add(by, mono_us() - t0);
    }
    bool terminal = w->n_outs == 0;
    if (rc == NF_OK && !terminal) {
        if (w->cfg->trace)
            nf_record_trace_append(w->rec, by->st->name, w->ctx.worker, nf_now_ms());
        if (by_tap && w->n_links)
            tap_record(w, by_tap);
        /* encode straight into the outgoing batch: no intermediate copy */
        size_t mark = w->batch.len;
        if (nf_record_encode(w->rec, &w->batch) < 0) {
            w->batch.len = mark;
            if (dead_letter_at(w, by, nf_record_error(w->rec), data, len, true) == 0)
                ack_current(w, false);
            return;
        }
        size_t rlen = w->batch.len - mark;
        if ((int64_t)rlen > w->cfg->max_message) {
            /* refused here, with the reason, rather than as "malformed" one stage later */
            w->batch.len = mark;
            char reason[200];
            snprintf(reason, sizeof(reason), "the record grew to %zu bytes in this stage, over "
                     "max_message (%lld)", rlen, (long long)w->cfg->max_message);
            if (dead_letter_at(w, by, reason, data, len, true) == 0)
                ack_current(w, false);
            return;
        }
        if ((int64_t)w->batch.len > w->cfg->max_message) {
            /* together with the batch it would be too large: what came before goes first */
            w->batch.len = mark;
            flush_out(w);
            memmove(w->batch.data, w->batch.data + mark, rlen);
            w->batch.len = rlen;
        }
        nf_ctx_count(by, "out", 1);
        if (suspect || w->batch.len >= NF_BATCH_BYTES)
            flush_out(w);
        return;
    }
    if (rc == NF_OK) {
        bool own = by == &w->ctx; /* a fused stage is a filter without flush (check_links) */
        nf_ctx_count(by, own && p->kind == NF_PLUGIN_SINK ? "stored" : "ended", 1);
        ack_current(w, own && p->flush != NULL);
        return;
    }
    if (rc == NF_SKIP) {
        nf_ctx_count(by, "skipped", 1);
        ack_current(w, false);
        return;
    }
    char reason[1200];
    snprintf(reason, sizeof(reason), "%s",
             by->error[0] ? by->error : "the plugin failed without a reason");
    if (rc != NF_ERR)
        snprintf(reason, sizeof(reason), "the plugin returned unknown status %d", rc);
    if (dead_letter_at(w, by, reason, data, len, true) == 0)
        ack_current(w, false);
}

/* A sink's batches committed and made durable in the background (plugin.h, durable()): asks
 * the plugin how far that went, waiting for all of it with `wait`, and acknowledges the batches
 * now durable; after a failure, none of those still waiting (their sources replay them). */
static void durable_news(struct worker *w, bool wait)
{
    const struct nf_plugin *p = &w->plugin->desc;
    if (!p->durable || p->kind != NF_PLUGIN_SINK || !w->n_durable)
        return;
    w->ctx.error[0] = '\0';
    int64_t done = p->durable(w->state, &w->ctx, wait);
    int64_t first = w->durable_asked - w->n_durable; /* the oldest batch still waiting */
    if (done < 0) {
        nf_logf(NF_LOG_ERROR, "a committed batch could not be made durable, %zu records will be "
                              "replayed: %s", w->durable_sum, w->ctx.error);
        nf_acker_release_first(w->acker, w->durable_sum, false);
        w->n_durable = 0;
        w->durable_sum = 0;
        return;
    }
    int k = done > first ? (int)(done - first < w->n_durable ? done - first : w->n_durable) : 0;
    if (!k)
        return;
    size_t n = 0;
    for (int i = 0; i < k; i++)
        n += w->durable_held[i];
    nf_acker_release_first(w->acker, n, true);
    memmove(w->durable_held, w->durable_held + k, (size_t)(w->n_durable - k) * sizeof(size_t));
    w->n_durable -= k;
    w->durable_sum -= n;
    nf_acker_send(w->acker);
}

static void do_flush(struct worker *w)
{
    const struct nf_plugin *p = &w->plugin->desc;
    if (p->flush && (p->kind == NF_PLUGIN_SINK || w->unflushed)) {
        w->unflushed = 0;
        w->ctx.error[0] = '\0';
        if (w->n_durable == NF_DURABLE_PENDING)
            durable_news(w, true);
        int rc = p->flush(w->state, &w->ctx);
        if (rc == NF_AGAIN && p->durable && p->kind == NF_PLUGIN_SINK) {
            /* committed: this batch's acknowledgements wait for durable() */
            w->durable_held[w->n_durable++] = nf_acker_held(w->acker) - w->durable_sum;
            w->durable_sum = nf_acker_held(w->acker);
            w->durable_asked++;
        } else if (rc == NF_OK) {
            /* durable, and every batch before it too */
            nf_acker_release(w->acker, true);
            w->n_durable = 0;
            w->durable_sum = 0;
        } else {
            /* this batch only: those before it may still become durable */
            nf_logf(NF_LOG_ERROR, "flush failed, %zu records will be replayed: %s",
                    nf_acker_held(w->acker) - w->durable_sum,
                    rc == NF_AGAIN ? "the plugin answered NF_AGAIN without durable()"
                                   : w->ctx.error);
            nf_acker_drop_after(w->acker, w->durable_sum);
        }
    }
    nf_acker_send(w->acker);
}

#define NF_OUT_LINGER_MS 5
/* A started batch is flushed (a sink's commit) as soon as the inbox is empty: what arrived
 * while the last batch was being flushed makes the next one (a group commit), so a batch grows
 * with the load and a trickle waits for no timer; flush_ms bounds a batch while messages keep
 * coming. Waiting 2 ms for more instead held every record of a steady flow (2,500 a second)
 * the time of a few more messages: p50 13.5-22.4 ms against 8.5-14.1 from watched directory to
 * committed row, and it needed flush_ms of 5 to get there (docs/scaling.md). */
#define NF_FLUSH_IDLE_MS 0

static int run_filter(struct worker *w)
{
    int since_flush = 0;
    int64_t flush_due = 0;
    while (!stop_requested) {
        int timeout = since_flush ? (int)(flush_due - mono_ms()) : 1000;
        if (since_flush && timeout > NF_FLUSH_IDLE_MS)
            timeout = NF_FLUSH_IDLE_MS; /* nothing waiting: flushed below (n == 0) */
        if (w->held && nf_order_heap_size(w->held) && timeout > 1)
            timeout = 1; /* held for read order: the sources' marks move without a message */
        if (timeout < 0)
            timeout = 0;
        /* a sink's batches waiting to be durable: the plugin's descriptor says when (durable()) */
        zmq_pollitem_t items[2] = {{w->in, 0, ZMQ_POLLIN, 0},
                                   {NULL, w->ctx.wait_fd, ZMQ_POLLIN, 0}};
        bool durable_wait = w->n_durable && w->ctx.wait_fd >= 0;
        if (w->n_durable && w->ctx.wait_fd < 0 && timeout > 1)
            timeout = 1; /* no descriptor: asked every millisecond */
        int rc = zmq_poll(items, durable_wait ? 2 : 1, timeout);
        if (w->n_durable && (!durable_wait || (items[1].revents & ZMQ_POLLIN)))
            durable_news(w, false);
        rc = rc > 0 && (items[0].revents & ZMQ_POLLIN) ? 1 : rc < 0 ? rc : 0;
        int n = 0;
        if (rc > 0) {
            /* What is done goes on within NF_OUT_LINGER_MS even while more keeps coming: a
             * record waits for a batch's worth of others at most that long in each stage. */
            int64_t out_since = mono_ms();
            while (n < w->st->batch && !stop_requested) {
                int got = take_message(w);
                if (got < 0)
                    break;
                n += got;
                if (w->batch.len && mono_ms() - out_since >= NF_OUT_LINGER_MS) {
                    flush_out(w);
                    out_since = mono_ms();
                }
            }
            flush_out(w);
        }
        /* An ordered stage releases a record only once its source has heard that the record
         * itself has passed (order.h), unless it follows on its read_prev: the marks of what
         * just arrived go out now, not after the plugin has processed what is released below
         * and the state behind it is synced. (Sending them only when a record stays held cost
         * the store 3-7% more CPU in the latency bench, its batches smaller, and moved no
         * latency figure beyond the machine's noise.) */
        if (w->held && rc > 0)
            nf_acker_send(w->acker);
        if (w->held) { /* the plugin has seen only what was released; that is what counts */
            n = order_release(w) + w->order_direct;
            w->order_direct = 0;
            if (n)
                flush_out(w);
        }
        watchdog_tick();
        report_tick(&w->ctx);
        tap_tick(w);
        peers_tick(w, mono_ms());
        if (n && !since_flush)
            flush_due = mono_ms() + w->st->flush_ms;
        since_flush += n;
        if (since_flush && (since_flush >= w->st->batch || n == 0 || mono_ms() >= flush_due)) {
            do_flush(w);
            since_flush = 0;
        } else {
            nf_acker_send(w->acker);
        }
    }
    flush_out(w);
    do_flush(w);
    durable_news(w, true);
    if (w->held)
        nf_logf(NF_LOG_INFO, "read order: held at most %zu records (%zu bytes) at once; %zu "
                             "held at the stop come back as resends", w->order_held_max,
                w->order_bytes_max, nf_order_heap_size(w->held));
    return 0;
}

/* ---- setup ---------------------------------------------------------------------------------- */

/* Starts the stages fused after the worker's own (nf_config_chain), each with its own plugin,
 * options, state directory and stats page. A fused stage must be a filter without state: it has
 * no flush to make its state durable before the records it judged go on, and the worker does
 * not wait for it. Returns -1 with the reason logged (a start-up error). */
static int links_open(struct worker *w)
{
    const struct nf_config *cfg = w->cfg;
    int idx[NF_CONFIG_CHAIN_MAX];
    int n = nf_config_chain(cfg, w->ctx.stage, idx, NF_CONFIG_CHAIN_MAX);
    w->tail = w->st;
    if (!n)
        return 0;
    w->links = calloc((size_t)n, sizeof(*w->links));
    if (!w->links) {
        nf_logf(NF_LOG_ERROR, "out of memory");
        return -1;
    }
    char err[2048];
    for (int i = 0; i < n; i++) {
        struct link *l = &w->links[w->n_links++];
        const struct nf_stage_conf *st = &cfg->stages[idx[i]];
        l->si = idx[i];
        l->ctx = (struct nf_ctx){.cfg = cfg, .st = st, .stage = idx[i], .worker = w->ctx.worker,
                                 .fused = true, .wait_fd = -1, .total = -1,
                                 .started_ms = nf_now_ms()};
        snprintf(l->ctx.who, sizeof(l->ctx.who), "%s[%d]", st->name, w->ctx.worker);
        snprintf(l->ctx.state_dir, sizeof(l->ctx.state_dir), "%s/%s", cfg->state_dir, st->name);
        if (nf_dir_private(l->ctx.state_dir, "the stage's state directory", err,
                           sizeof(err)) < 0) {
            nf_logf(NF_LOG_ERROR, "%s", err);
            return -1;
        }
        l->plugin = nf_plugin_load(cfg->plugin_dir, st->plugin, err, sizeof(err));
        if (!l->plugin) {
            nf_logf(NF_LOG_ERROR, "%s: %s", st->where, err);
            return -1;
        }
        const struct nf_plugin *p = &l->plugin->desc;
        if (nf_config_fuse_refusal(cfg, l->si, p, err, sizeof(err))) {
            nf_logf(NF_LOG_ERROR, "%s", err); /* the plugin changed since the start's check */
            return -1;
        }
        l->ctx.page = nf_stats_open(cfg->run_dir, st->name, w->ctx.worker, err, sizeof(err));
        if (!l->ctx.page)
            nf_logf(NF_LOG_WARN, "%s", err);
        l->pool = nf_strpool_new();
        l->conf = calloc(1, p->conf_size ? p->conf_size : 1);
        if (!l->pool || !l->conf) {
            nf_logf(NF_LOG_ERROR, "out of memory");
            return -1;
        }
        if (nf_config_plugin_conf(cfg, l->si, p, l->conf, l->pool, err, sizeof(err)) < 0) {
            nf_logf(NF_LOG_ERROR, "%s", err);
            return -1;
        }
        if (p->init && p->init(&l->ctx, l->conf, &l->state) != NF_OK) {
            nf_logf(NF_LOG_ERROR, "plugin %s of stage %s failed to start: %s", p->name,
                    st->name, l->ctx.error[0] ? l->ctx.error : "no reason given");
            l->state = NULL;
            return -1;
        }
        publish_stats(&l->ctx);
        w->tail = st;
    }
    report_links = w->links;
    report_n_links = w->n_links;
    nf_logf(NF_LOG_INFO, "runs %d fused stage%s after %s, up to %s", w->n_links,
            w->n_links == 1 ? "" : "s", w->st->name, w->tail->name);
    return 0;
}

static void links_free(struct worker *w)
{
    for (int i = 0; i < w->n_links; i++) {
        struct link *l = &w->links[i];
        if (l->plugin && l->plugin->desc.destroy && l->state)
            l->plugin->desc.destroy(l->state);
        nf_socket_close(&l->tap);
        free(l->conf);
        nf_strpool_destroy(&l->pool);
        nf_plugin_unload(&l->plugin);
        nf_stats_close(&l->ctx.page);
    }
    free(w->links);
    w->links = NULL;
    w->n_links = 0;
    report_links = NULL;
    report_n_links = 0;
    nf_buf_free(&w->tapbuf);
}

static void worker_free(struct worker *w)
{
    links_free(w);
    if (w->plugin && w->plugin->desc.destroy && w->state)
        w->plugin->desc.destroy(w->state);
    nf_acker_destroy(&w->acker);
    nf_socket_close(&w->tap);
    nf_socket_close(&w->in);
    nf_socket_close(&w->acks);
    nf_senders_free(&w->senders);
    for (int i = 0; i < w->n_outs; i++) {
        if (w->out_mons && w->out_mons[i]) {
            zmq_socket_monitor(w->outs[i], NULL, 0);
            nf_socket_close(&w->out_mons[i]);
        }
        nf_socket_close(&w->outs[i]);
    }
    free(w->out_mons);
    free(w->outs);
    free(w->out_stage);
    free(w->out_peers);
    if (w->zctx)
        zmq_ctx_term(w->zctx);
    nf_zap_join();
    if (nf_zap_refused() > 0)
        nf_logf(NF_LOG_WARN, "refused %lld tcp peers without an allowed key",
                (long long)nf_zap_refused());
    for (int64_t i = 0; w->slots && i < w->window; i++)
        nf_buf_free(&w->slots[i].bytes);
    free(w->slots);
    free(w->recovered_ids);
    free(w->live);
    free(w->chunk_ends);
    free(w->ack_eps);
    nf_order_close(&w->order_page);
    nf_order_reader_free(w->order);
    nf_order_heap_free(w->held);
    nf_buf_free(&w->jbuf);
    nf_record_destroy(&w->jrec);
    nf_journal_close(&w->journal);
    nf_dlq_destroy(&w->dlq);
    nf_record_destroy(&w->rec);
    nf_buf_free(&w->batch);
    free(w->conf);
    nf_strpool_destroy(&w->pool);
    nf_plugin_unload(&w->plugin);
    nf_stats_close(&w->ctx.page);
}

int nf_stage_run(const struct nf_config *cfg, int si, int worker, bool once)
{
    const struct nf_stage_conf *st = &cfg->stages[si];
    struct worker w = {.cfg = cfg, .st = st, .once = once};
    w.ctx = (struct nf_ctx){.cfg = cfg, .st = st, .stage = si, .worker = worker};
    snprintf(w.ctx.who, sizeof(w.ctx.who), "%s[%d]", st->name, worker);
    const char *lvl = st->log_level ? st->log_level : cfg->log_level;
    nf_log_setup(w.ctx.who, (enum nf_log_level)nf_log_level_parse(lvl));

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_resend;
    sigaction(SIGURG, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[2048];
    int code = 2;
    /* Before any thread starts (ZeroMQ's, a plugin's): each takes the nice of the thread that
     * creates it, and setpriority changes the calling thread's alone. */
    if (st->nice > 0) { /* below the supervisor's own, whatever that is */
        errno = 0;
        int base = getpriority(PRIO_PROCESS, 0);
        int to = errno ? st->nice : base + st->nice > 19 ? 19 : base + st->nice;
        if (setpriority(PRIO_PROCESS, 0, to) < 0)
            nf_logf(NF_LOG_WARN, "stage %s: cannot set nice %d: %s", st->name, to,
                    strerror(errno));
    }
    snprintf(w.ctx.state_dir, sizeof(w.ctx.state_dir), "%s/%s", cfg->state_dir, st->name);
    if (nf_dir_private(cfg->state_dir, "state_dir", err, sizeof(err)) < 0 ||
        nf_dir_private(w.ctx.state_dir, "the stage's state directory", err, sizeof(err)) < 0 ||
        nf_dir_private(cfg->run_dir, "run_dir", err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        goto out;
    }
    w.plugin = nf_plugin_load(cfg->plugin_dir, st->plugin, err, sizeof(err));
    if (!w.plugin) {
        nf_logf(NF_LOG_ERROR, "%s: %s", st->where, err);
        goto out;
    }
    const struct nf_plugin *p = &w.plugin->desc;
    w.ctx.started_ms = nf_now_ms();
    struct timespec born;
    clock_gettime(CLOCK_REALTIME, &born);
    /* the host: its name and the supervisor's state directory (one supervisor holds it) */
    char host[1024] = "";
    gethostname(host, 255);
    size_t hn = strlen(host) + 1;
    hn += (size_t)snprintf(host + hn, sizeof(host) - hn, "%s",
                           cfg->state_dir ? cfg->state_dir : "");
    uint64_t host_key = XXH3_64bits(host, hn < sizeof(host) ? hn : sizeof(host));
    struct nf_sender me = {.stage = XXH3_64bits(st->name, strlen(st->name)),
                           .host = host_key, .worker = (uint32_t)worker,
                           .incarnation = (int64_t)born.tv_sec * 1000000 + born.tv_nsec / 1000};
    nf_sender_put(&me, w.sender);
    w.ctx.total = -1;
    w.ctx.wait_fd = -1;
    w.ctx.page = nf_stats_open(cfg->run_dir, st->name, worker, err, sizeof(err));
    if (!w.ctx.page) /* the pipeline runs without it; only the views lose this worker */
        nf_logf(NF_LOG_WARN, "%s", err);
    w.pool = nf_strpool_new();
    w.conf = calloc(1, p->conf_size ? p->conf_size : 1);
    w.rec = nf_record_new();
    w.dlq = nf_dlq_new(cfg->deadletter);
    w.senders = nf_senders_new();
    if (!w.pool || !w.conf || !w.rec || !w.dlq || !w.senders) {
        nf_logf(NF_LOG_ERROR, "out of memory");
        goto out;
    }
    if (nf_config_plugin_conf(cfg, si, p, w.conf, w.pool, err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        goto out;
    }
    if (p->init && p->init(&w.ctx, w.conf, &w.state) != NF_OK) {
        nf_logf(NF_LOG_ERROR, "plugin %s failed to start: %s", p->name,
                w.ctx.error[0] ? w.ctx.error : "no reason given");
        goto out;
    }
    if (p->kind != NF_PLUGIN_SOURCE && links_open(&w) < 0)
        goto out;
    if (!w.tail)
        w.tail = st;
    code = 1;
    w.zctx = zmq_ctx_new();
    if (w.zctx && nf_zap_start(w.zctx, err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        goto out;
    }
    w.acker = w.zctx ? nf_acker_new(w.zctx) : NULL;
    /* with fused stages, what the last of them sends to */
    const struct nf_stage_conf *tail = w.tail;
    w.outs = calloc((size_t)tail->n_consumers + 1, sizeof(void *));
    w.out_stage = calloc((size_t)tail->n_consumers + 1, sizeof(int));
    w.out_peers = calloc((size_t)tail->n_consumers + 1, sizeof(int));
    w.out_mons = calloc((size_t)tail->n_consumers + 1, sizeof(void *));
    if (!w.acker || !w.outs || !w.out_stage || !w.out_peers || !w.out_mons)
        goto out;
    for (int i = 0; i < tail->n_consumers; i++) {
        if (open_out(&w, cfg, tail->consumers[i]) < 0)
            goto out;
        if (p->kind == NF_PLUGIN_SOURCE)
            open_out_monitor(&w, i);
    }
    if (p->kind == NF_PLUGIN_SOURCE) {
        char bind_ep[512];
        if (nf_config_ack_endpoint(cfg, si, worker, true, bind_ep, sizeof(bind_ep)) < 0 ||
            nf_config_ack_endpoint(cfg, si, worker, false, w.ack_to, sizeof(w.ack_to)) < 0) {
            nf_logf(NF_LOG_ERROR, "bad acknowledgement endpoint for stage %s", st->name);
            goto out;
        }
        w.acks = nf_socket_open(w.zctx, ZMQ_PULL, bind_ep, true, 100000, err, sizeof(err));
        if (!w.acks) {
            nf_logf(NF_LOG_ERROR, "%s: stage '%s', ack_endpoint: %s", st->where, st->name, err);
            code = 2; /* cannot start: restarting would not help */
            goto out;
        }
        w.window = st->window;
        w.slots = calloc((size_t)w.window, sizeof(*w.slots));
        if (!w.slots)
            goto out;
        /* Sequence numbers carry this incarnation's epoch, so acknowledgements meant for an
         * earlier run of this worker never match a record of this one. */
        w.epoch = ((int64_t)time(NULL) ^ ((int64_t)getpid() << 8)) & ((1 << 22) - 1);
        w.n_ordered = ordered_before(cfg, cfg->n_stages); /* at most NF_ORDER_STAGES (config.c) */
        w.order_all = (uint8_t)((1u << w.n_ordered) - 1);
        for (int k = 0; k < NF_ORDER_STAGES; k++) {
            w.order_low[k] = INT64_MAX;
            w.order_gen[k] = -1;
        }
        w.order_dirty = true;
        if (w.n_ordered) {
            w.order_page = nf_order_open(cfg->run_dir, st->name, worker, err, sizeof(err));
            if (!w.order_page) {
                nf_logf(NF_LOG_ERROR, "%s (a stage has in_read_order)", err);
                goto out;
            }
        }
        nf_logf(NF_LOG_INFO, "source %s started (window %lld)", p->name, (long long)w.window);
        notify_ready();
        publish_stats(&w.ctx);
        code = run_source(&w);
    } else {
        size_t n_eps = 0;
        for (int s = 0; s < cfg->n_stages; s++)
            if (cfg->stages[s].n_inputs == 0)
                n_eps += (size_t)cfg->stages[s].workers;
        w.ack_eps = calloc(n_eps + 1, sizeof(*w.ack_eps));
        if (!w.ack_eps)
            goto out;
        for (int s = 0; s < cfg->n_stages; s++)
            for (int k = 0; cfg->stages[s].n_inputs == 0 && k < cfg->stages[s].workers; k++)
                if (nf_config_ack_endpoint(cfg, s, k, false, w.ack_eps[w.n_ack_eps],
                                           sizeof(w.ack_eps[0])) == 0)
                    w.n_ack_eps++;
        /* A direct stage's worker binds its own inbox; otherwise it joins the stage's broker. */
        char ep[512];
        bool direct = nf_config_direct(cfg, si);
        if ((direct ? nf_config_worker_inbox(cfg, si, worker, ep, sizeof(ep))
                    : nf_config_inbox(cfg, si, true, false, ep, sizeof(ep))) < 0) {
            nf_logf(NF_LOG_ERROR, "inbox endpoint of stage %s is too long", st->name);
            goto out;
        }
        w.in = nf_socket_open(w.zctx, ZMQ_PULL, ep, direct, st->hwm, err, sizeof(err));
        if (!w.in) {
            nf_logf(NF_LOG_ERROR, "%s", err);
            goto out;
        }
        if (st->in_read_order && order_start(&w) < 0)
            goto out;
        nf_logf(NF_LOG_DEBUG, "%s %s started", p->kind == NF_PLUGIN_SINK ? "sink" : "filter",
                p->name);
        notify_ready();
        publish_stats(&w.ctx);
        code = run_filter(&w);
    }
    sd_notify(0, "STOPPING=1");
    report_final(&w.ctx);
    for (int i = 0; i < w.n_links; i++)
        report_final(&w.links[i].ctx);
out:
    worker_free(&w);
    return code;
}

int nf_stage_main(const struct nf_config *cfg, const char *stage, int worker, bool once)
{
    int si = stage ? nf_config_stage_index(cfg, stage) : -1;
    if (si < 0) {
        fprintf(stderr, "newsflow: %s: no stage named '%s'\n", cfg->path, stage ? stage : "");
        return 2;
    }
    if (nf_config_head(cfg, si) != si) {
        fprintf(stderr, "newsflow: stage %s is fused (fuse = true): it runs inside the workers "
                        "of stage %s\n", stage, cfg->stages[nf_config_head(cfg, si)].name);
        return 2;
    }
    if (worker >= cfg->stages[si].workers) {
        fprintf(stderr, "newsflow: stage %s has %d workers; --worker %d is out of range\n", stage,
                cfg->stages[si].workers, worker);
        return 2;
    }
    return nf_stage_run(cfg, si, worker, once);
}
