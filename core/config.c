/* Config loader. Reads the libconfig file once, copies what it needs out of it (so the config
 * object can be freed), substitutes ${NAME} and ${NAME:-default} in strings, applies --set
 * overrides, and checks the DAG. Every error names file:line. Plugin options stay as written
 * until the plugin's option table is known (nf_config_plugin_conf). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "order.h"
#include "plugin_loader.h"

/* The keys the loader knows, with what `newsflow doc --config` says of them (docs/config.md is
 * that output). A stage key not listed here is the plugin's option. The booleans, integers and
 * sizes carry their bounds and their place in struct nf_config or nf_stage_conf: the loader
 * (file and --set alike) and the reference are made from the same row. */
enum key_kind { KEY_OTHER, KEY_BOOL, KEY_INT, KEY_SIZE };

struct key_doc {
    const char *name, *type, *def, *doc;
    enum key_kind kind;
    long long lo, hi;
    size_t offset, width;
};

#define KEY_RULE(nm, knd, lo, hi, strct, field, def, doc) \
    {nm, NULL, def, doc, knd, lo, hi, offsetof(strct, field), sizeof(((strct *)0)->field)}

static const struct key_doc top_keys[] = {
    {"stages", "group", "(required)", "the stages: `NAME = { plugin = \"...\"; ... };` each"},
    {"state_dir", "path", "`var` beside the config", "journals, ledgers, dead letters, snapshots, "
     "one subdirectory per stage; created 0700, refused when another user owns it or can write "
     "it; one pipeline at a time (a lock)"},
    {"run_dir", "path", "`STATE_DIR/run`", "ipc sockets, stats pages, config snapshots, the "
     "reload result and tap files; 0700"},
    {"plugin_dir", "path list", "`$NEWSFLOW_PLUGIN_DIR`, else beside the command",
     "where plugins are: `DIR[:DIR...]`, the first holding NAME.so wins"},
    {"deadletter", "path", "`STATE_DIR/deadletter.db`", "the dead-letter store: SQLite, or JSON "
     "lines when it ends in `.jsonl`"},
    {"log_level", "error, warn, info, debug", "`info`", "the lowest level logged"},
    {"log_format", "text, json", "`text`", "`json`: one object a line (time, level, stage, worker, "
     "record, msg)"},
    KEY_RULE("trace", KEY_BOOL, 0, 0, struct nf_config, trace, "`true`",
             "each stage appends itself and the time to a record's `trace`"),
    KEY_RULE("grace_ms", KEY_INT, 0, 3600000, struct nf_config, grace_ms, "`10000`",
             "on SIGTERM a source waits this long for what it has in flight, then the others get "
             "as long to finish"),
    {"metrics_dir", "path", "off", "every worker keeps METRICS_DIR/newsflow-STAGE-W.prom (for "
     "node_exporter's textfile collector); `\"\"` turns it off"},
    KEY_RULE("max_message", KEY_SIZE, 4096, 1 << 30, struct nf_config, max_message, "`64M`",
             "the largest message any socket accepts (ZeroMQ drops a larger one's connection "
             "before keeping it) and the largest record a stage emits"),
    {"http", "ADDRESS:PORT or PORT", "off", "the operator's endpoint: /metrics, /health, /ready, / "
     "(a bare port listens on 127.0.0.1)"},
    KEY_RULE("health_stuck_ms", KEY_INT, 1000, 86400000, struct nf_config, health_stuck_ms,
             "`60000`", "/health fails when a worker has not moved, or records wait and nothing "
             "moves, this long"),
    {"curve_server_key", "path", "none", "secret key of the listening tcp sockets (0600; from "
     "`newsflow keygen`)"},
    {"curve_server_public", "path", "none", "its public key, which connecting sockets expect"},
    {"curve_client_key", "path", "none", "this host's secret client key (set per host with --set)"},
    {"curve_allow", "path", "none", "the client public keys the listening sockets accept, one a "
     "line"},
    KEY_RULE("insecure", KEY_BOOL, 0, 0, struct nf_config, insecure, "`false`",
             "allow tcp endpoints without CURVE keys (check warns beyond loopback)"),
    {NULL, NULL, NULL, NULL, KEY_OTHER, 0, 0, 0, 0},
};

static const struct key_doc stage_keys[] = {
    {"plugin", "string", "(required)", "the plugin: PLUGIN_DIR/NAME.so"},
    {"inputs", "list of stage names", "none (a source)", "the stages whose records it takes; "
     "fan-in and fan-out allowed, no cycles"},
    KEY_RULE("workers", KEY_INT, 1, 256, struct nf_stage_conf, workers, "`1`",
             "processes of this stage (sources shard their input)"),
    {"endpoint", "tcp://HOST:PORT", "ipc under run_dir, one per worker", "the stage's inbox: "
     "upstream pushes to PORT, its workers pull from PORT+1; without it each worker binds "
     "RUN_DIR/STAGE-W.in and upstream workers send to them directly"},
    {"ack_endpoint", "tcp://HOST:PORT", "ipc under run_dir", "sources: where acknowledgements "
     "come, PORT+worker"},
    {"listen", "IP address", "the endpoint's host", "the address its tcp sockets bind, when it "
     "differs from the one others connect to (behind a Service or NAT)"},
    KEY_RULE("hwm", KEY_INT, 1, 1000000, struct nf_stage_conf, hwm, "`100`",
             "messages (batches) queued per socket before senders wait"),
    KEY_RULE("batch", KEY_INT, 1, 1000000, struct nf_stage_conf, batch, "`500`",
             "records a sink commits (or a stateful filter makes durable) at once"),
    KEY_RULE("flush_ms", KEY_INT, 1, 3600000, struct nf_stage_conf, flush_ms, "`200`",
             "the longest a started batch waits while records keep coming (it is flushed as "
             "soon as none is waiting)"),
    KEY_RULE("window", KEY_INT, 1, 10000000, struct nf_stage_conf, window, "`4096`",
             "sources: records in flight before intake pauses"),
    KEY_RULE("window_bytes", KEY_SIZE, 64 << 10, 16LL << 30, struct nf_stage_conf, window_bytes,
             "`16M`", "sources: ... or bytes of them in flight (a window of web pages is bounded "
             "in memory, not only in count)"),
    KEY_RULE("ack_timeout_ms", KEY_INT, 10, 86400000, struct nf_stage_conf, ack_timeout_ms,
             "`30000`", "sources: first resend of an unacknowledged record, doubling per attempt"),
    KEY_RULE("max_attempts", KEY_INT, 1, 1000, struct nf_stage_conf, max_attempts, "`5`",
             "sources: then the record is dead-lettered"),
    KEY_RULE("journal", KEY_BOOL, 0, 0, struct nf_stage_conf, journal, "`true`",
             "sources: journal records (durable) before sending them"),
    KEY_RULE("in_read_order", KEY_BOOL, 0, 0, struct nf_stage_conf, in_read_order, "`false`",
             "the plugin gets records in the order the sources read them (docs/scaling.md), "
             "each once no record read before it can still arrive; one worker, on the sources' "
             "host; at most 4 stages of a pipeline"),
    KEY_RULE("fuse", KEY_BOOL, 0, 0, struct nf_stage_conf, fuse, "`false`",
             "run inside the workers of its one input, which feeds no other stage: the record "
             "goes from plugin to plugin in memory, without a hop (docs/scaling.md); a filter "
             "without state, no inbox of its own (its hwm, batch and flush_ms are not used), as "
             "many workers as that input"),
    KEY_RULE("nice", KEY_INT, 0, 19, struct nf_stage_conf, nice, "`0`",
             "how far below the supervisor's CPU priority its workers run (Linux nice, added to "
             "the supervisor's): stages nearer the start set higher yield the cores to those "
             "after them, which finish the records already deep in the pipeline first "
             "(docs/scaling.md); a fused stage runs at its chain's"),
    {"log_level", "error, warn, info, debug", "the top-level one", "this stage's lowest level"},
    {NULL, NULL, NULL, NULL, KEY_OTHER, 0, 0, 0, 0},
};

/* 65536 -> "64K": a size as it would be written in the config. */
static const char *size_text(long long v, char *out, size_t outlen)
{
    const char *units = "KMG";
    int u = -1;
    while (u < 2 && v >= 1024 && v % 1024 == 0) {
        v /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(out, outlen, "%lld", v);
    else
        snprintf(out, outlen, "%lld%c", v, units[u]);
    return out;
}

/* The doc's type of a key: its row's, or made from its kind and bounds. */
static const char *key_type(const struct key_doc *k, char *out, size_t outlen)
{
    char lo[24], hi[24];
    switch (k->kind) {
    case KEY_BOOL:
        return "bool";
    case KEY_INT:
        snprintf(out, outlen, "int %lld..%lld", k->lo, k->hi);
        return out;
    case KEY_SIZE:
        snprintf(out, outlen, "size %s..%s", size_text(k->lo, lo, sizeof(lo)),
                 size_text(k->hi, hi, sizeof(hi)));
        return out;
    default:
        return k->type;
    }
}

void nf_config_print_reference(FILE *out)
{
    fputs("# Configuration reference\n\n"
          "A pipeline is one libconfig file. Strings may use `${NAME}` and `${NAME:-default}` "
          "from the environment; relative paths are resolved against the config's directory "
          "(from `--set`, against the working directory). `--set KEY=VALUE` overrides a "
          "top-level key, `--set STAGE.KEY=VALUE` a stage key or plugin option. Any mistake "
          "stops start-up (and `newsflow check`) with file:line. A plugin's own options: "
          "`newsflow doc PLUGIN`.\n\nThis page is `newsflow doc config`, made from the "
          "tables the loader reads (a test fails when it is stale).\n", out);
    const struct key_doc *tables[2] = {top_keys, stage_keys};
    const char *titles[2] = {"Top-level keys", "Stage keys"};
    for (int t = 0; t < 2; t++) {
        fprintf(out, "\n## %s\n\n| key | type | default | meaning |\n|---|---|---|---|\n",
                titles[t]);
        for (const struct key_doc *k = tables[t]; k->name; k++) {
            char type[64];
            fprintf(out, "| `%s` | %s | %s | %s |\n", k->name, key_type(k, type, sizeof(type)),
                    k->def, k->doc);
        }
    }
}

struct loader {
    struct nf_config *cfg;
    char *err;
    size_t errlen;
    int failed;
};

static int lfail(struct loader *L, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int lfail(struct loader *L, const char *where, const char *fmt, ...)
{
    if (L->failed++)
        return -1;
    int n = snprintf(L->err, L->errlen, "%s: ", where);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < L->errlen)
        vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static char *where_of(struct loader *L, const config_setting_t *s)
{
    const char *file = config_setting_source_file(s);
    char buf[PATH_MAX + 32];
    snprintf(buf, sizeof(buf), "%s:%u", file ? file : L->cfg->path,
             config_setting_source_line(s));
    return strdup(buf);
}

static bool in_list(const struct key_doc *list, const char *s)
{
    for (; list->name; list++)
        if (strcmp(list->name, s) == 0)
            return true;
    return false;
}

static void list_join(const struct key_doc *list, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (; list->name && n < outlen; list++) {
        int w = snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", list->name);
        if (w < 0)
            break;
        n += (size_t)w;
    }
}

/* ${NAME} and ${NAME:-default}; "$$" is a literal '$'. Returns a new string or NULL. */
static char *substitute(struct loader *L, const char *where, const char *s)
{
    size_t cap = strlen(s) + 64, n = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = s; *p;) {
        const char *piece = p;
        size_t plen = 1;
        char name[256];
        if (p[0] == '$' && p[1] == '$') {
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                lfail(L, where, "unterminated ${ in \"%s\"", s);
                free(out);
                return NULL;
            }
            const char *colon = strstr(p + 2, ":-");
            const char *name_end = colon && colon < end ? colon : end;
            size_t nl = (size_t)(name_end - (p + 2));
            if (nl == 0 || nl >= sizeof(name)) {
                lfail(L, where, "bad variable name in \"%s\"", s);
                free(out);
                return NULL;
            }
            memcpy(name, p + 2, nl);
            name[nl] = '\0';
            const char *val = getenv(name);
            if (val && *val) {
                piece = val;
                plen = strlen(val);
            } else if (colon && colon < end) {
                piece = colon + 2;
                plen = (size_t)(end - piece);
            } else {
                lfail(L, where, "environment variable %s is not set (use ${%s:-default} for a "
                                "default)", name, name);
                free(out);
                return NULL;
            }
            p = end + 1;
        } else {
            p++;
        }
        if (n + plen + 1 > cap) {
            cap = (n + plen + 1) * 2;
            char *o = realloc(out, cap);
            if (!o) {
                free(out);
                return NULL;
            }
            out = o;
        }
        memcpy(out + n, piece, plen);
        n += plen;
    }
    out[n] = '\0';
    return out;
}

/* The setting's value as text, with its kind. Strings are substituted. NULL on error. */
static char *scalar_text(struct loader *L, const config_setting_t *s, const char *where,
                         enum nf_valkind *kind)
{
    char buf[64];
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING:
        *kind = NF_VAL_STRING;
        return substitute(L, where, config_setting_get_string(s));
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        *kind = NF_VAL_INT;
        snprintf(buf, sizeof(buf), "%lld", config_setting_get_int64(s));
        return strdup(buf);
    case CONFIG_TYPE_FLOAT:
        *kind = NF_VAL_FLOAT;
        snprintf(buf, sizeof(buf), "%.17g", config_setting_get_float(s));
        return strdup(buf);
    case CONFIG_TYPE_BOOL:
        *kind = NF_VAL_BOOL;
        return strdup(config_setting_get_bool(s) ? "true" : "false");
    default:
        lfail(L, where, "'%s' must be a single value (string, number or boolean)",
              config_setting_name(s));
        return NULL;
    }
}

static char *join_path(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir)
        return strdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", dir, p);
    return out;
}

static int parse_int_text(const char *text, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* A boolean, integer or size key from its row: the value's kind (from the file; NF_VAL_TEXT
 * from --set, where "yes", "no", "1" and "0" are booleans too), its bounds, and where it goes
 * in `base`. `who` prefixes the message ("stage 'x': " or ""). Returns 0, or -1 (lfail). */
static int apply_rule(struct loader *L, const struct key_doc *k, void *base,
                      enum nf_valkind kind, const char *text, const char *where, const char *who)
{
    bool any = kind == NF_VAL_TEXT;
    char *dst = (char *)base + k->offset;
    if (k->kind == KEY_BOOL) {
        bool yes = !strcmp(text, "true") || (any && (!strcmp(text, "yes") || !strcmp(text, "1")));
        bool no = !strcmp(text, "false") || (any && (!strcmp(text, "no") || !strcmp(text, "0")));
        if ((kind != NF_VAL_BOOL && !any) || (!yes && !no))
            return lfail(L, where, "%s'%s' must be true or false, got %s", who, k->name, text);
        *(bool *)dst = yes;
        return 0;
    }
    long long v;
    if (k->kind == KEY_INT) {
        if ((kind != NF_VAL_INT && !any) || parse_int_text(text, k->lo, k->hi, &v) < 0)
            return lfail(L, where, "%s'%s' must be an integer from %lld to %lld, got %s", who,
                         k->name, k->lo, k->hi, text);
    } else {
        int64_t sz;
        char lo[24], hi[24];
        if ((kind != NF_VAL_INT && kind != NF_VAL_STRING && !any) || nf_parse_size(text, &sz) < 0 ||
            sz < k->lo || sz > k->hi)
            return lfail(L, where, "%s'%s' must be a size from %s to %s (bytes, or a number "
                                   "with K, M or G), got %s",
                         who, k->name, size_text(k->lo, lo, sizeof(lo)),
                         size_text(k->hi, hi, sizeof(hi)), text);
        v = sz;
    }
    if (k->width == sizeof(int))
        *(int *)dst = (int)v;
    else
        *(int64_t *)dst = v;
    return 0;
}

static const struct key_doc *rule_of(const struct key_doc *table, const char *key)
{
    for (const struct key_doc *k = table; k->name; k++)
        if (k->kind != KEY_OTHER && strcmp(k->name, key) == 0)
            return k;
    return NULL;
}

/* Applies one stage-level key (from the file or --set). */
static int stage_key(struct loader *L, struct nf_stage_conf *st, const char *key,
                     enum nf_valkind kind, const char *text, const char *where)
{
    const struct key_doc *rule = rule_of(stage_keys, key);
    if (rule) {
        char who[128];
        snprintf(who, sizeof(who), "stage '%s': ", st->name);
        return apply_rule(L, rule, st, kind, text, where, who);
    }
    char **slot = strcmp(key, "plugin") == 0         ? &st->plugin
                  : strcmp(key, "endpoint") == 0     ? &st->endpoint
                  : strcmp(key, "ack_endpoint") == 0 ? &st->ack_endpoint
                  : strcmp(key, "listen") == 0       ? &st->listen
                  : strcmp(key, "log_level") == 0    ? &st->log_level
                                                     : NULL;
    if (slot) {
        if (kind != NF_VAL_STRING && kind != NF_VAL_TEXT)
            return lfail(L, where, "stage '%s': '%s' must be a string", st->name, key);
        if (strcmp(key, "log_level") == 0 && nf_log_level_parse(text) < 0)
            return lfail(L, where, "stage '%s': log_level must be error, warn, info or debug, "
                                   "got '%s'", st->name, text);
        if (strcmp(key, "listen") == 0 && (!*text || strpbrk(text, "/:*") ||
                                           strlen(text) > 255))
            return lfail(L, where, "stage '%s': 'listen' is the IP address or interface its "
                                   "tcp sockets bind (for example \"0.0.0.0\" behind a "
                                   "Service or NAT), without scheme or port; got '%s'",
                         st->name, text);
        if ((strcmp(key, "endpoint") == 0 || strcmp(key, "ack_endpoint") == 0) &&
            strncmp(text, "tcp://", 6) != 0)
            return lfail(L, where, "stage '%s': '%s' must be tcp://HOST:PORT (ipc endpoints "
                                   "are derived from run_dir)", st->name, key);
        free(*slot);
        *slot = strdup(text);
        return 0;
    }
    if (strcmp(key, "inputs") == 0) {
        /* --set stage.inputs=a,b */
        for (int i = 0; i < st->n_inputs; i++)
            free(st->inputs[i]);
        free(st->inputs);
        st->inputs = NULL;
        st->n_inputs = 0;
        char *copy = strdup(text);
        for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            st->inputs = realloc(st->inputs, sizeof(char *) * (size_t)(st->n_inputs + 1));
            st->inputs[st->n_inputs++] = strdup(tok);
        }
        free(copy);
        return 0;
    }
    /* A plugin option: checked once the plugin is known. A later value replaces an earlier. */
    for (int i = 0; i < st->n_opts; i++) {
        if (strcmp(st->opts[i].key, key) == 0) {
            free(st->opts[i].text);
            free(st->opts[i].where);
            st->opts[i].kind = kind;
            st->opts[i].text = strdup(text);
            st->opts[i].where = strdup(where);
            return 0;
        }
    }
    struct nf_conf_value *o = realloc(st->opts, sizeof(*o) * (size_t)(st->n_opts + 1));
    if (!o)
        return lfail(L, where, "out of memory");
    st->opts = o;
    st->opts[st->n_opts++] = (struct nf_conf_value){strdup(key), kind, strdup(text),
                                                    strdup(where)};
    return 0;
}

static int read_stage(struct loader *L, struct nf_stage_conf *st, config_setting_t *grp)
{
    st->name = strdup(config_setting_name(grp));
    st->where = where_of(L, grp);
    st->workers = 1;
    st->hwm = 100; /* messages, each a batch of up to 64 KiB */
    st->batch = 500;
    st->flush_ms = 200;
    st->window = 4096;
    st->window_bytes = INT64_C(16) << 20;
    st->ack_timeout_ms = 30000;
    st->max_attempts = 5;
    st->journal = true;
    for (const char *c = st->name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return lfail(L, st->where, "stage name '%s': use lowercase letters, digits, '_' "
                                       "and '-'", st->name);
    if (!config_setting_is_group(grp))
        return lfail(L, st->where, "stage '%s' must be a group: %s = { plugin = \"...\"; ... };",
                     st->name, st->name);
    int n = config_setting_length(grp);
    for (int i = 0; i < n; i++) {
        config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
        const char *key = config_setting_name(s);
        char *where = where_of(L, s);
        int rc = 0;
        if (strcmp(key, "inputs") == 0) {
            if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
                rc = lfail(L, where, "stage '%s': inputs must be a list of stage names, "
                                     "e.g. inputs = [\"fetch\"]", st->name);
            } else {
                int k = config_setting_length(s);
                st->inputs = calloc((size_t)k + 1, sizeof(char *));
                for (int j = 0; j < k && rc == 0; j++) {
                    const char *in = config_setting_get_string_elem(s, (unsigned)j);
                    if (!in)
                        rc = lfail(L, where, "stage '%s': inputs must be strings", st->name);
                    else
                        st->inputs[st->n_inputs++] = strdup(in);
                }
            }
        } else {
            enum nf_valkind kind;
            char *text = scalar_text(L, s, where, &kind);
            rc = text ? stage_key(L, st, key, kind, text, where) : -1;
            free(text);
        }
        free(where);
        if (rc)
            return -1;
    }
    if (!st->plugin)
        return lfail(L, st->where, "stage '%s' has no plugin = \"...\"", st->name);
    return 0;
}

/* One top-level key, from the file (relative paths against the config's directory) or from
 * --set (relative to the working directory, like any path on a command line). */
static int top_key(struct loader *L, const char *key, enum nf_valkind kind, const char *text,
                   const char *where, const char *base)
{
    struct nf_config *c = L->cfg;
    bool any = kind == NF_VAL_TEXT;
    const struct key_doc *rule = rule_of(top_keys, key);
    if (rule)
        return apply_rule(L, rule, c, kind, text, where, "");
    if (strcmp(key, "http") == 0) {
        struct sockaddr_storage ss;
        size_t len;
        if ((kind != NF_VAL_STRING && !any) || (*text && nf_config_http_addr(text, &ss, &len) < 0))
            return lfail(L, where, "http must be \"ADDRESS:PORT\" (an IP address, [IPv6] in "
                                   "brackets) or \"PORT\" for 127.0.0.1; got '%s'", text);
        free(c->http);
        c->http = *text ? strdup(text) : NULL;
        return 0;
    }
    if (kind != NF_VAL_STRING && !any)
        return lfail(L, where, "'%s' must be a string, got %s", key, text);
    if (strcmp(key, "log_format") == 0) {
        if (strcmp(text, "text") != 0 && strcmp(text, "json") != 0)
            return lfail(L, where, "log_format must be one of text, json; got '%s'", text);
        c->log_json = strcmp(text, "json") == 0;
        return 0;
    }
    if (strcmp(key, "log_level") == 0) {
        /* an unknown level would silence every log line */
        if (nf_log_level_parse(text) < 0)
            return lfail(L, where, "log_level must be one of error, warn, info, debug; got '%s'",
                         text);
        free(c->log_level);
        c->log_level = strdup(text);
        return c->log_level ? 0 : lfail(L, where, "out of memory");
    }
    char **slot = strcmp(key, "plugin_dir") == 0    ? &c->plugin_dir
                  : strcmp(key, "run_dir") == 0     ? &c->run_dir
                  : strcmp(key, "state_dir") == 0   ? &c->state_dir
                  : strcmp(key, "deadletter") == 0  ? &c->deadletter
                  : strcmp(key, "metrics_dir") == 0 ? &c->metrics_dir
                  : strcmp(key, "curve_server_key") == 0    ? &c->curve_server_key
                  : strcmp(key, "curve_server_public") == 0 ? &c->curve_server_public
                  : strcmp(key, "curve_client_key") == 0    ? &c->curve_client_key
                  : strcmp(key, "curve_allow") == 0         ? &c->curve_allow
                                                    : NULL;
    if (!slot) {
        char allowed[512];
        list_join(top_keys, allowed, sizeof(allowed));
        return lfail(L, where, "unknown key '%s'; top-level keys are: %s; a stage's option is "
                               "set as STAGE.OPTION=VALUE", key, allowed);
    }
    free(*slot);
    *slot = NULL;
    if (slot == &c->metrics_dir && !*text) /* metrics_dir = "" turns them off */
        return 0;
    if (slot == &c->plugin_dir && strchr(text, ':')) {
        /* a search path: each directory resolved like any path */
        size_t cap = strlen(text) * 2 + (base ? strlen(base) * 8 : 0) + PATH_MAX, len = 0;
        char *list = calloc(1, cap);
        for (const char *p = text; list && *p;) {
            const char *colon = strchr(p, ':');
            char *one = strndup(p, colon ? (size_t)(colon - p) : strlen(p));
            char *joined = one && *one ? join_path(base, one) : NULL;
            if (joined && len + strlen(joined) + 2 < cap)
                len += (size_t)snprintf(list + len, cap - len, "%s%s", len ? ":" : "", joined);
            free(one);
            free(joined);
            p = colon ? colon + 1 : p + strlen(p);
        }
        *slot = list;
        return list ? 0 : lfail(L, where, "out of memory");
    }
    *slot = join_path(base, text);
    return *slot ? 0 : lfail(L, where, "out of memory");
}

static int apply_set(struct loader *L, const char *set)
{
    char where[512];
    snprintf(where, sizeof(where), "--set %s", set);
    const char *eq = strchr(set, '=');
    if (!eq || eq == set)
        return lfail(L, where, "expected STAGE.OPTION=VALUE or KEY=VALUE");
    char lhs[256];
    size_t ll = (size_t)(eq - set);
    if (ll >= sizeof(lhs))
        return lfail(L, where, "key too long");
    memcpy(lhs, set, ll);
    lhs[ll] = '\0';
    const char *value = eq + 1;
    char *dot = strchr(lhs, '.');
    if (!dot)
        return top_key(L, lhs, NF_VAL_TEXT, value, where, NULL);
    *dot = '\0';
    int si = nf_config_stage_index(L->cfg, lhs);
    if (si < 0)
        return lfail(L, where, "no stage named '%s'", lhs);
    return stage_key(L, &L->cfg->stages[si], dot + 1, NF_VAL_TEXT, value, where);
}

static int visit(struct loader *L, int s, char *mark)
{
    struct nf_stage_conf *st = &L->cfg->stages[s];
    if (mark[s] == 1)
        return lfail(L, st->where, "stage '%s' is part of a cycle: the stages must form a DAG",
                     st->name);
    if (mark[s] == 2)
        return 0;
    mark[s] = 1;
    st->paths_below = 0;
    for (int i = 0; i < st->n_consumers; i++) {
        if (visit(L, st->consumers[i], mark) < 0)
            return -1;
        st->paths_below += L->cfg->stages[st->consumers[i]].paths_below;
    }
    if (st->n_consumers == 0)
        st->paths_below = 1;
    mark[s] = 2;
    return 0;
}

/* A fused stage runs inside the workers of its one input (the head of its chain): the records
 * it takes are exactly those its input sends, and no other stage's, so nothing else may send to
 * it or share what its input sends. */
static int check_fused(struct loader *L)
{
    struct nf_config *c = L->cfg;
    for (int s = 0; s < c->n_stages; s++) {
        struct nf_stage_conf *st = &c->stages[s];
        st->head = s;
        if (!st->fuse)
            continue;
        if (st->n_inputs != 1)
            return lfail(L, st->where, "stage '%s': fuse runs a stage inside the workers of its "
                                       "one input, and it has %d inputs", st->name, st->n_inputs);
        const struct nf_stage_conf *up = &c->stages[st->input_idx[0]];
        if (up->n_inputs == 0)
            return lfail(L, st->where, "stage '%s': fuse cannot run it inside source '%s' "
                                       "(a source's records leave only once journaled)",
                         st->name, up->name);
        if (up->n_consumers != 1)
            return lfail(L, st->where, "stage '%s': fuse needs its input '%s' to feed it "
                                       "alone, and '%s' feeds %d stages", st->name, up->name,
                         up->name, up->n_consumers);
        if (st->in_read_order || up->in_read_order)
            return lfail(L, st->where, "stage '%s': fuse and in_read_order do not go together "
                                       "(an ordered stage holds records in its own worker)",
                         st->name);
        if (st->endpoint || st->listen)
            return lfail(L, st->where, "stage '%s': a fused stage has no inbox of its own; "
                                       "drop its endpoint and listen", st->name);
    }
    for (int s = 0; s < c->n_stages; s++) {
        int h = s, depth = 0; /* the stages form a DAG (visit): the walk ends */
        while (c->stages[h].fuse)
            h = c->stages[h].input_idx[0], depth++;
        struct nf_stage_conf *st = &c->stages[s];
        if (h == s)
            continue;
        if (depth > NF_CONFIG_CHAIN_MAX)
            return lfail(L, st->where, "stage '%s': more than %d stages fused in a row after "
                                       "'%s'", st->name, NF_CONFIG_CHAIN_MAX, c->stages[h].name);
        if (st->workers != 1 && st->workers != c->stages[h].workers)
            return lfail(L, st->where, "stage '%s': fused, it runs in the %d workers of '%s'; "
                                       "its own workers (%d) cannot differ", st->name,
                         c->stages[h].workers, c->stages[h].name, st->workers);
        if (st->nice && st->nice != c->stages[h].nice)
            return lfail(L, st->where, "stage '%s': fused, it runs at the nice of '%s' (%d); "
                                       "its own nice (%d) cannot differ", st->name,
                         c->stages[h].name, c->stages[h].nice, st->nice);
        st->head = h;
        st->workers = c->stages[h].workers;
        st->nice = c->stages[h].nice;
    }
    return 0;
}

bool nf_config_fuse_refusal(const struct nf_config *cfg, int s, const struct nf_plugin *p,
                            char *err, size_t errlen)
{
    /* A fused stage runs in the worker of its input, which neither flushes the stage's state
     * before the records it judged go on, nor waits for that state to be durable. */
    if (p->kind == NF_PLUGIN_FILTER && !p->flush && !p->durable)
        return false;
    const struct nf_stage_conf *st = &cfg->stages[s];
    snprintf(err, errlen, "%s: stage '%s': fuse is for a filter without state, and plugin %s is "
                          "%s; run it in workers of its own (fuse = false)",
             st->where, st->name, p->name,
             p->kind == NF_PLUGIN_SOURCE ? "a source"
             : p->kind == NF_PLUGIN_SINK ? "a sink"
                                         : "a filter with state (it has flush)");
    return true;
}

int nf_config_head(const struct nf_config *cfg, int s)
{
    return cfg->stages[s].head;
}

int nf_config_chain(const struct nf_config *cfg, int head, int *out, int max)
{
    int n = 0;
    for (int s = head; cfg->stages[s].n_consumers == 1 && n < max;) {
        s = cfg->stages[s].consumers[0];
        if (!cfg->stages[s].fuse)
            break;
        out[n++] = s;
    }
    return n;
}

static int check_dag(struct loader *L)
{
    struct nf_config *c = L->cfg;
    for (int s = 0; s < c->n_stages; s++) {
        struct nf_stage_conf *st = &c->stages[s];
        st->input_idx = calloc((size_t)st->n_inputs + 1, sizeof(int));
        for (int i = 0; i < st->n_inputs; i++) {
            int in = nf_config_stage_index(c, st->inputs[i]);
            if (in < 0)
                return lfail(L, st->where, "stage '%s': input '%s' is not a stage", st->name,
                             st->inputs[i]);
            if (in == s)
                return lfail(L, st->where, "stage '%s' lists itself as an input", st->name);
            for (int j = 0; j < i; j++)
                if (st->input_idx[j] == in)
                    return lfail(L, st->where, "stage '%s': input '%s' is listed twice",
                                 st->name, st->inputs[i]);
            st->input_idx[i] = in;
            struct nf_stage_conf *up = &c->stages[in];
            up->consumers = realloc(up->consumers, sizeof(int) * (size_t)(up->n_consumers + 1));
            up->consumers[up->n_consumers++] = s;
        }
    }
    /* Read order: the sources forget what passed an ordered stage when its worker starts, which
     * only one worker may ask (order.h). */
    int ordered = 0;
    for (int s = 0; s < c->n_stages; s++) {
        struct nf_stage_conf *st = &c->stages[s];
        if (!st->in_read_order)
            continue;
        if (st->n_inputs == 0)
            return lfail(L, st->where, "stage '%s': in_read_order is for a stage with inputs; "
                                       "a source reads in its own order", st->name);
        if (st->workers != 1)
            return lfail(L, st->where, "stage '%s': in_read_order needs workers = 1 (it has "
                                       "%d): records in read order go through one process",
                         st->name, st->workers);
        if (++ordered > NF_ORDER_STAGES)
            return lfail(L, st->where, "stage '%s': in_read_order is set for more than %d "
                                       "stages", st->name, NF_ORDER_STAGES);
    }
    char *mark = calloc((size_t)c->n_stages + 1, 1);
    int rc = 0;
    for (int s = 0; s < c->n_stages && rc == 0; s++)
        rc = visit(L, s, mark);
    free(mark);
    return rc < 0 ? rc : check_fused(L);
}

/* Every tcp address a config binds (inbox PORT and PORT+1, acknowledgements PORT+worker) must
 * be its own: two sockets on one address cannot both start. */
static int check_clashes(struct loader *L)
{
    struct nf_config *c = L->cfg;
    struct bound {
        char ep[600];
        int stage;
    } *b = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (int s = 0; s < c->n_stages && rc == 0; s++) {
        const struct nf_stage_conf *st = &c->stages[s];
        int count = st->n_inputs ? (st->endpoint ? 2 : 0) : (st->ack_endpoint ? st->workers : 0);
        for (int k = 0; k < count && rc == 0; k++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                struct bound *nb = realloc(b, cap * sizeof(*b));
                if (!nb) {
                    rc = lfail(L, st->where, "out of memory");
                    break;
                }
                b = nb;
            }
            int e = st->n_inputs ? nf_config_inbox(c, s, k == 1, true, b[n].ep, sizeof(b[n].ep))
                                 : nf_config_ack_endpoint(c, s, k, true, b[n].ep,
                                                          sizeof(b[n].ep));
            if (e < 0)
                continue;
            for (size_t j = 0; j < n; j++)
                if (strcmp(b[j].ep, b[n].ep) == 0) {
                    rc = lfail(L, st->where, "stage '%s' would bind %s, which stage '%s' (%s) "
                                             "binds too: an inbox takes PORT and PORT+1, "
                                             "acknowledgements PORT+worker",
                               st->name, b[n].ep, c->stages[b[j].stage].name,
                               c->stages[b[j].stage].where);
                    break;
                }
            b[n++].stage = s;
        }
    }
    free(b);
    return rc;
}

char *nf_config_default_plugin_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof(cand), "%s/../plugins", exe);
            if (access(cand, R_OK) == 0)
                return realpath(cand, NULL);
            snprintf(cand, sizeof(cand), "%s/../lib/newsflow/plugins", exe);
            if (access(cand, R_OK) == 0)
                return realpath(cand, NULL);
        }
    }
    return strdup("/usr/lib/newsflow/plugins");
}

struct nf_config *nf_config_load(const char *path, char *const *sets, int n_sets, char *err,
                                 size_t errlen)
{
    return nf_config_load_text(path, NULL, sets, n_sets, err, errlen);
}

struct nf_config *nf_config_load_text(const char *path, const char *text, char *const *sets,
                                      int n_sets, char *err, size_t errlen)
{
    struct nf_config *c = calloc(1, sizeof(*c));
    struct loader L = {c, err, errlen, 0};
    config_t lc;
    config_init(&lc);
    if (!c)
        goto fail;
    c->path = strdup(path);
    c->trace = true;
    c->grace_ms = 10000;
    c->max_message = INT64_C(64) << 20;
    c->health_stuck_ms = 60000;
    if (!text) {
        FILE *f = fopen(path, "r");
        if (!f) {
            lfail(&L, path, "cannot read the config: %s", strerror(errno));
            goto fail;
        }
        fclose(f);
    }
    char *abs = realpath(path, NULL);
    char *slash = abs ? strrchr(abs, '/') : NULL;
    if (slash)
        *slash = '\0';
    c->dir = abs ? abs : strdup(".");
    config_set_include_dir(&lc, c->dir);
    if (!(text ? config_read_string(&lc, text) : config_read_file(&lc, path))) {
        const char *ef = config_error_file(&lc);
        char where[PATH_MAX + 32];
        snprintf(where, sizeof(where), "%s:%d", ef ? ef : path, config_error_line(&lc));
        lfail(&L, where, "%s", config_error_text(&lc));
        goto fail;
    }
    config_setting_t *root = config_root_setting(&lc);
    config_setting_t *stages = NULL;
    for (int i = 0; i < config_setting_length(root); i++) {
        config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *key = config_setting_name(s);
        char *where = where_of(&L, s);
        if (!in_list(top_keys, key)) {
            char allowed[512];
            list_join(top_keys, allowed, sizeof(allowed));
            lfail(&L, where, "unknown key '%s'; allowed keys are: %s", key, allowed);
            free(where);
            goto fail;
        }
        if (strcmp(key, "stages") == 0) {
            stages = s;
            free(where);
            continue;
        }
        enum nf_valkind kind;
        char *text = scalar_text(&L, s, where, &kind);
        if (!text) {
            free(where);
            goto fail;
        }
        int rc = top_key(&L, key, kind, text, where, c->dir);
        free(text);
        free(where);
        if (rc < 0)
            goto fail;
    }
    if (!stages || !config_setting_is_group(stages) || config_setting_length(stages) == 0) {
        char where[PATH_MAX + 8];
        snprintf(where, sizeof(where), "%s:%u", path,
                 stages ? config_setting_source_line(stages) : 1);
        lfail(&L, where, "the config needs a non-empty group stages = { NAME = { plugin = "
                         "\"...\"; ... }; ... };");
        goto fail;
    }
    c->n_stages = config_setting_length(stages);
    c->stages = calloc((size_t)c->n_stages, sizeof(*c->stages));
    if (!c->stages)
        goto fail;
    for (int i = 0; i < c->n_stages; i++)
        if (read_stage(&L, &c->stages[i], config_setting_get_elem(stages, (unsigned)i)) < 0)
            goto fail;
    for (int i = 0; i < n_sets; i++)
        if (apply_set(&L, sets[i]) < 0)
            goto fail;
    if (!c->plugin_dir) {
        const char *env = getenv("NEWSFLOW_PLUGIN_DIR");
        c->plugin_dir = env && *env ? strdup(env) : nf_config_default_plugin_dir();
    }
    if (!c->state_dir)
        c->state_dir = join_path(c->dir, "var");
    if (!c->run_dir)
        c->run_dir = join_path(c->state_dir, "run");
    if (!c->deadletter)
        c->deadletter = join_path(c->state_dir, "deadletter.db");
    if (!c->log_level)
        c->log_level = strdup("info");
    if (check_dag(&L) < 0)
        goto fail;

    for (int i = 0; i < c->n_stages; i++) {
        /* every endpoint this stage will use must be buildable now, not at run time */
        const struct nf_stage_conf *st = &c->stages[i];
        char ep[600];
        for (int b = 0; b < 2 && st->n_inputs; b++)
            if (nf_config_inbox(c, i, b, true, ep, sizeof(ep)) < 0 ||
                nf_config_inbox(c, i, b, false, ep, sizeof(ep)) < 0) {
                lfail(&L, st->where, "stage '%s': its inbox endpoint cannot be built: %s", st->name,
                      st->endpoint ? "endpoint needs tcp://HOST:PORT with PORT below 65535 (the "
                                     "stage's workers use PORT+1)"
                                   : "the ipc path under run_dir is over 107 bytes; use a "
                                     "shorter run_dir");
                goto fail;
            }
        for (int w = 0; w < st->workers && nf_config_direct(c, i); w++)
            if (nf_config_worker_inbox(c, i, w, ep, sizeof(ep)) < 0) {
                lfail(&L, st->where, "stage '%s': the inbox of worker %d cannot be built: the "
                                     "ipc path under run_dir is over 107 bytes; use a shorter "
                                     "run_dir", st->name, w);
                goto fail;
            }
        for (int w = 0; w < st->workers && !st->n_inputs; w++)
            if (nf_config_ack_endpoint(c, i, w, true, ep, sizeof(ep)) < 0) {
                lfail(&L, st->where, "stage '%s': acknowledgement endpoint of worker %d cannot "
                                     "be built (%s)", st->name, w,
                      st->ack_endpoint ? "ack_endpoint PORT + worker must stay below 65536"
                                       : "ipc path under run_dir over 107 bytes");
                goto fail;
            }
    }
    if (check_clashes(&L) < 0)
        goto fail;
    for (int i = 0; i < c->n_stages; i++)
        c->uses_tcp |= c->stages[i].endpoint || c->stages[i].ack_endpoint;
    if (c->uses_tcp && !c->insecure &&
        (!c->curve_server_key || !c->curve_server_public || !c->curve_client_key ||
         !c->curve_allow)) {
        char where[PATH_MAX + 8];
        snprintf(where, sizeof(where), "%s:1", path);
        lfail(&L, where, "a stage uses tcp://, so its links need CURVE keys: set "
                         "curve_server_key, curve_server_public, curve_client_key and "
                         "curve_allow (files made by `newsflow keygen`), or insecure = true for "
                         "plain tcp on a network you trust");
        goto fail;
    }
    config_destroy(&lc);
    return c;
fail:
    if (!L.failed)
        snprintf(err, errlen, "%s: out of memory", path);
    config_destroy(&lc);
    nf_config_destroy(&c);
    return NULL;
}

void nf_config_destroy(struct nf_config **pc)
{
    if (!pc || !*pc)
        return;
    struct nf_config *c = *pc;
    for (int s = 0; s < c->n_stages; s++) {
        struct nf_stage_conf *st = &c->stages[s];
        free(st->name);
        free(st->plugin);
        free(st->where);
        for (int i = 0; i < st->n_inputs; i++)
            free(st->inputs[i]);
        free(st->inputs);
        free(st->input_idx);
        free(st->consumers);
        free(st->endpoint);
        free(st->ack_endpoint);
        free(st->listen);
        free(st->log_level);
        for (int i = 0; i < st->n_opts; i++) {
            free(st->opts[i].key);
            free(st->opts[i].text);
            free(st->opts[i].where);
        }
        free(st->opts);
    }
    free(c->stages);
    free(c->path);
    free(c->dir);
    free(c->plugin_dir);
    free(c->run_dir);
    free(c->curve_server_key);
    free(c->curve_server_public);
    free(c->curve_client_key);
    free(c->curve_allow);
    free(c->http);
    free(c->state_dir);
    free(c->deadletter);
    free(c->metrics_dir);
    free(c->log_level);
    free(c);
    *pc = NULL;
}

int nf_config_stage_index(const struct nf_config *c, const char *name)
{
    for (int i = 0; i < c->n_stages; i++)
        if (c->stages[i].name && strcmp(c->stages[i].name, name) == 0)
            return i;
    return -1;
}

/* Where a stage's option was set: its file:line (the last setting wins: a --set), or the
 * stage's with "(default of 'K')"; the stage's alone when no option is named. */
static void option_where(const struct nf_stage_conf *st, const char *key, char *out,
                         size_t outlen)
{
    for (int i = st->n_opts - 1; key && i >= 0; i--) {
        if (strcmp(st->opts[i].key, key) == 0) {
            snprintf(out, outlen, "%s", st->opts[i].where);
            return;
        }
    }
    if (key)
        snprintf(out, outlen, "%s (default of '%s')", st->where, key);
    else
        snprintf(out, outlen, "%s", st->where);
}

int nf_config_plugin_conf(const struct nf_config *c, int s, const struct nf_plugin *p,
                          void *conf, struct nf_strpool *pool, char *err, size_t errlen)
{
    const struct nf_stage_conf *st = &c->stages[s];
    if (p->kind == NF_PLUGIN_SOURCE && st->n_inputs > 0) {
        snprintf(err, errlen, "%s: stage '%s': plugin %s is a source and takes no inputs",
                 st->where, st->name, p->name);
        return -1;
    }
    if (p->kind != NF_PLUGIN_SOURCE && st->n_inputs == 0) {
        snprintf(err, errlen, "%s: stage '%s': plugin %s needs inputs = [\"...\"]", st->where,
                 st->name, p->name);
        return -1;
    }
    if (p->kind == NF_PLUGIN_SINK && st->n_consumers > 0) {
        snprintf(err, errlen, "%s: stage '%s': plugin %s is a sink; stage '%s' cannot take it "
                              "as an input", st->where, st->name, p->name,
                 c->stages[st->consumers[0]].name);
        return -1;
    }
    char e[512];
    if (nf_options_defaults(p->options, conf, c->dir, pool, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "%s: stage '%s': plugin %s: %s", st->where, st->name, p->name, e);
        return -1;
    }
    for (int i = 0; i < st->n_opts; i++) {
        const struct nf_conf_value *v = &st->opts[i];
        const struct nf_option *o = nf_option_find(p->options, v->key);
        if (!o) {
            char allowed[1024], stagek[512];
            nf_options_names(p->options, allowed, sizeof(allowed));
            list_join(stage_keys, stagek, sizeof(stagek));
            snprintf(err, errlen, "%s: stage '%s': unknown option '%s' for plugin %s; its "
                                  "options are: %s; stage keys are: %s",
                     v->where, st->name, v->key, p->name, allowed[0] ? allowed : "(none)",
                     stagek);
            return -1;
        }
        if (nf_option_set(o, conf, v->kind, v->text, c->dir, pool, e, sizeof(e)) < 0) {
            snprintf(err, errlen, "%s: stage '%s': %s", v->where, st->name, e);
            return -1;
        }
    }
    for (const struct nf_option *o = p->options; o && o->name; o++) {
        if (o->def)
            continue;
        bool given = false;
        for (int i = 0; i < st->n_opts && !given; i++)
            given = strcmp(st->opts[i].key, o->name) == 0;
        if (!given) {
            snprintf(err, errlen, "%s: stage '%s': plugin %s needs option '%s' (%s)", st->where,
                     st->name, p->name, o->name, o->description ? o->description : "");
            return -1;
        }
    }
    /* the plugin's rules across options, before anything starts (and before a source
     * journals): named by the option's file:line when the plugin says which */
    const char *bad = NULL;
    if (nf_options_validate(p, conf, &bad, e, sizeof(e)) < 0) {
        char where[PATH_MAX + 128];
        option_where(st, bad, where, sizeof(where));
        snprintf(err, errlen, "%s: stage '%s': %s", where, st->name, e);
        return -1;
    }
    return 0;
}

/* Loads every stage's plugin and fills its conf from the config, as a worker would; with
 * `paths`, also checks in the world the path options the plugin declares. Without `report` it
 * stops at the first problem (in err) and returns -1; with it, it prints every problem there
 * and returns how many. */
static int check_stages(const struct nf_config *c, bool paths, FILE *report, char *err,
                        size_t errlen)
{
    int bad = 0;
    for (int s = 0; s < c->n_stages && (report || !bad); s++) {
        const struct nf_stage_conf *st = &c->stages[s];
        char e[1024];
        struct nf_plugin_handle *h = nf_plugin_load(c->plugin_dir, st->plugin, e, sizeof(e));
        struct nf_strpool *pool = h ? nf_strpool_new() : NULL;
        void *conf = h ? calloc(1, h->desc.conf_size ? h->desc.conf_size : 1) : NULL;
        bool filled = false;
        if (!h)
            snprintf(err, errlen, "%s: stage '%s': %s", st->where, st->name, e);
        else if (!pool || !conf)
            snprintf(err, errlen, "out of memory");
        else if (st->fuse && nf_config_fuse_refusal(c, s, &h->desc, err, errlen))
            ;
        else
            filled = nf_config_plugin_conf(c, s, &h->desc, conf, pool, err, errlen) == 0;
        if (!filled) {
            bad++;
            if (report)
                fprintf(report, "newsflow: %s\n", err);
        }
        for (const struct nf_option *o = filled ? h->desc.options : NULL;
             paths && o && o->name && (report || !bad); o++) {
            if (nf_option_check_path(o, conf, e, sizeof(e)) == 0)
                continue;
            char where[PATH_MAX + 128];
            option_where(st, o->name, where, sizeof(where));
            /* a path too long for err is cut: the start names the file and the stage */
            if (snprintf(err, errlen, "%s: stage '%s': %s", where, st->name, e) >= (int)errlen)
                err[errlen - 1] = '\0';
            bad++;
            if (report)
                fprintf(report, "newsflow: %s\n", err);
        }
        free(conf);
        nf_strpool_destroy(&pool);
        nf_plugin_unload(&h);
    }
    return report ? bad : bad ? -1 : 0;
}

int nf_config_check_plugins(const struct nf_config *c, char *err, size_t errlen)
{
    return check_stages(c, false, NULL, err, errlen);
}

int nf_config_check_paths(const struct nf_config *c, char *err, size_t errlen)
{
    return check_stages(c, true, NULL, err, errlen);
}

int nf_config_report_problems(const struct nf_config *c, FILE *out)
{
    char err[2048];
    return check_stages(c, true, out, err, sizeof(err));
}

/* tcp://HOST:PORT+delta. A bound socket listens on the address the endpoint names (or on
 * `listen` when set), never on every interface. */
static int tcp_with_port(const char *ep, int delta, const char *listen, char *out,
                         size_t outlen)
{
    const char *colon = strrchr(ep, ':');
    if (!colon || colon < ep + 6)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    /* "70x0" must not quietly become port 70 */
    if (end == colon + 1 || *end || port <= 0 || port + delta > 65535)
        return -1;
    const char *host = ep + 6;
    int hl = (int)(colon - host);
    if (listen) {
        host = listen;
        hl = (int)strlen(listen);
    }
    if (hl == 0)
        return -1;
    int n = snprintf(out, outlen, "tcp://%.*s:%ld", hl, host, port + delta);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int nf_config_http_addr(const char *text, void *out, size_t *len)
{
    char host[64] = "127.0.0.1";
    const char *port = text;
    const char *colon = strrchr(text, ':');
    if (colon) {
        size_t hl = (size_t)(colon - text);
        const char *h = text;
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            h++;
            hl -= 2;
        }
        if (hl == 0 || hl >= sizeof(host))
            return -1;
        memcpy(host, h, hl);
        host[hl] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (end == port || *end || p < 1 || p > 65535)
        return -1;
    struct sockaddr_storage *ss = out;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = out;
    struct sockaddr_in6 *v6 = out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

static int ipc(const struct nf_config *c, const char *name, const char *suffix, char *out,
               size_t outlen)
{
    int n = snprintf(out, outlen, "ipc://%s/%s%s", c->run_dir, name, suffix);
    /* sun_path holds 107 bytes */
    if (n < 0 || (size_t)n >= outlen || n - 6 > 107)
        return -1;
    return 0;
}

int nf_config_inbox(const struct nf_config *c, int s, bool backend, bool bind, char *out,
                    size_t outlen)
{
    const struct nf_stage_conf *st = &c->stages[s];
    if (st->endpoint)
        return tcp_with_port(st->endpoint, backend ? 1 : 0, bind ? st->listen : NULL, out,
                             outlen);
    return ipc(c, st->name, backend ? ".out" : ".in", out, outlen);
}

bool nf_config_direct(const struct nf_config *c, int s)
{
    return c->stages[s].n_inputs > 0 && !c->stages[s].endpoint;
}

int nf_config_worker_inbox(const struct nf_config *c, int s, int worker, char *out, size_t outlen)
{
    char suffix[32];
    snprintf(suffix, sizeof(suffix), "-%d.in", worker);
    return ipc(c, c->stages[s].name, suffix, out, outlen);
}

int nf_config_ack_endpoint(const struct nf_config *c, int s, int worker, bool bind, char *out,
                           size_t outlen)
{
    const struct nf_stage_conf *st = &c->stages[s];
    if (st->ack_endpoint)
        return tcp_with_port(st->ack_endpoint, worker, bind ? st->listen : NULL, out, outlen);
    char suffix[32];
    snprintf(suffix, sizeof(suffix), "-%d.ack", worker);
    return ipc(c, st->name, suffix, out, outlen);
}
