/* Read order: a stage that hands its plugin records in the order their sources read them.
 *
 * Workers running side by side upstream deliver records out of the order in which a source read
 * them, so a stage that decides each record against the ones before it (dedup, story) would
 * decide differently from one run to the next. A stage with `in_read_order = true` holds what it
 * receives and gives it to its plugin sorted by read_order, each record once no record read
 * before it can still arrive:
 *
 *  - on receipt, the stage tells the record's source that the record has passed it: a mark, an
 *    acknowledgement of negative weight on the source's acknowledgement socket, which says the
 *    stage's rank among the ordered stages and its worker's incarnation;
 *  - every source worker publishes on a page of its own (RUN_DIR/order/STAGE-W, 0600) a low mark
 *    for each ordered stage: the lowest read order among its records in flight that have not
 *    passed that stage; while it is reading, the read order it started reading at; while it has
 *    neither, nothing, which means that what it reads from now on comes after the reader's clock;
 *  - the ordered stage releases what it holds below the lowest mark of every source worker;
 *  - and it needs no mark for what it can tell itself: each record carries read_prev, the read
 *    order its source worker gave just before its own. When every record that source read up to
 *    read_prev has arrived (or left), so has every one read before the record, and its source's
 *    mark moves up to it at once. In a single file of workers records arrive in read order, so
 *    each one goes on as it arrives, without the round trip to the source and back; a record
 *    dead-lettered or dropped upstream breaks the chain until its source's mark passes it.
 *
 * A record dead-lettered or dropped on its way is acknowledged, so it leaves the marks as well. A
 * resend takes no mark back: the stage has the record already, unless its worker died. When an
 * ordered worker starts, it asks every source to forget what had passed its stage (a mark of
 * record 0): what the last worker held was lost with it and comes back as resends. It trusts a
 * source's mark once that source has answered (the page's epoch for the stage moved) or was
 * started again since. Marks of a worker that died may still be read after its successor's reset,
 * from another connection: the incarnation tells them apart. Dedup and story may both be ordered:
 * a record lost between them comes back through dedup as a resend, late for story.
 *
 * A record that arrives after records read later than it were released (a dead letter
 * replayed, a resend after a long outage) goes on at once and is counted as late.
 *
 * The pages are files in the run directory: an ordered stage runs on the host of its sources. A
 * source whose page cannot be read for NF_ORDER_ABSENT_MS is left out (logged), so that the
 * stage never waits for ever. */
#ifndef NF_ORDER_H
#define NF_ORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NF_ORDER_ABSENT_MS 10000
#define NF_ORDER_STAGES 4 /* stages of a pipeline with in_read_order, at most */
#define NF_ORDER_GENS 65536 /* incarnations of an ordered worker told apart in its marks */

/* The acknowledgement weight of a mark of ordered stage k (its rank), worker incarnation gen,
 * and back. */
static inline int64_t nf_order_mark_weight(int k, int gen)
{
    return -(1 + k + (int64_t)NF_ORDER_STAGES * gen);
}
static inline void nf_order_mark_of(int64_t weight, int *k, int *gen)
{
    *k = (int)((-weight - 1) % NF_ORDER_STAGES);
    *gen = (int)((-weight - 1) / NF_ORDER_STAGES);
}

/* ---- the sources' side ---------------------------------------------------------------------- */

struct nf_order_page;

/* Maps (creating it, or keeping the epoch of an earlier run) the page of one source worker. It
 * starts by holding every reader back (low 0) until the source publishes. NULL with the reason
 * in err. */
struct nf_order_page *nf_order_open(const char *run_dir, const char *stage, int worker,
                                    char *err, size_t errlen);
void nf_order_close(struct nf_order_page **page);

/* Publishes the low marks, one for each ordered stage (INT64_MAX: nothing in flight has not
 * passed it), the read order the source is reading from (0: not reading), and whether it is
 * finished (nothing in flight, input exhausted). answered: the ordered stage whose reset has just
 * been carried out (its epoch moves), or -1. */
void nf_order_publish(struct nf_order_page *p, const int64_t *low, int n, int64_t reading_from,
                      bool finished, int answered);

/* The read order the clock gives now, for worker 0 (record.h's read_order). */
int64_t nf_order_now(void);

/* ---- the ordered stage's side --------------------------------------------------------------- */

struct nf_order_src {
    const char *stage;
    int worker;
};

struct nf_order_reader;

/* Opens the pages of the given source workers and notes their epochs, before ordered stage k
 * (its rank among the stages with in_read_order) asks them to forget what had passed it. */
struct nf_order_reader *nf_order_reader_new(const char *run_dir, const struct nf_order_src *src,
                                            size_t n, int k);
void nf_order_reader_free(struct nf_order_reader *r);

/* Below which read order every record has arrived or left the pipeline; INT64_MIN while a
 * source has not answered. now_ms: a monotonic clock, for the absence rule. *waiting names a
 * source that holds the mark back (for logs), or NULL. */
int64_t nf_order_reader_low(struct nf_order_reader *r, int64_t now_ms, const char **waiting,
                            int *waiting_worker);

/* A record of source `src` (its index in the reader's list) with read order `order` and
 * read_prev `prev` (record.h) has arrived: when every record that source read up to prev has
 * arrived or left, so has every one it read before `order`, which needs no word from the source.
 * Returns the new low (as nf_order_reader_low, without reading the pages again). */
int64_t nf_order_reader_follow(struct nf_order_reader *r, int src, int64_t prev, int64_t order);

/* ---- the held records ----------------------------------------------------------------------- */

/* Records held, by read order (a binary heap); their bytes are copied into buffers that are
 * reused, so holding costs no allocation once the heap has grown. */
struct nf_order_heap;

struct nf_order_heap *nf_order_heap_new(void);
void nf_order_heap_free(struct nf_order_heap *h);
/* prev: the record's read_prev (INT64_MAX: none); src: its source's index among the reader's,
 * -1 when unknown. */
int nf_order_heap_push(struct nf_order_heap *h, int64_t order, int64_t prev, int src,
                       const void *bytes, size_t len);
size_t nf_order_heap_size(const struct nf_order_heap *h);
/* The lowest read order held; INT64_MAX when empty. */
int64_t nf_order_heap_top(const struct nf_order_heap *h);
/* The bytes of the lowest, valid until the next push or pop. */
const void *nf_order_heap_top_bytes(const struct nf_order_heap *h, size_t *len);
/* The read_prev and source of the lowest (INT64_MAX and -1 when empty). */
void nf_order_heap_top_link(const struct nf_order_heap *h, int64_t *prev, int *src);
void nf_order_heap_pop(struct nf_order_heap *h);
size_t nf_order_heap_bytes(const struct nf_order_heap *h);

#endif
