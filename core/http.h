/* The operator's HTTP endpoint of the supervisor (libmicrohttpd), off unless `http` is set:
 *   /metrics      Prometheus text: per stage and worker, records in/out, acknowledged, dead-
 *                 lettered, replayed, every plugin count, restarts, in-flight window, journal
 *                 bytes, RSS and a histogram of the plugin's time per record;
 *   /health       200 when every stage has a live worker, none restarts in a loop and nothing
 *                 is stuck (records waiting and no worker moving for health_stuck_ms); 503 with
 *                 the reasons otherwise;
 *   /ready        200 once every worker runs;
 *   /status.json  what the page shows;
 *   /             one self-contained page: the pipeline as a graph, each stage's rate, in-flight
 *                 records, errors and workers, updated live, and the latest dead letters.
 * Handlers run on the server's own thread and read the supervisor's view (struct nf_view),
 * which the supervisor refreshes under its mutex, and the workers' stats pages. */
#ifndef NF_HTTP_H
#define NF_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

struct nf_view_worker {
    int stage; /* index in the view's config */
    int worker;
    pid_t pid; /* 0: not running */
    int restarts;        /* all its restarts */
    int recent_restarts; /* crash restarts in the last minute */
    bool done;           /* a finite source that has finished */
};

struct nf_view {
    pthread_mutex_t mu;
    const struct nf_config *cfg; /* the current generation's */
    struct nf_view_worker *w;
    int n;
    bool started, stopping;
    int64_t health_stuck_ms;
    /* what moved last: the sum of every worker's counters, and when it changed */
    int64_t moved_sum, moved_at_ms;
};

struct nf_http;

/* Listens on cfg->http (ADDRESS:PORT). NULL with the reason in err. */
struct nf_http *nf_http_start(struct nf_view *view, const char *addr, char *err, size_t errlen);
void nf_http_stop(struct nf_http **h);

/* Parses "ADDRESS:PORT" or "PORT" (then 127.0.0.1) into a socket address. Returns 0 or -1. */
int nf_http_parse_addr(const char *text, void *sockaddr_out, size_t *len_out);

#endif
