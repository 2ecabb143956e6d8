/* A mock of the stage host for plugin tests: loads a plugin through its descriptor with the real
 * loader and option code, and offers the nf_ctx calls without processes, sockets or a config. */
#ifndef NF_MOCK_CORE_H
#define NF_MOCK_CORE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "newsflow/plugin.h"

struct mock_plugin;

/* Loads NAME.so from the build's plugin directory, fills its conf from the table's defaults and
 * the "key=value" strings in opts (NULL-terminated; may be NULL), and calls init. Returns NULL
 * and prints why on failure; mock_last_error() then has the plugin's reason. */
struct mock_plugin *mock_plugin_new(const char *name, const char *const *opts);
void mock_plugin_destroy(struct mock_plugin **mp);

const struct nf_plugin *mock_desc(struct mock_plugin *mp);
int mock_next(struct mock_plugin *mp, struct nf_record *rec);
int mock_process(struct mock_plugin *mp, struct nf_record *rec);
/* flush(); a batch that a sink makes durable in the background (NF_AGAIN) is waited for, as
 * the host does before it stops: NF_OK once durable. */
int mock_flush(struct mock_plugin *mp);
/* flush() as it answers, and durable() (NF_ERR when the plugin has none). */
int mock_flush_async(struct mock_plugin *mp);
int64_t mock_durable(struct mock_plugin *mp, bool wait);
void mock_acked(struct mock_plugin *mp, const char *id);
/* Calls the source's refetch on rec (NF_ERR when it has none). */
int mock_refetch(struct mock_plugin *mp, struct nf_record *rec);

/* The reason the plugin last gave with nf_ctx_error(), "" if none. */
const char *mock_last_error(void);
/* The value of a counter the plugin reported with nf_ctx_count(), 0 if never. */
/* The last progress a source reported with nf_ctx_progress (done and total -1: none). */
const char *mock_progress(int64_t *done, int64_t *total);
/* The descriptor the source gave with nf_ctx_wait_fd (-1: none). */
int mock_wait_fd(void);
int64_t mock_counter(const char *name);
/* The state directory given to plugins (created fresh for the process). */
const char *mock_state_dir(void);
/* Sets worker index and count seen by the next mock_plugin_new (default 0 of 1). */
void mock_set_worker(int worker, int workers);

/* The whole file at `path` (inflated if gzipped), NUL-terminated (caller frees); its length in *len_out (may be
 * NULL). NULL if it cannot be read. */
char *mock_slurp(const char *path, size_t *len_out);

/* Encodes rec and decodes it again into rec, as a hop between two stages would. */
int mock_roundtrip(struct nf_record *rec);

/* fsync as the plugins call it (the test executable's symbols come first): after
 * mock_fsync_hold, the next call, from any thread, waits until mock_fsync_release. A plugin's
 * save from a thread (plugins/common/savefile.c) is held so before its file is in place.
 * mock_fsync_held waits (up to 30 s) for the held call to have begun. */
void mock_fsync_hold(void);
bool mock_fsync_held(void);
void mock_fsync_release(void);
/* The same for fdatasync (a write-ahead log's sync). */
void mock_fdatasync_hold(void);
bool mock_fdatasync_held(void);
void mock_fdatasync_release(void);

#endif
