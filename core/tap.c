/* newsflow tap CONFIG STAGE: the records leaving a stage, as JSON lines on stdout.
 *
 * The tap announces itself with a file RUN_DIR/tap/STAGE.PID; the stage's workers see it within
 * half a second and publish every batch they send on ipc://RUN_DIR/tap/STAGE-W (stage.c), a
 * PUB socket that drops what this reader cannot take, so the pipeline is neither slowed nor
 * changed. The file goes when the tap ends, and the workers stop publishing. */
#include "tap.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <msgpack.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t tap_stop;

static void on_signal(int sig)
{
    (void)sig;
    tap_stop = 1;
}

static json_t *map_to_json(const msgpack_object_map *m, const char *keys);

/* A msgpack value as JSON: maps with string keys as objects, binary as base64 text. */
static json_t *to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 > INT64_MAX ? json_real((double)o->via.u64)
                                      : json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR: return json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: {
        size_t n = sodium_base64_ENCODED_LEN(o->via.bin.size, sodium_base64_VARIANT_ORIGINAL);
        char *b = malloc(n);
        if (!b)
            return json_null();
        sodium_bin2base64(b, n, (const unsigned char *)o->via.bin.ptr, o->via.bin.size,
                          sodium_base64_VARIANT_ORIGINAL);
        json_t *s = json_string(b);
        free(b);
        return s;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < o->via.array.size; i++)
            json_array_append_new(a, to_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: return map_to_json(&o->via.map, NULL);
    default: return json_null();
    }
}

/* Whether the comma-separated list `keys` names the key k (n bytes). */
static bool key_wanted(const char *keys, const char *k, size_t n)
{
    for (const char *p = keys; *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && memcmp(p, k, n) == 0)
            return true;
        p += m + (p[m] == ',');
    }
    return false;
}

/* A map as a JSON object of its string keys, whole (a long key is not cut short): all of them,
 * or only those `keys` names, however many the record or the list has (the others are never
 * converted). */
static json_t *map_to_json(const msgpack_object_map *m, const char *keys)
{
    json_t *j = json_object();
    for (uint32_t i = 0; j && i < m->size; i++) {
        const msgpack_object_kv *kv = &m->ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR ||
            (keys && !key_wanted(keys, kv->key.via.str.ptr, kv->key.via.str.size)))
            continue;
        json_object_setn_new(j, kv->key.via.str.ptr, kv->key.via.str.size, to_json(&kv->val));
    }
    return j;
}

/* Prints the records of one batch (only the top-level `keys`, unless NULL); returns how many,
 * or -1 when it cannot be read. */
static int print_batch(const char *data, size_t len, long *left, const char *keys)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int n = 0;
    while (off < len && *left != 0) {
        if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS) {
            n = n ? n : -1;
            break;
        }
        json_t *j = keys && u.data.type == MSGPACK_OBJECT_MAP ? map_to_json(&u.data.via.map, keys)
                                                               : to_json(&u.data);
        if (json_dumpf(j, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) == 0)
            fputc('\n', stdout);
        json_decref(j);
        n++;
        if (*left > 0)
            (*left)--;
    }
    msgpack_unpacked_destroy(&u);
    fflush(stdout);
    return n;
}

int nf_tap(const struct nf_config *cfg, const char *stage, long limit, int seconds,
           const char *keys)
{
    int si = nf_config_stage_index(cfg, stage);
    if (si < 0) {
        fprintf(stderr, "newsflow tap: no stage named '%s' in %s\n", stage, cfg->path);
        return 2;
    }
    char dir[PATH_MAX], flag[PATH_MAX + 200];
    snprintf(dir, sizeof(dir), "%s/tap", cfg->run_dir);
    snprintf(flag, sizeof(flag), "%s/%s.%ld", dir, stage, (long)getpid());
    struct stat st;
    if (stat(cfg->run_dir, &st) < 0) {
        fprintf(stderr, "newsflow tap: no pipeline has run here (%s: %s)\n", cfg->run_dir,
                strerror(errno));
        return 1;
    }
    FILE *f = NULL;
    if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || !(f = fopen(flag, "w"))) {
        fprintf(stderr, "newsflow tap: cannot announce the tap in %s: %s\n", dir, strerror(errno));
        return 1;
    }
    fclose(f);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    void *zctx = zmq_ctx_new();
    void *sub = zctx ? zmq_socket(zctx, ZMQ_SUB) : NULL;
    int rc = 1;
    if (!sub)
        goto out;
    int hwm = 64, linger = 0, timeout = 200;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    for (int w = 0; w < cfg->stages[si].workers; w++) {
        char ep[PATH_MAX + 240];
        snprintf(ep, sizeof(ep), "ipc://%s/%s-%d", dir, stage, w);
        zmq_connect(sub, ep); /* connects when the worker binds; again after a restart */
    }
    fprintf(stderr, "newsflow tap: records leaving %s as JSON lines (Ctrl-C ends)\n", stage);
    time_t until = seconds > 0 ? time(NULL) + seconds : 0;
    rc = 0;
    while (!tap_stop && limit != 0 && (!until || time(NULL) < until)) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sub, 0) >= 0 &&
            print_batch(zmq_msg_data(&m), zmq_msg_size(&m), &limit, keys) < 0)
            fprintf(stderr, "newsflow tap: a batch that is not msgpack was skipped\n");
        zmq_msg_close(&m);
        if (ferror(stdout))
            break;
    }
out:
    unlink(flag);
    if (sub)
        zmq_close(sub);
    if (zctx)
        zmq_ctx_term(zctx);
    return rc;
}
