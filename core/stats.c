/* Stats pages (stats.h). */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const int64_t nf_stats_bucket_us[NF_STATS_BUCKETS - 1] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};

int nf_stats_bucket(int64_t us)
{
    int b = 0;
    while (b < NF_STATS_BUCKETS - 1 && us > nf_stats_bucket_us[b])
        b++;
    return b;
}

static int page_path(const char *run_dir, const char *stage, int worker, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/stats/%s-%d", run_dir, stage, worker);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

void *nf_page_map(const char *dir, const char *path, size_t size, size_t *old_size,
                  const char *what, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s under %s: %s", what, dir, strerror(errno));
        return NULL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || ftruncate(fd, (off_t)size) < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path,
                 errno == ENOSPC ? "the disk is full" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    if (old_size)
        *old_size = (size_t)st.st_size;
    return m;
}

struct nf_stats_page *nf_stats_open(const char *run_dir, const char *stage, int worker,
                                    char *err, size_t errlen)
{
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/stats", run_dir);
    if (page_path(run_dir, stage, worker, path, sizeof(path)) < 0) {
        snprintf(err, errlen, "stats page under %s: the path is too long", dir);
        return NULL;
    }
    struct nf_stats_page *p =
        nf_page_map(dir, path, sizeof(struct nf_stats_page), NULL, "stats page", err, errlen);
    if (!p)
        return NULL;
    memset(p, 0, sizeof(*p));
    p->version = NF_STATS_VERSION;
    p->pid = (int32_t)getpid();
    p->worker = worker;
    snprintf(p->stage, sizeof(p->stage), "%s", stage);
    p->total = -1;
    __atomic_store_n(&p->magic, NF_STATS_MAGIC, __ATOMIC_RELEASE);
    return p;
}

void nf_stats_close(struct nf_stats_page **page)
{
    if (page && *page) {
        munmap(*page, sizeof(**page));
        *page = NULL;
    }
}

int nf_stats_read(const char *run_dir, const char *stage, int worker, struct nf_stats_page *out)
{
    char path[PATH_MAX];
    if (page_path(run_dir, stage, worker, path, sizeof(path)) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct nf_stats_page))
        m = mmap(NULL, sizeof(struct nf_stats_page), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return -1;
    const struct nf_stats_page *p = m;
    int rc = -1;
    for (int tries = 0; tries < 100 && rc < 0; tries++) {
        uint64_t s1 = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1)
            continue;
        memcpy(out, p, sizeof(*out));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) == s1)
            rc = 0;
    }
    munmap(m, sizeof(struct nf_stats_page));
    if (rc == 0 && (out->magic != NF_STATS_MAGIC || out->version != NF_STATS_VERSION ||
                    out->n_counters < 0 || out->n_counters > NF_STATS_COUNTERS))
        rc = -1;
    if (rc == 0) {
        out->stage[sizeof(out->stage) - 1] = '\0';
        out->unit[sizeof(out->unit) - 1] = '\0';
        for (int i = 0; i < out->n_counters; i++)
            out->counters[i].name[sizeof(out->counters[i].name) - 1] = '\0';
    }
    return rc;
}

int64_t nf_stats_count(const struct nf_stats_page *p, const char *name)
{
    for (int i = 0; i < p->n_counters; i++)
        if (strcmp(p->counters[i].name, name) == 0)
            return p->counters[i].value;
    return 0;
}
