/* Read order (order.h). */
#include "order.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "newsflow/log.h"
#include "newsflow/record.h"
#include "stats.h"

#define ORDER_MAGIC 0x444f464eu /* "NFOD" */
#define NF_ORDER_KEEP 256                /* spare buffers kept */
#define NF_ORDER_KEEP_BYTES (16u << 10) /* the largest kept */
#define ORDER_VERSION 1

struct nf_order_page {
    uint32_t magic, version;
    uint64_t seq; /* odd while the source writes */
    int64_t low[NF_ORDER_STAGES];
    int64_t epoch[NF_ORDER_STAGES];
    int64_t reading_from;
    int32_t finished;
    int32_t pid;
};

/* ---- the sources' side ---------------------------------------------------------------------- */

static int page_path(const char *run_dir, const char *stage, int worker, char *out, size_t n)
{
    int len = snprintf(out, n, "%s/order/%s-%d", run_dir, stage, worker);
    return len > 0 && (size_t)len < n ? 0 : -1;
}

int64_t nf_order_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t us = ((int64_t)ts.tv_sec - NF_READ_ORDER_EPOCH) * 1000000 + ts.tv_nsec / 1000;
    return us << NF_READ_ORDER_WORKER_BITS;
}

struct nf_order_page *nf_order_open(const char *run_dir, const char *stage, int worker,
                                    char *err, size_t errlen)
{
    char dir[PATH_MAX], path[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/order", run_dir);
    if (page_path(run_dir, stage, worker, path, sizeof(path)) < 0) {
        snprintf(err, errlen, "read-order page under %s: the path is too long", dir);
        return NULL;
    }
    size_t old_size;
    struct nf_order_page *p = nf_page_map(dir, path, sizeof(struct nf_order_page), &old_size,
                                          "read-order page", err, errlen);
    if (!p)
        return NULL;
    /* The epoch goes on from an earlier run of this worker: a reader waiting for it to move
     * must not see it go back to where it was before its reset. */
    bool kept = old_size >= sizeof(*p) && p->magic == ORDER_MAGIC && p->version == ORDER_VERSION;
    int64_t epoch[NF_ORDER_STAGES] = {0};
    for (int k = 0; kept && k < NF_ORDER_STAGES; k++)
        epoch[k] = __atomic_load_n(&p->epoch[k], __ATOMIC_ACQUIRE);
    uint64_t seq = p->seq + (p->seq & 1); /* even, also after a writer died mid-write */
    __atomic_store_n(&p->seq, seq + 1, __ATOMIC_SEQ_CST); /* odd: writing */
    p->version = ORDER_VERSION;
    for (int k = 0; k < NF_ORDER_STAGES; k++) {
        p->low[k] = 0; /* hold every reader until the first publish */
        p->epoch[k] = epoch[k];
    }
    p->reading_from = 0;
    p->finished = 0;
    p->pid = (int32_t)getpid();
    __atomic_store_n(&p->magic, ORDER_MAGIC, __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->seq, seq + 2, __ATOMIC_SEQ_CST); /* even: done */
    return p;
}

void nf_order_close(struct nf_order_page **page)
{
    if (page && *page) {
        munmap(*page, sizeof(**page));
        *page = NULL;
    }
}

void nf_order_publish(struct nf_order_page *p, const int64_t *low, int n, int64_t reading_from,
                      bool finished, int answered)
{
    if (!p)
        return;
    __atomic_store_n(&p->seq, p->seq + 1, __ATOMIC_SEQ_CST);
    for (int k = 0; k < n && k < NF_ORDER_STAGES; k++)
        __atomic_store_n(&p->low[k], low[k], __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->reading_from, reading_from, __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->finished, finished ? 1 : 0, __ATOMIC_SEQ_CST);
    if (answered >= 0 && answered < NF_ORDER_STAGES)
        __atomic_store_n(&p->epoch[answered], p->epoch[answered] + 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&p->seq, p->seq + 1, __ATOMIC_SEQ_CST);
}

/* ---- the ordered stage's side --------------------------------------------------------------- */

struct src {
    char *stage;
    int worker;
    char path[PATH_MAX];
    struct nf_order_page *page; /* read-only mapping, NULL until the page exists */
    int64_t base_epoch;         /* -1: no page when the reader started */
    int32_t base_pid;           /* the source process then */
    bool answered;
    int64_t missing_since; /* monotonic ms, 0: present */
    bool absent;           /* left out (logged once) */
    /* every record of this source read before `floor` has arrived or left the pipeline: the
     * marks its page gave, and the links of what arrived (nf_order_reader_follow) */
    int64_t floor;
    bool finished; /* its page said so when last read: nothing of it is to come */
};

/* What holds records back for source s: nothing once it has finished, else its floor. */
static int64_t src_mark(const struct src *s)
{
    return s->finished ? INT64_MAX : s->floor;
}

struct nf_order_reader {
    struct src *src;
    size_t n;
    int k; /* the ordered stage's rank */
};

/* What the reader needs of a page, read consistently. */
struct page_copy {
    uint32_t magic, version;
    int64_t low, epoch, reading_from;
    int32_t finished, pid;
};

static bool map_page(struct src *s)
{
    if (s->page)
        return true;
    int fd = open(s->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat st;
    void *m = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(struct nf_order_page))
        m = mmap(NULL, sizeof(struct nf_order_page), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return false;
    s->page = m;
    return true;
}

/* A consistent copy of what ordered stage k needs of a page; false when there is none of this
 * version. */
static bool read_page(const struct nf_order_page *p, int k, struct page_copy *out)
{
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t s1 = __atomic_load_n(&p->seq, __ATOMIC_SEQ_CST);
        if (s1 & 1)
            continue;
        out->magic = __atomic_load_n(&p->magic, __ATOMIC_SEQ_CST);
        out->version = __atomic_load_n(&p->version, __ATOMIC_SEQ_CST);
        out->low = __atomic_load_n(&p->low[k], __ATOMIC_SEQ_CST);
        out->reading_from = __atomic_load_n(&p->reading_from, __ATOMIC_SEQ_CST);
        out->epoch = __atomic_load_n(&p->epoch[k], __ATOMIC_SEQ_CST);
        out->finished = __atomic_load_n(&p->finished, __ATOMIC_SEQ_CST);
        out->pid = __atomic_load_n(&p->pid, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&p->seq, __ATOMIC_SEQ_CST) == s1)
            return out->magic == ORDER_MAGIC && out->version == ORDER_VERSION;
    }
    return false;
}

struct nf_order_reader *nf_order_reader_new(const char *run_dir, const struct nf_order_src *src,
                                            size_t n, int k)
{
    if (k < 0 || k >= NF_ORDER_STAGES)
        return NULL;
    struct nf_order_reader *r = calloc(1, sizeof(*r));
    if (!r || !(r->src = calloc(n ? n : 1, sizeof(*r->src)))) {
        free(r);
        return NULL;
    }
    r->n = n;
    r->k = k;
    for (size_t i = 0; i < n; i++) {
        struct src *s = &r->src[i];
        s->stage = strdup(src[i].stage);
        s->worker = src[i].worker;
        s->base_epoch = -1;
        s->floor = INT64_MIN;
        if (!s->stage || page_path(run_dir, s->stage, s->worker, s->path, sizeof(s->path)) < 0) {
            nf_order_reader_free(r);
            return NULL;
        }
        struct page_copy copy;
        if (map_page(s) && read_page(s->page, k, &copy)) {
            s->base_epoch = copy.epoch;
            s->base_pid = copy.pid;
        }
    }
    return r;
}

void nf_order_reader_free(struct nf_order_reader *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        if (r->src[i].page)
            munmap(r->src[i].page, sizeof(struct nf_order_page));
        free(r->src[i].stage);
    }
    free(r->src);
    free(r);
}

int64_t nf_order_reader_low(struct nf_order_reader *r, int64_t now_ms, const char **waiting,
                            int *waiting_worker)
{
    /* the clock first: a source that is seen idle afterwards reads anything new later than it */
    int64_t now = nf_order_now();
    int64_t low = INT64_MAX;
    *waiting = NULL;
    for (size_t i = 0; i < r->n; i++) {
        struct src *s = &r->src[i];
        struct page_copy copy;
        bool ok = map_page(s) && read_page(s->page, r->k, &copy);
        if (!ok) {
            if (!s->missing_since)
                s->missing_since = now_ms;
            if (now_ms - s->missing_since >= NF_ORDER_ABSENT_MS) {
                if (!s->absent)
                    nf_logf(NF_LOG_WARN, "no read-order page of source %s[%d] (%s) for %d s: "
                            "its records go on in the order they arrive (an ordered stage "
                            "runs on the host of its sources)", s->stage, s->worker, s->path,
                            NF_ORDER_ABSENT_MS / 1000);
                s->absent = true;
                continue;
            }
            s->finished = false; /* what it said before, and what arrived since */
            if (s->floor < low) {
                low = s->floor;
                *waiting = s->stage;
                *waiting_worker = s->worker;
            }
            continue;
        }
        if (s->absent)
            nf_logf(NF_LOG_INFO, "the read-order page of source %s[%d] is back", s->stage,
                    s->worker);
        s->missing_since = 0;
        s->absent = false;
        int64_t mark;
        if (copy.finished)
            mark = INT64_MAX;
        else if (!s->answered && copy.epoch <= s->base_epoch && copy.pid == s->base_pid)
            mark = INT64_MIN; /* it may still count what the last worker of this stage held
                               * (a source started since has nothing of it) */
        else {
            s->answered = true;
            mark = copy.low;
            if (copy.reading_from && copy.reading_from < mark)
                mark = copy.reading_from;
            if (copy.low == INT64_MAX && !copy.reading_from)
                mark = now;
        }
        /* What a page said stays true while this worker lives (a record that passed it stays
         * passed), except that a finished source may be started again. */
        s->finished = copy.finished;
        if (!copy.finished && mark > s->floor)
            s->floor = mark;
        mark = src_mark(s);
        if (mark < low) {
            low = mark;
            *waiting = s->stage;
            *waiting_worker = s->worker;
        }
    }
    return low;
}

/* The lowest mark of every source present, as last read and followed. */
static int64_t reader_low_now(const struct nf_order_reader *r)
{
    int64_t low = INT64_MAX;
    for (size_t i = 0; i < r->n; i++)
        if (!r->src[i].absent && src_mark(&r->src[i]) < low)
            low = src_mark(&r->src[i]);
    return low;
}

int64_t nf_order_reader_follow(struct nf_order_reader *r, int src, int64_t prev, int64_t order)
{
    if (src >= 0 && (size_t)src < r->n && order < INT64_MAX) {
        struct src *s = &r->src[src];
        if (prev < src_mark(s) && order + 1 > s->floor)
            s->floor = order + 1;
    }
    return reader_low_now(r);
}

/* ---- the held records ----------------------------------------------------------------------- */

struct held {
    int64_t order;
    int64_t prev; /* its read_prev, INT64_MAX when it has none */
    int src;      /* its source's index, -1 when unknown */
    size_t buf;   /* index into bufs */
};

struct hbuf {
    uint8_t *data;
    size_t len, cap;
};

struct nf_order_heap {
    struct held *h;
    size_t n, cap;
    struct hbuf *bufs;
    size_t n_bufs;
    size_t *free_bufs; /* indexes of bufs not in use */
    size_t n_free;
    size_t bytes;
};

struct nf_order_heap *nf_order_heap_new(void)
{
    return calloc(1, sizeof(struct nf_order_heap));
}

void nf_order_heap_free(struct nf_order_heap *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n_bufs; i++)
        free(h->bufs[i].data);
    free(h->bufs);
    free(h->free_bufs);
    free(h->h);
    free(h);
}

size_t nf_order_heap_size(const struct nf_order_heap *h)
{
    return h->n;
}

size_t nf_order_heap_bytes(const struct nf_order_heap *h)
{
    return h->bytes;
}

int64_t nf_order_heap_top(const struct nf_order_heap *h)
{
    return h->n ? h->h[0].order : INT64_MAX;
}

const void *nf_order_heap_top_bytes(const struct nf_order_heap *h, size_t *len)
{
    if (!h->n)
        return NULL;
    const struct hbuf *b = &h->bufs[h->h[0].buf];
    *len = b->len;
    return b->data;
}

void nf_order_heap_top_link(const struct nf_order_heap *h, int64_t *prev, int *src)
{
    *prev = h->n ? h->h[0].prev : INT64_MAX;
    *src = h->n ? h->h[0].src : -1;
}

static int take_buf(struct nf_order_heap *h, size_t *out)
{
    if (h->n_free) {
        *out = h->free_bufs[--h->n_free];
        return 0;
    }
    struct hbuf *b = realloc(h->bufs, (h->n_bufs + 1) * sizeof(*b));
    if (!b)
        return -1;
    h->bufs = b;
    size_t *f = realloc(h->free_bufs, (h->n_bufs + 1) * sizeof(*f));
    if (!f)
        return -1;
    h->free_bufs = f;
    h->bufs[h->n_bufs] = (struct hbuf){0};
    *out = h->n_bufs++;
    return 0;
}

int nf_order_heap_push(struct nf_order_heap *h, int64_t order, int64_t prev, int src,
                       const void *bytes, size_t len)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct held *n = realloc(h->h, cap * sizeof(*n));
        if (!n)
            return -1;
        h->h = n;
        h->cap = cap;
    }
    size_t bi;
    if (take_buf(h, &bi) < 0)
        return -1;
    struct hbuf *b = &h->bufs[bi];
    if (b->cap < len) {
        uint8_t *d = realloc(b->data, len);
        if (!d) {
            h->free_bufs[h->n_free++] = bi;
            return -1;
        }
        b->data = d;
        b->cap = len;
    }
    memcpy(b->data, bytes, len);
    b->len = len;
    h->bytes += len;
    /* sift up; equal orders keep their arrival order only loosely, which is harmless: two
     * records never share a read order unless one is a resend of the other */
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->h[parent].order <= order)
            break;
        h->h[i] = h->h[parent];
        i = parent;
    }
    h->h[i] = (struct held){order, prev, src, bi};
    return 0;
}

void nf_order_heap_pop(struct nf_order_heap *h)
{
    if (!h->n)
        return;
    struct hbuf *b = &h->bufs[h->h[0].buf];
    h->bytes -= b->len;
    /* Buffers are kept for the next records, but not beyond what a burst of ordinary ones
     * needs: a buffer that once held a large record, or one more than NF_ORDER_KEEP spare ones,
     * is freed (every buffer kept at the size of the largest record it ever held made the
     * held set several times its bytes). */
    if (b->cap > NF_ORDER_KEEP_BYTES || h->n_free >= NF_ORDER_KEEP) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
    h->free_bufs[h->n_free++] = h->h[0].buf;
    struct held last = h->h[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->h[c + 1].order < h->h[c].order)
            c++;
        if (last.order <= h->h[c].order)
            break;
        h->h[i] = h->h[c];
        i = c;
    }
    if (h->n)
        h->h[i] = last;
}
