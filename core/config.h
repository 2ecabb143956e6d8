/* Pipeline configuration: a libconfig file, `${NAME}` environment substitution, `--set`
 * overrides, the stage DAG and its endpoints. Plugin options are kept as written, with their
 * file:line, and checked against the plugin's option table by nf_config_plugin_conf(). */
#ifndef NF_CONFIG_H
#define NF_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "newsflow/plugin.h"
#include "options.h"

struct nf_conf_value {
    char *key;
    enum nf_valkind kind;
    char *text;
    char *where; /* "conf/x.cfg:12" or "--set fetch.path" */
};

struct nf_stage_conf {
    char *name;
    char *plugin;
    char *where; /* where the stage is defined */
    int workers;
    char **inputs;
    int n_inputs;
    int *input_idx;
    int *consumers; /* stages that list this one in inputs */
    int n_consumers;
    int64_t paths_below; /* acknowledgement weight of a record whose journey ends here */
    char *endpoint;      /* tcp://host:port for the inbox (port and port+1); NULL: ipc */
    char *ack_endpoint;  /* sources: tcp://host:port for acks (port + worker); NULL: ipc */
    char *listen;        /* the address its tcp sockets bind; NULL: the endpoint's host */
    int hwm;
    int batch;
    int flush_ms;
    int window;             /* sources: records in flight before intake pauses */
    int64_t window_bytes;   /* sources: ... or bytes of them in flight */
    int64_t ack_timeout_ms; /* sources: first resend after this long without an ack */
    int max_attempts;       /* sources: then dead-letter */
    bool journal;           /* sources: journal records before sending (default true) */
    bool in_read_order;     /* the plugin gets records in read order (order.h) */
    bool fuse;              /* runs inside the workers of its one input (nf_config_head) */
    int nice;               /* its workers' CPU priority below the others' (setpriority) */
    int head;               /* the stage whose workers run this one: itself unless fused */
    char *log_level;
    struct nf_conf_value *opts;
    int n_opts;
};

struct nf_config {
    char *path;
    char *dir; /* the config file's directory: relative paths are resolved against it */
    char *plugin_dir;
    char *run_dir;
    char *state_dir;
    char *deadletter;
    char *metrics_dir; /* NULL: no metrics files */
    char *log_level;
    bool log_json; /* log_format = "json" */
    bool trace;
    int grace_ms;
    int64_t max_message; /* the largest message a socket accepts, and a stage emits */
    /* CURVE on tcp (files written by `newsflow keygen`): the secret key of the pipeline's
     * listening sockets, its public key (what connecting sockets expect), this host's client
     * secret key, and the client public keys the listening sockets accept. */
    char *curve_server_key, *curve_server_public, *curve_client_key, *curve_allow;
    bool insecure; /* plain tcp allowed without keys */
    char *http;            /* the operator's HTTP endpoint, "ADDRESS:PORT"; NULL: off */
    int64_t health_stuck_ms; /* /health: records waiting and nothing moving this long */
    bool uses_tcp; /* some endpoint is tcp:// */
    struct nf_stage_conf *stages;
    int n_stages;
};

/* Reads and checks a config file. `sets` are "STAGE.KEY=VALUE" or "KEY=VALUE" overrides.
 * Returns NULL with "file:line: what is wrong" in err. Caller owns the result. */
struct nf_config *nf_config_load(const char *path, char *const *sets, int n_sets, char *err,
                                 size_t errlen);
/* The same, from the config's text as it was read from `path` (a snapshot the supervisor
 * took): relative paths, includes and error locations are as if read from `path`. */
struct nf_config *nf_config_load_text(const char *path, const char *text, char *const *sets,
                                      int n_sets, char *err, size_t errlen);
void nf_config_destroy(struct nf_config **cfg);

int nf_config_stage_index(const struct nf_config *cfg, const char *name);

/* Fused stages (`fuse = true`) have no workers of their own: each runs inside the workers of
 * its one input, the record handed from plugin to plugin in memory. nf_config_head is the stage
 * whose workers run stage s (s itself unless fused); nf_config_chain lists the stages fused
 * after head, in the order a record goes through them (at most max; returns how many). A chain
 * is at most NF_CONFIG_CHAIN_MAX stages after its head (the loader refuses a longer one). */
#define NF_CONFIG_CHAIN_MAX 64
int nf_config_head(const struct nf_config *cfg, int s);
/* Whether stage s cannot run fused with plugin p (only a filter without state can), saying why
 * with the stage's file:line in err. */
bool nf_config_fuse_refusal(const struct nf_config *cfg, int s, const struct nf_plugin *p,
                            char *err, size_t errlen);
int nf_config_chain(const struct nf_config *cfg, int head, int *out, int max);

/* Where plugins are when neither plugin_dir nor NEWSFLOW_PLUGIN_DIR says: beside the command
 * (BIN/../plugins in a build tree, BIN/../lib/newsflow/plugins once installed). Malloc'd. */
char *nf_config_default_plugin_dir(void);

/* The reference of every top-level and stage key, in Markdown (docs/config.md). */
void nf_config_print_reference(FILE *out);

/* "ADDRESS:PORT", "[IPv6]:PORT" or "PORT" (on 127.0.0.1) into a socket address (out: a struct
 * sockaddr_storage). Returns 0 or -1. */
int nf_config_http_addr(const char *text, void *out, size_t *len);

/* Checks the stage's options against the plugin's table and fills `conf` (conf_size bytes,
 * zeroed by the caller): unknown key (with the allowed keys listed), wrong type, missing
 * required option, wrong plugin kind for the stage's place in the DAG. Strings go into pool.
 * Returns 0 or -1 with "file:line: ..." in err. */
int nf_config_plugin_conf(const struct nf_config *cfg, int stage, const struct nf_plugin *p,
                          void *conf, struct nf_strpool *pool, char *err, size_t errlen);

/* Loads every stage's plugin and checks its options: what `newsflow check` and the supervisor do
 * before anything starts. Returns 0 or -1 with the first error in err. */
int nf_config_check_plugins(const struct nf_config *cfg, char *err, size_t errlen);
/* The same, and every path option a plugin declares checked in the world (inputs exist and are
 * readable, outputs can be written): what a reload asks before it replaces a running stage. */
int nf_config_check_paths(const struct nf_config *cfg, char *err, size_t errlen);
/* What `check` shows: the same for every stage, each problem printed to `out` with stage,
 * option and file:line rather than stopping at the first. Returns how many. */
int nf_config_report_problems(const struct nf_config *cfg, FILE *out);

/* Endpoints. `out` receives a ZeroMQ endpoint; return 0 or -1 (too long for ipc). */
int nf_config_inbox(const struct nf_config *cfg, int stage, bool backend, bool bind, char *out,
                    size_t outlen);
int nf_config_ack_endpoint(const struct nf_config *cfg, int stage, int worker, bool bind,
                           char *out, size_t outlen);
/* Whether records reach the stage's workers directly: a stage with inputs and an ipc inbox.
 * Each of its workers then binds its own socket (nf_config_worker_inbox) and every upstream
 * worker connects to all of them, with no broker between. A tcp inbox keeps its broker, so
 * that workers on any host can join and leave without their upstream knowing them. */
bool nf_config_direct(const struct nf_config *cfg, int stage);

int nf_config_worker_inbox(const struct nf_config *cfg, int stage, int worker, char *out,
                           size_t outlen);

#endif
