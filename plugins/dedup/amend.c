/* Amendments in a record's "amend" key: gathered by dedup and story, read by the stores.
 * The record API keeps unknown keys but has no setter for them, so adding one re-encodes the
 * record once and re-reads it from a buffer of ours; amendments are rare (a verdict changes only
 * when an earlier-read article arrives late), so that cost is paid rarely. */
#include "amend.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const amend_names[] = {[NF_AMEND_DUP_OF] = "dup_of",
                                          [NF_AMEND_STORY_ID] = "story_id",
                                          [NF_AMEND_STORY_OF] = "story_of"};

void nf_amend_free(struct nf_amend *a)
{
    free(a->e);
    a->e = NULL;
    a->n = a->cap = 0;
    nf_buf_free(&a->out);
}

static bool amend_is_id(const char *s, size_t n)
{
    if (n != 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int nf_amend_add(struct nf_amend *a, enum nf_amend_kind kind, const char *key, const char *val)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->e[i].kind == kind && strcmp(a->e[i].key, key) == 0) {
            snprintf(a->e[i].val, sizeof(a->e[i].val), "%s", val ? val : "");
            return 0;
        }
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct nf_amend_entry *e = realloc(a->e, cap * sizeof(*e));
        if (!e)
            return -1;
        a->e = e;
        a->cap = cap;
    }
    struct nf_amend_entry *e = &a->e[a->n++];
    e->kind = kind;
    snprintf(e->key, sizeof(e->key), "%s", key);
    snprintf(e->val, sizeof(e->val), "%s", val ? val : "");
    return 0;
}

static const void *amend_value(const struct nf_record *rec, size_t *len)
{
    size_t n = nf_record_extra_count(rec);
    for (size_t i = 0; i < n; i++) {
        const char *k;
        size_t kl;
        const void *v;
        if (nf_record_extra(rec, i, &k, &kl, &v, len) == 0 && kl == strlen(NF_AMEND_KEY) &&
            memcmp(k, NF_AMEND_KEY, kl) == 0)
            return v;
    }
    return NULL;
}

/* The kind whose key is the n bytes at name, -1 if none. */
static int amend_kind_named(const char *name, size_t n)
{
    for (int k = 0; k < NF_AMEND_KINDS; k++)
        if (n == strlen(amend_names[k]) && memcmp(name, amend_names[k], n) == 0)
            return k;
    return -1;
}

bool nf_amend_has(const struct nf_record *rec)
{
    size_t n;
    return amend_value(rec, &n) != NULL;
}

int nf_amend_each(struct nf_record *rec,
                  int (*fn)(void *arg, enum nf_amend_kind kind, const char *key, const char *val),
                  void *arg, const char **why)
{
    size_t len;
    const void *v = amend_value(rec, &len);
    if (!v)
        return 0;
    msgpack_zone zone;
    if (!msgpack_zone_init(&zone, 4096)) {
        *why = "out of memory";
        return -1;
    }
    msgpack_object o;
    size_t off = 0;
    int rc = -1;
    *why = "the amend key is not a map of dup_of, story_id and story_of, each a map of ids";
    if (msgpack_unpack(v, len, &off, &zone, &o) != MSGPACK_UNPACK_SUCCESS ||
        o.type != MSGPACK_OBJECT_MAP)
        goto out;
    for (int kind = NF_AMEND_DUP_OF; kind < NF_AMEND_KINDS; kind++) {
        for (uint32_t i = 0; i < o.via.map.size; i++) {
            const msgpack_object *k = &o.via.map.ptr[i].key, *m = &o.via.map.ptr[i].val;
            if (k->type != MSGPACK_OBJECT_STR || m->type != MSGPACK_OBJECT_MAP)
                goto out;
            int is = amend_kind_named(k->via.str.ptr, k->via.str.size);
            if (is < 0)
                goto out;
            if (is != kind)
                continue;
            for (uint32_t j = 0; j < m->via.map.size; j++) {
                const msgpack_object *ik = &m->via.map.ptr[j].key, *iv = &m->via.map.ptr[j].val;
                char key[33], val[33];
                if (ik->type != MSGPACK_OBJECT_STR || !amend_is_id(ik->via.str.ptr,
                                                                   ik->via.str.size))
                    goto out;
                bool nil = iv->type == MSGPACK_OBJECT_NIL && kind == NF_AMEND_DUP_OF;
                if (!nil && (iv->type != MSGPACK_OBJECT_STR ||
                             !amend_is_id(iv->via.str.ptr, iv->via.str.size)))
                    goto out;
                memcpy(key, ik->via.str.ptr, 32);
                key[32] = '\0';
                if (!nil) {
                    memcpy(val, iv->via.str.ptr, 32);
                    val[32] = '\0';
                }
                int r = fn(arg, (enum nf_amend_kind)kind, key, nil ? NULL : val);
                if (r != 0) {
                    rc = r;
                    *why = NULL;
                    goto out;
                }
            }
        }
    }
    rc = 0;
    *why = NULL;
out:
    msgpack_zone_destroy(&zone);
    return rc;
}

static int amend_gather(void *arg, enum nf_amend_kind kind, const char *key, const char *val)
{
    return nf_amend_add(arg, kind, key, val);
}

static int amend_write(void *data, const char *p, size_t n)
{
    return nf_buf_append(data, p, n);
}

/* The number of pairs in the msgpack map at p, and the size of its header; -1 if not a map. */
static long amend_map_head(const uint8_t *p, size_t len, size_t *hdr)
{
    if (len >= 1 && (p[0] & 0xF0) == 0x80)
        return *hdr = 1, p[0] & 0x0F;
    if (len >= 3 && p[0] == 0xDE)
        return *hdr = 3, (long)p[1] << 8 | p[2];
    if (len >= 5 && p[0] == 0xDF)
        return *hdr = 5, (long)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
                                (uint32_t)p[3] << 8 | p[4]);
    return -1;
}

/* One object of the stream at *off (more may follow it). */
static bool amend_unpack(const struct nf_buf *b, size_t *off, msgpack_zone *zone,
                         msgpack_object *o)
{
    msgpack_unpack_return r = msgpack_unpack((const char *)b->data, b->len, off, zone, o);
    return r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES;
}

int nf_amend_apply(struct nf_amend *a, struct nf_record *rec, const char **why)
{
    if (a->n == 0)
        return 0;
    /* those the record carries first, then ours (which replace theirs for the same key) */
    struct nf_amend all = {0};
    int rc = -1;
    struct nf_buf enc = {0};
    msgpack_zone zone;
    bool zoned = false;
    *why = "out of memory";
    if (nf_amend_each(rec, amend_gather, &all, why) < 0)
        goto out;
    bool had = nf_amend_has(rec); /* before a->out changes: the record may borrow it */
    for (size_t i = 0; i < a->n; i++)
        if (nf_amend_add(&all, a->e[i].kind, a->e[i].key, a->e[i].val[0] ? a->e[i].val : NULL) <
            0)
            goto out;
    if (nf_record_encode(rec, &enc) < 0 || !(zoned = msgpack_zone_init(&zone, 1024)))
        goto out;
    size_t hdr, off;
    long pairs = amend_map_head(enc.data, enc.len, &hdr);
    if (pairs < 0) {
        *why = "the record does not encode as a map";
        goto out;
    }
    a->out.len = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &a->out, amend_write);
    int bad = msgpack_pack_map(&pk, (size_t)pairs - had + 1);
    off = hdr;
    for (long i = 0; i < pairs && !bad; i++) {
        size_t start = off;
        msgpack_object k, v;
        if (!amend_unpack(&enc, &off, &zone, &k) || !amend_unpack(&enc, &off, &zone, &v)) {
            *why = "the record cannot be read back";
            goto out;
        }
        bool is_amend = k.type == MSGPACK_OBJECT_STR && k.via.str.size == strlen(NF_AMEND_KEY) &&
                        memcmp(k.via.str.ptr, NF_AMEND_KEY, k.via.str.size) == 0;
        if (!is_amend)
            bad |= nf_buf_append(&a->out, enc.data + start, off - start);
        msgpack_zone_clear(&zone);
    }
    size_t kinds = 0;
    for (int kind = NF_AMEND_DUP_OF; kind < NF_AMEND_KINDS; kind++)
        for (size_t i = 0; i < all.n; i++)
            if (all.e[i].kind == (enum nf_amend_kind)kind) {
                kinds++;
                break;
            }
    bad |= msgpack_pack_str(&pk, strlen(NF_AMEND_KEY)) |
           msgpack_pack_str_body(&pk, NF_AMEND_KEY, strlen(NF_AMEND_KEY)) |
           msgpack_pack_map(&pk, kinds);
    for (int kind = NF_AMEND_DUP_OF; kind < NF_AMEND_KINDS && !bad; kind++) {
        size_t n = 0;
        for (size_t i = 0; i < all.n; i++)
            n += all.e[i].kind == (enum nf_amend_kind)kind;
        if (!n)
            continue;
        const char *name = amend_names[kind];
        bad |= msgpack_pack_str(&pk, strlen(name)) |
               msgpack_pack_str_body(&pk, name, strlen(name)) | msgpack_pack_map(&pk, n);
        for (size_t i = 0; i < all.n && !bad; i++) {
            const struct nf_amend_entry *e = &all.e[i];
            if (e->kind != (enum nf_amend_kind)kind)
                continue;
            bad |= msgpack_pack_str(&pk, 32) | msgpack_pack_str_body(&pk, e->key, 32);
            bad |= e->val[0] ? msgpack_pack_str(&pk, 32) | msgpack_pack_str_body(&pk, e->val, 32)
                             : msgpack_pack_nil(&pk);
        }
    }
    if (bad)
        goto out;
    if (nf_record_decode(rec, a->out.data, a->out.len) < 0) {
        *why = nf_record_error(rec);
        goto out;
    }
    a->n = 0;
    rc = 0;
    *why = NULL;
out:
    if (zoned)
        msgpack_zone_destroy(&zone);
    nf_buf_free(&enc);
    nf_amend_free(&all);
    return rc;
}
