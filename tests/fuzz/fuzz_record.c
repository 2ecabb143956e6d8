/* libFuzzer target for the record codec. Any byte string either fails to decode with a reason,
 * or decodes into a record whose every field can be read, and which then survives
 * encode -> decode -> encode: the second decode reads exactly what the first did, the two
 * encodings are identical, and a stage's typical edits (title, entity, trace hop) keep every
 * unknown key's bytes. The same bytes are also walked as a batch with nf_record_decode_next. Violations abort, so libFuzzer keeps the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsflow/record.h"

#define FUZZ_NAME "fuzz_record"
#include "fuzz_check.h"

static void put(struct nf_buf *v, const void *p, size_t n)
{
    CHECK(nf_buf_append(v, &n, sizeof(n)) == 0, "out of memory");
    CHECK(nf_buf_append(v, p, n) == 0, "out of memory");
}

static void put_str(struct nf_buf *v, const char *s)
{
    put(v, s ? s : "<null>", s ? strlen(s) + 1 : 6);
}

/* Reads every field through the public API and appends what it saw to `v`, so that two
 * records can be compared by what a stage would read from them. */
static void view(struct nf_record *r, struct nf_buf *v)
{
    for (int f = 0; f < NF_F_COUNT; f++) {
        bool has = nf_record_has(r, (enum nf_field)f);
        put(v, &has, sizeof(has));
        size_t n = 0;
        const char *s = nf_record_str(r, (enum nf_field)f, &n);
        if (s) {
            CHECK(s[n] == '\0', "string field %s is not NUL-terminated", nf_field_name(f));
            put(v, s, n);
        }
        const void *b = nf_record_bytes(r, (enum nf_field)f, &n);
        if (b)
            put(v, b, n);
        int64_t i;
        if (nf_record_int(r, (enum nf_field)f, &i) == 0)
            put(v, &i, sizeof(i));
    }
    const char *uri = NULL, *kind = NULL;
    if (nf_record_source(r, &uri, &kind) == 0) {
        put_str(v, uri);
        put_str(v, kind);
    }
    put_str(v, nf_record_dateline_place(r));
    size_t ne = nf_record_entity_count(r);
    put(v, &ne, sizeof(ne));
    for (size_t i = 0; i < ne; i++) {
        const struct nf_entity *e = nf_record_entity(r, i);
        CHECK(e && e->name, "entity %zu of %zu missing", i, ne);
        put(v, &e->type, sizeof(e->type));
        put_str(v, e->name);
        put(v, &e->mentions, sizeof(e->mentions));
    }
    CHECK(nf_record_entity(r, ne) == NULL, "entity past the end");
    size_t nt = nf_record_trace_len(r);
    put(v, &nt, sizeof(nt));
    size_t nx = nf_record_extra_count(r);
    put(v, &nx, sizeof(nx));
    for (size_t i = 0; i < nx; i++) {
        const char *k;
        size_t kl, vl;
        const void *val;
        CHECK(nf_record_extra(r, i, &k, &kl, &val, &vl) == 0, "extra %zu of %zu", i, nx);
        put(v, k, kl);
        put(v, val, vl);
    }
}

static struct nf_record *r1, *r2;
static struct nf_buf enc1, enc2, enc3, view1, view2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!r1) {
        r1 = nf_record_new();
        r2 = nf_record_new();
        CHECK(r1 && r2, "out of memory");
    }
    /* the same bytes as a batch: every record consumes something and stays inside */
    size_t off = 0, used = 0;
    while (off < size && nf_record_decode_next(r2, data + off, size - off, &used) == 0) {
        CHECK(used > 0 && used <= size - off, "used %zu of %zu", used, size - off);
        off += used;
    }
    nf_record_reset(r2);

    if (nf_record_decode(r1, data, size) < 0) {
        CHECK(nf_record_error(r1)[0] != '\0', "refused without a reason");
        return 0;
    }
    view1.len = 0;
    view(r1, &view1);

    enc1.len = 0;
    CHECK(nf_record_encode(r1, &enc1) == 0, "encode: %s", nf_record_error(r1));
    CHECK(enc1.len <= size, "encoding grew from %zu to %zu bytes", size, enc1.len);
    CHECK(nf_record_decode(r2, enc1.data, enc1.len) == 0, "re-decode: %s", nf_record_error(r2));
    view2.len = 0;
    view(r2, &view2);
    CHECK(view1.len == view2.len && memcmp(view1.data, view2.data, view1.len) == 0,
          "the re-decoded record reads differently");
    enc2.len = 0;
    CHECK(nf_record_encode(r2, &enc2) == 0, "encode: %s", nf_record_error(r2));
    CHECK(enc1.len == enc2.len && memcmp(enc1.data, enc2.data, enc1.len) == 0,
          "re-encoding an unchanged record changed its bytes");

    /* a stage's edits, then one more hop */
    size_t nt = nf_record_trace_len(r2), ne = nf_record_entity_count(r2);
    size_t nx = nf_record_extra_count(r2);
    CHECK(nf_record_set_cstr(r2, NF_F_TITLE, "fuzzed title") == 0, "set title");
    CHECK(nf_record_add_entity(r2, NF_ENT_PLACE, "Bamako", 2) == 0, "add entity");
    CHECK(nf_record_trace_append(r2, "fuzz", 1, 1767225600000) == 0, "trace append");
    enc3.len = 0;
    CHECK(nf_record_encode(r2, &enc3) == 0, "encode: %s", nf_record_error(r2));
    CHECK(nf_record_decode(r1, enc3.data, enc3.len) == 0, "decode after edits: %s",
          nf_record_error(r1));
    CHECK(strcmp(nf_record_str(r1, NF_F_TITLE, NULL), "fuzzed title") == 0, "title lost");
    CHECK(nf_record_entity_count(r1) == ne + 1, "entities: %zu, want %zu",
          nf_record_entity_count(r1), ne + 1);
    CHECK(strcmp(nf_record_entity(r1, ne)->name, "Bamako") == 0, "entity lost");
    CHECK(nf_record_trace_len(r1) == nt + 1, "trace: %zu hops, want %zu",
          nf_record_trace_len(r1), nt + 1);
    CHECK(nf_record_extra_count(r1) == nx, "unknown keys: %zu, want %zu",
          nf_record_extra_count(r1), nx);
    for (size_t i = 0; i < nx; i++) {
        const char *k1, *k2;
        size_t kl1, kl2, vl1, vl2;
        const void *v1, *v2;
        nf_record_extra(r1, i, &k1, &kl1, &v1, &vl1);
        nf_record_extra(r2, i, &k2, &kl2, &v2, &vl2);
        CHECK(kl1 == kl2 && memcmp(k1, k2, kl1) == 0, "unknown key %zu renamed", i);
        CHECK(vl1 == vl2 && memcmp(v1, v2, vl1) == 0, "unknown key %zu changed", i);
    }
    /* r1 borrows enc3: forget it before the buffer is reused by the next input */
    nf_record_reset(r1);
    nf_record_reset(r2);
    return 0;
}
