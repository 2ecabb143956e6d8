/* The source journal file: a sequence of entries, each framed as
 *   u32 length | u32 XXH32 of the body | body
 * where the body is 'S' seq attempt record-bytes (sent) or 'A' seq (acknowledged), integers
 * little-endian. Reading stops at the first entry that is short or fails its checksum: that is
 * where a crash cut the last write, and the file is truncated there. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "le.h"
#include "newsflow/record.h"

struct recovered {
    int64_t seq;
    int attempt;
    size_t off, len; /* record bytes inside j->image */
    int live;
};

struct nf_journal {
    char *path;
    int fd;
    off_t size;
    struct nf_buf pending; /* entries not yet written */
    uint8_t *image;        /* the file as read at open, while recovery lasts */
    struct recovered *rec;
    size_t n_rec, n_live;
    /* syncs beside the owner (nf_journal_sync_begin): a thread started at the first, which
     * fdatasync()s each time sync_go is written and then writes sync_done (-1 until started);
     * its result and errno, read by the owner once sync_done is readable */
    pthread_t sync_thread;
    bool syncing;
    int sync_go, sync_done;
    atomic_bool sync_quit;
    int sync_rc, sync_errno;
};

#define HDR 8
#define MAX_ENTRY (1u << 30)

/* Appends one framed entry: head (type and integers) then payload; the checksum is computed
 * over the body where it lies in the buffer. */
static int frame(struct nf_buf *b, const uint8_t *head, size_t hn, const void *payload, size_t pn)
{
    uint8_t h[HDR] = {0};
    size_t body = hn + pn;
    if (body > MAX_ENTRY)
        return -1;
    size_t at = b->len;
    if (nf_buf_append(b, h, HDR) < 0 || nf_buf_append(b, head, hn) < 0 ||
        nf_buf_append(b, payload, pn) < 0) {
        b->len = at;
        return -1;
    }
    nf_le_put32(b->data + at, (uint32_t)body);
    nf_le_put32(b->data + at + 4, XXH32(b->data + at + HDR, body, 0));
    return 0;
}

static int frame_sent(struct nf_buf *b, int64_t seq, int attempt, const void *bytes, size_t n)
{
    uint8_t head[13];
    head[0] = 'S';
    nf_le_put64(head + 1, (uint64_t)seq);
    nf_le_put32(head + 9, (uint32_t)attempt);
    return frame(b, head, sizeof(head), bytes, n);
}

static int find_rec(struct nf_journal *j, int64_t seq)
{
    /* recovery only: entries are appended in seq order per run, but runs differ; linear from
     * the end finds recent ones quickly and recovery happens once */
    for (size_t i = j->n_rec; i-- > 0;)
        if (j->rec[i].seq == seq)
            return (int)i;
    return -1;
}

static int load(struct nf_journal *j, char *err, size_t errlen)
{
    struct stat sb;
    if (fstat(j->fd, &sb) < 0) {
        snprintf(err, errlen, "%s: %s", j->path, strerror(errno));
        return -1;
    }
    size_t size = (size_t)sb.st_size;
    if (size == 0)
        return 0;
    j->image = malloc(size);
    if (!j->image) {
        snprintf(err, errlen, "%s: out of memory reading %zu bytes", j->path, size);
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = pread(j->fd, j->image + got, size - got, (off_t)got);
        if (r <= 0) {
            snprintf(err, errlen, "%s: read: %s", j->path, r < 0 ? strerror(errno) : "short");
            return -1;
        }
        got += (size_t)r;
    }
    size_t off = 0, cap = 0;
    while (off + HDR <= size) {
        uint32_t body = nf_le_get32(j->image + off), sum = nf_le_get32(j->image + off + 4);
        if (body < 9 || body > size - off - HDR ||
            XXH32(j->image + off + HDR, body, 0) != sum)
            break;
        const uint8_t *b = j->image + off + HDR;
        int64_t seq = (int64_t)nf_le_get64(b + 1);
        if (b[0] == 'S' && body >= 13) {
            if (j->n_rec == cap) {
                cap = cap ? cap * 2 : 1024;
                struct recovered *r = realloc(j->rec, cap * sizeof(*r));
                if (!r) {
                    snprintf(err, errlen, "%s: out of memory", j->path);
                    return -1;
                }
                j->rec = r;
            }
            j->rec[j->n_rec++] = (struct recovered){seq, (int)nf_le_get32(b + 9), off + HDR + 13,
                                                     body - 13, 1};
            j->n_live++;
        } else if (b[0] == 'A') {
            int i = find_rec(j, seq);
            if (i >= 0 && j->rec[i].live) {
                j->rec[i].live = 0;
                j->n_live--;
            }
        } else {
            break;
        }
        off += HDR + body;
    }
    if (off < size) {
        /* a torn or corrupt tail: keep what is whole */
        if (ftruncate(j->fd, (off_t)off) < 0) {
            snprintf(err, errlen, "%s: truncate: %s", j->path, strerror(errno));
            return -1;
        }
    }
    j->size = (off_t)off;
    /* keep only the live ones, in order */
    size_t k = 0;
    for (size_t i = 0; i < j->n_rec; i++)
        if (j->rec[i].live)
            j->rec[k++] = j->rec[i];
    j->n_rec = k;
    return 0;
}

struct nf_journal *nf_journal_open(const char *path, char *err, size_t errlen)
{
    struct nf_journal *j = calloc(1, sizeof(*j));
    if (!j || !(j->path = strdup(path))) {
        free(j);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    j->sync_go = j->sync_done = -1;
    j->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (j->fd < 0) {
        snprintf(err, errlen, "journal %s: %s", path, strerror(errno));
        goto fail;
    }
    if (load(j, err, errlen) < 0)
        goto fail;
    if (lseek(j->fd, j->size, SEEK_SET) < 0) {
        snprintf(err, errlen, "journal %s: %s", path, strerror(errno));
        goto fail;
    }
    return j;
fail:
    nf_journal_close(&j);
    return NULL;
}

void nf_journal_close(struct nf_journal **pj)
{
    if (!pj || !*pj)
        return;
    struct nf_journal *j = *pj;
    if (j->sync_go >= 0) { /* the thread runs: it finishes a sync under way, then ends */
        atomic_store(&j->sync_quit, true);
        uint64_t one = 1;
        while (write(j->sync_go, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
        pthread_join(j->sync_thread, NULL);
        close(j->sync_go);
        close(j->sync_done);
    }
    if (j->fd >= 0)
        close(j->fd);
    nf_buf_free(&j->pending);
    free(j->image);
    free(j->rec);
    free(j->path);
    free(j);
    *pj = NULL;
}

size_t nf_journal_recovered(const struct nf_journal *j)
{
    return j->n_rec;
}

int nf_journal_recovered_get(const struct nf_journal *j, size_t i, int64_t *seq, int *attempt,
                             const uint8_t **bytes, size_t *len)
{
    if (i >= j->n_rec)
        return -1;
    *seq = j->rec[i].seq;
    *attempt = j->rec[i].attempt;
    *bytes = j->image + j->rec[i].off;
    *len = j->rec[i].len;
    return 0;
}

void nf_journal_recovered_free(struct nf_journal *j)
{
    free(j->image);
    free(j->rec);
    j->image = NULL;
    j->rec = NULL;
    j->n_rec = j->n_live = 0;
}

int nf_journal_sent(struct nf_journal *j, int64_t seq, int attempt, const void *bytes, size_t n)
{
    return frame_sent(&j->pending, seq, attempt, bytes, n);
}

int nf_journal_acked(struct nf_journal *j, int64_t seq)
{
    uint8_t head[9];
    head[0] = 'A';
    nf_le_put64(head + 1, (uint64_t)seq);
    return frame(&j->pending, head, sizeof(head), NULL, 0);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int nf_journal_sync(struct nf_journal *j, int durable, char *err, size_t errlen)
{
    if (j->syncing && nf_journal_sync_end(j, err, errlen) < 0) /* never two writers at once */
        return -1;
    if (j->pending.len) {
        if (write_all(j->fd, j->pending.data, j->pending.len) < 0) {
            snprintf(err, errlen, "journal %s: write: %s", j->path, strerror(errno));
            /* keep the file consistent: cut back to the last whole entry */
            if (ftruncate(j->fd, j->size) == 0)
                lseek(j->fd, j->size, SEEK_SET);
            return -1;
        }
        j->size += (off_t)j->pending.len;
        j->pending.len = 0;
        if (j->pending.cap > (8u << 20))
            nf_buf_free(&j->pending);
    }
    if (durable && fdatasync(j->fd) < 0) {
        snprintf(err, errlen, "journal %s: fdatasync: %s", j->path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The thread of the syncs beside the owner: it touches only the descriptors, sync_quit and its
 * result fields, which the owner reads after sync_done has been written. */
static void *journal_sync_main(void *arg)
{
    struct nf_journal *j = arg;
    for (;;) {
        uint64_t n;
        if (read(j->sync_go, &n, sizeof(n)) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (atomic_load(&j->sync_quit))
            break;
        j->sync_rc = fdatasync(j->fd);
        j->sync_errno = errno;
        uint64_t one = 1;
        while (write(j->sync_done, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
    }
    return NULL;
}

int nf_journal_sync_begin(struct nf_journal *j, char *err, size_t errlen)
{
    if (j->syncing) {
        snprintf(err, errlen, "journal %s: a sync is running already", j->path);
        return -1;
    }
    if (nf_journal_sync(j, 0, err, errlen) < 0)
        return -1;
    if (j->sync_go < 0) {
        /* the descriptors are in place before the thread starts: it reads them at once */
        j->sync_go = eventfd(0, EFD_CLOEXEC);
        j->sync_done = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int rc = j->sync_go < 0 || j->sync_done < 0
                     ? errno
                     : pthread_create(&j->sync_thread, NULL, journal_sync_main, j);
        if (rc != 0) {
            snprintf(err, errlen, "journal %s: cannot start a sync thread: %s", j->path,
                     strerror(rc));
            if (j->sync_go >= 0)
                close(j->sync_go);
            if (j->sync_done >= 0)
                close(j->sync_done);
            j->sync_go = j->sync_done = -1;
            return -1;
        }
    }
    uint64_t one = 1;
    while (write(j->sync_go, &one, sizeof(one)) < 0) {
        if (errno != EINTR) {
            snprintf(err, errlen, "journal %s: cannot start a sync: %s", j->path,
                     strerror(errno));
            return -1;
        }
    }
    j->syncing = true;
    return j->sync_done;
}

int nf_journal_sync_end(struct nf_journal *j, char *err, size_t errlen)
{
    if (!j->syncing)
        return 0;
    uint64_t n;
    for (;;) { /* sync_done is non-blocking: wait for it to be readable */
        if (read(j->sync_done, &n, sizeof(n)) == sizeof(n))
            break;
        if (errno != EAGAIN && errno != EINTR) {
            snprintf(err, errlen, "journal %s: waiting for a sync: %s", j->path,
                     strerror(errno));
            return -1;
        }
        struct pollfd p = {j->sync_done, POLLIN, 0};
        poll(&p, 1, -1);
    }
    j->syncing = false;
    if (j->sync_rc < 0) {
        snprintf(err, errlen, "journal %s: fdatasync: %s", j->path, strerror(j->sync_errno));
        return -1;
    }
    return 0;
}

off_t nf_journal_size(const struct nf_journal *j)
{
    return j->size + (off_t)j->pending.len;
}

int nf_journal_compact(struct nf_journal *j, nf_journal_live_fn live, void *arg, char *err,
                       size_t errlen)
{
    if (j->syncing && nf_journal_sync_end(j, err, errlen) < 0)
        return -1;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", j->path);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "journal %s: %s", tmp, strerror(errno));
        return -1;
    }
    struct nf_buf b = {0};
    int64_t seq;
    int attempt;
    const uint8_t *bytes;
    size_t len;
    int rc = 0;
    for (size_t i = 0; rc == 0 && live(arg, i, &seq, &attempt, &bytes, &len); i++) {
        rc = frame_sent(&b, seq, attempt, bytes, len);
        if (rc == 0 && b.len > (4u << 20)) {
            rc = write_all(fd, b.data, b.len);
            b.len = 0;
        }
    }
    if (rc == 0)
        rc = write_all(fd, b.data, b.len);
    off_t size = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (rc == 0 && (size < 0 || fsync(fd) < 0 || rename(tmp, j->path) < 0))
        rc = -1;
    nf_buf_free(&b);
    if (rc < 0) {
        snprintf(err, errlen, "journal %s: compaction failed: %s", j->path, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    /* make the rename durable */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", j->path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    close(j->fd);
    j->fd = fd;
    j->size = size;
    j->pending.len = 0; /* whatever was buffered is superseded by the live set */
    return 0;
}
