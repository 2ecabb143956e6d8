/* State files written whole or not at all, and synced from a thread.
 *
 * A plugin that keeps its state in memory saves it as a snapshot and, between snapshots, appends
 * what it judged to a log. With a save in the background the worker writes its state into a
 * temporary file (into the page cache: as fast as a copy in memory, and no memory of its own);
 * a thread then syncs it to disk, renames it in place and syncs the directory while the worker
 * goes on. The log is cut into generations so that a crash at any moment leaves files that
 * agree: when a save starts, the current log LOG is renamed LOG.<g> (nfu_genlog_path) and a new
 * LOG is begun; the snapshot names g as the last generation it holds; once it is on disk the
 * thread removes LOG.<h> for every h up to g. A start reads the snapshot, drops the generations
 * it holds, and replays the others in order, then LOG. */
#ifndef NF_SAVEFILE_H
#define NF_SAVEFILE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opens `path`.tmp for writing a new version of `path`: created 0600 (state files hold the
 * articles' words, whatever the umask), emptied. The descriptor, or -1 with the reason in `why`.
 * Then write to it and finish with nfu_bgsave_start, or give up with nfu_save_abort. */
int nfu_save_begin(const char *path, char *why, size_t whyn);

/* Closes the descriptor and removes `path`.tmp. */
void nfu_save_abort(const char *path, int fd);

/* Writes all of `len` bytes to fd. 0, or -1 with errno. */
int nfu_write_all(int fd, const void *data, size_t len);

/* Writes `len` bytes to `path` through `path`.tmp, synced, renamed over `path`, and the
 * directory synced: after a crash the file is the old one or the new one, whole. 0, or -1 with
 * the reason in `why`. */
int nfu_save_whole(const char *path, const void *data, size_t len, char *why, size_t whyn);

/* Appends to a log whole or not at all. The log is opened for each append (O_APPEND, created
 * 0600), so that one that cannot be opened or written now (a full disk, a permission, no
 * descriptor left) is tried again at the next, which then appends what this one could not. `fn`
 * writes to the descriptor (`size`: the file's length before, 0 for a new log, which begins
 * with its header) and returns 0, or -1 with errno. A failed append is cut off again, so that
 * the next one follows what the file had. 0, or -1 with the reason in `why` ("cannot append to
 * LOG: ..."). */
typedef int (*nfu_append_fn)(void *arg, int fd, uint64_t size);
int nfu_append(const char *path, nfu_append_fn fn, void *arg, char *why, size_t whyn);

/* LOG.<g> into out (n bytes); -1 if it does not fit. */
int nfu_genlog_path(char *out, size_t n, const char *log_path, uint64_t g);

/* The generations LOG.<g> present, ascending, into *gens (malloc'ed, the caller frees; NULL when
 * there are none). 0, or -1 (errno set) when the directory cannot be read. */
int nfu_genlog_list(const char *log_path, uint64_t **gens, size_t *n);

/* Reads the logs a snapshot holding the generations up to `held` lacks: removes LOG.<g> for g up
 * to `held` (a kill came between the snapshot and their removal), then gives each later
 * generation, in order, and LOG itself to `fn`, which returns 0 to go on or -1 to stop (its
 * error is its own to report). *last gets the last generation found, at least `held`. 0, or -1
 * when `fn` stopped or the directory cannot be listed (errno set, fn not called). */
typedef int (*nfu_genlog_fn)(void *arg, const char *path);
int nfu_genlog_replay(const char *log_path, uint64_t held, uint64_t *last, nfu_genlog_fn fn,
                      void *arg);

/* One save at a time finished in a thread. The fields are the owner's to read only through the
 * calls. */
struct nfu_bgsave {
    const char *path, *log_path; /* borrowed for the save's life */
    int fd;            /* the temporary file being finished, -1 when none */
    uint64_t upto;     /* the generations the save holds */
    uint64_t dropped;  /* generations up to this one are removed */
    pthread_t thread;
    bool running;      /* a thread was started and not joined */
    atomic_bool done;  /* the thread has finished */
    int rc;            /* its result, once done */
    int64_t took_ms;   /* how long it took */
    char why[512];
};

/* Names the file and the log; nothing is written. `dropped`: generations known to be gone. */
void nfu_bgsave_init(struct nfu_bgsave *b, const char *path, const char *log_path,
                     uint64_t dropped);

/* Finishes the save written to `fd` (from nfu_save_begin; the call owns it from here): syncs
 * and closes it, renames it over the file, syncs the directory, then drops the log generations
 * up to `upto`. In a thread when `wait` is false (and a thread can be started), else before
 * returning. No save may be running (nfu_bgsave_running). Returns 0 when started (or done with
 * `wait`), -1 when a waited save failed (nfu_bgsave_join then gives the reason). */
int nfu_bgsave_start(struct nfu_bgsave *b, int fd, uint64_t upto, bool wait);

/* A save was started and not joined. */
bool nfu_bgsave_running(const struct nfu_bgsave *b);

/* A started save has finished: nfu_bgsave_join will not wait. */
bool nfu_bgsave_finished(struct nfu_bgsave *b);

/* Waits for the save started last, if it was not joined yet. Returns 1 when there was none to
 * join, 0 when it was written, -1 when it failed, with the reason in `why`. `took_ms`, when not
 * NULL, gets how long the thread took. */
int nfu_bgsave_join(struct nfu_bgsave *b, char *why, size_t whyn, int64_t *took_ms);

/* Joins a running save (its result is dropped). */
void nfu_bgsave_free(struct nfu_bgsave *b);

#endif
