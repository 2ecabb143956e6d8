/* store_sqlite's checkpoints off the commit path: a thread with a connection of its own copies
 * the write-ahead log into the database when the log has grown past a size, and when no commit
 * came for a while. It never blocks the writer (SQLite's passive checkpoints). The log starts
 * again from its beginning only when a checkpoint has copied all of it before the writer's next
 * transaction begins, which a thread racing a busy writer seldom manages: the writer then
 * finishes the copy itself (ckpt_now) when the log has grown to a few times the size, at a
 * commit that finds the thread not copying. */
#ifndef STORE_SQLITE_CHECKPOINT_H
#define STORE_SQLITE_CHECKPOINT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

struct ckpt;

/* Opens `path` (a database in WAL mode) and starts the thread, which checkpoints once the log
 * holds `frames` pages, or after `idle_ms` without a commit. NULL with the reason in err on
 * failure. The caller owns the result. */
struct ckpt *ckpt_new(const char *path, bool fsync, int frames, int idle_ms, char *err,
                      size_t errlen);

/* Tells the thread that a commit left `frames` pages in the log. Called by the writer's thread
 * (from its WAL hook); cheap, never waits for a checkpoint. */
void ckpt_committed(struct ckpt *c, int frames);

/* Checkpoints the log through the writer's connection `db`. When the thread's checkpoint is
 * running (two at once would make one of them give up), it waits for it if `wait`, else returns
 * at once and the caller tries again at its next commit. */
void ckpt_now(struct ckpt *c, sqlite3 *db, bool wait);

/* Stops the thread (after the checkpoint it is making, if any) and closes its connection. */
void ckpt_destroy(struct ckpt **c);

#endif
