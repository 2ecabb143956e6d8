/* store_sqlite's write-ahead log made durable beside the writer: flush() commits (readers see
 * the batch at once) and hands the sync to this thread, which syncs the log (fdatasync) while
 * the writer goes on with the next batch. The host acknowledges a batch once the thread has
 * synced it (plugin.h, durable()), and learns of it through an eventfd. */
#ifndef STORE_SQLITE_LOGSYNC_H
#define STORE_SQLITE_LOGSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct logsync;

/* Starts the thread for the log at `log_path` (opened at the first sync). NULL with the reason
 * in err on failure. The caller owns the result. */
struct logsync *logsync_new(const char *log_path, char *err, size_t errlen);

/* The descriptor that becomes readable when a sync ended (for nf_ctx_wait_fd). */
int logsync_fd(const struct logsync *l);

/* A batch was committed: the thread syncs the log for it. Returns its number (1, 2, ...). */
int64_t logsync_ask(struct logsync *l);

/* Whether a batch asked for is not yet synced. */
bool logsync_pending(struct logsync *l);

/* How many of the batches asked for are synced, in order; with `wait`, once all of them are.
 * After a failed sync, -1 once with its errno in *err_out: the batches asked for until then
 * are given up (their records are replayed) and counting goes on after them. Empties the
 * descriptor. */
int64_t logsync_done(struct logsync *l, bool wait, int *err_out);

/* Ends the thread after the sync it is making, if any, and closes the log. */
void logsync_destroy(struct logsync **l);

#endif
