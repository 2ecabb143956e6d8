/* Supervisor. Brokers run as threads of this process (they only move messages between sockets);
 * workers are child processes running `newsflow stage`, so a crashing plugin takes down one
 * worker, never the pipeline. Signals are taken synchronously with sigtimedwait: no handler
 * races with the bookkeeping. */
#include "supervisor.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <zmq.h>

#include "newsflow/log.h"
#include "transport.h"

struct child {
    int stage, worker;
    pid_t pid;
    bool source, done;
    int restarts;
    int64_t started, next_start;
    long maxrss_kb;
    double cpu_s; /* user + system CPU of all its runs */
    int last_status;
};

struct broker {
    pthread_t thread;
    void *zctx;
    char front[512], back[512];
    int hwm;
    const char *name;
    bool started;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *broker_main(void *arg)
{
    struct broker *b = arg;
    char err[512];
    if (nf_broker_run(b->zctx, b->front, b->back, b->hwm, err, sizeof(err)) < 0)
        nf_logf(NF_LOG_ERROR, "inbox of stage %s: %s", b->name, err);
    return NULL;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static struct broker *brokers_start(const struct nf_config *cfg, void *zctx, int *n_out)
{
    struct broker *b = calloc((size_t)cfg->n_stages + 1, sizeof(*b));
    int n = 0;
    for (int s = 0; b && s < cfg->n_stages; s++) {
        if (cfg->stages[s].n_inputs == 0)
            continue;
        struct broker *k = &b[n];
        k->zctx = zctx;
        k->hwm = cfg->stages[s].hwm;
        k->name = cfg->stages[s].name;
        if (nf_config_inbox(cfg, s, false, true, k->front, sizeof(k->front)) < 0 ||
            nf_config_inbox(cfg, s, true, true, k->back, sizeof(k->back)) < 0) {
            nf_logf(NF_LOG_ERROR, "stage %s: inbox endpoint too long for ipc; shorten run_dir "
                                  "(%s)", k->name, cfg->run_dir);
            continue;
        }
        if (pthread_create(&k->thread, NULL, broker_main, k) == 0)
            k->started = true;
        n++;
    }
    *n_out = n;
    return b;
}

static void brokers_stop(struct broker *b, int n, void *zctx)
{
    zmq_ctx_shutdown(zctx);
    for (int i = 0; i < n; i++)
        if (b[i].started)
            pthread_join(b[i].thread, NULL);
    free(b);
    zmq_ctx_term(zctx);
}

static pid_t spawn(const struct nf_config *cfg, const char *config_path, struct child *c,
                   char *const *tail, bool once, const sigset_t *oldmask)
{
    char worker[16];
    snprintf(worker, sizeof(worker), "%d", c->worker);
    const char *argv[256];
    int n = 0;
    argv[n++] = "newsflow";
    argv[n++] = "stage";
    argv[n++] = config_path;
    argv[n++] = cfg->stages[c->stage].name;
    argv[n++] = "--worker";
    argv[n++] = worker;
    if (once && c->source)
        argv[n++] = "--once";
    for (int i = 0; tail && tail[i] && n < 254; i++)
        argv[n++] = tail[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        execv("/proc/self/exe", (char *const *)argv);
        fprintf(stderr, "newsflow: exec of worker failed: %s\n", strerror(errno));
        _exit(127);
    }
    if (pid > 0) {
        c->pid = pid;
        c->started = mono_ms();
    }
    return pid;
}

int nf_supervisor_run(const struct nf_config *cfg, const char *config_path,
                      char *const *tail, bool once)
{
    nf_log_setup("supervisor", (enum nf_log_level)nf_log_level_parse(cfg->log_level));
    char err[2048];
    if (nf_config_check_plugins(cfg, err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        return 2;
    }
    if (mkdir_p(cfg->run_dir) < 0 || mkdir_p(cfg->state_dir) < 0) {
        nf_logf(NF_LOG_ERROR, "cannot create %s: %s", cfg->run_dir, strerror(errno));
        return 2;
    }
    int n_children = 0, n_sources = 0;
    for (int s = 0; s < cfg->n_stages; s++)
        n_children += cfg->stages[s].workers;
    struct child *kids = calloc((size_t)n_children, sizeof(*kids));
    if (!kids)
        return 1;
    int k = 0;
    for (int s = 0; s < cfg->n_stages; s++) {
        for (int w = 0; w < cfg->stages[s].workers; w++, k++) {
            kids[k] = (struct child){.stage = s, .worker = w,
                                     .source = cfg->stages[s].n_inputs == 0};
            n_sources += kids[k].source;
        }
    }

    sigset_t mask, oldmask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &oldmask);

    void *zctx = zmq_ctx_new();
    int n_brokers = 0;
    struct broker *brokers = brokers_start(cfg, zctx, &n_brokers);
    int64_t t0 = mono_ms();
    for (int i = 0; i < n_children; i++)
        spawn(cfg, config_path, &kids[i], tail, once, &oldmask);
    nf_logf(NF_LOG_INFO, "started %d workers of %d stages%s", n_children, cfg->n_stages,
            once ? " (until the input is exhausted)" : "");
    sd_notify(0, "READY=1");

    bool stopping = false, fatal = false;
    int phase = 0;
    int64_t kill_at = 0;
    for (;;) {
        struct timespec tick = {0, 100 * 1000000};
        int sig = sigtimedwait(&mask, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            if (!stopping)
                nf_logf(NF_LOG_INFO, "signal %d: draining", sig);
            stopping = true;
        } else if (sig == SIGHUP) {
            nf_logf(NF_LOG_INFO, "SIGHUP: restart the workers to reload the config");
            for (int i = 0; i < n_children; i++)
                if (kids[i].pid > 0)
                    kill(kids[i].pid, SIGTERM);
        }
        int status;
        struct rusage ru;
        pid_t pid;
        while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
            struct child *c = NULL;
            for (int i = 0; i < n_children && !c; i++)
                if (kids[i].pid == pid)
                    c = &kids[i];
            if (!c)
                continue;
            c->pid = 0;
            c->last_status = status;
            if (ru.ru_maxrss > c->maxrss_kb)
                c->maxrss_kb = ru.ru_maxrss;
            c->cpu_s += (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                        (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
            const char *name = cfg->stages[c->stage].name;
            bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (stopping)
                continue;
            if (clean && c->source && once) {
                c->done = true;
                continue;
            }
            if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
                nf_logf(NF_LOG_ERROR, "worker %s[%d] cannot start (see its error above); "
                                      "stopping", name, c->worker);
                stopping = fatal = true;
                continue;
            }
            if (mono_ms() - c->started > 30000)
                c->restarts = 0;
            int64_t delay = 100;
            for (int i = 0; i < c->restarts && delay < 10000; i++)
                delay *= 2;
            if (delay > 10000)
                delay = 10000;
            c->restarts++;
            c->next_start = mono_ms() + delay;
            if (WIFSIGNALED(status))
                nf_logf(NF_LOG_WARN, "worker %s[%d] killed by signal %d; restarting in %lld ms",
                        name, c->worker, WTERMSIG(status), (long long)delay);
            else
                nf_logf(NF_LOG_WARN, "worker %s[%d] exited with status %d; restarting in "
                                     "%lld ms", name, c->worker, WEXITSTATUS(status),
                        (long long)delay);
        }
        int64_t now = mono_ms();
        if (!stopping) {
            for (int i = 0; i < n_children; i++)
                if (!kids[i].pid && !kids[i].done && kids[i].next_start &&
                    now >= kids[i].next_start) {
                    kids[i].next_start = 0;
                    spawn(cfg, config_path, &kids[i], tail, once, &oldmask);
                }
            if (once && n_sources > 0) {
                int done = 0;
                for (int i = 0; i < n_children; i++)
                    done += kids[i].source && kids[i].done;
                if (done == n_sources) {
                    nf_logf(NF_LOG_INFO, "every source is exhausted and acknowledged after "
                                         "%.1f s; stopping", (double)(now - t0) / 1000);
                    stopping = true;
                }
            }
        }
        if (stopping) {
            int alive = 0;
            for (int i = 0; i < n_children; i++)
                alive += kids[i].pid > 0;
            if (!alive)
                break;
            /* Sources first: they stop intake and wait (up to grace_ms) for what they have in
             * flight to be acknowledged, while the other stages keep working on it. Then the
             * rest, which finish their batch and commit. */
            int sources_alive = 0;
            for (int i = 0; i < n_children; i++)
                sources_alive += kids[i].source && kids[i].pid > 0;
            if (phase == 0) {
                for (int i = 0; i < n_children; i++)
                    if (kids[i].source && kids[i].pid > 0)
                        kill(kids[i].pid, SIGTERM);
                phase = 1;
                kill_at = now + cfg->grace_ms + 2000;
            }
            if (phase == 1 && (sources_alive == 0 || now >= kill_at)) {
                for (int i = 0; i < n_children; i++)
                    if (kids[i].pid > 0)
                        kill(kids[i].pid, SIGTERM);
                phase = 2;
                kill_at = now + cfg->grace_ms + 2000;
            } else if (phase == 2 && now >= kill_at) {
                for (int i = 0; i < n_children; i++)
                    if (kids[i].pid > 0) {
                        nf_logf(NF_LOG_WARN, "worker %s[%d] did not stop in time: SIGKILL",
                                cfg->stages[kids[i].stage].name, kids[i].worker);
                        kill(kids[i].pid, SIGKILL);
                    }
                kill_at = now + 1000;
            }
        }
    }
    sd_notify(0, "STOPPING=1");
    brokers_stop(brokers, n_brokers, zctx);
    for (int i = 0; i < n_children; i++) {
        struct child *c = &kids[i];
        nf_logf(NF_LOG_INFO, "worker %s[%d]: peak RSS %.1f MiB, CPU %.2f s, restarts %d",
                cfg->stages[c->stage].name, c->worker, (double)c->maxrss_kb / 1024, c->cpu_s,
                c->restarts);
    }
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    nf_logf(NF_LOG_INFO, "supervisor and inbox brokers: peak RSS %.1f MiB",
            (double)self.ru_maxrss / 1024);
    free(kids);
    sigprocmask(SIG_SETMASK, &oldmask, NULL);
    return fatal ? 1 : 0;
}

int nf_brokers_run(const struct nf_config *cfg)
{
    nf_log_setup("broker", (enum nf_log_level)nf_log_level_parse(cfg->log_level));
    if (mkdir_p(cfg->run_dir) < 0) {
        nf_logf(NF_LOG_ERROR, "cannot create %s: %s", cfg->run_dir, strerror(errno));
        return 2;
    }
    sigset_t mask, oldmask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, &oldmask);
    void *zctx = zmq_ctx_new();
    int n = 0;
    struct broker *b = brokers_start(cfg, zctx, &n);
    nf_logf(NF_LOG_INFO, "%d inbox brokers running", n);
    sd_notify(0, "READY=1");
    int sig;
    sigwait(&mask, &sig);
    brokers_stop(b, n, zctx);
    return 0;
}
