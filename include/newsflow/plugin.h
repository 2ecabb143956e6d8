/* The plugin ABI: what a stage plugin exports and what the stage host offers it.
 * A plugin is one shared object exporting one symbol, `nf_plugin`, a versioned descriptor whose
 * option table is the single source of truth for its configuration: the core validates the
 * config against it, fills the plugin's conf struct, and prints the plugin's docs from it.
 * Plugins never read the config file, open sockets or acknowledge records themselves. */
#ifndef NEWSFLOW_PLUGIN_H
#define NEWSFLOW_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "newsflow/log.h"
#include "newsflow/record.h"

/* Bumped on any incompatible change of struct nf_plugin, struct nf_option or the callbacks'
 * meaning. The loader refuses a plugin whose abi differs or whose size is smaller than the
 * members it needs; the one exception is ABI 1, whose shorter option rows (no bounds, choices or
 * flags) the loader still reads (docs/plugins.md). ABI 2 appended min, max, choices and flags to
 * struct nf_option and validate to struct nf_plugin; ABI 3 appended durable, with which a sink's
 * flush may answer NF_AGAIN (a host of ABI 2 would take that for a failure, so it refuses such a
 * plugin); a plugin of ABI 2 still loads. */
#define NF_PLUGIN_ABI 3

#define NF_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Return codes of every callback: 0 or one of these. */
enum nf_status {
    NF_OK = 0,
    NF_ERR = -1,   /* failed: the reason was given with nf_ctx_error() */
    NF_SKIP = -2,  /* process: drop this record on purpose (its journey ends here) */
    NF_AGAIN = -3, /* next: nothing to read now, ask again later */
    NF_EOF = -4,   /* next: the input is exhausted */
};

enum nf_opt_type {
    NF_OPT_STRING, /* const char *: owned by the core, valid until destroy */
    NF_OPT_PATH,   /* const char *: a string; a relative path is resolved against the config's
                      directory */
    NF_OPT_INT,    /* int64_t */
    NF_OPT_DOUBLE, /* double: an integer in the config is accepted */
    NF_OPT_BOOL,   /* bool */
    NF_OPT_SIZE,   /* int64_t bytes: an integer, or a string such as "64K", "8M", "1G" */
};

/* What a path option names, for `newsflow check` (which verifies it before anything starts)
 * and the docs. Flags of struct nf_option; an empty value is not checked (the option is off). */
enum nf_opt_flag {
    NF_OPT_READ_FILE = 1 << 0,  /* a file the plugin reads: it must exist and be readable */
    NF_OPT_READ_DIR = 1 << 1,   /* a directory the plugin reads: it must exist and be readable
                                   (READ_FILE | READ_DIR: either) */
    NF_OPT_WRITE_FILE = 1 << 2, /* a file the plugin writes: the file, if it exists, and its
                                   directory must be writable */
    NF_OPT_WRITE_DIR = 1 << 3,  /* a directory the plugin writes into: it must be writable */
    NF_OPT_MKDIR = 1 << 4,      /* with WRITE_*: the plugin creates the missing directories, so
                                   the nearest existing one must be writable instead */
};

/* Option rows are written positionally by custom, and a row of ABI 1's five members must keep
 * compiling under -Wextra -Werror: a member left out is zero, which is what the appended ones
 * mean when absent. (The warning cannot be silenced for the tables alone.) */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* One row of a plugin's option table; the table ends with a row whose name is NULL.
 * `def` is the default as it would be written in the config (NULL: the option is required).
 * The members after `description` were appended in ABI 2; positional rows of five members keep
 * compiling and mean "no bounds, any value, no path checks". The core enforces them wherever a
 * value is set (config, --set, defaults), `newsflow check` included, and `newsflow doc` prints
 * them, so a plugin's init need not check them again. */
struct nf_option {
    const char *name;
    enum nf_opt_type type;
    const char *def;
    size_t offset; /* offsetof(struct <plugin>_conf, member) */
    const char *description;
    /* INT, SIZE, DOUBLE: the smallest and largest value allowed, written as in the config
     * ("1", "0.5", "64K"); STRING, PATH: the smallest and largest length in bytes. NULL: no
     * bound on that side. */
    const char *min, *max;
    /* STRING: the allowed values, separated by '|' ("strict|lenient"); NULL: any. */
    const char *choices;
    unsigned flags; /* enum nf_opt_flag, for PATH options */
};

/* A bound taken from a plain number macro: `.max = NF_OPT_BOUND(MAX_NAME)` is "63". */
#define NF_OPT_BOUND(x) NF_OPT_BOUND_(x)
#define NF_OPT_BOUND_(x) #x

enum nf_plugin_kind {
    NF_PLUGIN_SOURCE = 1, /* produces records: next() */
    NF_PLUGIN_FILTER = 2, /* transforms records and passes them on: process() */
    NF_PLUGIN_SINK = 3,   /* ends the journey: process(), then flush() commits a batch */
};

/* Everything the host knows about the running stage; opaque to plugins. */
struct nf_ctx;

struct nf_plugin {
    uint32_t abi;  /* NF_PLUGIN_ABI */
    uint32_t size; /* sizeof(struct nf_plugin) as the plugin was built */
    const char *name;
    const char *description;
    enum nf_plugin_kind kind;
    const struct nf_option *options; /* may be NULL: no options */
    size_t conf_size;                /* size of the conf struct the options fill */

    /* Called once per worker after the conf struct was filled and validated. `conf` stays valid
     * until destroy. Sets *state_out (may stay NULL). NF_ERR stops the worker's start-up. */
    int (*init)(struct nf_ctx *ctx, const void *conf, void **state_out);

    /* Sources: fill `rec` (reset by the host) with one record. Must set at least id and source.
     * NF_OK, NF_AGAIN, NF_EOF, or NF_ERR: the record (with whatever id and raw it has) could not
     * be read and goes to the dead-letter store with the reason. */
    int (*next)(void *state, struct nf_ctx *ctx, struct nf_record *rec);

    /* Filters and sinks: handle one record. NF_OK passes it on (a filter) or accepts it into the
     * current batch (a sink); NF_SKIP ends its journey; NF_ERR sends it to the dead-letter store
     * with the reason given by nf_ctx_error(). */
    int (*process)(void *state, struct nf_ctx *ctx, struct nf_record *rec);

    /* Optional. Makes everything accepted since the last flush durable. Sinks are acknowledged
     * only after it returns NF_OK; on NF_ERR the batch is not acknowledged and will be replayed.
     * Called when a batch is full, when the input is idle, and before exit. */
    int (*flush)(void *state, struct nf_ctx *ctx);

    /* Optional, sources: the record `id` reached the end of every path (stored, dropped or
     * dead-lettered). */
    void (*acked)(void *state, struct nf_ctx *ctx, const char *id);

    void (*destroy)(void *state);

    /* Optional, sources that can read an input again (a file, an object store): given a record
     * with id, source and the other small fields as the source first made it, fill in `raw`
     * again. A source that has it journals its records without `raw` (the input itself keeps
     * the bytes), which makes the journal small; NF_ERR (input gone or changed) sends the
     * record to the dead-letter store with the reason. Added in ABI 1; older descriptors end
     * before it. */
    int (*refetch)(void *state, struct nf_ctx *ctx, struct nf_record *rec);

    /* Optional: rules that join several options (a mode and the options it needs), which the
     * table's bounds and choices cannot say. Called with the filled conf by `newsflow check`
     * and by the host before init, before a source journals anything. Returns NF_OK, or NF_ERR
     * with what is wrong in err (NUL-terminated, at most errlen bytes) and *option_out set to
     * the option the mistake is in (a name from the table), so that the core can add its
     * file:line. Must not touch the world (files, network): only the values. Added in ABI 2;
     * older descriptors end before it. */
    int (*validate)(const void *conf, const char **option_out, char *err, size_t errlen);

    /* Optional, sinks: durability that follows the commit. With it, flush() may return NF_AGAIN:
     * the batch is committed (readers may see it) and being made durable in the background. The
     * host keeps that batch's acknowledgements and goes on taking records; it calls durable()
     * whenever the descriptor given with nf_ctx_wait_fd is readable, and with wait = true
     * before it stops (which then returns only when nothing is left in the background). Returns
     * how many of the batches that flush() answered NF_AGAIN are durable so far, counted from
     * the start and in their order; or NF_ERR with the reason: none of those not yet durable will
     * be acknowledged, and their records will be replayed. A flush() that returns NF_OK has
     * made every batch before it durable too. Added in ABI 3. */
    int64_t (*durable)(void *state, struct nf_ctx *ctx, bool wait);
};

/* Gives the reason of the current failure (init, next or process). The core adds where it
 * happened: stage, worker and record id. */
void nf_ctx_error(struct nf_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Where an option of this stage was set, for run-time errors that concern it (a path that
 * cannot be opened, a full disk): "stage store, option path (conf/x.cfg:12)", or "(default)"
 * when the config left it out. The string is owned by the context and valid until the next
 * call from the same worker. */
const char *nf_ctx_option_where(struct nf_ctx *ctx, const char *option);

/* Logs a line tagged with the stage and worker. */
void nf_log(struct nf_ctx *ctx, enum nf_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

const char *nf_ctx_stage(const struct nf_ctx *ctx);
int nf_ctx_worker(const struct nf_ctx *ctx);
int nf_ctx_workers(const struct nf_ctx *ctx);
/* A directory this stage's workers may keep state in; it exists. */
const char *nf_ctx_state_dir(const struct nf_ctx *ctx);
/* Milliseconds since the epoch (wall clock). */
int64_t nf_now_ms(void);

/* An immutable counter a plugin reports through the host's metrics (e.g. "dup", "stored").
 * Adds `delta` to the named counter; names are static strings. A source may count the inputs
 * it tried as "inputs" (a feed polled) and those it could not read at all as "input_errors": a
 * finite run whose source produced no record and whose every input failed (or, without
 * "inputs", that only dead-lettered) ends with an error. A run's summary line adds up the
 * sources' "out", the sinks' "stored", "dup" (copies found) and "story_new" (stories begun). */
void nf_ctx_count(struct nf_ctx *ctx, const char *name, int64_t delta);

/* Sources, optional: how far the input is read, `done` of `total` in `unit` ("files",
 * "bytes"); total < 0 when it cannot be known. Shown as progress, rate and ETA. */
void nf_ctx_progress(struct nf_ctx *ctx, int64_t done, int64_t total, const char *unit);

/* Sources, optional: a descriptor that becomes readable when next() may have something new (an
 * inotify descriptor, a socket); -1 for none. While next() returns NF_AGAIN the host sleeps on
 * it as well as on its own sockets, so new input is taken at once rather than at the host's
 * next look (every 50 ms). The source keeps owning it; call again when it changes.
 * Sinks with durable(): the descriptor that becomes readable when durable() has news; the host
 * watches it while batches wait to be durable, and durable() empties it. */
void nf_ctx_wait_fd(struct nf_ctx *ctx, int fd);

#endif
