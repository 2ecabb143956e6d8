/* Tests of the transport (core/transport.c): acknowledgements batched by nf_acker and read back
 * through a real PULL socket, nf_ack_decode on well-formed and hostile messages, the inbox
 * broker on ipc endpoints in a temporary directory, and socket errors. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "transport.h"

#define assert_has(hay, needle)                                                                \
    do {                                                                                       \
        if (!strstr((hay), (needle)))                                                          \
            fail_msg("expected \"%s\" in \"%s\"", (needle), (hay));                            \
    } while (0)

/* What nf_ack_decode handed to its callback. */
struct pairs {
    int n;
    int64_t seq[64], weight[64];
};

static void collect(void *arg, int64_t seq, int64_t weight)
{
    struct pairs *p = arg;
    if (p->n < 64) {
        p->seq[p->n] = seq;
        p->weight[p->n] = weight;
    }
    p->n++;
}

/* A PULL socket bound in `zctx`, with a receive timeout so that a missing message fails the
 * test instead of hanging it (the timeout is a guard, not something asserted). */
static void *pull_bound(void *zctx, const char *endpoint)
{
    void *s = zmq_socket(zctx, ZMQ_PULL);
    assert_non_null(s);
    int t = 10000, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &t, sizeof(t));
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(s, endpoint) != 0)
        fail_msg("bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return s;
}

/* Receives one acknowledgement message and decodes it into p. */
static void recv_acks(void *pull, struct pairs *p)
{
    char buf[4096];
    int n = zmq_recv(pull, buf, sizeof(buf), 0);
    if (n < 0)
        fail_msg("no acknowledgement arrived: %s", zmq_strerror(zmq_errno()));
    assert_true((size_t)n <= sizeof(buf));
    memset(p, 0, sizeof(*p));
    int rc = nf_ack_decode(buf, (size_t)n, collect, p);
    assert_int_equal(rc, p->n);
}

static void assert_pair(const struct pairs *p, int i, int64_t seq, int64_t weight)
{
    assert_true(i < p->n);
    assert_int_equal(p->seq[i], seq);
    assert_int_equal(p->weight[i], weight);
}

/* ---- the acknowledgement batcher --------------------------------------------------------- */

static void test_acker_sends_ready(void **state)
{
    (void)state;
    void *z = zmq_ctx_new();
    void *pull = pull_bound(z, "inproc://acks-ready");
    struct nf_acker *a = nf_acker_new(z);
    assert_non_null(a);
    assert_int_equal(nf_acker_add(a, "inproc://acks-ready", 7, 2, false), 0);
    assert_int_equal(nf_acker_add(a, "inproc://acks-ready", 8, 1, false), 0);
    /* large values survive the trip */
    assert_int_equal(nf_acker_add(a, "inproc://acks-ready", INT64_MAX, 1000000, false), 0);
    assert_int_equal(nf_acker_held(a), 0);
    nf_acker_send(a);
    struct pairs p;
    recv_acks(pull, &p);
    assert_int_equal(p.n, 3);
    assert_pair(&p, 0, 7, 2);
    assert_pair(&p, 1, 8, 1);
    assert_pair(&p, 2, INT64_MAX, 1000000);

    /* what was sent is not sent again */
    assert_int_equal(nf_acker_add(a, "inproc://acks-ready", 9, 1, false), 0);
    nf_acker_send(a);
    recv_acks(pull, &p);
    assert_int_equal(p.n, 1);
    assert_pair(&p, 0, 9, 1);

    /* a send with nothing ready sends nothing: the next message is the next ack */
    nf_acker_send(a);
    assert_int_equal(nf_acker_add(a, "inproc://acks-ready", 10, 3, false), 0);
    nf_acker_send(a);
    recv_acks(pull, &p);
    assert_int_equal(p.n, 1);
    assert_pair(&p, 0, 10, 3);

    nf_acker_destroy(&a);
    assert_null(a);
    nf_acker_destroy(&a); /* accepts NULL */
    zmq_close(pull);
    zmq_ctx_term(z);
}

/* A sink's batches made durable in the background: the oldest ones are released first, in
 * order; a newer batch that failed is dropped without the older ones. */
static void test_acker_releases_the_oldest_batches(void **state)
{
    (void)state;
    void *z = zmq_ctx_new();
    const char *ep = "inproc://acks-batches";
    void *pull = pull_bound(z, ep);
    struct nf_acker *a = nf_acker_new(z);
    struct pairs p;
    /* a batch of no records, before anything was ever held */
    nf_acker_release_first(a, 0, true);
    nf_acker_drop_after(a, 0);
    assert_int_equal(nf_acker_held(a), 0);
    for (int64_t seq = 1; seq <= 6; seq++) /* batches: 1-2, 3-5, 6 */
        assert_int_equal(nf_acker_add(a, ep, seq, 1, true), 0);
    nf_acker_drop_after(a, 5); /* the third failed */
    assert_int_equal(nf_acker_held(a), 5);
    nf_acker_release_first(a, 2, true); /* the first is durable */
    assert_int_equal(nf_acker_held(a), 3);
    nf_acker_send(a);
    recv_acks(pull, &p);
    assert_int_equal(p.n, 2);
    assert_pair(&p, 0, 1, 1);
    assert_pair(&p, 1, 2, 1);
    assert_int_equal(nf_acker_add(a, ep, 7, 1, true), 0);
    nf_acker_release_first(a, 3, false); /* the second could not be synced: replayed */
    assert_int_equal(nf_acker_held(a), 1);
    nf_acker_release_first(a, 5, true); /* more than held: all of it */
    assert_int_equal(nf_acker_held(a), 0);
    nf_acker_send(a);
    recv_acks(pull, &p);
    assert_int_equal(p.n, 1);
    assert_pair(&p, 0, 7, 1);
    nf_acker_destroy(&a);
    zmq_close(pull);
    zmq_ctx_term(z);
}

static void test_acker_held_until_release(void **state)
{
    (void)state;
    void *z = zmq_ctx_new();
    void *pull = pull_bound(z, "inproc://acks-held");
    struct nf_acker *a = nf_acker_new(z);
    const char *ep = "inproc://acks-held";
    struct pairs p;

    /* held entries are not sent... */
    assert_int_equal(nf_acker_add(a, ep, 1, 1, true), 0);
    assert_int_equal(nf_acker_add(a, ep, 2, 2, true), 0);
    assert_int_equal(nf_acker_held(a), 2);
    nf_acker_send(a);
    /* ...so the first message to arrive is this later, unheld one (one pipe keeps order) */
    assert_int_equal(nf_acker_add(a, ep, 100, 1, false), 0);
    nf_acker_send(a);
    recv_acks(pull, &p);
    assert_int_equal(p.n, 1);
    assert_pair(&p, 0, 100, 1);

    /* ...until the batch is committed */
    nf_acker_release(a, true);
    assert_int_equal(nf_acker_held(a), 0);
    nf_acker_send(a);
    recv_acks(pull, &p);
    assert_int_equal(p.n, 2);
    assert_pair(&p, 0, 1, 1);
    assert_pair(&p, 1, 2, 2);

    /* a batch that failed is dropped: the source replays it */
    assert_int_equal(nf_acker_add(a, ep, 3, 1, true), 0);
    assert_int_equal(nf_acker_held(a), 1);
    nf_acker_release(a, false);
    assert_int_equal(nf_acker_held(a), 0);
    nf_acker_release(a, true); /* nothing left to commit */
    assert_int_equal(nf_acker_add(a, ep, 101, 1, false), 0);
    nf_acker_send(a);
    recv_acks(pull, &p);
    assert_int_equal(p.n, 1);
    assert_pair(&p, 0, 101, 1);

    /* ready and committed entries travel together */
    assert_int_equal(nf_acker_add(a, ep, 4, 1, false), 0);
    assert_int_equal(nf_acker_add(a, ep, 5, 1, true), 0);
    nf_acker_release(a, true);
    nf_acker_send(a);
    recv_acks(pull, &p);
    assert_int_equal(p.n, 2);
    assert_pair(&p, 0, 4, 1);
    assert_pair(&p, 1, 5, 1);

    /* many held entries (beyond the first allocation) all come out, in order */
    for (int i = 0; i < 600; i++)
        assert_int_equal(nf_acker_add(a, ep, 1000 + i, i % 3 + 1, true), 0);
    nf_acker_release(a, true);
    nf_acker_send(a);
    char buf[16384];
    int n = zmq_recv(pull, buf, sizeof(buf), 0);
    assert_true(n > 0 && n < (int)sizeof(buf));
    struct pairs big = {0};
    assert_int_equal(nf_ack_decode(buf, (size_t)n, collect, &big), 600);
    assert_int_equal(big.n, 600);
    assert_pair(&big, 0, 1000, 1);
    assert_pair(&big, 63, 1063, 1);

    nf_acker_destroy(&a);
    zmq_close(pull);
    zmq_ctx_term(z);
}

static void test_acker_per_endpoint(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/nf-transport-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char ep1[PATH_MAX], ep2[PATH_MAX];
    snprintf(ep1, sizeof(ep1), "ipc://%s/src-0.ack", tmpl);
    snprintf(ep2, sizeof(ep2), "ipc://%s/src-1.ack", tmpl);
    void *z = zmq_ctx_new();
    void *p1 = pull_bound(z, ep1), *p2 = pull_bound(z, ep2);
    struct nf_acker *a = nf_acker_new(z);
    assert_int_equal(nf_acker_add(a, ep1, 1, 1, false), 0);
    assert_int_equal(nf_acker_add(a, ep2, 2, 1, true), 0);
    assert_int_equal(nf_acker_add(a, ep1, 3, 2, false), 0);
    assert_int_equal(nf_acker_add(a, ep2, 4, 1, false), 0);
    nf_acker_release(a, true);
    nf_acker_send(a);
    struct pairs p;
    recv_acks(p1, &p);
    assert_int_equal(p.n, 2);
    assert_pair(&p, 0, 1, 1);
    assert_pair(&p, 1, 3, 2);
    recv_acks(p2, &p);
    assert_int_equal(p.n, 2);
    assert_pair(&p, 0, 4, 1); /* ready before the held one was committed */
    assert_pair(&p, 1, 2, 1);
    nf_acker_destroy(&a);
    zmq_close(p1);
    zmq_close(p2);
    zmq_ctx_term(z);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
}

static void test_acker_bad_endpoint(void **state)
{
    (void)state;
    void *z = zmq_ctx_new();
    struct nf_acker *a = nf_acker_new(z);
    /* an ack_to that cannot be connected is refused, not kept */
    assert_int_equal(nf_acker_add(a, "bogus://nowhere", 1, 1, false), -1);
    assert_int_equal(nf_acker_add(a, "bogus://nowhere", 1, 1, true), -1);
    assert_int_equal(nf_acker_held(a), 0);
    nf_acker_send(a);
    nf_acker_destroy(&a);
    zmq_ctx_term(z);
}

/* ---- decoding -------------------------------------------------------------------------------- */

/* Expects `msg` to be refused without a single callback. */
static void refused(const char *what, const void *msg, size_t len)
{
    struct pairs p = {0};
    int rc = nf_ack_decode(msg, len, collect, &p);
    if (rc != -1)
        fail_msg("%s: accepted (%d)", what, rc);
    if (p.n != 0)
        fail_msg("%s: refused after %d callbacks", what, p.n);
}

static void test_decode_valid(void **state)
{
    (void)state;
    struct pairs p = {0};
    const uint8_t empty[] = {0x90};
    assert_int_equal(nf_ack_decode(empty, sizeof(empty), collect, &p), 0);
    assert_int_equal(p.n, 0);
    /* every unsigned width msgpack has */
    const uint8_t widths[] = {0x96,                                           /* 6 entries */
                              0x05,       0xcc, 0xc8,                         /* 5, 200 */
                              0xcd, 0x01, 0x00, 0xce, 0x00, 0x01, 0x00, 0x00, /* 256, 65536 */
                              0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
    memset(&p, 0, sizeof(p));
    assert_int_equal(nf_ack_decode(widths, sizeof(widths), collect, &p), 3);
    assert_pair(&p, 0, 5, 200);
    assert_pair(&p, 1, 256, 65536);
    assert_pair(&p, 2, INT64_MAX, 0);
    /* array16 and array32 headers with honest counts */
    const uint8_t a16[] = {0xdc, 0x00, 0x02, 0x01, 0x02};
    memset(&p, 0, sizeof(p));
    assert_int_equal(nf_ack_decode(a16, sizeof(a16), collect, &p), 1);
    assert_pair(&p, 0, 1, 2);
    const uint8_t a32[] = {0xdd, 0x00, 0x00, 0x00, 0x02, 0x03, 0x04};
    memset(&p, 0, sizeof(p));
    assert_int_equal(nf_ack_decode(a32, sizeof(a32), collect, &p), 1);
    assert_pair(&p, 0, 3, 4);
    /* the marks of ordered stages (order.h): weights from -NF_ACK_MARKS to -1 */
    const uint8_t marks[] = {0x94, 0x07, 0xff, 0x08, 0xd2, 0xff, 0xf0, 0x00, 0x00};
    memset(&p, 0, sizeof(p));
    assert_int_equal(nf_ack_decode(marks, sizeof(marks), collect, &p), 2);
    assert_pair(&p, 0, 7, -1);
    assert_pair(&p, 1, 8, -NF_ACK_MARKS);
}

static void test_decode_malformed(void **state)
{
    (void)state;
    refused("empty", "", 0);
    const uint8_t never_used[] = {0xc1};
    refused("0xc1", never_used, sizeof(never_used));
    const uint8_t junk[] = {0x3f, 0x10, 0xaa, 0x07, 0xe1};
    refused("junk", junk, sizeof(junk));
    const uint8_t map[] = {0x81, 0x01, 0x02};
    refused("a map", map, sizeof(map));
    const uint8_t scalar[] = {0x05};
    refused("a bare integer", scalar, sizeof(scalar));
    const uint8_t odd[] = {0x93, 0x01, 0x02, 0x03};
    refused("an odd count", odd, sizeof(odd));
    const uint8_t neg_seq[] = {0x92, 0xff, 0x01};
    refused("a negative seq", neg_seq, sizeof(neg_seq));
    const uint8_t neg_weight[] = {0x92, 0x01, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0};
    refused("a negative weight", neg_weight, sizeof(neg_weight));
    const uint8_t below_marks[] = {0x92, 0x01, 0xd2, 0xff, 0xef, 0xff, 0xff};
    refused("a weight below the marks", below_marks, sizeof(below_marks));
    const uint8_t too_big[] = {0x92, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x01};
    refused("a seq above INT64_MAX", too_big, sizeof(too_big));
    const uint8_t str[] = {0x92, 0xa1, 'a', 0x01};
    refused("a string", str, sizeof(str));
    const uint8_t flt[] = {0x92, 0xca, 0x3f, 0x80, 0x00, 0x00, 0x01};
    refused("a float", flt, sizeof(flt));
    const uint8_t nil[] = {0x92, 0xc0, 0x01};
    refused("nil", nil, sizeof(nil));
    const uint8_t nested[] = {0x92, 0x91, 0x01, 0x01};
    refused("a nested array", nested, sizeof(nested));
    const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    refused("an array32 claiming 2^32-1 entries", huge, sizeof(huge));
    const uint8_t huge16[] = {0xdc, 0xff, 0xfe, 0x01, 0x02};
    refused("an array16 claiming 65534 entries", huge16, sizeof(huge16));
    const uint8_t short16[] = {0xdc, 0x00};
    refused("a cut array16 header", short16, sizeof(short16));
    const uint8_t short32[] = {0xdd, 0x00, 0x00};
    refused("a cut array32 header", short32, sizeof(short32));
    const uint8_t truncated[] = {0x94, 0x01, 0x02, 0x03};
    refused("a truncated array", truncated, sizeof(truncated));
    const uint8_t cut_int[] = {0x92, 0x01, 0xcd, 0x01};
    refused("a cut integer", cut_int, sizeof(cut_int));
    const uint8_t trailing[] = {0x92, 0x01, 0x02, 0x00};
    refused("bytes after the array", trailing, sizeof(trailing));
    /* a bad pair after good ones: nothing at all is delivered */
    const uint8_t late[] = {0x96, 0x01, 0x01, 0x02, 0x01, 0x03, 0xa0};
    refused("a bad last entry", late, sizeof(late));
}

static void test_decode_nested_huge_count(void **state)
{
    /* Not only the outer count: an element that is itself a container header claiming 2^32-1
     * entries must be refused before msgpack_unpack sees it, or msgpack-c asks for ~128 GB for
     * a 7-byte message from another process (the sanitizer build aborts on it). */
    (void)state;
    const uint8_t inner[] = {0x92, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    refused("an element claiming 2^32-1 entries", inner, sizeof(inner));
    const uint8_t inner_map[] = {0x92, 0x01, 0xdf, 0x0f, 0xff, 0xff, 0xff};
    refused("an element claiming 2^28 map entries", inner_map, sizeof(inner_map));
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_decode_random(void **state)
{
    /* Random bytes, often behind a plausible array header: never a crash, never a callback
     * from a refused message, and the return value is the number of callbacks. */
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint8_t buf[64];
    int accepted = 0;
    for (int i = 0; i < 50000; i++) {
        size_t len = rng_next(&seed) % sizeof(buf);
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)rng_next(&seed);
        if (len > 0 && i % 2)
            buf[0] = (uint8_t)(0x90 | (rng_next(&seed) % 16));
        /* mostly small positive integers, so that some messages are well-formed */
        for (size_t k = 1; k < len && i % 4 == 1; k++)
            buf[k] &= 0x7f;
        struct pairs p = {0};
        int rc = nf_ack_decode(buf, len, collect, &p);
        if (rc == -1 && p.n != 0)
            fail_msg("message %d refused after %d callbacks", i, p.n);
        if (rc >= 0 && rc != p.n)
            fail_msg("message %d: returned %d after %d callbacks", i, rc, p.n);
        accepted += rc > 0;
    }
    assert_true(accepted > 0); /* the generator did reach the valid shape */
}

/* ---- the inbox broker ------------------------------------------------------------------------ */

struct broker_arg {
    void *zctx;
    char front[PATH_MAX], back[PATH_MAX];
    int rc;
    char err[512];
};

static void *broker_thread(void *p)
{
    struct broker_arg *b = p;
    b->rc = nf_broker_run(b->zctx, b->front, b->back, 10, b->err, sizeof(b->err));
    return NULL;
}

static void test_broker_in_order(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/nf-transport-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    void *z = zmq_ctx_new();
    struct broker_arg b = {.zctx = z, .rc = 99};
    snprintf(b.front, sizeof(b.front), "ipc://%s/clean.in", tmpl);
    snprintf(b.back, sizeof(b.back), "ipc://%s/clean.out", tmpl);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, broker_thread, &b), 0);

    /* connecting before the broker has bound is fine: ZeroMQ retries */
    char err[512];
    void *push = nf_socket_open(z, ZMQ_PUSH, b.front, false, 1000, err, sizeof(err));
    if (!push)
        fail_msg("%s", err);
    void *pull = nf_socket_open(z, ZMQ_PULL, b.back, false, 1000, err, sizeof(err));
    if (!pull)
        fail_msg("%s", err);
    int timeout = 10000;
    zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(push, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));

    enum { N = 500 };
    for (int i = 0; i < N; i++) {
        char m[32];
        int n = snprintf(m, sizeof(m), "record-%04d", i);
        if (zmq_send(push, m, (size_t)n, 0) != n)
            fail_msg("send %d: %s (broker: %d %s)", i, zmq_strerror(zmq_errno()), b.rc, b.err);
    }
    for (int i = 0; i < N; i++) {
        char m[32], want[32];
        int n = zmq_recv(pull, m, sizeof(m) - 1, 0);
        if (n < 0)
            fail_msg("message %d did not arrive: %s (broker: %d %s)", i,
                     zmq_strerror(zmq_errno()), b.rc, b.err);
        if (n >= (int)sizeof(m)) /* zmq_recv tells a longer message's size, cut to the buffer */
            fail_msg("message %d is %d bytes, longer than any sent", i, n);
        m[n] = '\0';
        snprintf(want, sizeof(want), "record-%04d", i);
        assert_string_equal(m, want);
    }

    /* shutting the context down ends the broker, which reports a clean exit */
    assert_int_equal(zmq_ctx_shutdown(z), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (b.rc != 0)
        fail_msg("broker returned %d: %s", b.rc, b.err);
    nf_socket_close(&push);
    assert_null(push);
    nf_socket_close(&pull);
    nf_socket_close(&pull); /* accepts NULL */
    assert_int_equal(zmq_ctx_term(z), 0);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
}

static void test_broker_setup_errors(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/nf-transport-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    void *z = zmq_ctx_new();
    char front[PATH_MAX], back[PATH_MAX], err[512] = "";
    snprintf(front, sizeof(front), "ipc://%s/x.in", tmpl);
    snprintf(back, sizeof(back), "ipc://%s/no/such/dir/x.out", tmpl);
    /* the back end cannot bind: -1, the reason names it, and the front end is released */
    assert_int_equal(nf_broker_run(z, front, back, 10, err, sizeof(err)), -1);
    assert_has(err, back);
    void *again = nf_socket_open(z, ZMQ_PULL, front, true, 10, err, sizeof(err));
    if (!again)
        fail_msg("the front end was not released: %s", err);
    nf_socket_close(&again);
    /* the front end cannot bind: its port is taken (an ipc path would be taken over instead:
     * ZeroMQ unlinks a socket file it finds in the way) */
    void *taken = nf_socket_open(z, ZMQ_PULL, "tcp://127.0.0.1:*", true, 10, err, sizeof(err));
    if (!taken)
        fail_msg("%s", err);
    size_t fl = sizeof(front);
    assert_int_equal(zmq_getsockopt(taken, ZMQ_LAST_ENDPOINT, front, &fl), 0);
    snprintf(back, sizeof(back), "ipc://%s/x.out", tmpl);
    err[0] = '\0';
    assert_int_equal(nf_broker_run(z, front, back, 10, err, sizeof(err)), -1);
    assert_has(err, front);
    nf_socket_close(&taken);
    assert_int_equal(zmq_ctx_term(z), 0);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
    assert_int_equal(system(cmd), 0);
}

/* ---- sockets --------------------------------------------------------------------------------- */

static void test_socket_errors(void **state)
{
    (void)state;
    void *z = zmq_ctx_new();
    char err[512] = "";
    assert_null(nf_socket_open(z, ZMQ_PULL, "bogus://x", true, 10, err, sizeof(err)));
    assert_has(err, "bogus://x");
    assert_has(err, "bind");
    err[0] = '\0';
    assert_null(nf_socket_open(z, ZMQ_PUSH, "tcp://no-port", false, 10, err, sizeof(err)));
    assert_has(err, "tcp://no-port");
    assert_has(err, "connect");
    err[0] = '\0';
    assert_null(nf_socket_open(z, ZMQ_PULL, "ipc:///nonexistent-nf-dir/a.in", true, 10, err,
                               sizeof(err)));
    assert_has(err, "ipc:///nonexistent-nf-dir/a.in");
    /* a socket type that does not exist */
    err[0] = '\0';
    assert_null(nf_socket_open(z, 12345, "inproc://x", true, 10, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_int_equal(zmq_ctx_term(z), 0); /* nothing was left open */
}

static void test_socket_options(void **state)
{
    /* An exiting process never hangs on a vanished peer, and queues stay as small as asked. */
    (void)state;
    void *z = zmq_ctx_new();
    char err[512];
    void *s = nf_socket_open(z, ZMQ_PUSH, "inproc://opts", true, 37, err, sizeof(err));
    if (!s)
        fail_msg("%s", err);
    int v;
    size_t vl = sizeof(v);
    assert_int_equal(zmq_getsockopt(s, ZMQ_LINGER, &v, &vl), 0);
    assert_true(v >= 0);
    assert_true(v <= 10000);
    vl = sizeof(v);
    assert_int_equal(zmq_getsockopt(s, ZMQ_SNDHWM, &v, &vl), 0);
    assert_int_equal(v, 37);
    vl = sizeof(v);
    assert_int_equal(zmq_getsockopt(s, ZMQ_RCVHWM, &v, &vl), 0);
    assert_int_equal(v, 37);
    nf_socket_close(&s);
    assert_int_equal(zmq_ctx_term(z), 0);
}

/* A sender frame reads back as written; a frame of another size or tag is none. */
static void test_sender_frame(void **state)
{
    (void)state;
    struct nf_sender a = {.stage = UINT64_C(0x0123456789abcdef), .host = 42, .worker = 7,
                          .incarnation = INT64_C(1796000000123456)},
                     b;
    uint8_t f[NF_SENDER_BYTES];
    nf_sender_put(&a, f);
    assert_int_equal(nf_sender_get(f, sizeof(f), &b), 0);
    assert_true(b.stage == a.stage && b.host == a.host && b.worker == a.worker &&
                b.incarnation == a.incarnation);
    assert_int_equal(nf_sender_get(f, sizeof(f) - 1, &b), -1);
    f[0] ^= 1;
    assert_int_equal(nf_sender_get(f, sizeof(f), &b), -1);
}

/* Once a worker's successor is heard, what the worker left in a pipe is stale; other workers,
 * stages and hosts are not, and an earlier incarnation becomes the latest again once the later one
 * has been silent for NF_SENDER_QUIET_MS (a clock set back). */
static void test_senders_stale(void **state)
{
    (void)state;
    struct nf_senders *h = nf_senders_new();
    assert_non_null(h);
    struct nf_sender old = {.stage = 1, .worker = 0, .incarnation = 1000},
                     next = {.stage = 1, .worker = 0, .incarnation = 2000},
                     other_worker = {.stage = 1, .worker = 1, .incarnation = 500},
                     other_stage = {.stage = 2, .worker = 0, .incarnation = 10},
                     /* worker 0 of the same stage on another host */
                     other_host = {.stage = 1, .host = 5, .worker = 0, .incarnation = 700};
    int64_t t = 50000;
    assert_false(nf_senders_stale(h, &old, t));
    assert_false(nf_senders_stale(h, &old, t + 1));
    assert_false(nf_senders_stale(h, &next, t + 2)); /* the successor */
    assert_true(nf_senders_stale(h, &old, t + 3));   /* left in the pipe by the one it follows */
    assert_false(nf_senders_stale(h, &other_worker, t + 4));
    assert_false(nf_senders_stale(h, &other_stage, t + 5));
    assert_false(nf_senders_stale(h, &other_host, t + 5));
    assert_false(nf_senders_stale(h, &other_host, t + 5));
    assert_false(nf_senders_stale(h, &next, t + 6));
    assert_true(nf_senders_stale(h, &old, t + 6 + NF_SENDER_QUIET_MS - 1));
    /* the later one silent that long: the earlier one is the live one */
    assert_false(nf_senders_stale(h, &old, t + 6 + NF_SENDER_QUIET_MS));
    assert_false(nf_senders_stale(h, &old, t + 7 + NF_SENDER_QUIET_MS));
    assert_false(nf_senders_stale(h, &next, t + 8 + NF_SENDER_QUIET_MS));
    assert_true(nf_senders_stale(h, &old, t + 9 + NF_SENDER_QUIET_MS));
    nf_senders_free(&h);
    assert_null(h);
}

/* The table is bounded: past NF_SENDERS_MAX workers the one heard least recently is forgotten
 * (its stale messages are then taken, as without the table), and the rest are kept. */
static void test_senders_bounded(void **state)
{
    (void)state;
    struct nf_senders *h = nf_senders_new();
    assert_non_null(h);
    struct nf_sender s = {.stage = 9, .incarnation = 2};
    for (uint32_t w = 0; w <= NF_SENDERS_MAX; w++) {
        s.worker = w;
        assert_false(nf_senders_stale(h, &s, 1000 + w / 4096));
    }
    /* worker 2 is still known: its earlier run is stale */
    struct nf_sender early = {.stage = 9, .worker = 2, .incarnation = 1};
    assert_true(nf_senders_stale(h, &early, 1002));
    /* worker 0, heard first, was forgotten for the last one: its earlier run is taken */
    early.worker = 0;
    assert_false(nf_senders_stale(h, &early, 1003));
    nf_senders_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acker_sends_ready),
        cmocka_unit_test(test_acker_held_until_release),
        cmocka_unit_test(test_acker_releases_the_oldest_batches),
        cmocka_unit_test(test_acker_per_endpoint),
        cmocka_unit_test(test_acker_bad_endpoint),
        cmocka_unit_test(test_decode_valid),
        cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_decode_nested_huge_count),
        cmocka_unit_test(test_decode_random),
        cmocka_unit_test(test_broker_in_order),
        cmocka_unit_test(test_broker_setup_errors),
        cmocka_unit_test(test_socket_errors),
        cmocka_unit_test(test_socket_options),
        cmocka_unit_test(test_sender_frame),
        cmocka_unit_test(test_senders_stale),
        cmocka_unit_test(test_senders_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
