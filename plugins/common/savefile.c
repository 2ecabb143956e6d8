/* State files written whole, and from a thread: see savefile.h. */
#include "savefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t nfu_save_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The directory `path` is in, into dir (n bytes). */
static int nfu_dir_of(const char *path, char *dir, size_t n)
{
    const char *slash = strrchr(path, '/');
    int k = !slash ? snprintf(dir, n, ".")
                   : snprintf(dir, n, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    return k < 0 || (size_t)k >= n ? (errno = ENAMETOOLONG, -1) : 0;
}

/* The directory a path is in, synced: what a rename or an unlink in it did is on disk. */
static int nfu_sync_dir_of(const char *path)
{
    char dir[4096];
    if (nfu_dir_of(path, dir, sizeof(dir)) < 0)
        return -1;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static void nfu_tmp_of(const char *path, char *tmp, size_t n)
{
    snprintf(tmp, n, "%s.tmp", path);
}

int nfu_save_begin(const char *path, char *why, size_t whyn)
{
    char tmp[4200];
    if (strlen(path) + 5 > sizeof(tmp))
        return snprintf(why, whyn, "%s: path too long", path), -1;
    nfu_tmp_of(path, tmp, sizeof(tmp));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        snprintf(why, whyn, "%s: %s", tmp, strerror(errno));
    return fd;
}

void nfu_save_abort(const char *path, int fd)
{
    char tmp[4200];
    nfu_tmp_of(path, tmp, sizeof(tmp));
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = e;
}

int nfu_write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return -1;
        }
        done += (size_t)w;
    }
    return 0;
}

/* Syncs and closes fd, puts path.tmp in place of path, syncs the directory. */
static int nfu_save_finish(const char *path, int fd, char *why, size_t whyn)
{
    char tmp[4200];
    nfu_tmp_of(path, tmp, sizeof(tmp));
    if (fsync(fd) != 0) {
        snprintf(why, whyn, "%s: %s", tmp, strerror(errno));
        nfu_save_abort(path, fd);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(why, whyn, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (nfu_sync_dir_of(path) != 0)
        return snprintf(why, whyn, "%s: written, but its directory cannot be synced: %s", path,
                        strerror(errno)),
               -1;
    return 0;
}

int nfu_save_whole(const char *path, const void *data, size_t len, char *why, size_t whyn)
{
    int fd = nfu_save_begin(path, why, whyn);
    if (fd < 0)
        return -1;
    if (nfu_write_all(fd, data, len) < 0) {
        snprintf(why, whyn, "%s.tmp: %s", path, strerror(errno));
        nfu_save_abort(path, fd);
        return -1;
    }
    return nfu_save_finish(path, fd, why, whyn);
}

int nfu_append(const char *path, nfu_append_fn fn, void *arg, char *why, size_t whyn)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    struct stat st = {0};
    bool opened = fd >= 0 && fstat(fd, &st) == 0;
    errno = opened ? 0 : errno;
    bool ok = opened && fn(arg, fd, (uint64_t)st.st_size) == 0;
    int e = errno;
    /* a part of an entry would make the ones after it unreadable: the file is cut back to what
     * it had, and the caller appends the whole again next time */
    bool cut = ok || !opened || ftruncate(fd, st.st_size) == 0;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false, e = errno;
        cut = truncate(path, st.st_size) == 0;
    }
    if (!ok)
        snprintf(why, whyn, "cannot append to %s: %s%s", path, strerror(e ? e : EIO),
                 cut ? "" : " (and cannot cut off the part written)");
    return ok ? 0 : -1;
}

int nfu_genlog_path(char *out, size_t n, const char *log_path, uint64_t g)
{
    int k = snprintf(out, n, "%s.%" PRIu64, log_path, g);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

static int nfu_gen_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int nfu_genlog_list(const char *log_path, uint64_t **gens, size_t *n)
{
    *gens = NULL, *n = 0;
    const char *slash = strrchr(log_path, '/');
    const char *base = slash ? slash + 1 : log_path;
    char dir[4096];
    DIR *d = nfu_dir_of(log_path, dir, sizeof(dir)) == 0 ? opendir(dir) : NULL;
    if (!d)
        return -1;
    size_t bl = strlen(base), cap = 0;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        const char *name = e->d_name;
        if (strncmp(name, base, bl) != 0 || name[bl] != '.' || name[bl + 1] < '0' ||
            name[bl + 1] > '9')
            continue;
        char *end;
        errno = 0;
        unsigned long long g = strtoull(name + bl + 1, &end, 10);
        if (*end || errno)
            continue; /* LOG.bad, LOG.7.tmp: not a generation */
        if (*n == cap) {
            size_t c = cap ? cap * 2 : 8;
            uint64_t *v = realloc(*gens, c * sizeof(*v));
            if (!v) {
                rc = -1;
                break;
            }
            *gens = v, cap = c;
        }
        (*gens)[(*n)++] = g;
    }
    int err = errno;
    closedir(d);
    if (rc < 0) {
        free(*gens);
        *gens = NULL, *n = 0;
        errno = err ? err : ENOMEM;
        return -1;
    }
    if (*n)
        qsort(*gens, *n, sizeof(**gens), nfu_gen_cmp);
    return 0;
}

int nfu_genlog_replay(const char *log_path, uint64_t held, uint64_t *last, nfu_genlog_fn fn,
                      void *arg)
{
    uint64_t *gens;
    size_t n;
    *last = held;
    if (nfu_genlog_list(log_path, &gens, &n) < 0)
        return -1;
    char path[4200];
    int rc = 0;
    for (size_t i = 0; rc == 0 && i <= n; i++) {
        if (i == n) {
            snprintf(path, sizeof(path), "%s", log_path);
        } else if (nfu_genlog_path(path, sizeof(path), log_path, gens[i]) < 0) {
            continue;
        } else {
            *last = gens[i] > *last ? gens[i] : *last;
            if (gens[i] <= held) {
                unlink(path);
                continue;
            }
        }
        rc = fn(arg, path);
    }
    free(gens);
    return rc < 0 ? -1 : 0;
}

void nfu_bgsave_init(struct nfu_bgsave *b, const char *path, const char *log_path,
                     uint64_t dropped)
{
    *b = (struct nfu_bgsave){.path = path, .log_path = log_path, .fd = -1, .dropped = dropped};
    atomic_init(&b->done, false);
}

/* The save itself: the file, then the generations it holds. */
static void nfu_bgsave_run(struct nfu_bgsave *b)
{
    int64_t t0 = nfu_save_now_ms();
    b->rc = nfu_save_finish(b->path, b->fd, b->why, sizeof(b->why));
    b->fd = -1;
    for (uint64_t g = b->dropped + 1; b->rc == 0 && b->log_path && g <= b->upto; g++) {
        char p[4200];
        if (nfu_genlog_path(p, sizeof(p), b->log_path, g) == 0 && unlink(p) != 0 &&
            errno != ENOENT) {
            /* the file holds all; the generation is dropped at a later save or start */
            snprintf(b->why, sizeof(b->why), "%.400s: cannot remove it: %s", p,
                     strerror(errno));
            break;
        }
        b->dropped = g;
    }
    b->took_ms = nfu_save_now_ms() - t0;
}

static void *nfu_bgsave_main(void *arg)
{
    struct nfu_bgsave *b = arg;
    nfu_bgsave_run(b);
    atomic_store_explicit(&b->done, true, memory_order_release);
    return NULL;
}

int nfu_bgsave_start(struct nfu_bgsave *b, int fd, uint64_t upto, bool wait)
{
    b->fd = fd;
    b->upto = upto;
    b->why[0] = '\0';
    b->running = true;
    atomic_store_explicit(&b->done, false, memory_order_relaxed);
    if (wait || pthread_create(&b->thread, NULL, nfu_bgsave_main, b) != 0) {
        nfu_bgsave_run(b);
        b->running = false;
        atomic_store_explicit(&b->done, true, memory_order_relaxed);
        return b->rc;
    }
    return 0;
}

bool nfu_bgsave_running(const struct nfu_bgsave *b)
{
    return b->running;
}

bool nfu_bgsave_finished(struct nfu_bgsave *b)
{
    return atomic_load_explicit(&b->done, memory_order_acquire);
}

int nfu_bgsave_join(struct nfu_bgsave *b, char *why, size_t whyn, int64_t *took_ms)
{
    if (b->running) {
        pthread_join(b->thread, NULL);
        b->running = false;
    } else if (!atomic_load_explicit(&b->done, memory_order_acquire)) {
        return 1;
    }
    if (took_ms)
        *took_ms = b->took_ms;
    if (b->rc != 0)
        snprintf(why, whyn, "%s", b->why);
    int rc = b->rc;
    /* reported once */
    atomic_store_explicit(&b->done, false, memory_order_relaxed);
    b->rc = 0;
    return rc;
}

void nfu_bgsave_free(struct nfu_bgsave *b)
{
    if (b->running)
        pthread_join(b->thread, NULL);
    b->running = false;
}
