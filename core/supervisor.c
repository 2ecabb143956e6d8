/* Supervisor. Brokers run as threads of this process (they only move messages between sockets);
 * workers are child processes running `newsflow stage`, so a crashing plugin takes down one
 * worker, never the pipeline. Signals are taken synchronously with sigtimedwait: no handler
 * races with the bookkeeping.
 *
 * Generations: every config the supervisor has validated is a generation, kept as a snapshot of
 * its text under run_dir that the workers of that generation read. Editing the file on disk
 * changes nothing until a reload has validated it, so a worker restarted after a crash never
 * reads a half-edited config. A reload starts a new generation and restarts only the stages
 * whose settings changed; the others carry on and move to the new generation. */
#include "supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <zmq.h>

#include "http.h"
#include "newsflow/log.h"
#include "security.h"
#include "stats.h"
#include "statedir.h"
#include "transport.h"

/* ---- generations ---------------------------------------------------------------------------- */

struct gen {
    struct nf_config *cfg;
    char snapshot[PATH_MAX];
    int id;
    int refs; /* children that belong to it, plus one while it is the current one */
};

static char *read_text(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read the config: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 8192, len = 0;
    char *text = malloc(cap);
    while (text) {
        size_t n = fread(text + len, 1, cap - len - 1, f);
        len += n;
        if (len + 1 < cap)
            break;
        if (cap >= (size_t)16 << 20) {
            snprintf(err, errlen, "%s: config larger than 16 MiB", path);
            free(text);
            text = NULL;
            break;
        }
        char *t = realloc(text, cap * 2);
        if (!t) {
            free(text);
            text = NULL;
        }
        text = t;
        cap *= 2;
    }
    if (text)
        text[len] = '\0';
    else if (!err[0])
        snprintf(err, errlen, "out of memory");
    fclose(f);
    return text;
}

/* Reads, validates and snapshots the config: everything `check` checks, before anything of the
 * running pipeline is touched. NULL with the reason in err. */
static struct gen *gen_load(const char *config_path, char *const *sets, int n_sets, int id,
                            char *err, size_t errlen)
{
    err[0] = '\0';
    char *text = read_text(config_path, err, errlen);
    if (!text)
        return NULL;
    struct gen *g = calloc(1, sizeof(*g));
    struct nf_config *cfg =
        g ? nf_config_load_text(config_path, text, sets, n_sets, err, errlen) : NULL;
    if (!cfg || nf_config_check_plugins(cfg, err, errlen) < 0 ||
        nf_dir_private(cfg->state_dir, "state_dir", err, errlen) < 0 ||
        nf_dir_private(cfg->run_dir, "run_dir", err, errlen) < 0)
        goto fail;
    snprintf(g->snapshot, sizeof(g->snapshot), "%s/config.%d", cfg->run_dir, id);
    int fd = open(g->snapshot, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        snprintf(err, errlen, "cannot write %.1024s: %s", g->snapshot,
                 errno == ENOSPC ? "the disk is full" : strerror(errno));
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    close(fd);
    g->cfg = cfg;
    g->id = id;
    g->refs = 1;
    free(text);
    return g;
fail:
    nf_config_destroy(&cfg);
    free(g);
    free(text);
    if (!err[0])
        snprintf(err, errlen, "out of memory");
    return NULL;
}

static void gen_unref(struct gen *g)
{
    if (!g || --g->refs > 0)
        return;
    unlink(g->snapshot);
    nf_config_destroy(&g->cfg);
    free(g);
}

/* ---- placement -------------------------------------------------------------------------------- */

static bool in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

int nf_placement_check(const struct nf_config *cfg, const char *list, const char *what,
                       char *err, size_t errlen)
{
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        int len = (int)(e ? (size_t)(e - p) : strlen(p));
        char name[128];
        snprintf(name, sizeof(name), "%.*s", len, p);
        if (nf_config_stage_index(cfg, name) < 0) {
            snprintf(err, errlen, "%s: no stage named '%s' in %s", what, name, cfg->path);
            return -1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static bool runs_here(const struct nf_placement *where, const char *stage)
{
    return !where || !where->stages || in_list(where->stages, stage);
}

/* Whether this host serves a stage's inbox: named in --inboxes, or else an ipc inbox, or a tcp
 * one whose address (or listen address) is one of this host's. */
static bool inbox_here(const struct nf_placement *where, const struct nf_config *cfg, int s)
{
    const struct nf_stage_conf *st = &cfg->stages[s];
    if (nf_config_direct(cfg, s))
        return false; /* its workers are their own inboxes */
    if (where && where->inboxes)
        return in_list(where->inboxes, st->name);
    if (!st->endpoint)
        return true;
    return nf_endpoint_is_local(st->endpoint, st->listen);
}

/* ---- inbox brokers -------------------------------------------------------------------------- */

struct broker {
    pthread_t thread;
    void *zctx;
    void *ctl; /* our end of the control pair */
    char front[512], back[512], ctl_ep[64];
    char name[128];
    int hwm;
    bool started;
    int failed; /* set by its thread when it could not bind: the pipeline cannot run */
};

static void *broker_main(void *arg)
{
    struct broker *b = arg;
    char err[512];
    if (nf_broker_run_ctl(b->zctx, b->front, b->back, b->hwm, b->ctl ? b->ctl_ep : NULL, err,
                          sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "inbox of stage %s: %s", b->name, err);
        __atomic_store_n(&b->failed, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* Starts the inbox of stage s; NULL when the stage has none or it cannot start (logged). */
static struct broker *broker_start(const struct nf_config *cfg, int s, void *zctx, bool ctl)
{
    static int serial;
    const struct nf_stage_conf *st = &cfg->stages[s];
    if (st->n_inputs == 0 || nf_config_direct(cfg, s))
        return NULL;
    struct broker *b = calloc(1, sizeof(*b));
    if (!b) {
        nf_logf(NF_LOG_ERROR, "stage %s: out of memory for its inbox", st->name);
        return NULL;
    }
    b->zctx = zctx;
    b->hwm = st->hwm;
    snprintf(b->name, sizeof(b->name), "%s", st->name);
    if (nf_config_inbox(cfg, s, false, true, b->front, sizeof(b->front)) < 0 ||
        nf_config_inbox(cfg, s, true, true, b->back, sizeof(b->back)) < 0) {
        nf_logf(NF_LOG_ERROR, "stage %s: inbox endpoint too long for ipc; shorten run_dir "
                              "(%s)", st->name, cfg->run_dir);
        free(b);
        return NULL;
    }
    if (ctl) {
        snprintf(b->ctl_ep, sizeof(b->ctl_ep), "inproc://nf-inbox-ctl-%d", serial++);
        b->ctl = zmq_socket(zctx, ZMQ_PAIR);
        if (!b->ctl || zmq_bind(b->ctl, b->ctl_ep) != 0) {
            nf_logf(NF_LOG_ERROR, "stage %s: inbox control socket: %s", st->name,
                    zmq_strerror(errno));
            if (b->ctl)
                zmq_close(b->ctl);
            free(b);
            return NULL;
        }
    }
    int rc = pthread_create(&b->thread, NULL, broker_main, b);
    if (rc != 0) {
        nf_logf(NF_LOG_ERROR, "stage %s: cannot start its inbox thread: %s", st->name,
                strerror(rc));
        if (b->ctl)
            zmq_close(b->ctl);
        free(b);
        return NULL;
    }
    b->started = true;
    return b;
}

/* Stops one inbox while the others run (what it holds is lost; the sources replay it). */
static void broker_stop(struct broker *b)
{
    if (!b)
        return;
    if (b->ctl) {
        /* its end of the pair is connected once its sockets are bound; a broker that could
         * not bind has ended without connecting it */
        while (zmq_send(b->ctl, "TERMINATE", 9, ZMQ_DONTWAIT) < 0 &&
               !__atomic_load_n(&b->failed, __ATOMIC_ACQUIRE))
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        pthread_join(b->thread, NULL);
        zmq_close(b->ctl);
    }
    free(b);
}

/* ---- workers ---------------------------------------------------------------------------------- */

struct child {
    struct gen *gen;
    int stage, worker;
    char name[128]; /* the stage's name: stays valid whatever generation goes */
    pid_t pid;
    bool source, done;
    bool retire; /* stopped by a reload: not restarted, its exit is no crash */
    int restarts;  /* crashes in a row (reset once a run lasted) */
    int restarted; /* every restart, for the report */
    int64_t started, next_start;
    long maxrss_kb;
    double cpu_s; /* user + system CPU of all its runs */
    /* counts of its earlier runs (its stats page starts from zero at each start), and of the
     * running one as last read */
    int64_t base[5], seen[5];
    bool failed; /* a source whose finite run produced nothing but failures */
    int64_t crash_at[8]; /* when its last crashes were (a ring), for /health */
    int n_crash;
};

/* What the progress and summary lines add up, by counter name. */
static const char *const tally_names[5] = {"out", "stored", "dup", "story_new", "dead"};
enum { T_READ, T_STORED, T_DUP, T_STORIES, T_DEAD };

struct sup {
    const struct nf_placement *where;
    char worker_exe[PATH_MAX]; /* newsflow-stage beside this command, or /proc/self/exe */
    struct nf_view view; /* what the HTTP endpoint shows */
    struct nf_http *http;
    int64_t view_next;
    const char *config_path;
    bool tty;                 /* stderr is a terminal: one refreshed progress line */
    int64_t progress_next;    /* when the next progress line is due */
    int64_t gone[5];          /* the tally of workers a reload removed (progress, summary) */
    bool progress_shown;
    char *const *tail;
    char **sets;
    int n_sets;
    bool once;
    sigset_t oldmask;
    pid_t self;
    struct gen *cur;
    int next_gen;
    struct child *kids;
    int n_kids, cap_kids;
    struct broker **brokers; /* by stage index of the current generation */
    void *zctx;
    struct nf_acker *notices; /* to sources on other hosts (resend_early); NULL until one */
    int64_t t0;
    bool fatal;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct child *child_add(struct sup *S, struct gen *g, int stage, int worker)
{
    if (S->n_kids == S->cap_kids) {
        int cap = S->cap_kids ? S->cap_kids * 2 : 16;
        struct child *k = realloc(S->kids, sizeof(*k) * (size_t)cap);
        if (!k)
            return NULL;
        S->kids = k;
        S->cap_kids = cap;
    }
    struct child *c = &S->kids[S->n_kids++];
    *c = (struct child){.gen = g, .stage = stage, .worker = worker,
                        .source = g->cfg->stages[stage].n_inputs == 0, .next_start = 1};
    snprintf(c->name, sizeof(c->name), "%s", g->cfg->stages[stage].name);
    g->refs++;
    return c;
}

/* Reads a child's stats page into c->seen (what its current run counted so far). */
static void child_read(const struct sup *S, struct child *c, struct nf_stats_page *page)
{
    if (nf_stats_read(c->gen->cfg->run_dir, c->name, c->worker, page) < 0 ||
        (c->pid > 0 && page->pid != c->pid))
        return;
    for (int i = 0; i < 5; i++)
        c->seen[i] = nf_stats_count(page, tally_names[i]);
    (void)S;
}

static void child_report(const struct child *c)
{
    nf_logf(NF_LOG_INFO, "worker %s[%d]: peak RSS %.1f MiB, CPU %.2f s, restarts %d", c->name,
            c->worker, (double)c->maxrss_kb / 1024, c->cpu_s, c->restarted);
}

static void child_remove(struct sup *S, int i)
{
    /* what it did still counts in the run's progress and summary (read: sources only) */
    for (int k = 0; k < 5; k++)
        if (k != T_READ || S->kids[i].source)
            S->gone[k] += S->kids[i].base[k] + S->kids[i].seen[k];
    gen_unref(S->kids[i].gen);
    S->kids[i] = S->kids[--S->n_kids];
}

/* A retiring worker of the same stage still runs: the new one waits (journal, ack socket). */
static bool stage_busy(const struct sup *S, const struct child *c)
{
    for (int i = 0; i < S->n_kids; i++)
        if (S->kids[i].retire && S->kids[i].pid > 0 && strcmp(S->kids[i].name, c->name) == 0)
            return true;
    return false;
}

/* Workers run newsflow-stage when it is beside this command (the same stage host without the
 * libraries only the supervisor and the views use: less memory in every worker), else this
 * program's own `stage` command. Its argv[0] stays "newsflow", so ps shows "newsflow stage". */
static void find_worker_exe(struct sup *S)
{
    snprintf(S->worker_exe, sizeof(S->worker_exe), "/proc/self/exe");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash || (size_t)(slash - exe) + 16 >= sizeof(exe))
        return;
    strcpy(slash + 1, "newsflow-stage");
    if (access(exe, X_OK) == 0)
        snprintf(S->worker_exe, sizeof(S->worker_exe), "%s", exe);
}

static void spawn(struct sup *S, struct child *c)
{
    const struct nf_config *cfg = c->gen->cfg;
    char worker[16];
    snprintf(worker, sizeof(worker), "%d", c->worker);
    const char *argv[264];
    int n = 0;
    argv[n++] = "newsflow";
    argv[n++] = "stage";
    argv[n++] = S->config_path;
    argv[n++] = cfg->stages[c->stage].name;
    argv[n++] = "--worker";
    argv[n++] = worker;
    argv[n++] = "--snapshot";
    argv[n++] = c->gen->snapshot;
    if (S->once && c->source)
        argv[n++] = "--once";
    for (int i = 0; S->tail && S->tail[i] && n < 262; i++)
        argv[n++] = S->tail[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        /* A worker never outlives its supervisor: what it had in flight is in the journal. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != S->self)
            _exit(1);
        sigprocmask(SIG_SETMASK, &S->oldmask, NULL);
        execv(S->worker_exe, (char *const *)argv);
        fprintf(stderr, "newsflow: exec of worker failed: %s\n", strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        int64_t delay = 1000;
        nf_logf(NF_LOG_ERROR, "cannot start worker %s[%d]: fork: %s; trying again in %lld ms",
                c->name, c->worker, strerror(errno), (long long)delay);
        c->next_start = mono_ms() + delay;
        return;
    }
    c->pid = pid;
    c->next_start = 0;
    c->started = mono_ms();
}

/* A crashed worker: when to start it again. A run that lasted a second made progress, so the
 * next start is prompt; only crashes in a row (a worker that cannot stay up) back off, up to
 * 10 s. A worker killed from outside again and again still restarts within 100 ms. */
static int64_t restart_delay(struct child *c, int status, int64_t now)
{
    bool lasted = now - c->started >= 1000;
    bool outside = WIFSIGNALED(status) &&
                   (WTERMSIG(status) == SIGKILL || WTERMSIG(status) == SIGTERM ||
                    WTERMSIG(status) == SIGINT);
    if (lasted || outside)
        c->restarts = 0;
    int64_t delay = 100;
    for (int i = 0; i < c->restarts && delay < 10000; i++)
        delay *= 2;
    c->restarts++;
    c->restarted++;
    return delay > 10000 ? 10000 : delay;
}

/* A worker that died or was stopped took the records it held with it; the sources would resend
 * them only when their acknowledgements are overdue (ack_timeout_ms), and a stage in read order
 * waits for them until then. The sources, on this host and on others, are told to resend what
 * they sent before and is a second old, once the pipes to the dead worker are gone (SIGURG,
 * whose default is to be ignored, so that a source not yet listening for it is not killed;
 * stage.c): a record still on its way elsewhere comes twice, which the stages after it take as
 * a replay. */
static void resend_early(struct sup *S)
{
    for (int i = 0; i < S->n_kids; i++)
        if (S->kids[i].source && S->kids[i].pid > 0)
            kill(S->kids[i].pid, SIGURG);
    /* Sources on other hosts hear it on their acknowledgement sockets (NF_ACK_DIED). Only tcp:
     * a source run elsewhere is reached over tcp (an ipc endpoint of a stage not placed here
     * belongs to another supervisor of this machine, under another run directory). */
    const struct nf_config *cfg = S->cur->cfg;
    int told = 0;
    for (int s = 0; s < cfg->n_stages; s++) {
        if (cfg->stages[s].n_inputs || runs_here(S->where, cfg->stages[s].name))
            continue;
        for (int w = 0; w < cfg->stages[s].workers; w++) {
            char ep[512];
            if (nf_config_ack_endpoint(cfg, s, w, false, ep, sizeof(ep)) < 0 ||
                strncmp(ep, "tcp://", 6) != 0)
                continue;
            if (!S->notices)
                S->notices = nf_acker_new(S->zctx);
            if (!S->notices || nf_acker_add(S->notices, ep, NF_ACK_DIED_SEQ, NF_ACK_DIED_WEIGHT, false) < 0) {
                nf_logf(NF_LOG_WARN, "cannot tell source %s[%d] at %s that a worker died: it "
                                     "resends after ack_timeout_ms", cfg->stages[s].name, w, ep);
                continue;
            }
            told++;
        }
    }
    if (told)
        nf_acker_send(S->notices);
}

static void reap(struct sup *S, bool stopping)
{
    int status;
    struct rusage ru;
    pid_t pid;
    while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
        int idx = -1;
        for (int i = 0; i < S->n_kids && idx < 0; i++)
            if (S->kids[i].pid == pid)
                idx = i;
        if (idx < 0)
            continue;
        struct child *c = &S->kids[idx];
        struct nf_stats_page page;
        c->pid = pid; /* its page still names it */
        child_read(S, c, &page);
        for (int i = 0; i < 5; i++) {
            c->base[i] += c->seen[i];
            c->seen[i] = 0;
        }
        c->pid = 0;
        if (ru.ru_maxrss > c->maxrss_kb)
            c->maxrss_kb = ru.ru_maxrss;
        c->cpu_s += (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (c->retire) {
            nf_logf(NF_LOG_INFO, "worker %s[%d] stopped for the reload", c->name, c->worker);
            bool source = c->source;
            child_report(c);
            child_remove(S, idx);
            if (!source)
                resend_early(S);
            continue;
        }
        if (stopping)
            continue;
        if (clean && c->source && S->once) {
            c->done = true;
            continue;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 3 && c->source && S->once) {
            c->done = c->failed = true;
            continue;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
            if (c->gen->id == 1) {
                nf_logf(NF_LOG_ERROR, "worker %s[%d] cannot start (see its error above); "
                                      "stopping", c->name, c->worker);
                S->fatal = true;
                return;
            }
            nf_logf(NF_LOG_ERROR, "worker %s[%d] cannot start with the reloaded config (see "
                                  "its error above); trying again", c->name, c->worker);
        }
        c->crash_at[c->n_crash++ % 8] = mono_ms();
        int64_t delay = restart_delay(c, status, mono_ms());
        c->next_start = mono_ms() + delay;
        if (WIFSIGNALED(status))
            nf_logf(NF_LOG_WARN, "worker %s[%d] killed by signal %d; restarting in %lld ms",
                    c->name, c->worker, WTERMSIG(status), (long long)delay);
        else
            nf_logf(NF_LOG_WARN, "worker %s[%d] exited with status %d; restarting in %lld ms",
                    c->name, c->worker, WEXITSTATUS(status), (long long)delay);
        if (!c->source)
            resend_early(S);
    }
}

/* ---- reload ----------------------------------------------------------------------------------- */

static bool str_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Whether anything a worker of this stage was started with differs between two generations:
 * its keys and options, its inputs and consumers (the sockets it opens), its acknowledgement
 * weight, and the keys every worker reads. */
static bool stage_changed(const struct nf_config *a, int sa, const struct nf_config *b, int sb)
{
    const struct nf_stage_conf *x = &a->stages[sa], *y = &b->stages[sb];
    if (str_differs(x->plugin, y->plugin) || x->workers != y->workers ||
        str_differs(x->endpoint, y->endpoint) || str_differs(x->ack_endpoint, y->ack_endpoint) ||
        str_differs(x->listen, y->listen) || x->hwm != y->hwm || x->batch != y->batch ||
        x->flush_ms != y->flush_ms || x->window != y->window ||
        x->window_bytes != y->window_bytes ||
        x->ack_timeout_ms != y->ack_timeout_ms || x->max_attempts != y->max_attempts ||
        x->journal != y->journal || str_differs(x->log_level, y->log_level) ||
        x->paths_below != y->paths_below || x->n_inputs != y->n_inputs ||
        x->n_consumers != y->n_consumers || x->n_opts != y->n_opts || x->fuse != y->fuse ||
        x->nice != y->nice)
        return true;
    for (int i = 0; i < x->n_inputs; i++)
        if (strcmp(x->inputs[i], y->inputs[i]) != 0)
            return true;
    /* a consumer's workers may come and go (a running worker finds new direct ones itself),
     * but a consumer that moves between ipc and tcp changes the sockets this worker opens */
    for (int i = 0; i < x->n_consumers; i++) {
        const struct nf_stage_conf *cx = &a->stages[x->consumers[i]],
                                   *cy = &b->stages[y->consumers[i]];
        if (strcmp(cx->name, cy->name) != 0 || str_differs(cx->endpoint, cy->endpoint))
            return true;
    }
    for (int i = 0; i < x->n_opts; i++)
        if (strcmp(x->opts[i].key, y->opts[i].key) != 0 || x->opts[i].kind != y->opts[i].kind ||
            strcmp(x->opts[i].text, y->opts[i].text) != 0)
            return true;
    return false;
}

/* The same for a worker that also runs stages fused after its own: any of them changed, or the
 * chain is not the same stages. */
static bool chain_changed(const struct nf_config *a, int sa, const struct nf_config *b, int sb)
{
    int ca[NF_CONFIG_CHAIN_MAX], cb[NF_CONFIG_CHAIN_MAX];
    int na = nf_config_chain(a, sa, ca, NF_CONFIG_CHAIN_MAX),
        nb = nf_config_chain(b, sb, cb, NF_CONFIG_CHAIN_MAX);
    if (na != nb || stage_changed(a, sa, b, sb))
        return true;
    for (int i = 0; i < na; i++)
        if (strcmp(a->stages[ca[i]].name, b->stages[cb[i]].name) != 0 ||
            stage_changed(a, ca[i], b, cb[i]))
            return true;
    return false;
}

/* Keys every worker reads, and the sources every filter may acknowledge to. */
static bool common_changed(const struct nf_config *a, const struct nf_config *b, bool *sources)
{
    *sources = false;
    int na = 0, nb = 0;
    for (int s = 0; s < a->n_stages; s++)
        na += a->stages[s].n_inputs == 0;
    for (int s = 0; s < b->n_stages; s++)
        nb += b->stages[s].n_inputs == 0;
    if (na != nb)
        *sources = true;
    for (int s = 0; s < a->n_stages && !*sources; s++) {
        if (a->stages[s].n_inputs)
            continue;
        int t = nf_config_stage_index(b, a->stages[s].name);
        *sources = t < 0 || b->stages[t].n_inputs || b->stages[t].workers != a->stages[s].workers ||
                   str_differs(a->stages[s].ack_endpoint, b->stages[t].ack_endpoint) ||
                   str_differs(a->stages[s].listen, b->stages[t].listen);
    }
    return str_differs(a->plugin_dir, b->plugin_dir) ||
           str_differs(a->deadletter, b->deadletter) ||
           str_differs(a->metrics_dir, b->metrics_dir) ||
           str_differs(a->log_level, b->log_level) || a->trace != b->trace ||
           a->max_message != b->max_message;
}

static void write_reload_result(const struct nf_config *cfg, int serial, bool ok, const char *msg)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/reload.result", cfg->run_dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%d %s %s\n", serial, ok ? "ok" : "refused", msg);
    if (fclose(f) == 0)
        rename(tmp, path);
}

struct bind_report {
    char *err;
    size_t errlen;
    int n;
};

static void bind_refused(void *arg, const struct nf_stage_conf *st, const char *key,
                         const char *endpoint, const char *why)
{
    struct bind_report *r = arg;
    if (r->n++ == 0) /* the first one is the reason given */
        snprintf(r->err, r->errlen, "%s: stage '%s': %s %s cannot be bound: %s", st->where,
                 st->name, key, endpoint, why);
}

static void reload(struct sup *S)
{
    static int serial;
    serial++;
    char err[2048];
    struct gen *ng = gen_load(S->config_path, S->sets, S->n_sets, S->next_gen, err, sizeof(err));
    const struct nf_config *old = S->cur->cfg;
    if (ng && (strcmp(ng->cfg->state_dir, old->state_dir) != 0 ||
               strcmp(ng->cfg->run_dir, old->run_dir) != 0)) {
        snprintf(err, sizeof(err), "%s: state_dir and run_dir cannot change in a reload (they "
                                   "hold the running pipeline's state); restart the service",
                 S->config_path);
        gen_unref(ng);
        ng = NULL;
    }
    /* The keys are read once per process (the ZAP handler answers from them while it runs):
     * new ones, or tcp turned on, take a restart. */
    if (ng && (str_differs(ng->cfg->curve_server_key, old->curve_server_key) ||
               str_differs(ng->cfg->curve_server_public, old->curve_server_public) ||
               str_differs(ng->cfg->curve_client_key, old->curve_client_key) ||
               str_differs(ng->cfg->curve_allow, old->curve_allow) ||
               ng->cfg->insecure != old->insecure || ng->cfg->uses_tcp != old->uses_tcp)) {
        snprintf(err, sizeof(err), "%s: the CURVE keys, insecure and the use of tcp cannot "
                                   "change in a reload; restart the service", S->config_path);
        gen_unref(ng);
        ng = NULL;
    }
    /* an input that is not there or an output that cannot be written would stop the new
     * stage only after the old one had been stopped: refused now instead */
    if (ng && nf_config_check_paths(ng->cfg, err, sizeof(err)) < 0) {
        gen_unref(ng);
        ng = NULL;
    }
    /* and so would a new tcp address that another process holds */
    if (ng) {
        struct bind_report r = {err, sizeof(err), 0};
        if (nf_probe_binds(ng->cfg, old, bind_refused, &r) > 0) {
            gen_unref(ng);
            ng = NULL;
        }
    }
    if (!ng) {
        nf_logf(NF_LOG_ERROR, "reload refused, the pipeline runs on unchanged: %s", err);
        write_reload_result(old, serial, false, err);
        return;
    }
    S->next_gen++;
    const struct nf_config *nc = ng->cfg;
    bool sources_changed;
    bool all = common_changed(old, nc, &sources_changed);
    struct broker **nb = calloc((size_t)nc->n_stages + 1, sizeof(*nb));
    if (!nb) {
        write_reload_result(old, serial, false, "out of memory");
        gen_unref(ng);
        return;
    }
    char kept[1024] = "", restarted[1024] = "", added[1024] = "", removed[1024] = "";
#define NAME_TO(list, nm) \
    snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", list[0] ? " " : "", nm)
    /* Stages that are gone or changed: their workers stop (not counted as crashes). */
    for (int s = 0; s < old->n_stages; s++) {
        int t = nf_config_stage_index(nc, old->stages[s].name);
        bool changed = t < 0 || all || chain_changed(old, s, nc, t) ||
                       (sources_changed && old->stages[s].n_inputs);
        bool inbox_same = t >= 0 && old->stages[s].n_inputs && nc->stages[t].n_inputs &&
                          !str_differs(old->stages[s].endpoint, nc->stages[t].endpoint) &&
                          !str_differs(old->stages[s].listen, nc->stages[t].listen) &&
                          old->stages[s].hwm == nc->stages[t].hwm;
        if (inbox_same) {
            nb[t] = S->brokers[s];
            S->brokers[s] = NULL;
        }
        if (t < 0)
            NAME_TO(removed, old->stages[s].name);
        else if (changed)
            NAME_TO(restarted, old->stages[s].name);
        else
            NAME_TO(kept, old->stages[s].name);
        for (int i = 0; i < S->n_kids; i++) {
            struct child *c = &S->kids[i];
            if (c->retire || c->gen != S->cur || c->stage != s)
                continue;
            if (!changed) { /* carries on, in the new generation */
                gen_unref(c->gen);
                c->gen = ng;
                ng->refs++;
                c->stage = t;
                continue;
            }
            c->retire = true;
            if (c->pid > 0)
                kill(c->pid, SIGTERM);
        }
    }
    /* Children that are not running (done sources, or waiting to restart) just go. */
    for (int i = 0; i < S->n_kids;)
        if (S->kids[i].retire && S->kids[i].pid <= 0)
            child_remove(S, i);
        else
            i++;
    for (int s = 0; s < old->n_stages; s++)
        broker_stop(S->brokers[s]);
    free(S->brokers);
    S->brokers = nb;
    /* New and changed stages: inboxes now, workers once their predecessors have gone. */
    for (int t = 0; t < nc->n_stages; t++) {
        if (!S->brokers[t] && inbox_here(S->where, nc, t))
            S->brokers[t] = broker_start(nc, t, S->zctx, true);
        if (!runs_here(S->where, nc->stages[t].name) || nf_config_head(nc, t) != t)
            continue; /* not here, or run by the workers of the stage before it (fuse) */
        bool running = false;
        for (int i = 0; i < S->n_kids && !running; i++)
            running = !S->kids[i].retire && S->kids[i].gen == ng && S->kids[i].stage == t;
        if (running)
            continue;
        if (nf_config_stage_index(old, nc->stages[t].name) < 0)
            NAME_TO(added, nc->stages[t].name);
        for (int w = 0; w < nc->stages[t].workers; w++)
            child_add(S, ng, t, w);
    }
#undef NAME_TO
    gen_unref(S->cur);
    S->cur = ng;
    char msg[4600];
    snprintf(msg, sizeof(msg), "reloaded %s (generation %d): restarted [%s], added [%s], "
                               "removed [%s], unchanged [%s]",
             S->config_path, ng->id, restarted, added, removed, kept);
    nf_logf(NF_LOG_INFO, "%s", msg);
    write_reload_result(nc, serial, true, msg);
}

/* ---- the view the HTTP endpoint reads ------------------------------------------------------ */

static void view_refresh(struct sup *S, int64_t now, bool force)
{
    if (!S->http || (!force && now < S->view_next))
        return;
    S->view_next = now + 500;
    struct nf_view *v = &S->view;
    pthread_mutex_lock(&v->mu);
    v->cfg = S->cur->cfg;
    v->health_stuck_ms = S->cur->cfg->health_stuck_ms;
    struct nf_view_worker *w = realloc(v->w, sizeof(*w) * (size_t)(S->n_kids + 1));
    if (w) {
        v->w = w;
        v->n = 0;
        int64_t moved = 0;
        for (int i = 0; i < S->n_kids; i++) {
            struct child *c = &S->kids[i];
            if (c->retire || c->gen != S->cur)
                continue;
            int recent = 0;
            for (int k = 0; k < 8 && k < c->n_crash; k++)
                recent += now - c->crash_at[k] < 60000;
            w[v->n++] = (struct nf_view_worker){.stage = c->stage, .worker = c->worker,
                                                .pid = c->pid, .restarts = c->restarted,
                                                .recent_restarts = recent, .done = c->done};
            struct nf_stats_page page;
            if (c->pid > 0 && nf_stats_read(S->cur->cfg->run_dir, c->name, c->worker, &page) == 0)
                moved += nf_stats_count(&page, "in") + nf_stats_count(&page, "out") +
                         nf_stats_count(&page, "acked");
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (moved != v->moved_sum || !v->moved_at_ms) {
            v->moved_sum = moved;
            v->moved_at_ms = wall;
        }
    }
    pthread_mutex_unlock(&v->mu);
}

/* ---- progress ------------------------------------------------------------------------------- */

/* 1234567 -> "1,234,567" */
static const char *grouped(int64_t v, char *buf, size_t n)
{
    char raw[32];
    int len = snprintf(raw, sizeof(raw), "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o + 1 < n)
        buf[o++] = '-';
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
    return buf;
}

struct tally {
    int64_t n[5];
    int64_t done, total, in_flight;
    bool known; /* every source knows its total, in one unit */
    char unit[16];
};

static void gather(struct sup *S, struct tally *t)
{
    memset(t, 0, sizeof(*t));
    t->known = true;
    for (int k = 0; k < 5; k++)
        t->n[k] = S->gone[k];
    int sources = 0;
    for (int i = 0; i < S->n_kids; i++) {
        struct child *c = &S->kids[i];
        struct nf_stats_page page;
        page.total = -1;
        bool fresh = c->pid > 0;
        if (fresh)
            child_read(S, c, &page);
        for (int k = 0; k < 5; k++)
            if (k != T_READ || c->source) /* every stage counts "out": read is the sources' */
                t->n[k] += c->base[k] + c->seen[k];
        if (!c->source || c->retire)
            continue;
        sources++;
        if (!fresh || page.pid != c->pid)
            continue;
        t->in_flight += page.in_flight;
        if (page.total < 0 || (t->unit[0] && strcmp(t->unit, page.unit) != 0)) {
            t->known = false;
            continue;
        }
        snprintf(t->unit, sizeof(t->unit), "%s", page.unit);
        t->done += page.done;
        t->total += page.total;
    }
    if (!sources || !t->unit[0])
        t->known = false;
}

/* One line of progress: on a terminal refreshed in place twice a second, otherwise a plain line
 * every 5 s (finite runs only: a service logs its counts instead). */
static void progress(struct sup *S, int64_t now, bool last)
{
    if (!S->once || (!last && now < S->progress_next))
        return;
    S->progress_next = now + (S->tty ? 500 : 5000);
    struct tally t;
    gather(S, &t);
    double secs = (double)(now - S->t0) / 1000;
    double rate = secs > 0 ? (double)t.n[T_READ] / secs : 0;
    char line[512], a[32], b[32], c[32], d[32];
    int n = 0;
    if (t.known && t.total > 0) {
        double frac = (double)t.done / (double)t.total;
        double eta = frac > 0.001 && frac < 1 ? secs / frac - secs : 0;
        n = snprintf(line, sizeof(line), "%s / %s %s (%.1f%%), ", grouped(t.done, a, sizeof(a)),
                     grouped(t.total, b, sizeof(b)), t.unit, 100 * frac);
        if (eta > 0)
            n += snprintf(line + n, sizeof(line) - (size_t)n, "ETA %d:%02d, ", (int)eta / 60,
                          (int)eta % 60);
    }
    snprintf(line + n, sizeof(line) - (size_t)n, "read %s, %.0f/s, stored %s, in flight %s, "
                                                 "dead letters %s",
             grouped(t.n[T_READ], a, sizeof(a)), rate, grouped(t.n[T_STORED], b, sizeof(b)),
             grouped(t.in_flight, c, sizeof(c)), grouped(t.n[T_DEAD], d, sizeof(d)));
    if (S->tty) {
        fprintf(stderr, "\r%s\x1b[K%s", line, last ? "\n" : "");
        fflush(stderr);
        S->progress_shown = !last;
    } else if (!last) {
        nf_logf(NF_LOG_INFO, "progress: %s", line);
    }
}

/* Every run ends with one line of what it did. */
static void summary(struct sup *S, int64_t now)
{
    struct tally t;
    gather(S, &t);
    double secs = (double)(now - S->t0) / 1000;
    char a[32], b[32], c[32], d[32], e[32];
    nf_logf(NF_LOG_INFO, "summary: read %s, stored %s, copies %s, stories %s, dead letters %s, "
                         "%.1f s, %.0f articles/s",
            grouped(t.n[T_READ], a, sizeof(a)), grouped(t.n[T_STORED], b, sizeof(b)),
            grouped(t.n[T_DUP], c, sizeof(c)), grouped(t.n[T_STORIES], d, sizeof(d)),
            grouped(t.n[T_DEAD], e, sizeof(e)), secs,
            secs > 0 ? (double)t.n[T_STORED] / secs : 0.0);
}

/* ---- the supervisor --------------------------------------------------------------------------- */

int nf_supervisor_run(const struct nf_config *cfg0, const char *config_path, char *const *tail,
                      bool once, const struct nf_placement *where)
{
    nf_log_setup("supervisor", (enum nf_log_level)nf_log_level_parse(cfg0->log_level));
    char err[2048];
    if (nf_config_check_plugins(cfg0, err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        return 2;
    }
    if (nf_dir_private(cfg0->state_dir, "state_dir", err, sizeof(err)) < 0 ||
        nf_dir_private(cfg0->run_dir, "run_dir", err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        return 2;
    }
    int lock = nf_state_lock(cfg0->state_dir, err, sizeof(err));
    if (lock < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        return 2;
    }
    struct sup S = {.config_path = config_path, .tail = tail, .once = once, .self = getpid(),
                    .next_gen = 1, .tty = isatty(STDERR_FILENO) == 1, .where = where};
    find_worker_exe(&S);
    /* the --set values, out of the workers' argument tail ("--set", V or "--set=V") */
    char *sets[130];
    for (int i = 0; tail && tail[i] && S.n_sets < 128; i++) {
        if (strncmp(tail[i], "--set=", 6) == 0)
            sets[S.n_sets++] = tail[i] + 6;
        else if ((strcmp(tail[i], "--set") == 0 || strcmp(tail[i], "-s") == 0) && tail[i + 1])
            sets[S.n_sets++] = tail[++i];
    }
    S.sets = sets;
    S.cur = gen_load(config_path, sets, S.n_sets, S.next_gen++, err, sizeof(err));
    if (!S.cur) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        close(lock);
        return 2;
    }
    const struct nf_config *cfg = S.cur->cfg;
    S.brokers = calloc((size_t)cfg->n_stages + 1, sizeof(*S.brokers));
    S.zctx = zmq_ctx_new();
    /* Every inbox's sockets are served by this context's I/O threads, where CURVE encrypts and
     * decrypts: one thread would carry every stage's crypto. One per core. */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (S.zctx && cores > 1)
        zmq_ctx_set(S.zctx, ZMQ_IO_THREADS, (int)(cores < 8 ? cores : 8));
    if (!S.brokers || !S.zctx || nf_zap_start(S.zctx, err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "cannot start: %s",
                !S.zctx ? zmq_strerror(errno) : S.brokers ? err : "out of memory");
        gen_unref(S.cur);
        free(S.brokers);
        close(lock);
        return 1;
    }
    for (int s = 0; s < cfg->n_stages; s++)
        for (int w = 0; w < cfg->stages[s].workers && runs_here(where, cfg->stages[s].name) &&
                        nf_config_head(cfg, s) == s;
             w++)
            if (!child_add(&S, S.cur, s, w)) {
                nf_logf(NF_LOG_ERROR, "out of memory");
                return 1;
            }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &S.oldmask);

    int n_inboxes = 0;
    for (int s = 0; s < cfg->n_stages; s++)
        if (inbox_here(where, cfg, s))
            n_inboxes += (S.brokers[s] = broker_start(cfg, s, S.zctx, true)) != NULL;
    pthread_mutex_init(&S.view.mu, NULL);
    if (cfg->http) {
        /* after the signal mask: the server's thread leaves the signals to this one */
        S.http = nf_http_start(&S.view, cfg->http, err, sizeof(err));
        if (!S.http) {
            nf_logf(NF_LOG_ERROR, "%s: %s", config_path, err);
            S.fatal = true;
        } else {
            nf_logf(NF_LOG_INFO, "operator's endpoint on http://%s/ (/metrics, /health, /ready)",
                    cfg->http);
        }
    }
    S.t0 = mono_ms();
    S.progress_next = S.t0 + (S.tty ? 500 : 5000);
    for (int i = 0; i < S.n_kids; i++)
        spawn(&S, &S.kids[i]);
    nf_logf(NF_LOG_INFO, "started %d workers of %d stages and %d inboxes%s", S.n_kids,
            cfg->n_stages, n_inboxes, once ? " (until the input is exhausted)" : "");
    S.view.started = true;
    sd_notify(0, "READY=1");

    bool stopping = false;
    int phase = 0;
    int64_t kill_at = 0;
    for (;;) {
        struct timespec tick = {0, 100 * 1000000};
        int sig = sigtimedwait(&mask, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            if (!stopping)
                nf_logf(NF_LOG_INFO, "signal %d: draining", sig);
            stopping = true;
        } else if (sig == SIGHUP && !stopping) {
            sd_notify(0, "RELOADING=1");
            nf_logf(NF_LOG_INFO, "SIGHUP: reloading %s", config_path);
            pthread_mutex_lock(&S.view.mu); /* the view points into the old generation */
            reload(&S);
            pthread_mutex_unlock(&S.view.mu);
            view_refresh(&S, mono_ms(), true);
            sd_notify(0, "READY=1");
        }
        reap(&S, stopping);
        for (int s = 0; s < S.cur->cfg->n_stages && !S.fatal; s++) {
            struct broker *b = S.brokers[s];
            if (!b || __atomic_load_n(&b->failed, __ATOMIC_ACQUIRE) != 1)
                continue;
            /* At start-up a pipeline that cannot run stops; after a reload the rest goes on
             * (records for this stage wait in their sources' journals) until a reload fixes
             * its endpoint. */
            __atomic_store_n(&b->failed, 2, __ATOMIC_RELEASE); /* reported */
            if (S.cur->id == 1) {
                nf_logf(NF_LOG_ERROR, "the inbox of stage %s cannot run (see above); stopping",
                        b->name);
                S.fatal = true;
            } else {
                nf_logf(NF_LOG_ERROR, "the inbox of stage %s cannot run since the reload (see "
                                      "above); the other stages go on; fix its endpoint and "
                                      "reload", b->name);
            }
        }
        if (S.fatal)
            stopping = true;
        int64_t now = mono_ms();
        if (!stopping)
            progress(&S, now, false);
        if (stopping && !S.view.stopping) {
            pthread_mutex_lock(&S.view.mu);
            S.view.stopping = true;
            pthread_mutex_unlock(&S.view.mu);
        }
        view_refresh(&S, now, false);
        if (!stopping) {
            for (int i = 0; i < S.n_kids; i++) {
                struct child *c = &S.kids[i];
                if (!c->pid && !c->done && !c->retire && c->next_start &&
                    now >= c->next_start && !stage_busy(&S, c))
                    spawn(&S, c);
            }
            int sources = 0, done = 0;
            for (int i = 0; i < S.n_kids; i++) {
                sources += S.kids[i].source && !S.kids[i].retire;
                done += S.kids[i].source && !S.kids[i].retire && S.kids[i].done;
            }
            if (once && sources > 0 && done == sources) {
                nf_logf(NF_LOG_INFO, "every source is exhausted and acknowledged after "
                                     "%.1f s; stopping", (double)(now - S.t0) / 1000);
                stopping = true;
            }
        }
        if (stopping) {
            int alive = 0, sources_alive = 0;
            for (int i = 0; i < S.n_kids; i++) {
                alive += S.kids[i].pid > 0;
                sources_alive += S.kids[i].source && S.kids[i].pid > 0;
            }
            if (!alive)
                break;
            /* Sources first: they stop intake and wait (up to grace_ms) for what they have in
             * flight to be acknowledged, while the other stages keep working on it. Then the
             * rest, which finish their batch and commit. */
            int grace = S.cur->cfg->grace_ms;
            if (phase == 0) {
                for (int i = 0; i < S.n_kids; i++)
                    if (S.kids[i].source && S.kids[i].pid > 0)
                        kill(S.kids[i].pid, SIGTERM);
                phase = 1;
                kill_at = now + grace + 2000;
            }
            if (phase == 1 && (sources_alive == 0 || now >= kill_at)) {
                for (int i = 0; i < S.n_kids; i++)
                    if (S.kids[i].pid > 0)
                        kill(S.kids[i].pid, SIGTERM);
                phase = 2;
                kill_at = now + grace + 2000;
            } else if (phase == 2 && now >= kill_at) {
                for (int i = 0; i < S.n_kids; i++)
                    if (S.kids[i].pid > 0) {
                        nf_logf(NF_LOG_WARN, "worker %s[%d] did not stop in time: SIGKILL",
                                S.kids[i].name, S.kids[i].worker);
                        kill(S.kids[i].pid, SIGKILL);
                    }
                kill_at = now + 1000;
            }
        }
    }
    sd_notify(0, "STOPPING=1");
    nf_http_stop(&S.http);
    free(S.view.w);
    pthread_mutex_destroy(&S.view.mu);
    int64_t end = mono_ms();
    if (S.progress_shown)
        progress(&S, end, true);
    bool failed = false;
    for (int i = 0; i < S.n_kids; i++)
        if (S.kids[i].failed) {
            nf_logf(NF_LOG_ERROR, "source %s[%d] produced no record: every input it tried "
                                  "failed", S.kids[i].name, S.kids[i].worker);
            failed = true;
        }
    for (int s = 0; s < S.cur->cfg->n_stages; s++)
        broker_stop(S.brokers[s]);
    free(S.brokers);
    nf_acker_destroy(&S.notices);
    zmq_ctx_term(S.zctx);
    nf_zap_join();
    for (int i = 0; i < S.n_kids; i++)
        child_report(&S.kids[i]);
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    nf_logf(NF_LOG_INFO, "supervisor and inbox brokers: peak RSS %.1f MiB",
            (double)self.ru_maxrss / 1024);
    summary(&S, end);
    while (S.n_kids)
        child_remove(&S, S.n_kids - 1);
    bool fatal = S.fatal || failed;
    gen_unref(S.cur);
    free(S.kids);
    close(lock);
    sigprocmask(SIG_SETMASK, &S.oldmask, NULL);
    return fatal ? 1 : 0;
}

int nf_brokers_run(const struct nf_config *cfg, const struct nf_placement *where)
{
    nf_log_setup("broker", (enum nf_log_level)nf_log_level_parse(cfg->log_level));
    char err[1024];
    if (nf_dir_private(cfg->run_dir, "run_dir", err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "%s", err);
        return 2;
    }
    sigset_t mask, oldmask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, &oldmask);
    void *zctx = zmq_ctx_new();
    if (!zctx || nf_zap_start(zctx, err, sizeof(err)) < 0) {
        nf_logf(NF_LOG_ERROR, "cannot start: %s", zctx ? err : zmq_strerror(errno));
        return 1;
    }
    struct broker **b = calloc((size_t)cfg->n_stages + 1, sizeof(*b));
    int n = 0;
    for (int s = 0; b && s < cfg->n_stages; s++)
        if (inbox_here(where, cfg, s))
            n += (b[s] = broker_start(cfg, s, zctx, true)) != NULL;
    nf_logf(NF_LOG_INFO, "%d inbox brokers running", n);
    sd_notify(0, "READY=1");
    int sig;
    sigwait(&mask, &sig);
    for (int s = 0; b && s < cfg->n_stages; s++)
        broker_stop(b[s]);
    free(b);
    zmq_ctx_term(zctx);
    nf_zap_join();
    return 0;
}
