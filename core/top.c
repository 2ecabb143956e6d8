/* newsflow top (top.h). */
#include "top.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/select.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "newsflow/plugin.h"

#include "stats.h"

static volatile sig_atomic_t top_stop;

static void on_signal(int sig)
{
    (void)sig;
    top_stop = 1;
}

struct seen {
    int64_t in, out;
};

static int64_t moved(const struct nf_stats_page *p)
{
    return nf_stats_count(p, "in") ? nf_stats_count(p, "in") : nf_stats_count(p, "out");
}

static void draw(FILE *out, const struct nf_config *cfg, struct seen *last, double dt, bool tty)
{
    if (tty)
        fputs("\x1b[H\x1b[2J", out); /* home, clear */
    time_t now = time(NULL);
    struct tm tm;
    char stamp[32];
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(out, "newsflow top  %s  %s UTC\n\n", cfg->path, stamp);
    fprintf(out, "%-16s %3s %8s %10s %10s %9s %9s %7s %8s %9s  %s\n", "stage", "w", "pid", "in",
            "out", "rec/s", "in flight", "dead", "RSS MiB", "p.time us", "waits for");
    int k = 0;
    for (int s = 0; s < cfg->n_stages; s++) {
        const struct nf_stage_conf *st = &cfg->stages[s];
        for (int w = 0; w < st->workers; w++, k++) {
            struct nf_stats_page p;
            bool up = nf_stats_read(cfg->run_dir, st->name, w, &p) == 0 && p.pid > 0 &&
                      kill(p.pid, 0) == 0;
            if (!up) {
                fprintf(out, "%-16.16s %3d %8s\n", st->name, w, "down");
                last[k] = (struct seen){0, 0};
                continue;
            }
            int64_t m = moved(&p);
            double rate = dt > 0 && m >= last[k].in ? (double)(m - last[k].in) / dt : 0;
            int64_t n = 0;
            for (int b = 0; b < NF_STATS_BUCKETS; b++)
                n += p.latency[b];
            char rss[32] = "-";
            char path[64];
            snprintf(path, sizeof(path), "/proc/%d/statm", (int)p.pid);
            FILE *f = fopen(path, "r");
            long size, res;
            if (f) {
                if (fscanf(f, "%ld %ld", &size, &res) == 2)
                    snprintf(rss, sizeof(rss), "%.1f",
                             (double)res * (double)sysconf(_SC_PAGESIZE) / 1048576);
                fclose(f);
            }
            /* held up sending: to which stage, for how long (stats.h) */
            char waits[96] = "";
            if (p.blocked_since_ms && p.blocked_on[0])
                snprintf(waits, sizeof(waits), "%.40s %.1f s", p.blocked_on,
                         (double)(nf_now_ms() - p.blocked_since_ms) / 1000);
            fprintf(out, "%-16.16s %3d %8d %10lld %10lld %9.0f %9lld %7lld %8s %9.0f  %s\n",
                    st->name, w, (int)p.pid, (long long)nf_stats_count(&p, "in"),
                    (long long)(nf_stats_count(&p, "out") + nf_stats_count(&p, "stored")), rate,
                    (long long)p.in_flight, (long long)nf_stats_count(&p, "dead"), rss,
                    n ? (double)p.latency_sum_us / (double)n : 0.0, waits);
            last[k].in = m;
        }
    }
    if (tty)
        fputs("\n(q or Ctrl-C ends)\n", out);
    fflush(out);
}

int nf_top(const struct nf_config *cfg, int seconds)
{
    int total = 0;
    for (int s = 0; s < cfg->n_stages; s++)
        total += cfg->stages[s].workers;
    struct seen *last = calloc((size_t)total + 1, sizeof(*last));
    if (!last)
        return 1;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    bool tty = isatty(STDOUT_FILENO) == 1;
    time_t until = seconds > 0 ? time(NULL) + seconds : 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    FILE *null = fopen("/dev/null", "w"); /* the first look only sets where rates start */
    if (null) {
        draw(null, cfg, last, 0, false);
        fclose(null);
    }
    for (int round = 0; !top_stop && (!until || time(NULL) < until); round++) {
        /* a second, or a key: q ends */
        fd_set in;
        FD_ZERO(&in);
        if (tty)
            FD_SET(STDIN_FILENO, &in);
        struct timeval tv = {1, 0};
        if (select(tty ? 1 : 0, &in, NULL, NULL, &tv) > 0 && FD_ISSET(STDIN_FILENO, &in)) {
            char c;
            if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
                break;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        t0 = t1;
        if (!tty) {
            draw(stdout, cfg, last, dt, false);
            break;
        }
        draw(stdout, cfg, last, dt, true);
    }
    free(last);
    return 0;
}
