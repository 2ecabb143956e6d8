/* Record codec: a lazy, zero-copy index over one msgpack map, and the encoder that writes it back.
 * The bounded scanner below only measures objects (where each value starts and ends) so that
 * untrusted input can be checked for size and depth before anything is allocated, and unchanged
 * values can be forwarded as the bytes they arrived as. Values are read and written with
 * msgpack-c. It does not validate UTF-8: cleaning stages do. */
#include "newsflow/record.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: bump allocation, reset keeps the largest chunk ---------------------------- */

struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[];
};

struct arena {
    struct chunk *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
    if (n > SIZE_MAX / 2 - sizeof(struct chunk))
        return NULL; /* no request this large can be met; rounding it would wrap */
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : 16384;
        if (size < n)
            size = n;
        c = malloc(sizeof(*c) + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static void arena_reset(struct arena *a)
{
    struct chunk *keep = NULL;
    for (struct chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        if (!keep || c->size > keep->size) {
            free(keep);
            keep = c;
        } else {
            free(c);
        }
    }
    if (keep) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
}

static void arena_free(struct arena *a)
{
    for (struct chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

/* ---- byte buffer ---------------------------------------------------------------------- */

int nf_buf_append(struct nf_buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void nf_buf_free(struct nf_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_write(void *data, const char *p, size_t n)
{
    return nf_buf_append(data, p, n);
}

/* ---- the schema ----------------------------------------------------------------------- */

enum kind { K_STR, K_BIN, K_INT, K_MAP, K_ARRAY };

static const struct {
    const char *name;
    enum kind kind;
} fields[NF_F_COUNT] = {
    [NF_F_V] = {"v", K_INT},
    [NF_F_ID] = {"id", K_STR},
    [NF_F_SOURCE] = {"source", K_MAP},
    [NF_F_FETCHED_AT] = {"fetched_at", K_STR},
    [NF_F_CONTENT_TYPE] = {"content_type", K_STR},
    [NF_F_RAW] = {"raw", K_BIN},
    [NF_F_TEXT] = {"text", K_STR},
    [NF_F_TITLE] = {"title", K_STR},
    [NF_F_BYLINE] = {"byline", K_STR},
    [NF_F_OUTLET] = {"outlet", K_STR},
    [NF_F_PUBLISHED_AT] = {"published_at", K_STR},
    [NF_F_DATELINE] = {"dateline", K_MAP},
    [NF_F_LANG] = {"lang", K_STR},
    [NF_F_ENTITIES] = {"entities", K_ARRAY},
    [NF_F_MINHASH] = {"minhash", K_BIN},
    [NF_F_DUP_OF] = {"dup_of", K_STR},
    [NF_F_STORY_ID] = {"story_id", K_STR},
    [NF_F_URL] = {"url", K_STR},
    [NF_F_TRACE] = {"trace", K_ARRAY},
    [NF_F_ATTEMPT] = {"attempt", K_INT},
    [NF_F_ACK_TO] = {"ack_to", K_STR},
    [NF_F_SEQ] = {"seq", K_INT},
    [NF_F_READ_ORDER] = {"read_order", K_INT},
    [NF_F_READ_PREV] = {"read_prev", K_INT},
};

const char *nf_field_name(enum nf_field f)
{
    return (unsigned)f < NF_F_COUNT ? fields[f].name : NULL;
}

int nf_field_lookup(const char *key, size_t len)
{
    for (int f = 0; f < NF_F_COUNT; f++)
        if (strlen(fields[f].name) == len && memcmp(fields[f].name, key, len) == 0)
            return f;
    return -1;
}

static const char *const entity_types[] = {"person", "org", "place", "other"};

const char *nf_entity_type_name(enum nf_entity_type t)
{
    return (unsigned)t <= NF_ENT_OTHER ? entity_types[t] : "other";
}

int nf_entity_type_parse(const char *s)
{
    for (int i = 0; i <= NF_ENT_OTHER; i++)
        if (strcmp(s, entity_types[i]) == 0)
            return i;
    return -1;
}

/* ---- the record ----------------------------------------------------------------------- */

enum state { S_ABSENT, S_RAW, S_STR, S_BIN, S_INT, S_PACKED, S_LIST };

struct value {
    enum state state;
    const uint8_t *raw; /* the value's encoded bytes as received; NULL once changed */
    size_t raw_n;
    const char *p; /* S_STR, S_BIN, S_PACKED */
    size_t n;
    int64_t i;     /* S_INT */
    bool str_done; /* S_RAW string materialised into p/n (still unchanged) */
};

struct extra {
    const char *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
};

struct nf_record {
    struct value f[NF_F_COUNT];
    struct extra *extra;
    size_t n_extra, cap_extra;
    struct arena arena;
    msgpack_zone zone;
    size_t max_bytes;
    int max_depth;
    char err[160];

    /* parsed nested values */
    bool src_parsed;
    const char *src_uri, *src_kind;
    bool dl_parsed;
    const char *dl_place;
    struct nf_entity *ents;
    size_t n_ents, cap_ents;
    bool ents_parsed;
    /* trace: hops as received (their elements' bytes) plus hops appended here */
    const uint8_t *trace_elems;
    size_t trace_elems_n, trace_n;
    struct nf_buf trace_add;
    size_t trace_add_n;
};

static int fail(struct nf_record *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct nf_record *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof(r->err), fmt, ap);
    va_end(ap);
    return -1;
}

const char *nf_record_error(const struct nf_record *r)
{
    return r->err;
}

struct nf_record *nf_record_new(void)
{
    struct nf_record *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (!msgpack_zone_init(&r->zone, 4096)) {
        free(r);
        return NULL;
    }
    r->max_bytes = NF_RECORD_MAX_BYTES;
    r->max_depth = NF_RECORD_MAX_DEPTH;
    return r;
}

void nf_record_destroy(struct nf_record **pr)
{
    if (!pr || !*pr)
        return;
    struct nf_record *r = *pr;
    arena_free(&r->arena);
    msgpack_zone_destroy(&r->zone);
    free(r->extra);
    free(r->ents);
    nf_buf_free(&r->trace_add);
    free(r);
    *pr = NULL;
}

void nf_record_set_limits(struct nf_record *r, size_t max_bytes, int max_depth)
{
    r->max_bytes = max_bytes;
    r->max_depth = max_depth > 0 && max_depth <= 64 ? max_depth : NF_RECORD_MAX_DEPTH;
}

void nf_record_reset(struct nf_record *r)
{
    memset(r->f, 0, sizeof(r->f));
    r->n_extra = 0;
    arena_reset(&r->arena);
    msgpack_zone_clear(&r->zone);
    r->src_parsed = r->dl_parsed = r->ents_parsed = false;
    r->src_uri = r->src_kind = r->dl_place = NULL;
    r->n_ents = 0;
    r->trace_elems = NULL;
    r->trace_elems_n = r->trace_n = 0;
    r->trace_add.len = 0;
    r->trace_add_n = 0;
    r->err[0] = '\0';
}

void *nf_record_scratch(struct nf_record *r, size_t n)
{
    return arena_alloc(&r->arena, n);
}

/* ---- the bounded scanner -------------------------------------------------------------- */

enum mp_class { MP_NIL, MP_BOOL, MP_INT, MP_FLOAT, MP_STR, MP_BIN, MP_EXT, MP_ARRAY, MP_MAP };

struct mp_head {
    enum mp_class cls;
    size_t hdr;   /* bytes of the head */
    uint64_t len; /* payload bytes (str, bin, ext, numbers) or element count (array, map) */
};

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Reads the head of the object at p[0..avail). Returns 0, or -1 if truncated or invalid. */
static int mp_head(const uint8_t *p, size_t avail, struct mp_head *h)
{
    if (avail < 1)
        return -1;
    uint8_t b = p[0];
    static const uint8_t extra_bytes[32] = {
        /* c0 */ 0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 0, 0, 0, 0, 0, 0,
        /* d0 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 2, 4, 2, 4,
    };
    h->hdr = 1;
    h->len = 0;
    if (b <= 0x7f || b >= 0xe0) {
        h->cls = MP_INT;
        return 0;
    }
    if (b <= 0x8f) {
        h->cls = MP_MAP;
        h->len = b & 0x0f;
        return 0;
    }
    if (b <= 0x9f) {
        h->cls = MP_ARRAY;
        h->len = b & 0x0f;
        return 0;
    }
    if (b <= 0xbf) {
        h->cls = MP_STR;
        h->len = b & 0x1f;
        return 0;
    }
    int nb = extra_bytes[b - 0xc0];
    if (avail < 1 + (size_t)nb)
        return -1;
    uint64_t v = be(p + 1, nb);
    h->hdr = 1 + nb;
    switch (b) {
    case 0xc0: h->cls = MP_NIL; return 0;
    case 0xc1: return -1;
    case 0xc2:
    case 0xc3: h->cls = MP_BOOL; return 0;
    case 0xc4:
    case 0xc5:
    case 0xc6: h->cls = MP_BIN; h->len = v; return 0;
    case 0xc7:
    case 0xc8:
    case 0xc9: h->cls = MP_EXT; h->len = v + 1; return 0;
    case 0xca: h->cls = MP_FLOAT; h->len = 4; return 0;
    case 0xcb: h->cls = MP_FLOAT; h->len = 8; return 0;
    case 0xcc: case 0xd0: h->cls = MP_INT; h->len = 1; return 0;
    case 0xcd: case 0xd1: h->cls = MP_INT; h->len = 2; return 0;
    case 0xce: case 0xd2: h->cls = MP_INT; h->len = 4; return 0;
    case 0xcf: case 0xd3: h->cls = MP_INT; h->len = 8; return 0;
    case 0xd4: h->cls = MP_EXT; h->len = 2; return 0;
    case 0xd5: h->cls = MP_EXT; h->len = 3; return 0;
    case 0xd6: h->cls = MP_EXT; h->len = 5; return 0;
    case 0xd7: h->cls = MP_EXT; h->len = 9; return 0;
    case 0xd8: h->cls = MP_EXT; h->len = 17; return 0;
    case 0xd9: case 0xda: case 0xdb: h->cls = MP_STR; h->len = v; return 0;
    case 0xdc: case 0xdd: h->cls = MP_ARRAY; h->len = v; return 0;
    case 0xde: case 0xdf: h->cls = MP_MAP; h->len = v; return 0;
    }
    return -1;
}

/* Skips one whole object starting at *off. Containers may nest max_depth deep; every element
 * takes at least one byte, so a count larger than what is left is refused before any loop. */
static int mp_skip(const uint8_t *p, size_t len, size_t *off, int max_depth)
{
    uint64_t left[65];
    int depth = 0;
    left[0] = 1;
    while (depth >= 0) {
        if (left[depth] == 0) {
            depth--;
            continue;
        }
        left[depth]--;
        struct mp_head h;
        if (mp_head(p + *off, len - *off, &h) < 0)
            return -1;
        *off += h.hdr;
        if (h.cls == MP_ARRAY || h.cls == MP_MAP) {
            uint64_t n = h.cls == MP_MAP ? h.len * 2 : h.len;
            if (n > len - *off)
                return -1;
            if (depth + 1 > max_depth)
                return -2; /* an empty container is a level too */
            if (n == 0)
                continue;
            left[++depth] = n;
        } else {
            if (h.len > len - *off)
                return -1;
            *off += h.len;
        }
    }
    return 0;
}

static int64_t mp_int(const uint8_t *p, bool *ok)
{
    uint8_t b = p[0];
    *ok = true;
    if (b <= 0x7f)
        return b;
    if (b >= 0xe0)
        return (int8_t)b;
    switch (b) {
    case 0xcc: return p[1];
    case 0xcd: return (int64_t)be(p + 1, 2);
    case 0xce: return (int64_t)be(p + 1, 4);
    case 0xcf: {
        uint64_t v = be(p + 1, 8);
        if (v > INT64_MAX)
            break;
        return (int64_t)v;
    }
    case 0xd0: return (int8_t)p[1];
    case 0xd1: return (int16_t)be(p + 1, 2);
    case 0xd2: return (int32_t)be(p + 1, 4);
    case 0xd3: return (int64_t)be(p + 1, 8);
    }
    *ok = false;
    return 0;
}

static const char *class_name(enum mp_class c)
{
    static const char *const names[] = {"nil", "bool", "int", "float", "str",
                                        "bin", "ext", "array", "map"};
    return names[c];
}

static int decode(struct nf_record *r, const void *vbuf, size_t len, size_t *used);

int nf_record_decode(struct nf_record *r, const void *buf, size_t len)
{
    size_t used;
    if (decode(r, buf, len, &used) < 0)
        return -1;
    if (used != len)
        return fail(r, "%zu bytes after the record", len - used);
    return 0;
}

int nf_record_decode_next(struct nf_record *r, const void *buf, size_t len, size_t *used)
{
    return decode(r, buf, len, used);
}

static int decode_within(struct nf_record *r, const uint8_t *buf, size_t len, size_t *used);

static int decode(struct nf_record *r, const void *vbuf, size_t len, size_t *used)
{
    /* A record may not reach past max_bytes: scan within that much, and if the record does not
     * end inside it, say so rather than "truncated". */
    size_t limit = len > r->max_bytes ? r->max_bytes : len;
    int rc = decode_within(r, vbuf, limit, used);
    if (rc < 0 && limit < len) {
        /* error path only: find out whether the record is whole but too long, or broken */
        if (decode_within(r, vbuf, len, used) == 0) {
            nf_record_reset(r);
            return fail(r, "record of %zu bytes exceeds the limit of %zu", *used, r->max_bytes);
        }
        return -1;
    }
    return rc;
}

static int decode_within(struct nf_record *r, const uint8_t *buf, size_t len, size_t *used)
{
    nf_record_reset(r);
    struct mp_head h;
    if (mp_head(buf, len, &h) < 0)
        return fail(r, "%s", len && buf[0] == 0xc1 ? "record starts with 0xc1, a byte msgpack "
                                                   "never uses"
                                                 : "empty or truncated record");
    if (h.cls != MP_MAP)
        return fail(r, "record is a msgpack %s, not a map", class_name(h.cls));
    size_t off = h.hdr;
    if (h.len > (len - off) / 2)
        return fail(r, "record map declares %llu keys in %zu bytes", (unsigned long long)h.len,
                    len - off);
    for (uint64_t i = 0; i < h.len; i++) {
        struct mp_head kh;
        if (off >= len)
            return fail(r, "truncated record (%llu of %llu keys)", (unsigned long long)i,
                        (unsigned long long)h.len);
        if (mp_head(buf + off, len - off, &kh) < 0 || kh.cls != MP_STR)
            return fail(r, "key %llu is not a string", (unsigned long long)i);
        if (kh.len > len - off - kh.hdr)
            return fail(r, "truncated record (key %llu)", (unsigned long long)i);
        const char *key = (const char *)buf + off + kh.hdr;
        size_t klen = kh.len;
        off += kh.hdr + kh.len;
        size_t vstart = off;
        /* the record map is the first level */
        int rc = mp_skip(buf, len, &off, r->max_depth - 1);
        if (rc == -2)
            return fail(r, "value of '%.*s' makes the record nest deeper than %d levels",
                        (int)(klen > 40 ? 40 : klen),
                        key, r->max_depth);
        if (rc < 0)
            return fail(r, "truncated or invalid value of '%.*s'", (int)(klen > 40 ? 40 : klen),
                        key);
        const uint8_t *val = buf + vstart;
        size_t vlen = off - vstart;
        int f = nf_field_lookup(key, klen);
        if (f < 0) {
            if (r->n_extra == r->cap_extra) {
                size_t cap = r->cap_extra ? r->cap_extra * 2 : 8;
                struct extra *e = realloc(r->extra, cap * sizeof(*e));
                if (!e)
                    return fail(r, "out of memory");
                r->extra = e;
                r->cap_extra = cap;
            }
            r->extra[r->n_extra++] = (struct extra){key, klen, val, vlen};
            continue;
        }
        struct value *v = &r->f[f];
        if (v->state != S_ABSENT)
            return fail(r, "duplicate key '%s'", fields[f].name);
        struct mp_head vh;
        mp_head(val, vlen, &vh); /* cannot fail: mp_skip read it */
        if (vh.cls == MP_NIL)
            continue; /* nil is absent */
        enum kind k = fields[f].kind;
        bool ok = (k == K_STR && vh.cls == MP_STR) || (k == K_BIN && (vh.cls == MP_BIN ||
                                                                      vh.cls == MP_STR)) ||
                  (k == K_INT && vh.cls == MP_INT) || (k == K_MAP && vh.cls == MP_MAP) ||
                  (k == K_ARRAY && vh.cls == MP_ARRAY);
        if (!ok)
            return fail(r, "field '%s' is a msgpack %s", fields[f].name, class_name(vh.cls));
        v->state = S_RAW;
        v->raw = val;
        v->raw_n = vlen;
        if (k == K_INT) {
            bool iok;
            v->i = mp_int(val, &iok);
            if (!iok)
                return fail(r, "field '%s' is out of range", fields[f].name);
        } else if (k == K_STR || k == K_BIN) {
            v->p = (const char *)val + vh.hdr;
            v->n = vh.len;
        } else if (f == NF_F_TRACE) {
            r->trace_elems = val + vh.hdr;
            r->trace_elems_n = vlen - vh.hdr;
            r->trace_n = vh.len;
        }
    }
    *used = off;
    int64_t version;
    if (nf_record_int(r, NF_F_V, &version) == 0 && version != NF_RECORD_VERSION)
        return fail(r, "unsupported schema version %lld (this build reads %d)",
                    (long long)version, NF_RECORD_VERSION);
    return 0;
}

/* ---- field access --------------------------------------------------------------------- */

static struct value *changed(struct nf_record *r, enum nf_field f)
{
    struct value *v = &r->f[f];
    memset(v, 0, sizeof(*v));
    return v;
}

bool nf_record_has(const struct nf_record *r, enum nf_field f)
{
    return (unsigned)f < NF_F_COUNT && r->f[f].state != S_ABSENT;
}

void nf_record_unset(struct nf_record *r, enum nf_field f)
{
    if ((unsigned)f >= NF_F_COUNT)
        return;
    changed(r, f);
    if (f == NF_F_SOURCE)
        r->src_parsed = false, r->src_uri = r->src_kind = NULL;
    else if (f == NF_F_DATELINE)
        r->dl_parsed = false, r->dl_place = NULL;
    else if (f == NF_F_ENTITIES)
        r->ents_parsed = false, r->n_ents = 0;
    else if (f == NF_F_TRACE)
        r->trace_elems = NULL, r->trace_elems_n = r->trace_n = 0, r->trace_add.len = 0,
        r->trace_add_n = 0;
}

static char *copy_str(struct nf_record *r, const char *s, size_t n)
{
    char *p = arena_alloc(&r->arena, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

const char *nf_record_str(struct nf_record *r, enum nf_field f, size_t *len_out)
{
    if ((unsigned)f >= NF_F_COUNT || fields[f].kind != K_STR)
        return NULL;
    struct value *v = &r->f[f];
    if (v->state == S_RAW && !v->str_done) {
        const char *p = copy_str(r, v->p, v->n);
        if (!p)
            return NULL;
        v->p = p;
        v->str_done = true;
    }
    if (v->state != S_STR && v->state != S_RAW)
        return NULL;
    if (len_out)
        *len_out = v->n;
    return v->p;
}

int nf_record_set_str(struct nf_record *r, enum nf_field f, const char *s, size_t n)
{
    if ((unsigned)f >= NF_F_COUNT || fields[f].kind != K_STR)
        return fail(r, "field %d is not a string", (int)f);
    const char *p = copy_str(r, s, n);
    if (!p)
        return fail(r, "out of memory");
    struct value *v = changed(r, f);
    v->state = S_STR;
    v->p = p;
    v->n = n;
    return 0;
}

int nf_record_set_cstr(struct nf_record *r, enum nf_field f, const char *s)
{
    return nf_record_set_str(r, f, s, strlen(s));
}

int nf_record_set_strf(struct nf_record *r, enum nf_field f, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return fail(r, "bad format");
    if ((size_t)n < sizeof(small))
        return nf_record_set_str(r, f, small, (size_t)n);
    char *big = arena_alloc(&r->arena, (size_t)n + 1);
    if (!big)
        return fail(r, "out of memory");
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    struct value *v = changed(r, f);
    v->state = S_STR;
    v->p = big;
    v->n = (size_t)n;
    return 0;
}

const void *nf_record_bytes(struct nf_record *r, enum nf_field f, size_t *len_out)
{
    if ((unsigned)f >= NF_F_COUNT || fields[f].kind != K_BIN)
        return NULL;
    struct value *v = &r->f[f];
    if (v->state != S_RAW && v->state != S_BIN)
        return NULL;
    if (len_out)
        *len_out = v->n;
    return v->p ? v->p : "";
}

int nf_record_set_bytes_ref(struct nf_record *r, enum nf_field f, const void *p, size_t n)
{
    if ((unsigned)f >= NF_F_COUNT || fields[f].kind != K_BIN)
        return fail(r, "field %d is not binary", (int)f);
    struct value *v = changed(r, f);
    v->state = S_BIN;
    v->p = p;
    v->n = n;
    return 0;
}

int nf_record_set_bytes(struct nf_record *r, enum nf_field f, const void *p, size_t n)
{
    char *copy = arena_alloc(&r->arena, n ? n : 1);
    if (!copy)
        return fail(r, "out of memory");
    if (n)
        memcpy(copy, p, n);
    return nf_record_set_bytes_ref(r, f, copy, n);
}

int nf_record_int(struct nf_record *r, enum nf_field f, int64_t *out)
{
    if ((unsigned)f >= NF_F_COUNT || fields[f].kind != K_INT)
        return -1;
    struct value *v = &r->f[f];
    if (v->state != S_RAW && v->state != S_INT)
        return -1;
    *out = v->i;
    return 0;
}

int nf_record_set_int(struct nf_record *r, enum nf_field f, int64_t i)
{
    if ((unsigned)f >= NF_F_COUNT || fields[f].kind != K_INT)
        return fail(r, "field %d is not an integer", (int)f);
    struct value *v = changed(r, f);
    v->state = S_INT;
    v->i = i;
    return 0;
}

/* Unpacks a nested value with msgpack-c into the record's zone. */
static int unpack_raw(struct nf_record *r, const struct value *v, msgpack_object *obj)
{
    size_t off = 0;
    return msgpack_unpack((const char *)v->raw, v->raw_n, &off, &r->zone, obj) ==
                   MSGPACK_UNPACK_SUCCESS
               ? 0
               : -1;
}

static const char *obj_str(struct nf_record *r, const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return NULL;
    return copy_str(r, o->via.str.ptr, o->via.str.size);
}

static bool key_is(const msgpack_object *k, const char *name)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(name) &&
           memcmp(k->via.str.ptr, name, k->via.str.size) == 0;
}

static void parse_source(struct nf_record *r)
{
    if (r->src_parsed)
        return;
    r->src_parsed = true;
    struct value *v = &r->f[NF_F_SOURCE];
    msgpack_object o;
    if (v->state != S_RAW || unpack_raw(r, v, &o) < 0 || o.type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t i = 0; i < o.via.map.size; i++) {
        msgpack_object_kv *kv = &o.via.map.ptr[i];
        if (key_is(&kv->key, "uri"))
            r->src_uri = obj_str(r, &kv->val);
        else if (key_is(&kv->key, "kind"))
            r->src_kind = obj_str(r, &kv->val);
    }
}

int nf_record_source(struct nf_record *r, const char **uri_out, const char **kind_out)
{
    if (r->f[NF_F_SOURCE].state == S_ABSENT)
        return -1;
    parse_source(r);
    if (uri_out)
        *uri_out = r->src_uri;
    if (kind_out)
        *kind_out = r->src_kind;
    return 0;
}

/* Packs a map of string pairs (NULL values left out) into arena memory. */
static int set_packed_map(struct nf_record *r, enum nf_field f, const char *const *kv, int pairs)
{
    struct nf_buf b = {0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, buf_write);
    int n = 0;
    for (int i = 0; i < pairs; i++)
        n += kv[2 * i + 1] != NULL;
    int rc = msgpack_pack_map(&pk, (size_t)n);
    for (int i = 0; i < pairs && rc == 0; i++) {
        if (!kv[2 * i + 1])
            continue;
        size_t kl = strlen(kv[2 * i]), vl = strlen(kv[2 * i + 1]);
        rc |= msgpack_pack_str(&pk, kl) | msgpack_pack_str_body(&pk, kv[2 * i], kl);
        rc |= msgpack_pack_str(&pk, vl) | msgpack_pack_str_body(&pk, kv[2 * i + 1], vl);
    }
    char *p = rc == 0 ? arena_alloc(&r->arena, b.len) : NULL;
    if (p)
        memcpy(p, b.data, b.len);
    size_t len = b.len;
    nf_buf_free(&b);
    if (!p)
        return fail(r, "out of memory");
    struct value *v = changed(r, f);
    v->state = S_PACKED;
    v->p = p;
    v->n = len;
    return 0;
}

int nf_record_set_source(struct nf_record *r, const char *uri, const char *kind)
{
    const char *u = uri ? copy_str(r, uri, strlen(uri)) : NULL;
    const char *k = kind ? copy_str(r, kind, strlen(kind)) : NULL;
    const char *kv[] = {"uri", u, "kind", k};
    if (set_packed_map(r, NF_F_SOURCE, kv, 2) < 0)
        return -1;
    r->src_parsed = true;
    r->src_uri = u;
    r->src_kind = k;
    return 0;
}

const char *nf_record_dateline_place(struct nf_record *r)
{
    if (!r->dl_parsed) {
        r->dl_parsed = true;
        struct value *v = &r->f[NF_F_DATELINE];
        msgpack_object o;
        if (v->state == S_RAW && unpack_raw(r, v, &o) == 0 && o.type == MSGPACK_OBJECT_MAP)
            for (uint32_t i = 0; i < o.via.map.size; i++)
                if (key_is(&o.via.map.ptr[i].key, "place"))
                    r->dl_place = obj_str(r, &o.via.map.ptr[i].val);
    }
    return r->dl_place;
}

int nf_record_set_dateline(struct nf_record *r, const char *place)
{
    const char *p = place ? copy_str(r, place, strlen(place)) : NULL;
    const char *kv[] = {"place", p};
    if (set_packed_map(r, NF_F_DATELINE, kv, 1) < 0)
        return -1;
    r->dl_parsed = true;
    r->dl_place = p;
    return 0;
}

static int ents_push(struct nf_record *r, enum nf_entity_type type, const char *name, int64_t m)
{
    if (r->n_ents == r->cap_ents) {
        size_t cap = r->cap_ents ? r->cap_ents * 2 : 16;
        struct nf_entity *e = realloc(r->ents, cap * sizeof(*e));
        if (!e)
            return fail(r, "out of memory");
        r->ents = e;
        r->cap_ents = cap;
    }
    r->ents[r->n_ents++] = (struct nf_entity){type, name, m};
    return 0;
}

static void parse_entities(struct nf_record *r)
{
    if (r->ents_parsed)
        return;
    r->ents_parsed = true;
    r->n_ents = 0;
    struct value *v = &r->f[NF_F_ENTITIES];
    msgpack_object o;
    if (v->state != S_RAW || unpack_raw(r, v, &o) < 0 || o.type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < o.via.array.size; i++) {
        msgpack_object *e = &o.via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_MAP)
            continue;
        const char *name = NULL;
        int type = NF_ENT_OTHER;
        int64_t mentions = 0;
        for (uint32_t j = 0; j < e->via.map.size; j++) {
            msgpack_object_kv *kv = &e->via.map.ptr[j];
            if (key_is(&kv->key, "name")) {
                name = obj_str(r, &kv->val);
            } else if (key_is(&kv->key, "type")) {
                const char *t = obj_str(r, &kv->val);
                type = t ? nf_entity_type_parse(t) : -1;
                if (type < 0)
                    type = NF_ENT_OTHER;
            } else if (key_is(&kv->key, "mentions") &&
                       kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                       kv->val.via.u64 <= INT64_MAX) {
                mentions = (int64_t)kv->val.via.u64;
            } else if (key_is(&kv->key, "mentions") &&
                       kv->val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                mentions = kv->val.via.i64;
            }
        }
        if (name)
            ents_push(r, (enum nf_entity_type)type, name, mentions);
    }
}

size_t nf_record_entity_count(struct nf_record *r)
{
    parse_entities(r);
    return r->n_ents;
}

const struct nf_entity *nf_record_entity(struct nf_record *r, size_t i)
{
    parse_entities(r);
    return i < r->n_ents ? &r->ents[i] : NULL;
}

void nf_record_entities_clear(struct nf_record *r)
{
    struct value *v = changed(r, NF_F_ENTITIES);
    v->state = S_LIST;
    r->ents_parsed = true;
    r->n_ents = 0;
}

int nf_record_add_entity(struct nf_record *r, enum nf_entity_type type, const char *name,
                         int64_t mentions)
{
    parse_entities(r);
    struct value *v = &r->f[NF_F_ENTITIES];
    if (v->state != S_LIST) {
        memset(v, 0, sizeof(*v));
        v->state = S_LIST;
    }
    const char *n = copy_str(r, name, strlen(name));
    if (!n)
        return fail(r, "out of memory");
    return ents_push(r, type, n, mentions);
}

int nf_record_trace_append(struct nf_record *r, const char *stage, int worker, int64_t t_ms)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, &r->trace_add, buf_write);
    size_t sl = strlen(stage);
    int rc = msgpack_pack_map(&pk, 3);
    rc |= msgpack_pack_str(&pk, 5) | msgpack_pack_str_body(&pk, "stage", 5);
    rc |= msgpack_pack_str(&pk, sl) | msgpack_pack_str_body(&pk, stage, sl);
    rc |= msgpack_pack_str(&pk, 1) | msgpack_pack_str_body(&pk, "w", 1);
    rc |= msgpack_pack_int(&pk, worker);
    rc |= msgpack_pack_str(&pk, 1) | msgpack_pack_str_body(&pk, "t", 1);
    rc |= msgpack_pack_int64(&pk, t_ms);
    if (rc)
        return fail(r, "out of memory");
    r->trace_add_n++;
    struct value *v = &r->f[NF_F_TRACE];
    v->state = S_LIST;
    v->raw = NULL;
    return 0;
}

size_t nf_record_trace_len(struct nf_record *r)
{
    return r->trace_n + r->trace_add_n;
}

size_t nf_record_extra_count(const struct nf_record *r)
{
    return r->n_extra;
}

int nf_record_extra(const struct nf_record *r, size_t i, const char **key, size_t *klen,
                    const void **val, size_t *vlen)
{
    if (i >= r->n_extra)
        return -1;
    *key = r->extra[i].key;
    *klen = r->extra[i].klen;
    *val = r->extra[i].val;
    *vlen = r->extra[i].vlen;
    return 0;
}

const void *nf_record_raw_value(const struct nf_record *r, enum nf_field f, size_t *len_out)
{
    if ((unsigned)f >= NF_F_COUNT || !r->f[f].raw)
        return NULL;
    if (len_out)
        *len_out = r->f[f].raw_n;
    return r->f[f].raw;
}

/* ---- types ---------------------------------------------------------------------------- */

enum nf_field_type nf_record_field_type(const struct nf_record *r, enum nf_field f)
{
    static const enum nf_field_type of_kind[] = {
        [K_STR] = NF_TYPE_STR, [K_BIN] = NF_TYPE_BIN, [K_INT] = NF_TYPE_INT,
        [K_MAP] = NF_TYPE_MAP, [K_ARRAY] = NF_TYPE_ARRAY,
    };
    if (!nf_record_has(r, f))
        return NF_TYPE_ABSENT;
    return of_kind[fields[f].kind];
}

enum nf_field_type nf_record_extra_type(const struct nf_record *r, size_t i)
{
    static const enum nf_field_type of_class[] = {
        [MP_NIL] = NF_TYPE_NIL,     [MP_BOOL] = NF_TYPE_BOOL, [MP_INT] = NF_TYPE_INT,
        [MP_FLOAT] = NF_TYPE_FLOAT, [MP_STR] = NF_TYPE_STR,   [MP_BIN] = NF_TYPE_BIN,
        [MP_EXT] = NF_TYPE_EXT,     [MP_ARRAY] = NF_TYPE_ARRAY, [MP_MAP] = NF_TYPE_MAP,
    };
    struct mp_head h;
    if (i >= r->n_extra || mp_head(r->extra[i].val, r->extra[i].vlen, &h) < 0)
        return NF_TYPE_ABSENT; /* the decoder measured every value: only i can be wrong */
    return of_class[h.cls];
}

enum nf_field_type nf_record_key_type(const struct nf_record *r, const char *key, size_t len)
{
    int f = nf_field_lookup(key, len);
    if (f >= 0)
        return nf_record_field_type(r, (enum nf_field)f);
    for (size_t i = 0; i < r->n_extra; i++) /* a key sent twice: its first value */
        if (r->extra[i].klen == len && memcmp(r->extra[i].key, key, len) == 0)
            return nf_record_extra_type(r, i);
    return NF_TYPE_ABSENT;
}

const char *nf_field_type_name(enum nf_field_type t)
{
    static const char *const names[] = {
        [NF_TYPE_ABSENT] = "absent", [NF_TYPE_NIL] = "nil",     [NF_TYPE_BOOL] = "bool",
        [NF_TYPE_INT] = "int",       [NF_TYPE_FLOAT] = "float", [NF_TYPE_STR] = "str",
        [NF_TYPE_BIN] = "bin",       [NF_TYPE_EXT] = "ext",     [NF_TYPE_ARRAY] = "array",
        [NF_TYPE_MAP] = "map",
    };
    return (unsigned)t < sizeof(names) / sizeof(*names) ? names[t] : "unknown";
}

/* ---- encoding ------------------------------------------------------------------------- */

static int pack_entities(struct nf_record *r, msgpack_packer *pk)
{
    int rc = msgpack_pack_array(pk, r->n_ents);
    for (size_t i = 0; i < r->n_ents && rc == 0; i++) {
        const struct nf_entity *e = &r->ents[i];
        const char *t = nf_entity_type_name(e->type);
        size_t tl = strlen(t), nl = strlen(e->name);
        rc |= msgpack_pack_map(pk, 3);
        rc |= msgpack_pack_str(pk, 4) | msgpack_pack_str_body(pk, "type", 4);
        rc |= msgpack_pack_str(pk, tl) | msgpack_pack_str_body(pk, t, tl);
        rc |= msgpack_pack_str(pk, 4) | msgpack_pack_str_body(pk, "name", 4);
        rc |= msgpack_pack_str(pk, nl) | msgpack_pack_str_body(pk, e->name, nl);
        rc |= msgpack_pack_str(pk, 8) | msgpack_pack_str_body(pk, "mentions", 8);
        rc |= msgpack_pack_int64(pk, e->mentions);
    }
    return rc;
}

int nf_record_encode(struct nf_record *r, struct nf_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    size_t n = r->n_extra;
    for (int f = 0; f < NF_F_COUNT; f++)
        n += r->f[f].state != S_ABSENT;
    int rc = msgpack_pack_map(&pk, n);
    for (int f = 0; f < NF_F_COUNT && rc == 0; f++) {
        struct value *v = &r->f[f];
        if (v->state == S_ABSENT)
            continue;
        const char *name = fields[f].name;
        size_t nl = strlen(name);
        rc |= msgpack_pack_str(&pk, nl) | msgpack_pack_str_body(&pk, name, nl);
        if (v->raw) {
            rc |= nf_buf_append(out, v->raw, v->raw_n);
            continue;
        }
        switch (v->state) {
        case S_STR: rc |= msgpack_pack_str(&pk, v->n) | msgpack_pack_str_body(&pk, v->p, v->n);
            break;
        case S_BIN: rc |= msgpack_pack_bin(&pk, v->n) | msgpack_pack_bin_body(&pk, v->p, v->n);
            break;
        case S_INT: rc |= msgpack_pack_int64(&pk, v->i); break;
        case S_PACKED: rc |= nf_buf_append(out, v->p, v->n); break;
        case S_LIST:
            if (f == NF_F_ENTITIES) {
                rc |= pack_entities(r, &pk);
            } else {
                rc |= msgpack_pack_array(&pk, r->trace_n + r->trace_add_n);
                rc |= nf_buf_append(out, r->trace_elems, r->trace_elems_n);
                rc |= nf_buf_append(out, r->trace_add.data, r->trace_add.len);
            }
            break;
        default: break;
        }
    }
    for (size_t i = 0; i < r->n_extra && rc == 0; i++) {
        rc |= msgpack_pack_str(&pk, r->extra[i].klen) |
              msgpack_pack_str_body(&pk, r->extra[i].key, r->extra[i].klen);
        rc |= nf_buf_append(out, r->extra[i].val, r->extra[i].vlen);
    }
    return rc ? fail(r, "out of memory while encoding") : 0;
}
