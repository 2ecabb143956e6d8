/* The checkpoint thread of store_sqlite: see checkpoint.h. Passive checkpoints copy what the
 * log holds up to the last commit while the writer goes on; when one has copied everything, the
 * writer's next transaction starts the log again from its beginning, so the file stays near the
 * size. */
#include "checkpoint.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ckpt {
    sqlite3 *db;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t copying; /* held while a checkpoint runs, the thread's or the writer's */
    int frames, idle_ms;
    bool due, stop;
    long commits, copied; /* commits seen; commits the last checkpoint covered */
};

static void *ckpt_main(void *arg)
{
    struct ckpt *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        if (!c->due) {
            long before = c->commits;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += c->idle_ms / 1000;
            until.tv_nsec += (long)(c->idle_ms % 1000) * 1000000;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            int rc = 0;
            while (!c->due && !c->stop && rc != ETIMEDOUT)
                rc = pthread_cond_timedwait(&c->cv, &c->mu, &until);
            /* Idle: commits came before this wait and none during it. */
            if (rc == ETIMEDOUT && c->commits == before && c->commits != c->copied)
                c->due = true;
        }
        if (c->stop || !c->due)
            continue;
        c->due = false;
        long covered = c->commits;
        pthread_mutex_unlock(&c->mu);
        /* SQLITE_BUSY (another checkpoint running) or an I/O error: the next one tries again,
         * and the writer's own checkpoint bounds the log meanwhile. */
        pthread_mutex_lock(&c->copying);
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_unlock(&c->copying);
        pthread_mutex_lock(&c->mu);
        if (rc == SQLITE_OK)
            c->copied = covered;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

struct ckpt *ckpt_new(const char *path, bool fsync, int frames, int idle_ms, char *err,
                      size_t errlen)
{
    struct ckpt *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->frames = frames;
    c->idle_ms = idle_ms;
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s", c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(c->db, 1000);
    /* The log is synced before its pages are copied, and the database after. */
    if (sqlite3_exec(c->db, fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                     NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s", sqlite3_errmsg(c->db));
        goto fail;
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        snprintf(err, errlen, "cannot make a mutex");
        goto fail;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        snprintf(err, errlen, "cannot make a condition variable");
        goto fail;
    }
    if (pthread_mutex_init(&c->copying, NULL) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        snprintf(err, errlen, "cannot make a mutex");
        goto fail;
    }
    /* Signals stay with the stage's own thread, which waits for them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&c->thread, NULL, ckpt_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&c->copying);
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
        goto fail;
    }
    return c;
fail:
    sqlite3_close_v2(c->db);
    free(c);
    return NULL;
}

void ckpt_committed(struct ckpt *c, int frames)
{
    pthread_mutex_lock(&c->mu);
    c->commits++;
    if (frames >= c->frames && !c->due) {
        c->due = true;
        pthread_cond_signal(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
}

void ckpt_now(struct ckpt *c, sqlite3 *db, bool wait)
{
    /* The thread is copying: unless told to wait, the commit does not wait for it (a
     * checkpoint of tens of milliseconds on a busy machine, which every record arriving
     * meanwhile waited for too); a later commit copies what it leaves. */
    if (wait)
        pthread_mutex_lock(&c->copying);
    else if (pthread_mutex_trylock(&c->copying) != 0)
        return;
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_mutex_unlock(&c->copying);
}

void ckpt_destroy(struct ckpt **pc)
{
    struct ckpt *c = *pc;
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->copying);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close_v2(c->db);
    free(c);
    *pc = NULL;
}
