/* nf_inject: sends hand-made messages to a ZeroMQ endpoint through a PUSH socket, the way an
 * outside producer (or a broken or hostile one) would reach a stage's inbox or a source's
 * acknowledgement socket. Each message is built from parts in the order given; it does not
 * check or fix what it sends: producing malformed input is its purpose.
 * Usage: nf_inject [-w MS] ENDPOINT PART... with the parts listed in usage() below. */
#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct msg {
    unsigned char *data;
    size_t len, cap;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: nf_inject [-w MS] [-k SERVER.pub [-K CLIENT.key]] ENDPOINT PART...\n"
            "  -k FILE    connect as a CURVE client to a server with this public key, with a\n"
            "             fresh key pair of its own (a peer nobody allowed), or with -K's\n"
            "  -K FILE    the client's secret key (as newsflow keygen writes it)\n"
            "With -w, a message that cannot be delivered within MS fails the run.\n"
            "nf_inject -P [-w MS] [-k SERVER.pub [-K CLIENT.key]] ENDPOINT: connect a PULL socket\n"
            "instead and wait MS for one message: exit 0 and its size if one came, 1 if none.\n"
            "Builds messages from parts and sends each through a PUSH socket connected to\n"
            "ENDPOINT, after waiting up to MS milliseconds (default 5000) for the connection.\n"
            "  -f FILE    append the file's bytes\n"
            "  -x HEX     append bytes written in hex (spaces allowed): -x 'c1 ff'\n"
            "  -p HEX N   append the HEX bytes N times\n"
            "  -r N       append N pseudo-random bytes (the same bytes on every run)\n"
            "  -j JSON    append the JSON value as msgpack (object keys keep their order)\n"
            "  -c N       cut the last N bytes off the message built so far\n"
            "  -m         send the message built so far and start a new one\n"
            "The last message is sent at the end if it is not empty.\n");
}

static int msg_append(struct msg *m, const void *p, size_t n)
{
    if (m->cap - m->len < n) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap - m->len < n)
            cap *= 2;
        unsigned char *d = realloc(m->data, cap);
        if (!d)
            return -1;
        m->data = d;
        m->cap = cap;
    }
    if (n)
        memcpy(m->data + m->len, p, n);
    m->len += n;
    return 0;
}

static int msg_write(void *data, const char *p, size_t n)
{
    return msg_append(data, p, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes HEX into out (at least strlen(hex) / 2 bytes). Returns the byte count or -1. */
static long hex_decode(const char *hex, unsigned char *out)
{
    long n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n')
            continue;
        int v = hexval((unsigned char)*p);
        if (v < 0)
            return -1;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    return hi < 0 ? n : -1;
}

static int append_hex(struct msg *m, const char *hex, long times)
{
    unsigned char *b = malloc(strlen(hex) / 2 + 1);
    long n = b ? hex_decode(hex, b) : -1;
    int rc = n < 0 ? -1 : 0;
    for (long i = 0; rc == 0 && i < times; i++)
        rc = msg_append(m, b, (size_t)n);
    free(b);
    return rc;
}

static int append_file(struct msg *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char buf[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0)
        rc = msg_append(m, buf, n);
    if (ferror(f))
        rc = -1;
    fclose(f);
    return rc;
}

/* xorshift64: a fixed sequence, so a failure seen once can be replayed with the same bytes. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static int append_random(struct msg *m, long n)
{
    for (long i = 0; i < n; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        unsigned char c = (unsigned char)(rng_state >> 32);
        if (msg_append(m, &c, 1) < 0)
            return -1;
    }
    return 0;
}

static int pack_json(msgpack_packer *pk, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int rc = msgpack_pack_map(pk, json_object_size(v));
        json_object_foreach(v, key, val)
        {
            size_t kl = strlen(key);
            rc |= msgpack_pack_str(pk, kl) | msgpack_pack_str_body(pk, key, kl);
            rc |= pack_json(pk, val);
        }
        return rc;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *val;
        int rc = msgpack_pack_array(pk, json_array_size(v));
        json_array_foreach(v, i, val) rc |= pack_json(pk, val);
        return rc;
    }
    case JSON_STRING: {
        size_t n = json_string_length(v);
        return msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, json_string_value(v), n);
    }
    case JSON_INTEGER: return msgpack_pack_int64(pk, json_integer_value(v));
    case JSON_REAL: return msgpack_pack_double(pk, json_real_value(v));
    case JSON_TRUE: return msgpack_pack_true(pk);
    case JSON_FALSE: return msgpack_pack_false(pk);
    case JSON_NULL: return msgpack_pack_nil(pk);
    }
    return -1;
}

static int append_json(struct msg *m, const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        fprintf(stderr, "nf_inject: bad JSON at %d:%d: %s\n", jerr.line, jerr.column, jerr.text);
        return -1;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, m, msg_write);
    int rc = pack_json(&pk, v) ? -1 : 0;
    json_decref(v);
    return rc;
}

/* Connects and waits until the socket reports the connection: a message sent before that would
 * sit in a queue, and the tool could exit without anyone having received it. The monitor is
 * set up before connecting, or a fast ipc connection could come and go unseen. */
static int connect_and_wait(void *zctx, void *sock, const char *endpoint, int wait_ms)
{
    if (zmq_socket_monitor(sock, "inproc://nf-inject-monitor", ZMQ_EVENT_CONNECTED) < 0)
        return -1;
    void *mon = zmq_socket(zctx, ZMQ_PAIR);
    int rc = -1;
    if (!mon || zmq_connect(mon, "inproc://nf-inject-monitor") < 0)
        goto out;
    zmq_setsockopt(mon, ZMQ_RCVTIMEO, &wait_ms, sizeof(wait_ms));
    if (zmq_connect(sock, endpoint) < 0) {
        fprintf(stderr, "nf_inject: connect %s: %s\n", endpoint, zmq_strerror(errno));
        goto out;
    }
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    if (zmq_msg_recv(&ev, mon, 0) >= 0 && zmq_msg_size(&ev) >= 2) {
        uint16_t id;
        memcpy(&id, zmq_msg_data(&ev), sizeof(id));
        rc = id == ZMQ_EVENT_CONNECTED ? 0 : -1;
    }
    zmq_msg_close(&ev);
    if (rc < 0)
        fprintf(stderr, "nf_inject: no connection to %s within %d ms\n", endpoint, wait_ms);
out:
    zmq_socket_monitor(sock, NULL, 0);
    if (mon)
        zmq_close(mon);
    return rc;
}

static long number(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return errno || end == s || *end || v < 0 ? -1 : v;
}

/* Builds every message from the parts first, so that a mistake in the arguments sends nothing. */
static int build(int argc, char **argv, int i, struct msg **msgs_out, int *n_out)
{
    struct msg *msgs = calloc((size_t)argc + 1, sizeof(*msgs)); /* at most one per argument */
    if (!msgs)
        return -1;
    int n = 0;
    while (i < argc) {
        const char *opt = argv[i];
        const char *a = i + 1 < argc ? argv[i + 1] : NULL;
        struct msg *m = &msgs[n];
        int rc = -1, used = 2;
        if (strcmp(opt, "-m") == 0) {
            n++;
            rc = 0;
            used = 1;
        } else if (!a) {
            rc = -1;
        } else if (strcmp(opt, "-f") == 0) {
            rc = append_file(m, a);
            if (rc < 0)
                fprintf(stderr, "nf_inject: cannot read %s: %s\n", a, strerror(errno));
        } else if (strcmp(opt, "-x") == 0) {
            rc = append_hex(m, a, 1);
        } else if (strcmp(opt, "-p") == 0) {
            long times = i + 2 < argc ? number(argv[i + 2]) : -1;
            rc = times < 0 ? -1 : append_hex(m, a, times);
            used = 3;
        } else if (strcmp(opt, "-r") == 0) {
            long len = number(a);
            rc = len < 0 ? -1 : append_random(m, len);
        } else if (strcmp(opt, "-j") == 0) {
            rc = append_json(m, a);
        } else if (strcmp(opt, "-c") == 0) {
            long cut = number(a);
            rc = cut < 0 || (size_t)cut > m->len ? -1 : 0;
            if (rc == 0)
                m->len -= (size_t)cut;
        }
        if (rc < 0) {
            fprintf(stderr, "nf_inject: cannot use argument %d (%s)\n", i, opt);
            for (int k = 0; k <= n; k++)
                free(msgs[k].data);
            free(msgs);
            return -1;
        }
        i += used;
    }
    if (msgs[n].len)
        n++; /* the last message, not ended by -m */
    *msgs_out = msgs;
    *n_out = n;
    return 0;
}

/* The first line of a key file, without its newline. */
static int read_key(const char *path, char out[41])
{
    FILE *f = fopen(path, "r");
    char line[128] = "";
    if (!f || !fgets(line, sizeof(line), f)) {
        if (f)
            fclose(f);
        fprintf(stderr, "nf_inject: cannot read the key %s\n", path);
        return -1;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (strlen(line) != 40) {
        fprintf(stderr, "nf_inject: %s holds no 40-character key\n", path);
        return -1;
    }
    memcpy(out, line, 41);
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1, wait_ms = 5000;
    bool send_timeout = false;
    const char *server_pub = NULL, *client_key = NULL;
    bool pull = false;
    while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]) {
        if (strcmp(argv[i], "-P") == 0) {
            pull = true;
            i++;
            continue;
        }
        if (strcmp(argv[i], "-w") == 0) {
            long w = number(argv[i + 1]);
            if (w < 0 || w > 600000) {
                usage();
                return 2;
            }
            wait_ms = (int)w;
            send_timeout = true;
        } else if (strcmp(argv[i], "-k") == 0) {
            server_pub = argv[i + 1];
        } else if (strcmp(argv[i], "-K") == 0) {
            client_key = argv[i + 1];
        } else {
            break;
        }
        i += 2;
    }
    if (i >= argc) {
        usage();
        return 2;
    }
    const char *endpoint = argv[i++];
    struct msg *msgs = NULL;
    int n = 0;
    if (!pull && build(argc, argv, i, &msgs, &n) < 0) {
        usage();
        return 2;
    }
    int code = 1, sent = 0;
    void *zctx = zmq_ctx_new();
    void *sock = zctx ? zmq_socket(zctx, pull ? ZMQ_PULL : ZMQ_PUSH) : NULL;
    if (!sock) {
        fprintf(stderr, "nf_inject: %s\n", zmq_strerror(errno));
        goto out;
    }
    /* deliver everything that was queued before exiting, but never hang on a vanished peer */
    int linger = 10000, immediate = 1;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    if (send_timeout)
        zmq_setsockopt(sock, ZMQ_SNDTIMEO, &wait_ms, sizeof(wait_ms));
    if (server_pub) {
        char spub[41], cpub[41], csec[41];
        if (read_key(server_pub, spub) < 0 ||
            (client_key ? read_key(client_key, csec) < 0 || zmq_curve_public(cpub, csec) != 0
                        : zmq_curve_keypair(cpub, csec) != 0))
            goto out;
        zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, spub, 41);
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, cpub, 41);
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, csec, 41);
    }
    if (pull) {
        /* a taker: whatever reaches it within wait_ms */
        zmq_setsockopt(sock, ZMQ_RCVTIMEO, &wait_ms, sizeof(wait_ms));
        if (zmq_connect(sock, endpoint) < 0) {
            fprintf(stderr, "nf_inject: connect %s: %s\n", endpoint, zmq_strerror(errno));
            goto out;
        }
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) >= 0) {
            printf("received %zu bytes\n", zmq_msg_size(&m));
            code = 0;
        } else {
            fprintf(stderr, "nf_inject: nothing received from %s within %d ms\n", endpoint,
                    wait_ms);
        }
        zmq_msg_close(&m);
        goto out;
    }
    if (connect_and_wait(zctx, sock, endpoint, wait_ms) < 0)
        goto out;
    for (; sent < n; sent++) {
        if (zmq_send(sock, msgs[sent].data, msgs[sent].len, 0) < 0) {
            fprintf(stderr, "nf_inject: send: %s\n", zmq_strerror(errno));
            goto out;
        }
    }
    code = 0;
out:
    if (sock)
        zmq_close(sock);
    if (zctx)
        zmq_ctx_term(zctx);
    for (int k = 0; k < n; k++)
        free(msgs[k].data);
    free(msgs);
    if (code == 0)
        fprintf(stderr, "nf_inject: sent %d messages to %s\n", sent, endpoint);
    return code;
}
