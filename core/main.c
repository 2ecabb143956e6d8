/* The newsflow command: run (supervisor), stage (one worker), check, broker, show, dlq, doc.
 * Parses arguments and hands over; what each command does lives in its own module. */
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "deadletter.h"
#include "newsflow/log.h"
#include "options.h"
#include "plugin_loader.h"
#include "security.h"
#include "stage.h"
#include "statedir.h"
#include "supervisor.h"
#include "tap.h"
#include "top.h"
#include "transport.h"
#include "views.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: newsflow COMMAND ...\n"
            "  run CONFIG [--once] [--stages S,..] [--inboxes S,..] [--set K=V]...\n"
            "                                         start the stages' workers (supervisor):\n"
            "                                         every stage, or those named; the inboxes\n"
            "                                         named, or those whose address is here\n"
            "  stage CONFIG STAGE [--worker N] [--once] [--set K=V]...\n"
            "                                         run one worker of one stage\n"
            "  broker CONFIG [--inboxes S,..] [--set K=V]...\n"
            "                                         run the stages' inbox brokers only\n"
            "  check CONFIG... [--set K=V]...         validate configs and their plugins\n"
            "  reload CONFIG [--timeout MS]           make the running pipeline of CONFIG's\n"
            "                                         state_dir take the edited config (it\n"
            "                                         is validated first; on an error the\n"
            "                                         pipeline runs on unchanged)\n"
            "  show CONFIG [--limit N] [--story ID] [--since DATE]\n"
            "                                         the store's latest articles (50)\n"
            "  query CONFIG TEXT [--limit N] [--story ID] [--since DATE]\n"
            "                                         full-text search of the store, best\n"
            "                                         matches first (SQLite: FTS5 syntax or\n"
            "                                         words; PostgreSQL: web-search syntax)\n"
            "  dlq list CONFIG [--json] [--set K=V]...\n"
            "                                         list the dead letters (--json: one object\n"
            "                                         a line, the record in base64)\n"
            "  dlq replay CONFIG (--all | --id ID... | --stage STAGE) [--force] [--timeout MS]\n"
            "                                         send dead letters back into the running\n"
            "                                         pipeline, without acknowledgement fields;\n"
            "                                         --id takes an id or its first characters;\n"
            "                                         --force resends already replayed ones\n"
            "  top CONFIG [--timeout MS]              a live view of every stage and worker\n"
            "                                         (one table when not on a terminal)\n"
            "  tap CONFIG STAGE [--limit N] [--timeout MS] [--keys K,..]\n"
            "                                         the records leaving a stage of the\n"
            "                                         running pipeline, as JSON lines\n"
            "                                         (--keys: only these top-level keys)\n"
            "  doc config                             every top-level and stage key\n"
            "  doc [PLUGIN] [--plugin-dir DIR]        print a plugin's options (without\n"
            "                                         PLUGIN: the plugins there are)\n"
            "  keygen PREFIX                          write a CURVE key pair: PREFIX.key\n"
            "                                         (secret, 0600) and PREFIX.pub\n"
            "  help [COMMAND]                         this text\n"
            "--set STAGE.OPTION=VALUE overrides a stage's option or key; --set KEY=VALUE a\n"
            "top-level key (plugin_dir, run_dir, state_dir, deadletter, log_level, ...).\n");
}

struct args {
    const char *config;
    const char *stage;
    const char *plugin_dir;
    int worker;
    bool once;
    char *sets[128];
    int n_sets;
    char *tail[260]; /* --set arguments to pass to workers, NULL-terminated */
    int n_tail;
    const char *positional[16];
    int n_pos;
    const char *snapshot; /* the config's text as the supervisor validated it */
    int timeout_ms;
    struct nf_placement where; /* run, broker: --stages, --inboxes */
    struct nf_show_opts show;  /* show, query: --limit, --story, --since */
    const char *keys;          /* tap: --keys */
};

/* A number argument from lo to hi, or -1 after saying what it must be. */
static int num_arg(const char *text, long lo, long hi, const char *what, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "newsflow: %s needs a number from %ld to %ld\n", what, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, int from, struct args *a)
{
    long v;
    for (int i = from; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0) {
            a->once = true;
        } else if (strcmp(argv[i], "--worker") == 0 && i + 1 < argc) {
            if (num_arg(argv[++i], 0, 255, "--worker", &v) < 0)
                return -1;
            a->worker = (int)v;
        } else if ((strcmp(argv[i], "--set") == 0 || strcmp(argv[i], "-s") == 0) &&
                   i + 1 < argc) {
            if (a->n_sets >= 128) {
                fprintf(stderr, "newsflow: too many --set\n");
                return -1;
            }
            a->sets[a->n_sets++] = argv[i + 1];
            a->tail[a->n_tail++] = "--set";
            a->tail[a->n_tail++] = argv[++i];
        } else if (strncmp(argv[i], "--set=", 6) == 0) {
            a->sets[a->n_sets++] = argv[i] + 6;
            a->tail[a->n_tail++] = argv[i];
        } else if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc) {
            a->plugin_dir = argv[++i];
        } else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
            if (num_arg(argv[++i], 1, 1000000, "--limit", &v) < 0)
                return -1;
            a->show.limit = (int)v;
        } else if (strcmp(argv[i], "--story") == 0 && i + 1 < argc) {
            a->show.story = argv[++i];
        } else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            a->show.since = argv[++i];
        } else if (strcmp(argv[i], "--stages") == 0 && i + 1 < argc) {
            a->where.stages = argv[++i];
        } else if (strcmp(argv[i], "--inboxes") == 0 && i + 1 < argc) {
            a->where.inboxes = argv[++i];
        } else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc) {
            a->keys = argv[++i];
        } else if (strcmp(argv[i], "--snapshot") == 0 && i + 1 < argc) {
            a->snapshot = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            if (num_arg(argv[++i], 1, 600000, "--timeout (milliseconds)", &v) < 0)
                return -1;
            a->timeout_ms = (int)v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "newsflow: unknown option %s\n", argv[i]);
            return -1;
        } else if (a->n_pos < 16) {
            a->positional[a->n_pos++] = argv[i];
        } else {
            fprintf(stderr, "newsflow: unexpected argument %s\n", argv[i]);
            return -1;
        }
    }
    a->tail[a->n_tail] = NULL;
    return 0;
}

static struct nf_config *load(const struct args *a, const char *cmd)
{
    return nf_cli_load(a->config, a->snapshot, (char *const *)a->sets, a->n_sets, cmd);
}

/* The plugins in a directory: what `doc` offers when it is not given a known one. */
static void list_plugins(const char *dirs, FILE *out)
{
    fprintf(out, "plugins in %s:", dirs);
    char *names[256];
    int n = 0;
    for (const char *p = dirs; *p;) { /* a search path: DIR[:DIR...] */
        const char *colon = strchr(p, ':');
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%.*s", (int)(colon ? (size_t)(colon - p) : strlen(p)), p);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)) && n < 256) {
            size_t len = strlen(e->d_name);
            if (len > 3 && strcmp(e->d_name + len - 3, ".so") == 0)
                names[n++] = strndup(e->d_name, len - 3);
        }
        if (d)
            closedir(d);
        p = colon ? colon + 1 : p + strlen(p);
    }
    for (int i = 1; i < n; i++) /* a few names: insertion sort */
        for (int j = i; j > 0 && names[j] && names[j - 1] && strcmp(names[j - 1], names[j]) > 0;
             j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        fprintf(out, " %s", names[i] ? names[i] : "?");
        free(names[i]);
    }
    fprintf(out, "%s\n", n ? "" : " none");
}

static int cmd_doc(const struct args *a)
{
    if (a->n_pos == 1 && strcmp(a->positional[0], "config") == 0) {
        nf_config_print_reference(stdout);
        return 0;
    }
    char dir[PATH_MAX];
    const char *env = getenv("NEWSFLOW_PLUGIN_DIR");
    char *def = a->plugin_dir || (env && *env) ? NULL : nf_config_default_plugin_dir();
    snprintf(dir, sizeof(dir), "%s", a->plugin_dir ? a->plugin_dir : def ? def : env);
    free(def);
    if (a->n_pos < 1) {
        list_plugins(dir, stdout);
        printf("newsflow doc PLUGIN prints one's options\n");
        return 0;
    }
    char err[2048];
    struct nf_plugin_handle *h = nf_plugin_load(dir, a->positional[0], err, sizeof(err));
    if (!h) {
        fprintf(stderr, "newsflow: %s\n", err);
        list_plugins(dir, stderr);
        return 1;
    }
    nf_options_print_doc(&h->desc, stdout);
    nf_plugin_unload(&h);
    return 0;
}

/* `dlq` options, taken out of the arguments before the common parser sees them. */
struct dlq_args {
    bool replay, json, all, force;
    const char *stage;
    const char *ids[128];
    int n_ids;
    int timeout_ms;
    char *argv[300]; /* what is left for parse_args */
    int argc;
};

static int dlq_take_args(int argc, char **argv, struct dlq_args *d)
{
    d->replay = strcmp(argv[2], "replay") == 0;
    for (int i = 3; i < argc; i++) {
        const char *o = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(o, "--json") == 0 && !d->replay) {
            d->json = true;
        } else if (strcmp(o, "--all") == 0 && d->replay) {
            d->all = true;
        } else if (strcmp(o, "--force") == 0 && d->replay) {
            d->force = true;
        } else if (strcmp(o, "--id") == 0 && d->replay && has_value) {
            if (d->n_ids >= 128 || !*argv[i + 1]) {
                fprintf(stderr, "newsflow: dlq replay: too many --id, or an empty one\n");
                return -1;
            }
            d->ids[d->n_ids++] = argv[++i];
        } else if (strcmp(o, "--stage") == 0 && d->replay && has_value) {
            d->stage = argv[++i];
        } else if (strcmp(o, "--timeout") == 0 && d->replay && has_value) {
            long ms;
            if (num_arg(argv[++i], 1, 600000, "--timeout (milliseconds)", &ms) < 0)
                return -1;
            d->timeout_ms = (int)ms;
        } else if (d->argc + 2 >= (int)(sizeof(d->argv) / sizeof(d->argv[0]))) {
            fprintf(stderr, "newsflow: too many arguments\n");
            return -1;
        } else {
            /* options with a value keep it, even one that looks like a dlq option */
            bool pair = has_value && (strcmp(o, "--set") == 0 || strcmp(o, "-s") == 0 ||
                                      strcmp(o, "--plugin-dir") == 0);
            d->argv[d->argc++] = argv[i];
            if (pair)
                d->argv[d->argc++] = argv[++i];
        }
    }
    d->argv[d->argc] = NULL;
    if (d->replay && !d->all && !d->n_ids && !d->stage) {
        fprintf(stderr, "newsflow: dlq replay needs --all, --id ID or --stage STAGE\n");
        return -1;
    }
    if (d->all && (d->n_ids || d->stage)) {
        fprintf(stderr, "newsflow: dlq replay: --all cannot be combined with --id or --stage\n");
        return -1;
    }
    return 0;
}

static int cmd_dlq(const struct nf_config *cfg, const struct dlq_args *d)
{
    char err[2048];
    if (d->replay) {
        struct nf_dlq_replay_opts o = {.ids = d->ids, .n_ids = d->n_ids, .stage = d->stage,
                                       .all = d->all, .force = d->force,
                                       .timeout_ms = d->timeout_ms};
        int n = nf_dlq_replay(cfg, &o, stdout, err, sizeof(err));
        fflush(stdout);
        if (n < 0)
            fprintf(stderr, "newsflow: %s\n", err);
        return n < 0;
    }
    int n = d->json ? nf_dlq_list_json(cfg->deadletter, stdout, err, sizeof(err))
                    : nf_dlq_list(cfg->deadletter, stdout, err, sizeof(err));
    if (n < 0)
        fprintf(stderr, "newsflow: %s\n", err);
    else if (!d->json)
        printf("%d dead letters in %s\n", n, cfg->deadletter);
    return n < 0;
}

/* Plain tcp beyond loopback lets anyone on that network read and inject records: `check` says
 * so for every such endpoint of a config with insecure = true. Returns the number of warnings. */
static int warn_insecure(const struct nf_config *cfg, FILE *out)
{
    if (!cfg->insecure)
        return 0;
    int n = 0;
    for (int s = 0; s < cfg->n_stages; s++) {
        const struct nf_stage_conf *st = &cfg->stages[s];
        const char *eps[2] = {st->endpoint, st->ack_endpoint};
        for (int k = 0; k < 2; k++) {
            if (!eps[k])
                continue;
            const char *h = eps[k] + 6;
            const char *hosts[] = {"127.", "localhost:", "[::1]:", NULL};
            bool loop = false;
            for (int i = 0; hosts[i] && !loop; i++)
                loop = strncmp(h, hosts[i], strlen(hosts[i])) == 0;
            if (st->listen && strncmp(st->listen, "127.", 4) != 0)
                loop = false;
            if (loop)
                continue;
            fprintf(out, "%s: warning: stage '%s': %s %s is plain tcp beyond loopback "
                         "(insecure = true): anyone on that network can read and inject "
                         "records; set the curve_* keys\n",
                    st->where, st->name, k ? "ack_endpoint" : "endpoint", eps[k]);
            n++;
        }
    }
    return n;
}

static void report_bind(void *arg, const struct nf_stage_conf *st, const char *key,
                        const char *endpoint, const char *why)
{
    (void)arg;
    fprintf(stderr, "newsflow: %s: stage '%s': %s %s: %s\n", st->where, st->name, key, endpoint,
            why);
}

/* What `check` finds in the world, beyond the config itself: every tcp address this host
 * would bind is free, and state_dir can be used. Prints each problem; returns how many. */
static int probe_world(const struct nf_config *cfg)
{
    int bad = 0;
    char err[1024];
    bad += nf_probe_binds(cfg, NULL, report_bind, NULL);
    struct stat sb;
    if (stat(cfg->state_dir, &sb) == 0) {
        if (nf_dir_private(cfg->state_dir, "state_dir", err, sizeof(err)) < 0) {
            fprintf(stderr, "newsflow: %s: %s\n", cfg->path, err);
            bad++;
        }
    } else {
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", cfg->state_dir);
        char *slash;
        while ((slash = strrchr(parent, '/')) && slash != parent) {
            *slash = '\0';
            if (stat(parent, &sb) == 0)
                break;
        }
        if (access(parent[0] ? parent : "/", W_OK | X_OK) < 0) {
            fprintf(stderr, "newsflow: %s: state_dir %s cannot be made: %s is not writable\n",
                    cfg->path, cfg->state_dir, parent);
            bad++;
        }
    }
    return bad;
}

/* `reload`: validates the edited config here (so that a mistake is shown to whoever asked),
 * then signals the supervisor that holds its state_dir and waits for its verdict, which it
 * writes to RUN_DIR/reload.result. */
static int cmd_reload(const struct nf_config *cfg, int timeout_ms)
{
    char err[2048];
    if (nf_config_check_paths(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "newsflow: reload refused, the pipeline runs on unchanged: %s\n", err);
        return 1;
    }
    pid_t pid = nf_state_lock_holder(cfg->state_dir);
    if (pid <= 0) {
        fprintf(stderr, "newsflow: no pipeline is running on state_dir %s\n", cfg->state_dir);
        return 1;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/reload.result", cfg->run_dir);
    char *before = nf_cli_slurp(path, 65536);
    int serial0 = before ? atoi(before) : 0;
    free(before);
    if (kill(pid, SIGHUP) < 0) {
        fprintf(stderr, "newsflow: cannot signal the supervisor (pid %ld): %s\n", (long)pid,
                strerror(errno));
        return 1;
    }
    for (int waited = 0; waited < (timeout_ms ? timeout_ms : 60000); waited += 50) {
        char *now = nf_cli_slurp(path, 65536);
        if (now && atoi(now) > serial0) {
            char *verdict = strchr(now, ' ');
            bool ok = verdict && strncmp(verdict + 1, "ok ", 3) == 0;
            fprintf(ok ? stdout : stderr, "newsflow: %s", verdict ? verdict + 1 : now);
            free(now);
            return ok ? 0 : 1;
        }
        free(now);
        nanosleep(&(struct timespec){0, 50 * 1000000}, NULL);
    }
    fprintf(stderr, "newsflow: the supervisor (pid %ld) did not answer the reload in time\n",
            (long)pid);
    return 1;
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return argc >= 2 && strcmp(argv[1], "help") == 0;
}

int main(int argc, char **argv)
{
    /* State, stores, journals and sockets are private to their owner, whatever the umask. */
    umask(077);
    if (argc < 2) {
        fprintf(stderr, "newsflow: which command? (newsflow help)\n");
        usage(stderr);
        return 2;
    }
    if (wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("newsflow 0.1.0 (plugin ABI %d, record schema v%d)\n", NF_PLUGIN_ABI,
               NF_RECORD_VERSION);
        return 0;
    }
    const char *cmd = argv[1];
    int from = 2;
    bool dlq = strcmp(cmd, "dlq") == 0;
    static struct dlq_args dq;
    if (dlq) {
        if (argc < 3 || (strcmp(argv[2], "list") != 0 && strcmp(argv[2], "replay") != 0)) {
            fprintf(stderr, "newsflow: dlq takes: list CONFIG [--json], or replay CONFIG "
                            "(--all | --id ID... | --stage STAGE) [--force] [--timeout MS]\n");
            return 2;
        }
        if (dlq_take_args(argc, argv, &dq) < 0)
            return 2;
        /* the rest (CONFIG, --set) goes through the common parser */
        argc = dq.argc;
        argv = dq.argv;
        from = 0;
    }
    static struct args a;
    if (strcmp(cmd, "keygen") == 0) {
        if (argc != 3 || argv[2][0] == '-') {
            fprintf(stderr, "newsflow keygen: needs one PREFIX: writes PREFIX.key and "
                            "PREFIX.pub\n");
            return 2;
        }
        char err[PATH_MAX + 128];
        if (nf_keygen(argv[2], err, sizeof(err)) < 0) {
            fprintf(stderr, "newsflow keygen: %s\n", err);
            return 1;
        }
        printf("wrote %s.key (secret, mode 0600) and %s.pub\n", argv[2], argv[2]);
        return 0;
    }
    static const char *const commands[] = {"run", "stage", "broker", "check", "reload",
                                           "show", "query", "tap", "top", "dlq", "doc",
                                           NULL};
    bool known = false;
    for (int i = 0; commands[i] && !known; i++)
        known = strcmp(cmd, commands[i]) == 0;
    if (!known) {
        fprintf(stderr, "newsflow: unknown command '%s' (newsflow help)\n", cmd);
        return 2;
    }
    if (parse_args(argc, argv, from, &a) < 0)
        return 2;
    if (strcmp(cmd, "doc") == 0)
        return cmd_doc(&a);
    a.config = a.n_pos > 0 ? a.positional[0] : NULL;
    a.stage = a.n_pos > 1 ? a.positional[1] : NULL;
    if (strcmp(cmd, "check") == 0 && a.n_pos > 1) {
        /* several configs: each checked on its own, every error shown */
        int bad = 0;
        for (int i = 0; i < a.n_pos; i++) {
            struct args one = a;
            one.config = a.positional[i];
            struct nf_config *c = load(&one, cmd);
            if (!c) {
                bad++;
                continue;
            }
            if (nf_config_report_problems(c, stderr) > 0) {
                bad++;
            } else if (probe_world(c) > 0) {
                bad++;
            } else {
                warn_insecure(c, stderr);
                printf("%s: ok (%d stages)\n", c->path, c->n_stages);
            }
            nf_config_destroy(&c);
        }
        return bad ? 2 : 0;
    }
    struct nf_config *cfg = load(&a, cmd);
    if (!cfg)
        return 2;
    int rc = 2;
    if (strcmp(cmd, "run") == 0) {
        char err[512];
        if (nf_placement_check(cfg, a.where.stages, "--stages", err, sizeof(err)) < 0 ||
            nf_placement_check(cfg, a.where.inboxes, "--inboxes", err, sizeof(err)) < 0)
            fprintf(stderr, "newsflow: %s\n", err);
        else
            rc = nf_supervisor_run(cfg, a.config, a.tail, a.once, &a.where);
    } else if (strcmp(cmd, "stage") == 0) {
        rc = nf_stage_main(cfg, a.stage, a.worker, a.once);
    } else if (strcmp(cmd, "broker") == 0) {
        char err[512];
        if (nf_placement_check(cfg, a.where.inboxes, "--inboxes", err, sizeof(err)) < 0)
            fprintf(stderr, "newsflow: %s\n", err);
        else
            rc = nf_brokers_run(cfg, &a.where);
    } else if (strcmp(cmd, "check") == 0) {
        if (nf_config_report_problems(cfg, stderr) > 0) {
            rc = 2;
        } else if (probe_world(cfg) > 0) {
            rc = 2;
        } else {
            int workers = 0;
            for (int s = 0; s < cfg->n_stages; s++) /* a fused stage runs in its chain's */
                workers += nf_config_head(cfg, s) == s ? cfg->stages[s].workers : 0;
            warn_insecure(cfg, stderr);
            printf("%s: ok (%d stages, %d workers)\n", cfg->path, cfg->n_stages, workers);
            rc = 0;
        }
    } else if (strcmp(cmd, "top") == 0) {
        rc = nf_top(cfg, a.timeout_ms / 1000);
    } else if (strcmp(cmd, "tap") == 0) {
        if (!a.stage)
            fprintf(stderr, "newsflow tap: which stage? newsflow tap CONFIG STAGE\n");
        else
            rc = nf_tap(cfg, a.stage, a.show.limit > 0 ? a.show.limit : -1, a.timeout_ms / 1000,
                        a.keys);
    } else if (strcmp(cmd, "reload") == 0) {
        rc = cmd_reload(cfg, a.timeout_ms);
    } else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "query") == 0) {
        bool query = strcmp(cmd, "query") == 0;
        a.show.match = query ? a.stage : NULL; /* the second positional argument */
        if (query && (!a.show.match || !*a.show.match))
            fprintf(stderr, "newsflow query: what to search for? newsflow query CONFIG TEXT\n");
        else
            rc = nf_show(cfg, &a.show, stdout);
    } else if (dlq) {
        rc = cmd_dlq(cfg, &dq);
    }
    nf_config_destroy(&cfg);
    return rc;
}
