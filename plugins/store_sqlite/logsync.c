/* The thread that syncs store_sqlite's write-ahead log: see logsync.h. */
#include "logsync.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct logsync {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t asked_cv, done_cv;
    int64_t asked;  /* batches committed and handed over */
    int64_t synced; /* of those, the first ones whose sync ended (failed or not) */
    int err;        /* errno of a failed sync not yet reported, 0: none */
    bool stop;
    int fd;  /* the log, once opened */
    int efd; /* eventfd: a sync ended */
    char *path;
};

/* The log's file opened, and its directory synced once, as SQLite does for a log it created:
 * the file's name is durable with its content. */
static int logsync_open(struct logsync *l)
{
    l->fd = open(l->path, O_RDONLY | O_CLOEXEC);
    if (l->fd < 0)
        return errno;
    char *dir = strdup(l->path);
    if (!dir)
        return ENOMEM;
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dfd < 0 || fsync(dfd) < 0 ? errno : 0;
    if (dfd >= 0)
        close(dfd);
    free(dir);
    return rc;
}

static void *logsync_main(void *arg)
{
    struct logsync *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->synced == l->asked)
            pthread_cond_wait(&l->asked_cv, &l->mu);
        if (l->synced == l->asked)
            break; /* stopping, nothing left */
        int64_t upto = l->asked; /* one sync covers every commit before it */
        pthread_mutex_unlock(&l->mu);
        int rc = l->fd < 0 ? logsync_open(l) : 0;
        if (!rc && fdatasync(l->fd) < 0)
            rc = errno;
        pthread_mutex_lock(&l->mu);
        if (rc && !l->err)
            l->err = rc;
        l->synced = upto;
        pthread_cond_broadcast(&l->done_cv);
        uint64_t one = 1;
        if (write(l->efd, &one, sizeof(one)) < 0) {
            /* the counter cannot overflow at one a sync: nothing to do */
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* What logsync_new made, once no thread runs. */
static void logsync_free(struct logsync *l)
{
    if (l->fd >= 0)
        close(l->fd);
    close(l->efd);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->asked_cv);
    pthread_cond_destroy(&l->done_cv);
    free(l->path);
    free(l);
}

struct logsync *logsync_new(const char *log_path, char *err, size_t errlen)
{
    struct logsync *l = calloc(1, sizeof(*l));
    if (!l || !(l->path = strdup(log_path))) {
        snprintf(err, errlen, "out of memory");
        free(l);
        return NULL;
    }
    l->fd = -1;
    l->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        free(l->path);
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->asked_cv, NULL);
    pthread_cond_init(&l->done_cv, NULL);
    int rc = pthread_create(&l->thread, NULL, logsync_main, l);
    if (rc) {
        snprintf(err, errlen, "cannot start a thread: %s", strerror(rc));
        logsync_free(l);
        return NULL;
    }
    return l;
}

int logsync_fd(const struct logsync *l)
{
    return l->efd;
}

int64_t logsync_ask(struct logsync *l)
{
    pthread_mutex_lock(&l->mu);
    int64_t n = ++l->asked;
    pthread_cond_signal(&l->asked_cv);
    pthread_mutex_unlock(&l->mu);
    return n;
}

bool logsync_pending(struct logsync *l)
{
    pthread_mutex_lock(&l->mu);
    bool pending = l->synced < l->asked;
    pthread_mutex_unlock(&l->mu);
    return pending;
}

int64_t logsync_done(struct logsync *l, bool wait, int *err_out)
{
    uint64_t n;
    if (read(l->efd, &n, sizeof(n)) < 0) {
        /* EAGAIN: no sync ended since the last look */
    }
    pthread_mutex_lock(&l->mu);
    while (wait && !l->err && l->synced < l->asked)
        pthread_cond_wait(&l->done_cv, &l->mu);
    int64_t done = l->synced;
    if (l->err) {
        *err_out = l->err;
        l->err = 0;
        done = -1;
    }
    pthread_mutex_unlock(&l->mu);
    return done;
}

void logsync_destroy(struct logsync **pl)
{
    struct logsync *l = pl ? *pl : NULL;
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->asked_cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    logsync_free(l);
    *pl = NULL;
}
