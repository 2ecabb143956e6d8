/* Transport helpers over ZeroMQ. Sockets get a bounded linger (an exiting process never hangs on
 * a vanished peer) and small high-water marks (memory stays bounded, PUSH blocks upstream). */
#include "transport.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "config.h"
#include "le.h"
#include "newsflow/record.h"
#include "security.h"

static int64_t max_message = INT64_C(64) << 20;

void nf_transport_set_max_message(int64_t bytes)
{
    max_message = bytes;
}

void *nf_socket_new(void *zctx, int type, int hwm, char *err, size_t errlen)
{
    void *s = zmq_socket(zctx, type);
    if (!s) {
        snprintf(err, errlen, "zmq_socket: %s", zmq_strerror(errno));
        return NULL;
    }
    int linger = 2000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    /* Vanished peers are found by TCP keepalive, not by ZMTP heartbeats: in libzmq 4.3.4 a peer
     * that dies while its connection's input is stopped at the high-water mark leaves the
     * connection in an error state that the next heartbeat timer writes to anyway, and libzmq
     * aborts the process (zeromq/libzmq#4364, #3937). A worker killed while the inbox it feeds
     * was full took the supervisor and every inbox broker down with it. Over ipc the kernel
     * reports a dead peer at once; keepalive covers a tcp peer whose host vanished. */
    int on = 1, idle = 10, intvl = 2, cnt = 5;
    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE, &on, sizeof(on));
    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof(idle));
    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_INTVL, &intvl, sizeof(intvl));
    zmq_setsockopt(s, ZMQ_TCP_KEEPALIVE_CNT, &cnt, sizeof(cnt));
    /* A peer's message over the limit closes its connection before it is kept whole. */
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_message, sizeof(max_message));
    return s;
}

int nf_socket_attach(void *s, const char *endpoint, bool bind, char *err, size_t errlen)
{
    if (nf_security_apply(s, endpoint, bind) != 0) {
        snprintf(err, errlen, "CURVE keys for %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    if ((bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint)) != 0) {
        snprintf(err, errlen, "%s %s: %s", bind ? "bind" : "connect", endpoint,
                 zmq_strerror(errno));
        return -1;
    }
    return 0;
}

void *nf_socket_open(void *zctx, int type, const char *endpoint, bool bind, int hwm, char *err,
                     size_t errlen)
{
    void *s = nf_socket_new(zctx, type, hwm, err, errlen);
    if (s && nf_socket_attach(s, endpoint, bind, err, errlen) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

bool nf_endpoint_is_local(const char *endpoint, const char *listen)
{
    char host[256];
    if (listen) {
        if (strcmp(listen, "0.0.0.0") == 0 || strcmp(listen, "::") == 0)
            return true; /* listens on every address: it is this host's to serve */
        snprintf(host, sizeof(host), "%s", listen);
    } else {
        const char *h = endpoint + 6, *colon = strrchr(endpoint, ':');
        if (strncmp(endpoint, "tcp://", 6) != 0 || !colon || colon < h)
            return false;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - h), h);
    }
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return false;
    struct ifaddrs *ifs = NULL;
    bool local = false;
    if (getifaddrs(&ifs) == 0) {
        for (struct addrinfo *a = res; a && !local; a = a->ai_next)
            for (struct ifaddrs *i = ifs; i && !local; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != a->ai_family)
                    continue;
                if (a->ai_family == AF_INET)
                    local = ((struct sockaddr_in *)a->ai_addr)->sin_addr.s_addr ==
                            ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
                else if (a->ai_family == AF_INET6)
                    local = memcmp(&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr,
                                   &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16) == 0;
            }
        freeifaddrs(ifs);
    }
    freeaddrinfo(res);
    return local;
}

/* The tcp endpoints stage s listens on: an inbox's two ports, or each source worker's
 * acknowledgement port. Returns how many were written to eps (at most max). */
static int tcp_binds(const struct nf_config *c, int s, char (*eps)[600], int max)
{
    const struct nf_stage_conf *st = &c->stages[s];
    const char *ep0 = st->n_inputs ? st->endpoint : st->ack_endpoint;
    if (!ep0 || !nf_endpoint_is_local(ep0, st->listen))
        return 0;
    int n = 0, count = st->n_inputs ? 2 : st->workers;
    for (int k = 0; k < count && n < max; k++)
        if ((st->n_inputs ? nf_config_inbox(c, s, k == 1, true, eps[n], sizeof(eps[n]))
                          : nf_config_ack_endpoint(c, s, k, true, eps[n], sizeof(eps[n]))) == 0)
            n++;
    return n;
}

int nf_probe_binds(const struct nf_config *c, const struct nf_config *running,
                   void (*fn)(void *, const struct nf_stage_conf *, const char *, const char *,
                              const char *),
                   void *arg)
{
    /* what the running generation listens on, once; then what the new one would */
    int n_run = running ? running->n_stages : 0;
    char(*held)[600] = malloc(((size_t)n_run + 1) * 256 * sizeof(*held));
    if (!held)
        return 0; /* nothing probed: the bind itself will say */
    int n_held = 0;
    for (int r = 0; r < n_run; r++)
        n_held += tcp_binds(running, r, held + n_held, 256);
    char(*eps)[600] = held + n_held;
    int bad = 0;
    for (int s = 0; s < c->n_stages; s++) {
        int n = tcp_binds(c, s, eps, 256);
        for (int k = 0; k < n; k++) {
            bool ours = false;
            for (int j = 0; j < n_held && !ours; j++)
                ours = strcmp(held[j], eps[k]) == 0;
            struct sockaddr_storage ss;
            size_t len;
            if (ours || nf_config_http_addr(eps[k] + 6, &ss, &len) < 0)
                continue; /* a name, not an address: zmq resolves it at bind */
            int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
            if (fd < 0)
                continue;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) < 0) {
                fn(arg, &c->stages[s], c->stages[s].n_inputs ? "endpoint" : "ack_endpoint",
                   eps[k], strerror(errno));
                bad++;
            }
            close(fd);
        }
    }
    free(held);
    return bad;
}

void nf_socket_close(void **s)
{
    if (s && *s) {
        zmq_close(*s);
        *s = NULL;
    }
}

int nf_broker_run(void *zctx, const char *front, const char *back, int hwm, char *err,
                  size_t errlen)
{
    return nf_broker_run_ctl(zctx, front, back, hwm, NULL, err, errlen);
}

int nf_broker_run_ctl(void *zctx, const char *front, const char *back, int hwm,
                      const char *ctl_endpoint, char *err, size_t errlen)
{
    void *f = nf_socket_open(zctx, ZMQ_PULL, front, true, hwm, err, errlen);
    if (!f)
        return -1;
    void *b = nf_socket_open(zctx, ZMQ_PUSH, back, true, hwm, err, errlen);
    if (!b) {
        zmq_close(f);
        return -1;
    }
    int linger = 0;
    zmq_setsockopt(f, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(b, ZMQ_LINGER, &linger, sizeof(linger));
    void *ctl = NULL;
    if (ctl_endpoint) {
        ctl = zmq_socket(zctx, ZMQ_PAIR);
        if (!ctl || zmq_connect(ctl, ctl_endpoint) != 0) {
            snprintf(err, errlen, "control socket %s: %s", ctl_endpoint, zmq_strerror(errno));
            if (ctl)
                zmq_close(ctl);
            zmq_close(f);
            zmq_close(b);
            return -1;
        }
    }
    /* returns on TERMINATE from the control socket, or when the context is shut down */
    zmq_proxy_steerable(f, b, NULL, ctl);
    if (ctl)
        zmq_close(ctl);
    zmq_close(f);
    zmq_close(b);
    return 0;
}

/* ---- acknowledgements ------------------------------------------------------------------ */

struct ack_dest {
    char *endpoint;
    void *sock;
    int64_t *ready; /* seq, weight pairs */
    size_t n_ready, cap_ready;
};

struct held {
    int dest;
    int64_t seq, weight;
};

struct nf_acker {
    void *zctx;
    struct ack_dest *dests;
    int n_dests;
    struct held *held;
    size_t n_held, cap_held;
    struct nf_buf buf;
};

struct nf_acker *nf_acker_new(void *zctx)
{
    struct nf_acker *a = calloc(1, sizeof(*a));
    if (a)
        a->zctx = zctx;
    return a;
}

void nf_acker_destroy(struct nf_acker **pa)
{
    if (!pa || !*pa)
        return;
    struct nf_acker *a = *pa;
    for (int i = 0; i < a->n_dests; i++) {
        free(a->dests[i].endpoint);
        free(a->dests[i].ready);
        nf_socket_close(&a->dests[i].sock);
    }
    free(a->dests);
    free(a->held);
    nf_buf_free(&a->buf);
    free(a);
    *pa = NULL;
}

static int dest_of(struct nf_acker *a, const char *endpoint)
{
    for (int i = 0; i < a->n_dests; i++)
        if (strcmp(a->dests[i].endpoint, endpoint) == 0)
            return i;
    if (a->n_dests >= 1024)
        return -1; /* a flood of bogus ack_to values must not open sockets without end */
    struct ack_dest *d = realloc(a->dests, sizeof(*d) * (size_t)(a->n_dests + 1));
    if (!d)
        return -1;
    a->dests = d;
    char err[256];
    void *s = nf_socket_open(a->zctx, ZMQ_PUSH, endpoint, false, 100000, err, sizeof(err));
    if (!s)
        return -1;
    a->dests[a->n_dests] = (struct ack_dest){strdup(endpoint), s, NULL, 0, 0};
    return a->n_dests++;
}

static int ready_push(struct ack_dest *d, int64_t seq, int64_t weight)
{
    if (d->n_ready + 2 > d->cap_ready) {
        size_t cap = d->cap_ready ? d->cap_ready * 2 : 256;
        int64_t *r = realloc(d->ready, cap * sizeof(*r));
        if (!r)
            return -1;
        d->ready = r;
        d->cap_ready = cap;
    }
    d->ready[d->n_ready++] = seq;
    d->ready[d->n_ready++] = weight;
    return 0;
}

int nf_acker_add(struct nf_acker *a, const char *endpoint, int64_t seq, int64_t weight,
                 bool held)
{
    int d = dest_of(a, endpoint);
    if (d < 0)
        return -1;
    if (!held)
        return ready_push(&a->dests[d], seq, weight);
    if (a->n_held == a->cap_held) {
        size_t cap = a->cap_held ? a->cap_held * 2 : 512;
        struct held *h = realloc(a->held, cap * sizeof(*h));
        if (!h)
            return -1;
        a->held = h;
        a->cap_held = cap;
    }
    a->held[a->n_held++] = (struct held){d, seq, weight};
    return 0;
}

void nf_acker_release(struct nf_acker *a, bool commit)
{
    for (size_t i = 0; commit && i < a->n_held; i++)
        ready_push(&a->dests[a->held[i].dest], a->held[i].seq, a->held[i].weight);
    a->n_held = 0;
}

void nf_acker_release_first(struct nf_acker *a, size_t n, bool commit)
{
    if (n > a->n_held)
        n = a->n_held;
    if (n == 0)
        return; /* held may be NULL: nothing was ever held */
    for (size_t i = 0; commit && i < n; i++)
        ready_push(&a->dests[a->held[i].dest], a->held[i].seq, a->held[i].weight);
    memmove(a->held, a->held + n, (a->n_held - n) * sizeof(*a->held));
    a->n_held -= n;
}

void nf_acker_drop_after(struct nf_acker *a, size_t n)
{
    if (n < a->n_held)
        a->n_held = n;
}

size_t nf_acker_held(const struct nf_acker *a)
{
    return a->n_held;
}

static int buf_write(void *data, const char *p, size_t n)
{
    return nf_buf_append(data, p, n);
}

void nf_acker_send(struct nf_acker *a)
{
    for (int i = 0; i < a->n_dests; i++) {
        struct ack_dest *d = &a->dests[i];
        if (!d->n_ready)
            continue;
        a->buf.len = 0;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &a->buf, buf_write);
        msgpack_pack_array(&pk, d->n_ready);
        for (size_t k = 0; k < d->n_ready; k++)
            msgpack_pack_int64(&pk, d->ready[k]);
        if (zmq_send(d->sock, a->buf.data, a->buf.len, ZMQ_DONTWAIT) >= 0)
            d->n_ready = 0;
        /* else: the source is gone or not reading; keep them, it replays if they never go */
    }
}

int nf_ack_decode(const void *data, size_t len, void (*fn)(void *, int64_t, int64_t),
                  void *arg)
{
    /* Acks come from other processes: check the shape before trusting any count. */
    const uint8_t *p = data;
    if (len < 1 || len > (64u << 20))
        return -1;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 2048))
        return -1;
    msgpack_object o;
    size_t off = 0;
    int n = -1;
    /* an array header's count is at most the bytes left: reject before msgpack-c allocates */
    uint64_t count = 0;
    if (p[0] >= 0x90 && p[0] <= 0x9f)
        count = p[0] & 0x0f;
    else if (p[0] == 0xdc && len >= 3)
        count = ((uint64_t)p[1] << 8) | p[2];
    else if (p[0] == 0xdd && len >= 5)
        count = ((uint64_t)p[1] << 24) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 8) | p[4];
    else
        goto out;
    if (count > len || count % 2)
        goto out;
    /* The same for the elements: an inner array or map header would make msgpack-c allocate
     * whatever it claims. Only integers are valid here, so any other type byte is refused. */
    size_t pos = p[0] <= 0x9f ? 1 : p[0] == 0xdc ? 3 : 5;
    for (uint64_t i = 0; i < count && pos < len; i++) {
        uint8_t t = p[pos];
        size_t w = t <= 0x7f                ? 1
                   : t == 0xcc || t == 0xd0 ? 2
                   : t == 0xcd || t == 0xd1 ? 3
                   : t == 0xce || t == 0xd2 ? 5
                   : t == 0xcf || t == 0xd3 ? 9
                   : t >= 0xe0              ? 1
                                            : 0;
        if (!w)
            goto out;
        pos += w;
    }
    if (msgpack_unpack(data, len, &off, &zone, &o) != MSGPACK_UNPACK_SUCCESS ||
        o.type != MSGPACK_OBJECT_ARRAY)
        goto out;
    for (uint32_t i = 0; i + 1 < o.via.array.size; i += 2) {
        msgpack_object *s = &o.via.array.ptr[i], *w = &o.via.array.ptr[i + 1];
        if (s->type != MSGPACK_OBJECT_POSITIVE_INTEGER || s->via.u64 > INT64_MAX ||
            !(w->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? w->via.u64 <= INT64_MAX
              : w->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? w->via.i64 >= -NF_ACK_MARKS
                                                             : false))
            goto out;
    }
    for (uint32_t i = 0; i + 1 < o.via.array.size; i += 2) {
        const msgpack_object *w = &o.via.array.ptr[i + 1];
        fn(arg, (int64_t)o.via.array.ptr[i].via.u64,
           w->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? w->via.i64 : (int64_t)w->via.u64);
    }
    n = (int)(o.via.array.size / 2);
out:
    msgpack_zone_destroy(&zone);
    return n;
}

/* ---- senders ---------------------------------------------------------------------------- */

#define NF_SENDER_TAG "NFs2"

void nf_sender_put(const struct nf_sender *s, uint8_t out[NF_SENDER_BYTES])
{
    memcpy(out, NF_SENDER_TAG, 4);
    nf_le_put32(out + 4, s->worker);
    nf_le_put64(out + 8, s->stage);
    nf_le_put64(out + 16, s->host);
    nf_le_put64(out + 24, (uint64_t)s->incarnation);
}

int nf_sender_get(const void *data, size_t len, struct nf_sender *s)
{
    const uint8_t *p = data;
    if (len != NF_SENDER_BYTES || memcmp(p, NF_SENDER_TAG, 4) != 0)
        return -1;
    s->worker = nf_le_get32(p + 4);
    s->stage = nf_le_get64(p + 8);
    s->host = nf_le_get64(p + 16);
    s->incarnation = (int64_t)nf_le_get64(p + 24);
    return 0;
}

struct nf_heard {
    uint64_t stage, host;
    uint32_t worker;
    int64_t incarnation, heard_ms;
};

struct nf_senders {
    struct nf_heard *v;
    size_t n, cap;
};

struct nf_senders *nf_senders_new(void)
{
    return calloc(1, sizeof(struct nf_senders));
}

void nf_senders_free(struct nf_senders **h)
{
    if (h && *h) {
        free((*h)->v);
        free(*h);
        *h = NULL;
    }
}

bool nf_senders_stale(struct nf_senders *h, const struct nf_sender *s, int64_t now_ms)
{
    struct nf_heard *e = NULL;
    for (size_t i = 0; i < h->n && !e; i++)
        if (h->v[i].stage == s->stage && h->v[i].host == s->host && h->v[i].worker == s->worker)
            e = &h->v[i];
    if (!e) {
        if (h->n == h->cap && h->cap < NF_SENDERS_MAX) {
            size_t cap = h->cap ? 2 * h->cap : 16;
            struct nf_heard *v = realloc(h->v, cap * sizeof(*v));
            if (v)
                h->v = v, h->cap = cap;
        }
        if (h->n < h->cap) {
            e = &h->v[h->n++];
        } else if (h->n) { /* full (or out of memory): forget the one heard least recently */
            e = &h->v[0];
            for (size_t i = 1; i < h->n; i++)
                if (h->v[i].heard_ms < e->heard_ms)
                    e = &h->v[i];
        } else {
            return false;
        }
        *e = (struct nf_heard){s->stage, s->host, s->worker, s->incarnation, now_ms};
        return false;
    }
    if (s->incarnation < e->incarnation && now_ms - e->heard_ms < NF_SENDER_QUIET_MS)
        return true; /* its successor was heard, and lately */
    e->incarnation = s->incarnation;
    e->heard_ms = now_ms;
    return false;
}
