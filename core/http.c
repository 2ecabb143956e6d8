/* The operator's HTTP endpoint (http.h). */
#include "http.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "deadletter.h"
#include "newsflow/log.h"
#include "stats.h"
#include "views.h"

extern const unsigned char nf_status_page[]; /* generated from core/status.html */

struct nf_http {
    struct MHD_Daemon *d;
    struct nf_view *view;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t rss_bytes(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "r");
    long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (int64_t)rss * sysconf(_SC_PAGESIZE);
}

/* A worker's page, when the worker that runs now wrote it. */
static bool page_of(const struct nf_view *v, const struct nf_view_worker *w,
                    struct nf_stats_page *p)
{
    return w->pid > 0 &&
           nf_stats_read(v->cfg->run_dir, v->cfg->stages[w->stage].name, w->worker, p) == 0 &&
           p->pid == w->pid;
}

/* The reasons the pipeline is unhealthy, into `problems` (a JSON array). */
static void health(const struct nf_view *v, json_t *problems)
{
    int64_t now = wall_ms();
    char msg[512];
    for (int s = 0; s < v->cfg->n_stages; s++) {
        const char *name = v->cfg->stages[s].name;
        int live = 0, done = 0, workers = 0;
        for (int i = 0; i < v->n; i++) {
            const struct nf_view_worker *w = &v->w[i];
            if (w->stage != s)
                continue;
            workers++;
            live += w->pid > 0;
            done += w->pid == 0 && w->done;
            if (w->recent_restarts >= 3) {
                snprintf(msg, sizeof(msg), "worker %s[%d] restarted %d times in the last minute",
                         name, w->worker, w->recent_restarts);
                json_array_append_new(problems, json_string(msg));
            }
            struct nf_stats_page p;
            if (!page_of(v, w, &p) || !p.updated_ms)
                continue;
            if (now - p.updated_ms > v->health_stuck_ms) {
                snprintf(msg, sizeof(msg), "worker %s[%d] (pid %d) has not moved for %lld s: "
                                           "stopped or hung",
                         name, w->worker, (int)w->pid, (long long)(now - p.updated_ms) / 1000);
                json_array_append_new(problems, json_string(msg));
            } else if (p.blocked_since_ms && now - p.blocked_since_ms > v->health_stuck_ms) {
                /* alive, but held up: the stage it sends to is where to look */
                snprintf(msg, sizeof(msg), "worker %s[%d] has waited %lld s to send to stage %s, "
                                           "which takes nothing",
                         name, w->worker, (long long)(now - p.blocked_since_ms) / 1000,
                         p.blocked_on);
                json_array_append_new(problems, json_string(msg));
            }
        }
        if (workers && !live && done < workers) {
            snprintf(msg, sizeof(msg), "stage %s has no live worker", name);
            json_array_append_new(problems, json_string(msg));
        }
    }
    int64_t waiting = 0;
    for (int i = 0; i < v->n; i++) {
        struct nf_stats_page p;
        if (page_of(v, &v->w[i], &p))
            waiting += p.in_flight;
    }
    if (waiting > 0 && v->moved_at_ms && now - v->moved_at_ms > v->health_stuck_ms) {
        snprintf(msg, sizeof(msg), "%lld records waiting and nothing moved for %lld s",
                 (long long)waiting, (long long)(now - v->moved_at_ms) / 1000);
        json_array_append_new(problems, json_string(msg));
    }
}

/* ---- /metrics ------------------------------------------------------------------------------- */

static void label(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

static char *metrics(const struct nf_view *v, size_t *len)
{
    char *out = NULL;
    FILE *f = open_memstream(&out, len);
    if (!f)
        return NULL;
    fputs("# HELP newsflow_worker_count_total What a worker counted since it started: in, out, "
          "acked, dead, resent (replayed) and each plugin's own counts.\n"
          "# TYPE newsflow_worker_count_total counter\n", f);
    for (int i = 0; i < v->n; i++) {
        const struct nf_view_worker *w = &v->w[i];
        struct nf_stats_page p;
        if (!page_of(v, w, &p))
            continue;
        for (int k = 0; k < p.n_counters; k++) {
            fputs("newsflow_worker_count_total{stage=\"", f);
            label(f, p.stage);
            fprintf(f, "\",worker=\"%d\",count=\"", w->worker);
            label(f, p.counters[k].name);
            fprintf(f, "\"} %lld\n", (long long)p.counters[k].value);
        }
    }
    struct {
        const char *name, *help, *type;
    } gauges[] = {
        {"newsflow_worker_up", "1 when the worker runs.", "gauge"},
        {"newsflow_worker_restarts_total", "Restarts of the worker by the supervisor.", "counter"},
        {"newsflow_worker_in_flight", "Sources: records sent and not yet acknowledged.", "gauge"},
        {"newsflow_worker_journal_bytes", "Sources: size of the journal.", "gauge"},
        {"newsflow_worker_rss_bytes", "Resident memory of the worker.", "gauge"},
        {"newsflow_worker_updated_time_seconds", "When the worker last updated its numbers.",
         "gauge"},
    };
    for (size_t g = 0; g < sizeof(gauges) / sizeof(gauges[0]); g++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", gauges[g].name, gauges[g].help,
                gauges[g].name, gauges[g].type);
        for (int i = 0; i < v->n; i++) {
            const struct nf_view_worker *w = &v->w[i];
            struct nf_stats_page p;
            bool have = page_of(v, w, &p);
            double val = g == 0   ? (w->pid > 0)
                         : g == 1 ? w->restarts
                         : !have  ? -1
                         : g == 2 ? (double)p.in_flight
                         : g == 3 ? (double)p.journal_bytes
                         : g == 4 ? (double)rss_bytes(w->pid)
                                  : (double)p.updated_ms / 1000;
            if (val < 0)
                continue;
            fprintf(f, "%s{stage=\"", gauges[g].name);
            label(f, v->cfg->stages[w->stage].name);
            fprintf(f, "\",worker=\"%d\"} %.17g\n", w->worker, val);
        }
    }
    fputs("# HELP newsflow_worker_process_seconds Time the plugin took per record.\n"
          "# TYPE newsflow_worker_process_seconds histogram\n", f);
    for (int i = 0; i < v->n; i++) {
        const struct nf_view_worker *w = &v->w[i];
        struct nf_stats_page p;
        if (!page_of(v, w, &p))
            continue;
        int64_t cum = 0;
        for (int b = 0; b < NF_STATS_BUCKETS; b++) {
            cum += p.latency[b];
            fputs("newsflow_worker_process_seconds_bucket{stage=\"", f);
            label(f, p.stage);
            if (b < NF_STATS_BUCKETS - 1)
                fprintf(f, "\",worker=\"%d\",le=\"%g\"} %lld\n", w->worker,
                        (double)nf_stats_bucket_us[b] / 1e6, (long long)cum);
            else
                fprintf(f, "\",worker=\"%d\",le=\"+Inf\"} %lld\n", w->worker, (long long)cum);
        }
        fputs("newsflow_worker_process_seconds_sum{stage=\"", f);
        label(f, p.stage);
        fprintf(f, "\",worker=\"%d\"} %.6f\n", w->worker, (double)p.latency_sum_us / 1e6);
        fputs("newsflow_worker_process_seconds_count{stage=\"", f);
        label(f, p.stage);
        fprintf(f, "\",worker=\"%d\"} %lld\n", w->worker, (long long)cum);
    }
    fclose(f);
    return out;
}

/* ---- /status.json --------------------------------------------------------------------------- */

struct last_dead {
    json_t *ring[10];
    int n;
};

static int keep_dead(void *arg, const struct nf_dead_letter *dl)
{
    struct last_dead *L = arg;
    if (dl->damaged)
        return 0;
    json_t *o = json_pack("{s:s?,s:s?,s:s?,s:s?,s:s?}", "at", dl->at, "stage", dl->stage, "id",
                          dl->id, "source", dl->source_uri, "error", dl->error);
    if (!o)
        return 0;
    int slot = L->n % 10;
    if (L->ring[slot])
        json_decref(L->ring[slot]);
    L->ring[slot] = o;
    L->n++;
    return 0;
}

static void add_story(void *arg, const char *story, int n, const char *title)
{
    json_array_append_new(arg, json_pack("{s:s?,s:i,s:s?}", "story", story, "articles", n,
                                         "title", title));
}

/* What the page shows from the stores, not from the view: the latest dead letters (only the
 * newest rows are read) and the largest recent stories. Read at most every NF_EXTRAS_MS, so
 * that a page left open on a large store does not keep the view's lock (and with it /metrics,
 * /health and the supervisor's refresh) busy. Called under the view's lock: a reload may free
 * the configuration it reads. */
#define NF_EXTRAS_MS 2000

static pthread_mutex_t extras_mu = PTHREAD_MUTEX_INITIALIZER;
static json_t *extras_cached;
static int64_t extras_at;

static json_t *status_extras(const struct nf_config *cfg)
{
    pthread_mutex_lock(&extras_mu);
    int64_t now = wall_ms();
    if (!extras_cached || now - extras_at >= NF_EXTRAS_MS || now < extras_at) {
        json_t *o = json_object();
        struct last_dead L = {{0}, 0};
        char err[256];
        int64_t total = nf_dlq_latest(cfg->deadletter, 10, keep_dead, &L, err, sizeof(err));
        json_t *dead = json_array();
        int have = L.n < 10 ? L.n : 10;
        for (int i = 0; i < have; i++) /* newest first */
            json_array_append_new(dead, L.ring[((L.n - 1 - i) % 10 + 10) % 10]);
        json_object_set_new(o, "dead_letters", dead);
        json_object_set_new(o, "dead_letters_total", json_integer(total < 0 ? L.n : total));
        json_t *stories = json_array();
        nf_recent_stories(cfg, 2000, 8, add_story, stories);
        json_object_set_new(o, "stories", stories);
        json_decref(extras_cached);
        extras_cached = o;
        extras_at = now;
    }
    json_t *o = json_incref(extras_cached);
    pthread_mutex_unlock(&extras_mu);
    return o;
}

static char *status_json(const struct nf_view *v, json_t *extras, size_t *len)
{
    json_t *root = json_object(), *stages = json_array();
    json_object_set_new(root, "time_ms", json_integer(wall_ms()));
    json_object_set_new(root, "stages", stages);
    for (int s = 0; s < v->cfg->n_stages; s++) {
        const struct nf_stage_conf *st = &v->cfg->stages[s];
        json_t *o = json_object(), *inputs = json_array(), *workers = json_array();
        json_object_set_new(o, "name", json_string(st->name));
        json_object_set_new(o, "plugin", json_string(st->plugin));
        for (int i = 0; i < st->n_inputs; i++)
            json_array_append_new(inputs, json_string(st->inputs[i]));
        json_object_set_new(o, "inputs", inputs);
        json_object_set_new(o, "workers", workers);
        for (int i = 0; i < v->n; i++) {
            const struct nf_view_worker *w = &v->w[i];
            if (w->stage != s)
                continue;
            struct nf_stats_page p;
            bool have = page_of(v, w, &p);
            json_t *wo = json_pack("{s:i,s:i,s:b,s:i}", "worker", w->worker, "pid", (int)w->pid,
                                   "up", w->pid > 0, "restarts", w->restarts);
            if (have) {
                json_t *counts = json_object();
                for (int k = 0; k < p.n_counters; k++)
                    json_object_set_new(counts, p.counters[k].name,
                                        json_integer(p.counters[k].value));
                json_object_set_new(wo, "counts", counts);
                json_object_set_new(wo, "in_flight", json_integer(p.in_flight));
                json_object_set_new(wo, "journal_bytes", json_integer(p.journal_bytes));
                if (p.exhausted) /* a finite source that has read all its input */
                    json_object_set_new(wo, "exhausted", json_true());
                json_object_set_new(wo, "rss", json_integer(rss_bytes(w->pid)));
                if (p.total >= 0) {
                    json_object_set_new(wo, "done", json_integer(p.done));
                    json_object_set_new(wo, "total", json_integer(p.total));
                    json_object_set_new(wo, "unit", json_string(p.unit));
                }
            }
            json_array_append_new(workers, wo);
        }
        json_array_append_new(stages, o);
    }
    json_object_update(root, extras);
    json_t *problems = json_array();
    health(v, problems);
    json_object_set_new(root, "healthy", json_boolean(json_array_size(problems) == 0));
    json_object_set_new(root, "problems", problems);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    *len = text ? strlen(text) : 0;
    return text;
}

/* ---- the server ----------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; style-src "
                            "'unsafe-inline'; connect-src 'self'; img-src data:");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)con_cls;
    struct nf_http *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, "text/plain", "only GET\n", 9, MHD_RESPMEM_PERSISTENT);
    if (*upload_size)
        return reply(c, 400, "text/plain", "no body\n", 8, MHD_RESPMEM_PERSISTENT);
    struct nf_view *v = h->view;
    pthread_mutex_lock(&v->mu);
    json_t *extras = strcmp(url, "/status.json") == 0 ? status_extras(v->cfg) : NULL;
    enum MHD_Result rc;
    size_t len = 0;
    if (strcmp(url, "/metrics") == 0) {
        char *body = metrics(v, &len);
        rc = body ? reply(c, 200, "text/plain; version=0.0.4", body, len, MHD_RESPMEM_MUST_FREE)
                  : reply(c, 500, "text/plain", "out of memory\n", 14, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/health") == 0) {
        json_t *problems = json_array();
        health(v, problems);
        bool ok = json_array_size(problems) == 0;
        json_t *o = json_pack("{s:b,s:o}", "healthy", ok, "problems", problems);
        char *body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        rc = reply(c, ok ? 200 : 503, "application/json", body, body ? strlen(body) : 0,
                   MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(url, "/ready") == 0) {
        bool ready = v->started && !v->stopping;
        for (int i = 0; i < v->n && ready; i++)
            ready = v->w[i].pid > 0 || v->w[i].done;
        rc = ready ? reply(c, 200, "text/plain", "ready\n", 6, MHD_RESPMEM_PERSISTENT)
                   : reply(c, 503, "text/plain", "not ready\n", 10, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/status.json") == 0) {
        char *body = extras ? status_json(v, extras, &len) : NULL;
        rc = reply(c, body ? 200 : 500, "application/json", body, len, MHD_RESPMEM_MUST_FREE);
    } else if (strcmp(url, "/") == 0) {
        rc = reply(c, 200, "text/html; charset=utf-8", (void *)nf_status_page,
                   strlen((const char *)nf_status_page), MHD_RESPMEM_PERSISTENT);
    } else {
        rc = reply(c, 404, "text/plain", "not found: /, /metrics, /health, /ready, "
                                         "/status.json\n", 53, MHD_RESPMEM_PERSISTENT);
    }
    pthread_mutex_unlock(&v->mu);
    json_decref(extras);
    return rc;
}

struct nf_http *nf_http_start(struct nf_view *view, const char *addr, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    size_t sl;
    if (nf_config_http_addr(addr, &ss, &sl) < 0) {
        snprintf(err, errlen, "http %s: not ADDRESS:PORT", addr);
        return NULL;
    }
    struct nf_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->view = view;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    h->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
                            10u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
                            MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "http %s: cannot listen there (%s)", addr,
                 errno ? strerror(errno) : "address in use or not on this host");
        free(h);
        return NULL;
    }
    return h;
}

void nf_http_stop(struct nf_http **ph)
{
    if (!ph || !*ph)
        return;
    MHD_stop_daemon((*ph)->d);
    free(*ph);
    *ph = NULL;
}
