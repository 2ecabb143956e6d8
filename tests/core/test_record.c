/* Tests of the record codec (core/record.c), the contract between stages: every field type
 * round-trips, unchanged values and unknown keys travel as the bytes they arrived as, and
 * malformed or hostile input is refused with a reason instead of crashing or allocating.
 * Decoded buffers are copied into exactly-sized heap blocks so ASan sees any over-read. */
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include <cmocka.h>

#include "newsflow/record.h"

/* ---- helpers -------------------------------------------------------------------------- */

static struct nf_record *rec_new(void)
{
    struct nf_record *r = nf_record_new();
    assert_non_null(r);
    return r;
}

/* A heap copy of exactly n bytes, so that reading past the end is an ASan error. */
static uint8_t *dup_exact(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

static struct nf_buf encode(struct nf_record *r)
{
    struct nf_buf b = {0};
    assert_int_equal(nf_record_encode(r, &b), 0);
    return b;
}

static void assert_error_has(const struct nf_record *r, const char *needle)
{
    const char *e = nf_record_error(r);
    assert_non_null(e);
    if (!strstr(e, needle))
        fail_msg("error \"%s\" does not mention \"%s\"", e, needle);
}

/* Decodes n bytes (from an exact heap copy) and expects failure mentioning `needle`. */
static void expect_refused(const void *p, size_t n, const char *needle)
{
    struct nf_record *r = rec_new();
    uint8_t *d = dup_exact(p, n);
    assert_int_equal(nf_record_decode(r, d, n), -1);
    assert_true(strlen(nf_record_error(r)) > 0);
    if (needle)
        assert_error_has(r, needle);
    free(d);
    nf_record_destroy(&r);
}

/* Marks a test of a defect that is reported and not fixed yet: it is skipped, visibly, unless
 * NF_TEST_KNOWN_BUGS is set in the environment. Delete the line with the fix. */
#define KNOWN_BUG()                                                                            \
    do {                                                                                       \
        if (!getenv("NF_TEST_KNOWN_BUGS"))                                                     \
            skip();                                                                            \
    } while (0)

/* The same, for a string literal (its terminating NUL is not part of the input). */
#define REFUSE(lit, needle) expect_refused(lit, sizeof(lit) - 1, needle)

static void pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void assert_str_field(struct nf_record *r, enum nf_field f, const char *want)
{
    size_t n = 12345;
    const char *s = nf_record_str(r, f, &n);
    if (!s)
        fail_msg("field %s absent, want \"%s\"", nf_field_name(f), want);
    assert_int_equal(n, strlen(want));
    assert_string_equal(s, want);
}

/* ---- a record with every field -------------------------------------------------------- */

static const uint8_t raw_bytes[] = {0x00, 0x01, 0xc1, 0xff, 0x00, 'a', 0x90, 0x80};
static const uint8_t minhash_bytes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static const struct {
    enum nf_field f;
    const char *s;
} str_fields[] = {
    {NF_F_ID, "3a9d22517cca33efba8d3f0aff950a65"},
    {NF_F_FETCHED_AT, "2026-01-02T03:04:05.678Z"},
    {NF_F_CONTENT_TYPE, "text/plain; charset=utf-8"},
    {NF_F_TEXT, "BAMAKO, Mali \xe2\x80\x94 Assimi Go\xc3\xafta spoke on Tuesday.\n\nSecond paragraph."},
    {NF_F_TITLE, "Go\xc3\xafta addresses the nation"},
    {NF_F_BYLINE, "By A. Reporter"},
    {NF_F_OUTLET, "Example Wire"},
    {NF_F_PUBLISHED_AT, "2026-01-01"},
    {NF_F_LANG, "en"},
    {NF_F_DUP_OF, "99aa06d3014798d86001c324468d497f"},
    {NF_F_STORY_ID, "story-17"},
    {NF_F_URL, "https://example.org/news/1?x=1&y=2"},
    {NF_F_ACK_TO, "tcp://127.0.0.1:5555"},
};
#define N_STR_FIELDS (sizeof(str_fields) / sizeof(str_fields[0]))

static void fill_all(struct nf_record *r)
{
    assert_int_equal(nf_record_set_int(r, NF_F_V, NF_RECORD_VERSION), 0);
    for (size_t i = 0; i < N_STR_FIELDS; i++)
        assert_int_equal(nf_record_set_cstr(r, str_fields[i].f, str_fields[i].s), 0);
    assert_int_equal(nf_record_set_source(r, "file:///x", "file"), 0);
    assert_int_equal(nf_record_set_bytes(r, NF_F_RAW, raw_bytes, sizeof(raw_bytes)), 0);
    assert_int_equal(nf_record_set_bytes(r, NF_F_MINHASH, minhash_bytes, sizeof(minhash_bytes)),
                     0);
    assert_int_equal(nf_record_set_dateline(r, "BAMAKO"), 0);
    assert_int_equal(nf_record_add_entity(r, NF_ENT_PERSON, "Assimi Go\xc3\xafta", 3), 0);
    assert_int_equal(nf_record_add_entity(r, NF_ENT_ORG, "ECOWAS", 1), 0);
    assert_int_equal(nf_record_add_entity(r, NF_ENT_PLACE, "Bamako", 0), 0);
    assert_int_equal(nf_record_add_entity(r, NF_ENT_OTHER, "Tabaski", INT64_MAX), 0);
    assert_int_equal(nf_record_trace_append(r, "fetch", 0, 1767225600000), 0);
    assert_int_equal(nf_record_set_int(r, NF_F_ATTEMPT, 1), 0);
    assert_int_equal(nf_record_set_int(r, NF_F_SEQ, -42), 0);
    assert_int_equal(nf_record_set_int(r, NF_F_READ_ORDER, INT64_C(1) << 60), 0);
    assert_int_equal(nf_record_set_int(r, NF_F_READ_PREV, (INT64_C(1) << 60) - 1024), 0);
}

static void check_all(struct nf_record *r)
{
    for (int f = 0; f < NF_F_COUNT; f++)
        if (!nf_record_has(r, (enum nf_field)f))
            fail_msg("field %s missing", nf_field_name((enum nf_field)f));
    int64_t i;
    assert_int_equal(nf_record_int(r, NF_F_V, &i), 0);
    assert_int_equal(i, NF_RECORD_VERSION);
    assert_int_equal(nf_record_int(r, NF_F_ATTEMPT, &i), 0);
    assert_int_equal(i, 1);
    assert_int_equal(nf_record_int(r, NF_F_SEQ, &i), 0);
    assert_int_equal(i, -42);
    assert_int_equal(nf_record_int(r, NF_F_READ_ORDER, &i), 0);
    assert_int_equal(i, INT64_C(1) << 60);
    assert_int_equal(nf_record_int(r, NF_F_READ_PREV, &i), 0);
    assert_int_equal(i, (INT64_C(1) << 60) - 1024);
    for (size_t k = 0; k < N_STR_FIELDS; k++)
        assert_str_field(r, str_fields[k].f, str_fields[k].s);
    const char *uri = NULL, *kind = NULL;
    assert_int_equal(nf_record_source(r, &uri, &kind), 0);
    assert_string_equal(uri, "file:///x");
    assert_string_equal(kind, "file");
    size_t n;
    const uint8_t *b = nf_record_bytes(r, NF_F_RAW, &n);
    assert_non_null(b);
    assert_int_equal(n, sizeof(raw_bytes));
    assert_memory_equal(b, raw_bytes, n);
    b = nf_record_bytes(r, NF_F_MINHASH, &n);
    assert_non_null(b);
    assert_int_equal(n, sizeof(minhash_bytes));
    assert_memory_equal(b, minhash_bytes, n);
    assert_string_equal(nf_record_dateline_place(r), "BAMAKO");
    assert_int_equal(nf_record_entity_count(r), 4);
    const struct nf_entity *e = nf_record_entity(r, 0);
    assert_int_equal(e->type, NF_ENT_PERSON);
    assert_string_equal(e->name, "Assimi Go\xc3\xafta");
    assert_int_equal(e->mentions, 3);
    e = nf_record_entity(r, 1);
    assert_int_equal(e->type, NF_ENT_ORG);
    assert_string_equal(e->name, "ECOWAS");
    assert_int_equal(e->mentions, 1);
    e = nf_record_entity(r, 2);
    assert_int_equal(e->type, NF_ENT_PLACE);
    assert_string_equal(e->name, "Bamako");
    assert_int_equal(e->mentions, 0);
    e = nf_record_entity(r, 3);
    assert_int_equal(e->type, NF_ENT_OTHER);
    assert_string_equal(e->name, "Tabaski");
    assert_true(e->mentions == INT64_MAX);
    assert_null(nf_record_entity(r, 4));
    assert_int_equal(nf_record_trace_len(r), 1);
}

/* Encodes a full record into a fresh buffer. */
static struct nf_buf full_record(void)
{
    struct nf_record *r = rec_new();
    fill_all(r);
    struct nf_buf b = encode(r);
    nf_record_destroy(&r);
    return b;
}

/* ---- round trips ---------------------------------------------------------------------- */

static void test_roundtrip_every_field(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    fill_all(r);
    check_all(r); /* what was set reads back before any encoding */
    struct nf_buf b = encode(r);
    nf_record_destroy(&r);

    struct nf_record *d = rec_new();
    uint8_t *copy = dup_exact(b.data, b.len);
    assert_int_equal(nf_record_decode(d, copy, b.len), 0);
    assert_string_equal(nf_record_error(d), "");
    check_all(d);
    assert_int_equal(nf_record_extra_count(d), 0);
    free(copy);
    nf_buf_free(&b);
    nf_record_destroy(&d);
}

static void test_reencode_unchanged_is_identical(void **state)
{
    (void)state;
    struct nf_buf a = full_record();
    uint8_t *in = dup_exact(a.data, a.len);
    struct nf_record *d = rec_new();
    assert_int_equal(nf_record_decode(d, in, a.len), 0);

    struct nf_buf b = encode(d);
    assert_int_equal(b.len, a.len);
    assert_memory_equal(b.data, a.data, a.len);

    /* Reading every field (which materialises strings and nested values) changes nothing. */
    check_all(d);
    struct nf_buf c = encode(d);
    assert_int_equal(c.len, a.len);
    assert_memory_equal(c.data, a.data, a.len);

    /* The encoder appends: a second encoding into the same buffer follows the first. */
    assert_int_equal(nf_record_encode(d, &c), 0);
    assert_int_equal(c.len, 2 * a.len);
    assert_memory_equal(c.data + a.len, a.data, a.len);

    free(in);
    nf_buf_free(&a);
    nf_buf_free(&b);
    nf_buf_free(&c);
    nf_record_destroy(&d);
}

static void test_raw_value_of_unchanged_field(void **state)
{
    (void)state;
    struct nf_buf a = full_record();
    struct nf_record *d = rec_new();
    assert_int_equal(nf_record_decode(d, a.data, a.len), 0);
    size_t n = 0;
    const uint8_t *v = nf_record_raw_value(d, NF_F_LANG, &n);
    assert_non_null(v);
    assert_int_equal(n, 3);
    assert_memory_equal(v, "\xa2" "en", 3);
    assert_non_null(nf_record_str(d, NF_F_LANG, NULL));
    assert_non_null(nf_record_raw_value(d, NF_F_LANG, NULL)); /* reading is not changing */
    assert_int_equal(nf_record_set_cstr(d, NF_F_LANG, "fr"), 0);
    assert_null(nf_record_raw_value(d, NF_F_LANG, NULL));
    nf_record_unset(d, NF_F_URL);
    assert_null(nf_record_raw_value(d, NF_F_URL, NULL));
    nf_buf_free(&a);
    nf_record_destroy(&d);
}

static void roundtrip_str(const char *s, size_t n)
{
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_set_str(r, NF_F_TEXT, s, n), 0);
    struct nf_buf b = encode(r);
    uint8_t *in = dup_exact(b.data, b.len);
    assert_int_equal(nf_record_decode(r, in, b.len), 0);
    size_t got_n = (size_t)-1;
    const char *got = nf_record_str(r, NF_F_TEXT, &got_n);
    assert_non_null(got);
    assert_int_equal(got_n, n);
    assert_memory_equal(got, s, n);
    assert_int_equal(got[n], '\0');
    free(in);
    nf_buf_free(&b);
    nf_record_destroy(&r);
}

static void test_roundtrip_strings_of_every_length_class(void **state)
{
    (void)state;
    /* fixstr, str8, str16 and str32 headers, at and around each boundary */
    static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536, 300000};
    char *s = malloc(300000);
    assert_non_null(s);
    for (size_t i = 0; i < 300000; i++)
        s[i] = (char)('a' + i % 26);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        roundtrip_str(s, lens[i]);
    free(s);
    roundtrip_str("a\0b", 3); /* msgpack strings may hold NUL; the length says where they end */
    roundtrip_str("\xe2\x80\x94\xc3\xaf", 5);
}

static void test_str_is_nul_terminated(void **state)
{
    (void)state;
    /* In the encoded map, "abc" is followed directly by the next key's bytes, and "en" is the
     * very last thing in the buffer: neither has a NUL after it. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "title");
    pk_str(&pk, "abc");
    pk_str(&pk, "lang");
    pk_str(&pk, "en");
    uint8_t *in = dup_exact(sb.data, sb.size);
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_decode(r, in, sb.size), 0);
    const char *t = nf_record_str(r, NF_F_TITLE, NULL);
    assert_non_null(t);
    assert_int_equal(strlen(t), 3);
    assert_string_equal(t, "abc");
    const char *l = nf_record_str(r, NF_F_LANG, NULL);
    assert_non_null(l);
    assert_int_equal(strlen(l), 2);
    assert_string_equal(l, "en");
    /* the same pointer on a second call: materialised once */
    assert_ptr_equal(nf_record_str(r, NF_F_TITLE, NULL), t);
    /* and the input buffer was not written to */
    assert_memory_equal(in, sb.data, sb.size);
    free(in);
    msgpack_sbuffer_destroy(&sb);
    nf_record_destroy(&r);
}

static void test_roundtrip_bytes(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    /* zero-length raw is present, not absent */
    assert_int_equal(nf_record_set_bytes(r, NF_F_RAW, "", 0), 0);
    assert_true(nf_record_has(r, NF_F_RAW));
    size_t big_n = 3u << 20;
    uint8_t *big = malloc(big_n);
    assert_non_null(big);
    for (size_t i = 0; i < big_n; i++)
        big[i] = (uint8_t)(i * 131 + (i >> 9));
    assert_int_equal(nf_record_set_bytes_ref(r, NF_F_MINHASH, big, big_n), 0);
    struct nf_buf b = encode(r);
    free(big); /* the encoding holds its own copy; decoding below must not need `big` */
    big = NULL;

    uint8_t *in = dup_exact(b.data, b.len);
    assert_int_equal(nf_record_decode(r, in, b.len), 0);
    size_t n = 99;
    const void *p = nf_record_bytes(r, NF_F_RAW, &n);
    assert_non_null(p);
    assert_int_equal(n, 0);
    const uint8_t *m = nf_record_bytes(r, NF_F_MINHASH, &n);
    assert_non_null(m);
    assert_int_equal(n, big_n);
    for (size_t i = 0; i < big_n; i += 4099)
        assert_int_equal(m[i], (uint8_t)(i * 131 + (i >> 9)));
    assert_int_equal(m[big_n - 1], (uint8_t)((big_n - 1) * 131 + ((big_n - 1) >> 9)));

    /* set_bytes copies: the caller may reuse its memory at once */
    uint8_t tmp[4] = {9, 8, 7, 6};
    assert_int_equal(nf_record_set_bytes(r, NF_F_RAW, tmp, sizeof(tmp)), 0);
    memset(tmp, 0, sizeof(tmp));
    p = nf_record_bytes(r, NF_F_RAW, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(p, "\x09\x08\x07\x06", 4);
    free(in);
    nf_buf_free(&b);
    nf_record_destroy(&r);
}

static void test_roundtrip_ints(void **state)
{
    (void)state;
    static const int64_t vals[] = {
        0,          1,           -1,         31,          32,         -32,        -33,
        127,        128,         -128,       -129,        255,        256,        32767,
        32768,      -32768,      -32769,     65535,       65536,      INT32_MAX,  INT32_MIN,
        (int64_t)INT32_MAX + 1,  (int64_t)INT32_MIN - 1,  UINT32_MAX, (int64_t)UINT32_MAX + 1,
        INT64_MAX,  INT64_MIN,   INT64_MIN + 1,           INT64_MAX - 1,
    };
    struct nf_record *r = rec_new();
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        nf_record_reset(r);
        assert_int_equal(nf_record_set_int(r, NF_F_ATTEMPT, vals[i]), 0);
        assert_int_equal(nf_record_set_int(r, NF_F_SEQ, vals[i]), 0);
        struct nf_buf b = encode(r);
        uint8_t *in = dup_exact(b.data, b.len);
        assert_int_equal(nf_record_decode(r, in, b.len), 0);
        int64_t a = 0, s = 0;
        assert_int_equal(nf_record_int(r, NF_F_ATTEMPT, &a), 0);
        assert_int_equal(nf_record_int(r, NF_F_SEQ, &s), 0);
        if (a != vals[i] || s != vals[i])
            fail_msg("int %lld came back as %lld / %lld", (long long)vals[i], (long long)a,
                     (long long)s);
        free(in);
        nf_buf_free(&b);
    }
    int64_t x = 7;
    nf_record_reset(r);
    assert_int_equal(nf_record_int(r, NF_F_ATTEMPT, &x), -1); /* absent */
    assert_int_equal(x, 7);
    assert_int_equal(nf_record_int(r, NF_F_TITLE, &x), -1); /* not an int field */
    nf_record_destroy(&r);
}

static void test_source_and_dateline(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    const char *u = "x", *k = "x";
    assert_int_equal(nf_record_source(r, &u, &k), -1);
    assert_null(nf_record_dateline_place(r));

    assert_int_equal(nf_record_set_source(r, "https://example.org/feed.xml", NULL), 0);
    assert_int_equal(nf_record_set_dateline(r, "BAMAKO, Mali"), 0);
    struct nf_buf b = encode(r);
    assert_int_equal(nf_record_decode(r, b.data, b.len), 0);
    assert_int_equal(nf_record_source(r, &u, &k), 0);
    assert_string_equal(u, "https://example.org/feed.xml");
    assert_null(k); /* the absent part stays absent */
    assert_int_equal(nf_record_source(r, NULL, NULL), 0);
    assert_string_equal(nf_record_dateline_place(r), "BAMAKO, Mali");

    /* Replacing a decoded source replaces both parts. */
    assert_int_equal(nf_record_set_source(r, "file:///a", "file"), 0);
    struct nf_buf c = encode(r);
    assert_int_equal(nf_record_decode(r, c.data, c.len), 0);
    assert_int_equal(nf_record_source(r, &u, &k), 0);
    assert_string_equal(u, "file:///a");
    assert_string_equal(k, "file");
    nf_buf_free(&b);
    nf_buf_free(&c);
    nf_record_destroy(&r);
}

static void test_source_keeps_unknown_subkeys_when_unchanged(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "source");
    msgpack_pack_map(&pk, 3);
    pk_str(&pk, "uri");
    pk_str(&pk, "https://example.org/a");
    pk_str(&pk, "etag");
    pk_str(&pk, "W/\"abc\"");
    pk_str(&pk, "kind");
    pk_str(&pk, "http");
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_decode(r, sb.data, sb.size), 0);
    const char *u, *k;
    assert_int_equal(nf_record_source(r, &u, &k), 0);
    assert_string_equal(u, "https://example.org/a");
    assert_string_equal(k, "http");
    struct nf_buf b = encode(r);
    assert_int_equal(b.len, sb.size);
    assert_memory_equal(b.data, sb.data, sb.size);
    nf_buf_free(&b);
    msgpack_sbuffer_destroy(&sb);
    nf_record_destroy(&r);
}

static void test_entities_replace_and_append(void **state)
{
    (void)state;
    struct nf_buf a = full_record();
    struct nf_record *r = rec_new();

    /* clear + add replaces the decoded list */
    assert_int_equal(nf_record_decode(r, a.data, a.len), 0);
    nf_record_entities_clear(r);
    assert_int_equal(nf_record_entity_count(r), 0);
    assert_int_equal(nf_record_add_entity(r, NF_ENT_ORG, "African Union", 2), 0);
    struct nf_buf b = encode(r);
    assert_int_equal(nf_record_decode(r, b.data, b.len), 0);
    assert_int_equal(nf_record_entity_count(r), 1);
    assert_string_equal(nf_record_entity(r, 0)->name, "African Union");
    assert_int_equal(nf_record_entity(r, 0)->type, NF_ENT_ORG);
    assert_int_equal(nf_record_entity(r, 0)->mentions, 2);

    /* add without clear appends to what arrived */
    assert_int_equal(nf_record_decode(r, a.data, a.len), 0);
    assert_int_equal(nf_record_add_entity(r, NF_ENT_PLACE, "Kayes", 5), 0);
    struct nf_buf c = encode(r);
    assert_int_equal(nf_record_decode(r, c.data, c.len), 0);
    assert_int_equal(nf_record_entity_count(r), 5);
    assert_string_equal(nf_record_entity(r, 0)->name, "Assimi Go\xc3\xafta");
    assert_string_equal(nf_record_entity(r, 4)->name, "Kayes");
    assert_int_equal(nf_record_entity(r, 4)->type, NF_ENT_PLACE);

    /* clearing leaves an empty list, which is present; unset removes the field */
    nf_record_entities_clear(r);
    struct nf_buf d = encode(r);
    assert_int_equal(nf_record_decode(r, d.data, d.len), 0);
    assert_true(nf_record_has(r, NF_F_ENTITIES));
    assert_int_equal(nf_record_entity_count(r), 0);
    nf_record_unset(r, NF_F_ENTITIES);
    assert_int_equal(nf_record_entity_count(r), 0);
    struct nf_buf e = encode(r);
    assert_int_equal(nf_record_decode(r, e.data, e.len), 0);
    assert_false(nf_record_has(r, NF_F_ENTITIES));

    /* names are copied: the caller's buffer may change */
    char name[16] = "Segou";
    assert_int_equal(nf_record_add_entity(r, NF_ENT_PLACE, name, 1), 0);
    strcpy(name, "XXXXX");
    assert_string_equal(nf_record_entity(r, 0)->name, "Segou");

    nf_buf_free(&a);
    nf_buf_free(&b);
    nf_buf_free(&c);
    nf_buf_free(&d);
    nf_buf_free(&e);
    nf_record_destroy(&r);
}

static void test_entity_type_names(void **state)
{
    (void)state;
    static const char *const names[] = {"person", "org", "place", "other"};
    for (int t = NF_ENT_PERSON; t <= NF_ENT_OTHER; t++) {
        assert_string_equal(nf_entity_type_name((enum nf_entity_type)t), names[t]);
        assert_int_equal(nf_entity_type_parse(names[t]), t);
    }
    assert_int_equal(nf_entity_type_parse("Person"), -1);
    assert_int_equal(nf_entity_type_parse(""), -1);
}

/* Checks that hop i of an encoded trace (msgpack-c view) is {stage, w, t}. */
static void assert_hop(const msgpack_object *hop, const char *stage, int64_t w, int64_t t)
{
    assert_int_equal(hop->type, MSGPACK_OBJECT_MAP);
    bool seen_s = false, seen_w = false, seen_t = false;
    for (uint32_t i = 0; i < hop->via.map.size; i++) {
        const msgpack_object *k = &hop->via.map.ptr[i].key, *v = &hop->via.map.ptr[i].val;
        assert_int_equal(k->type, MSGPACK_OBJECT_STR);
        if (k->via.str.size == 5 && memcmp(k->via.str.ptr, "stage", 5) == 0) {
            assert_int_equal(v->type, MSGPACK_OBJECT_STR);
            assert_int_equal(v->via.str.size, strlen(stage));
            assert_memory_equal(v->via.str.ptr, stage, strlen(stage));
            seen_s = true;
        } else if (k->via.str.size == 1 && k->via.str.ptr[0] == 'w') {
            assert_true(v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                        v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
            assert_true(v->via.i64 == w);
            seen_w = true;
        } else if (k->via.str.size == 1 && k->via.str.ptr[0] == 't') {
            assert_true(v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                        v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER);
            assert_true(v->via.i64 == t);
            seen_t = true;
        }
    }
    assert_true(seen_s && seen_w && seen_t);
}

static void test_trace_across_two_hops(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_trace_len(r), 0);
    assert_int_equal(nf_record_set_cstr(r, NF_F_ID, "abc"), 0);
    assert_int_equal(nf_record_trace_append(r, "fetch", 0, 1000), 0);
    assert_int_equal(nf_record_trace_len(r), 1);
    struct nf_buf hop1 = encode(r);
    size_t t1n;
    uint8_t *in1 = dup_exact(hop1.data, hop1.len);
    assert_int_equal(nf_record_decode(r, in1, hop1.len), 0);
    const uint8_t *t1 = nf_record_raw_value(r, NF_F_TRACE, &t1n);
    assert_non_null(t1);
    assert_int_equal(nf_record_trace_len(r), 1);

    /* second stage appends; the first hop's bytes travel on untouched */
    assert_int_equal(nf_record_trace_append(r, "clean", 3, 2000), 0);
    assert_int_equal(nf_record_trace_len(r), 2);
    struct nf_buf hop2 = encode(r);
    uint8_t *in2 = dup_exact(hop2.data, hop2.len);
    assert_int_equal(nf_record_decode(r, in2, hop2.len), 0);
    assert_int_equal(nf_record_trace_len(r), 2);
    assert_int_equal(nf_record_trace_append(r, "extract", -1, INT64_MAX), 0);
    struct nf_buf hop3 = encode(r);
    uint8_t *in3 = dup_exact(hop3.data, hop3.len);
    assert_int_equal(nf_record_decode(r, in3, hop3.len), 0);
    assert_int_equal(nf_record_trace_len(r), 3);
    assert_str_field(r, NF_F_ID, "abc");

    size_t tn;
    const uint8_t *t = nf_record_raw_value(r, NF_F_TRACE, &tn);
    assert_non_null(t);
    /* hop 1's encoding (after the 1-byte array header) is a prefix of the final elements */
    assert_true(tn > t1n);
    assert_memory_equal(t + 1, t1 + 1, t1n - 1);

    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object o;
    size_t off = 0;
    assert_int_equal(msgpack_unpack((const char *)t, tn, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(o.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(o.via.array.size, 3);
    assert_hop(&o.via.array.ptr[0], "fetch", 0, 1000);
    assert_hop(&o.via.array.ptr[1], "clean", 3, 2000);
    assert_hop(&o.via.array.ptr[2], "extract", -1, INT64_MAX);
    msgpack_zone_destroy(&z);

    /* unset drops every hop, received and appended */
    nf_record_unset(r, NF_F_TRACE);
    assert_int_equal(nf_record_trace_len(r), 0);
    assert_int_equal(nf_record_trace_append(r, "store", 0, 5), 0);
    struct nf_buf hop4 = encode(r);
    assert_int_equal(nf_record_decode(r, hop4.data, hop4.len), 0);
    assert_int_equal(nf_record_trace_len(r), 1);

    free(in1);
    free(in2);
    free(in3);
    nf_buf_free(&hop1);
    nf_buf_free(&hop2);
    nf_buf_free(&hop3);
    nf_buf_free(&hop4);
    nf_record_destroy(&r);
}

/* ---- unknown keys --------------------------------------------------------------------- */

#define N_UNKNOWN 6
struct packed {
    char *data;
    size_t size;
};

/* Packs each unknown value on its own, so the test knows their exact bytes. */
static void pack_unknown_values(struct packed out[N_UNKNOWN])
{
    for (int i = 0; i < N_UNKNOWN; i++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        switch (i) {
        case 0: /* nested maps and arrays with every scalar type */
            msgpack_pack_map(&pk, 2);
            pk_str(&pk, "a");
            msgpack_pack_array(&pk, 7);
            msgpack_pack_int(&pk, 1);
            msgpack_pack_int64(&pk, -200000);
            msgpack_pack_double(&pk, 3.25);
            msgpack_pack_float(&pk, 1.5f);
            msgpack_pack_nil(&pk);
            msgpack_pack_true(&pk);
            msgpack_pack_uint64(&pk, UINT64_MAX);
            pk_str(&pk, "b");
            msgpack_pack_map(&pk, 1);
            pk_str(&pk, "deep");
            msgpack_pack_array(&pk, 3);
            msgpack_pack_bin(&pk, 3);
            msgpack_pack_bin_body(&pk, "\x00\xc1\xff", 3);
            msgpack_pack_ext(&pk, 5, 7);
            msgpack_pack_ext_body(&pk, "\x01\x02\x03\x04\x05", 5);
            msgpack_pack_map(&pk, 0);
            break;
        case 1:
            msgpack_pack_bin(&pk, 0);
            break;
        case 2: /* fixext 1 */
            msgpack_pack_ext(&pk, 1, -3);
            msgpack_pack_ext_body(&pk, "\x2a", 1);
            break;
        case 3:
            msgpack_pack_float(&pk, 2.5f);
            break;
        case 4: /* a key that looks like a known one but is not */
            pk_str(&pk, "not the title");
            break;
        case 5:
            msgpack_pack_array(&pk, 0);
            break;
        }
        out[i].data = sb.data;
        out[i].size = sb.size;
    }
}

static const char *const unknown_keys[N_UNKNOWN] = {"x-meta", "x-bin", "x-ext",
                                                    "x-float", "Title", "titles"};

static void test_unknown_keys_survive_a_change(void **state)
{
    (void)state;
    struct packed vals[N_UNKNOWN];
    pack_unknown_values(vals);

    /* {v, x-meta, title, x-bin, ...}: unknown keys before and after a known one */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + N_UNKNOWN);
    pk_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    for (int i = 0; i < N_UNKNOWN; i++) {
        if (i == 1) {
            pk_str(&pk, "title");
            pk_str(&pk, "old title");
        }
        pk_str(&pk, unknown_keys[i]);
        msgpack_sbuffer_write(&sb, vals[i].data, vals[i].size);
    }

    struct nf_record *r = rec_new();
    uint8_t *in = dup_exact(sb.data, sb.size);
    assert_int_equal(nf_record_decode(r, in, sb.size), 0);
    assert_int_equal(nf_record_extra_count(r), N_UNKNOWN);
    assert_str_field(r, NF_F_TITLE, "old title");
    assert_int_equal(nf_record_set_cstr(r, NF_F_TITLE, "new title"), 0);
    struct nf_buf b = encode(r);
    free(in); /* the new encoding must not depend on the old buffer */

    uint8_t *in2 = dup_exact(b.data, b.len);
    assert_int_equal(nf_record_decode(r, in2, b.len), 0);
    assert_str_field(r, NF_F_TITLE, "new title");
    int64_t v;
    assert_int_equal(nf_record_int(r, NF_F_V, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(nf_record_extra_count(r), N_UNKNOWN);
    for (size_t i = 0; i < N_UNKNOWN; i++) {
        const char *k;
        size_t kl, vl;
        const void *val;
        assert_int_equal(nf_record_extra(r, i, &k, &kl, &val, &vl), 0);
        assert_int_equal(kl, strlen(unknown_keys[i]));
        assert_memory_equal(k, unknown_keys[i], kl);
        assert_int_equal(vl, vals[i].size);
        assert_memory_equal(val, vals[i].data, vl);
    }
    const char *k;
    size_t kl, vl;
    const void *val;
    assert_int_equal(nf_record_extra(r, N_UNKNOWN, &k, &kl, &val, &vl), -1);
    free(in2);
    nf_buf_free(&b);
    for (int i = 0; i < N_UNKNOWN; i++)
        free(vals[i].data);
    msgpack_sbuffer_destroy(&sb);
    nf_record_destroy(&r);
}

/* ---- asking a field's type ------------------------------------------------------------ */

/* A stage that reads a field named in its options asks what it holds before reading it: every
 * schema field reports its schema type (raw sent as a msgpack str is still bin), a field sent as
 * nil or never sent is absent, an unknown key reports the msgpack type it arrived as. */
static void test_field_types(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 16);
    pk_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "title");
    pk_str(&pk, "A title");
    pk_str(&pk, "raw");
    pk_str(&pk, "bytes sent as a string");
    pk_str(&pk, "byline");
    msgpack_pack_nil(&pk);
    pk_str(&pk, "source");
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "uri");
    pk_str(&pk, "file:///a.txt");
    pk_str(&pk, "entities");
    msgpack_pack_array(&pk, 0);
    pk_str(&pk, "x-nil");
    msgpack_pack_nil(&pk);
    pk_str(&pk, "x-bool");
    msgpack_pack_true(&pk);
    pk_str(&pk, "x-int");
    msgpack_pack_int64(&pk, -5);
    pk_str(&pk, "x-float");
    msgpack_pack_double(&pk, 0.5);
    pk_str(&pk, "x-str");
    pk_str(&pk, "s");
    pk_str(&pk, "x-bin");
    msgpack_pack_bin(&pk, 2);
    msgpack_pack_bin_body(&pk, "\x00\x01", 2);
    pk_str(&pk, "x-ext");
    msgpack_pack_ext(&pk, 1, 7);
    msgpack_pack_ext_body(&pk, "e", 1);
    pk_str(&pk, "x-array");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "x-map");
    msgpack_pack_map(&pk, 0);
    pk_str(&pk, "x-int"); /* the same unknown key again: the first value counts */
    pk_str(&pk, "second");

    struct nf_record *r = rec_new();
    uint8_t *in = dup_exact(sb.data, sb.size);
    assert_int_equal(nf_record_decode(r, in, sb.size), 0);
    assert_int_equal(nf_record_field_type(r, NF_F_V), NF_TYPE_INT);
    assert_int_equal(nf_record_field_type(r, NF_F_TITLE), NF_TYPE_STR);
    assert_int_equal(nf_record_field_type(r, NF_F_RAW), NF_TYPE_BIN);
    assert_int_equal(nf_record_field_type(r, NF_F_BYLINE), NF_TYPE_ABSENT);
    assert_int_equal(nf_record_field_type(r, NF_F_SOURCE), NF_TYPE_MAP);
    assert_int_equal(nf_record_field_type(r, NF_F_ENTITIES), NF_TYPE_ARRAY);
    assert_int_equal(nf_record_field_type(r, NF_F_TEXT), NF_TYPE_ABSENT);
    assert_int_equal(nf_record_field_type(r, NF_F_COUNT), NF_TYPE_ABSENT);

    static const struct {
        const char *key;
        enum nf_field_type want;
    } keys[] = {
        {"x-nil", NF_TYPE_NIL},     {"x-bool", NF_TYPE_BOOL},   {"x-int", NF_TYPE_INT},
        {"x-float", NF_TYPE_FLOAT}, {"x-str", NF_TYPE_STR},     {"x-bin", NF_TYPE_BIN},
        {"x-ext", NF_TYPE_EXT},     {"x-array", NF_TYPE_ARRAY}, {"x-map", NF_TYPE_MAP},
        {"title", NF_TYPE_STR},     {"raw", NF_TYPE_BIN},       {"byline", NF_TYPE_ABSENT},
        {"x-none", NF_TYPE_ABSENT}, {"x-in", NF_TYPE_ABSENT},   {"Title", NF_TYPE_ABSENT},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
        enum nf_field_type t = nf_record_key_type(r, keys[i].key, strlen(keys[i].key));
        if (t != keys[i].want)
            fail_msg("%s is %s, want %s", keys[i].key, nf_field_type_name(t),
                     nf_field_type_name(keys[i].want));
    }
    /* by position, in the order the unknown keys arrived */
    assert_int_equal(nf_record_extra_count(r), 10);
    assert_int_equal(nf_record_extra_type(r, 0), NF_TYPE_NIL);
    assert_int_equal(nf_record_extra_type(r, 8), NF_TYPE_MAP);
    assert_int_equal(nf_record_extra_type(r, 9), NF_TYPE_STR);
    assert_int_equal(nf_record_extra_type(r, 10), NF_TYPE_ABSENT);

    /* a field set or unset by a stage */
    assert_int_equal(nf_record_set_cstr(r, NF_F_TEXT, "body"), 0);
    assert_int_equal(nf_record_field_type(r, NF_F_TEXT), NF_TYPE_STR);
    assert_int_equal(nf_record_set_int(r, NF_F_ATTEMPT, 2), 0);
    assert_int_equal(nf_record_field_type(r, NF_F_ATTEMPT), NF_TYPE_INT);
    assert_int_equal(nf_record_set_dateline(r, "Bamako"), 0);
    assert_int_equal(nf_record_field_type(r, NF_F_DATELINE), NF_TYPE_MAP);
    nf_record_unset(r, NF_F_TITLE);
    assert_int_equal(nf_record_key_type(r, "title", 5), NF_TYPE_ABSENT);
    nf_record_reset(r);
    assert_int_equal(nf_record_key_type(r, "x-int", 5), NF_TYPE_ABSENT);

    assert_string_equal(nf_field_type_name(NF_TYPE_ABSENT), "absent");
    assert_string_equal(nf_field_type_name(NF_TYPE_EXT), "ext");
    assert_string_equal(nf_field_type_name((enum nf_field_type)99), "unknown");
    free(in);
    msgpack_sbuffer_destroy(&sb);
    nf_record_destroy(&r);
}

/* ---- setting, unsetting, replacing ---------------------------------------------------- */

static void test_set_then_unset(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_set_cstr(r, NF_F_TITLE, "t"), 0);
    assert_true(nf_record_has(r, NF_F_TITLE));
    nf_record_unset(r, NF_F_TITLE);
    assert_false(nf_record_has(r, NF_F_TITLE));
    assert_null(nf_record_str(r, NF_F_TITLE, NULL));
    struct nf_buf b = encode(r);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], 0x80); /* an empty map */
    nf_buf_free(&b);

    /* unsetting a decoded field drops it and keeps the others */
    struct nf_buf a = full_record();
    assert_int_equal(nf_record_decode(r, a.data, a.len), 0);
    nf_record_unset(r, NF_F_TITLE);
    nf_record_unset(r, NF_F_SOURCE);
    nf_record_unset(r, NF_F_DATELINE);
    nf_record_unset(r, NF_F_SEQ);
    nf_record_unset(r, NF_F_RAW);
    assert_null(nf_record_dateline_place(r));
    assert_int_equal(nf_record_source(r, NULL, NULL), -1);
    struct nf_buf c = encode(r);
    assert_int_equal(nf_record_decode(r, c.data, c.len), 0);
    assert_false(nf_record_has(r, NF_F_TITLE));
    assert_false(nf_record_has(r, NF_F_SOURCE));
    assert_false(nf_record_has(r, NF_F_DATELINE));
    assert_false(nf_record_has(r, NF_F_SEQ));
    assert_false(nf_record_has(r, NF_F_RAW));
    assert_null(nf_record_bytes(r, NF_F_RAW, NULL));
    assert_str_field(r, NF_F_TEXT, str_fields[3].s);
    assert_int_equal(nf_record_entity_count(r), 4);
    nf_buf_free(&a);
    nf_buf_free(&c);
    nf_record_destroy(&r);
}

static void test_set_str_replaces(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_set_cstr(r, NF_F_TITLE, "first, a longer value"), 0);
    assert_int_equal(nf_record_set_str(r, NF_F_TITLE, "second!!", 6), 0);
    assert_str_field(r, NF_F_TITLE, "second");

    /* set_str copies: the caller may reuse its buffer */
    char buf[8] = "byline";
    assert_int_equal(nf_record_set_cstr(r, NF_F_BYLINE, buf), 0);
    buf[0] = 'X';
    assert_str_field(r, NF_F_BYLINE, "byline");

    /* setting from the record's own value is safe */
    assert_int_equal(nf_record_set_cstr(r, NF_F_OUTLET, nf_record_str(r, NF_F_TITLE, NULL)), 0);
    assert_str_field(r, NF_F_OUTLET, "second");

    /* strf, short and past any small internal buffer */
    assert_int_equal(nf_record_set_strf(r, NF_F_URL, "https://e.org/%d/%s", 42, "x"), 0);
    assert_str_field(r, NF_F_URL, "https://e.org/42/x");
    char longv[1001];
    memset(longv, 'q', 1000);
    longv[1000] = '\0';
    assert_int_equal(nf_record_set_strf(r, NF_F_TEXT, "<%s>", longv), 0);
    size_t n;
    const char *t = nf_record_str(r, NF_F_TEXT, &n);
    assert_int_equal(n, 1002);
    assert_int_equal(t[0], '<');
    assert_int_equal(t[1001], '>');
    assert_int_equal(t[1002], '\0');

    struct nf_buf b = encode(r);
    assert_int_equal(nf_record_decode(r, b.data, b.len), 0);
    assert_str_field(r, NF_F_TITLE, "second");
    assert_str_field(r, NF_F_URL, "https://e.org/42/x");
    assert_int_equal(nf_record_set_cstr(r, NF_F_TITLE, "third"), 0);
    struct nf_buf c = encode(r);
    assert_int_equal(nf_record_decode(r, c.data, c.len), 0);
    assert_str_field(r, NF_F_TITLE, "third");
    assert_str_field(r, NF_F_BYLINE, "byline");
    nf_buf_free(&b);
    nf_buf_free(&c);
    nf_record_destroy(&r);
}

static void test_wrong_field_kind_is_refused(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_set_cstr(r, NF_F_ATTEMPT, "1"), -1);
    assert_true(strlen(nf_record_error(r)) > 0);
    assert_int_equal(nf_record_set_int(r, NF_F_TITLE, 1), -1);
    assert_int_equal(nf_record_set_bytes(r, NF_F_TITLE, "x", 1), -1);
    assert_int_equal(nf_record_set_bytes_ref(r, NF_F_ID, "x", 1), -1);
    assert_int_equal(nf_record_set_cstr(r, NF_F_COUNT, "x"), -1);
    assert_int_equal(nf_record_set_int(r, (enum nf_field)-1, 1), -1);
    for (int f = 0; f < NF_F_COUNT; f++)
        assert_false(nf_record_has(r, (enum nf_field)f));
    assert_false(nf_record_has(r, NF_F_COUNT));
    nf_record_unset(r, NF_F_COUNT);
    assert_int_equal(nf_record_set_bytes(r, NF_F_RAW, "x", 1), 0);
    assert_null(nf_record_str(r, NF_F_RAW, NULL));
    assert_int_equal(nf_record_set_cstr(r, NF_F_TITLE, "t"), 0);
    assert_null(nf_record_bytes(r, NF_F_TITLE, NULL));
    assert_null(nf_record_str(r, NF_F_COUNT, NULL));
    assert_null(nf_record_raw_value(r, NF_F_COUNT, NULL));
    nf_record_destroy(&r);
    nf_record_destroy(&r); /* destroy nulled the pointer and accepts NULL */
    nf_record_destroy(NULL);
}

static void test_field_names(void **state)
{
    (void)state;
    for (int f = 0; f < NF_F_COUNT; f++) {
        const char *n = nf_field_name((enum nf_field)f);
        assert_non_null(n);
        assert_int_equal(nf_field_lookup(n, strlen(n)), f);
    }
    assert_string_equal(nf_field_name(NF_F_PUBLISHED_AT), "published_at");
    assert_null(nf_field_name(NF_F_COUNT));
    assert_int_equal(nf_field_lookup("titl", 4), -1);
    assert_int_equal(nf_field_lookup("title", 4), -1); /* length, not NUL, ends the key */
    assert_int_equal(nf_field_lookup("titles", 6), -1);
    assert_int_equal(nf_field_lookup("titlex", 5), NF_F_TITLE);
    assert_int_equal(nf_field_lookup("", 0), -1);
}

/* ---- malformed input ------------------------------------------------------------------ */

static void test_refuses_empty_and_non_maps(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_decode(r, NULL, 0), -1);
    assert_error_has(r, "empty");
    nf_record_destroy(&r);
    REFUSE("", "empty");
    REFUSE("\x91\x01", "array");
    REFUSE("\x05", "int");
    REFUSE("\xcd\x01\x00", "int");
    REFUSE("\xa1x", "str");
    REFUSE("\xc0", "nil");
    REFUSE("\xc3", "bool");
    REFUSE("\xcb\x40\x09\x21\xfb\x54\x44\x2d\x18", "float");
}

/* A record with nested values and long strings, so that prefixes end inside every kind of
 * object and at every boundary between keys and values. */
static struct nf_buf truncation_subject(void)
{
    struct nf_record *r = rec_new();
    fill_all(r);
    char longs[300];
    memset(longs, 'z', sizeof(longs) - 1);
    longs[sizeof(longs) - 1] = '\0';
    assert_int_equal(nf_record_set_cstr(r, NF_F_TEXT, longs), 0);
    struct nf_buf full = encode(r);
    nf_record_destroy(&r);
    return full;
}

static void test_refuses_every_truncation(void **state)
{
    (void)state;
    struct nf_buf full = truncation_subject();
    for (size_t n = 0; n < full.len; n++) {
        struct nf_record *d = rec_new();
        uint8_t *in = dup_exact(full.data, n);
        if (nf_record_decode(d, in, n) != -1)
            fail_msg("prefix of %zu of %zu bytes was accepted", n, full.len);
        if (!nf_record_error(d)[0])
            fail_msg("prefix of %zu bytes refused without a reason", n);
        free(in);
        nf_record_destroy(&d);
    }
    nf_buf_free(&full);
}

static void test_truncation_is_called_truncation(void **state)
{
    (void)state;
    /* Cut exactly between a value and the next key, the record used to be reported as having
     * a key that "is not a string", which sends whoever reads the dead letter the wrong way. */

    struct nf_buf full = truncation_subject();
    for (size_t n = 0; n < full.len; n++) {
        struct nf_record *d = rec_new();
        uint8_t *in = dup_exact(full.data, n);
        assert_int_equal(nf_record_decode(d, in, n), -1);
        const char *e = nf_record_error(d);
        if (!strstr(e, "truncated") && !strstr(e, "empty") && !strstr(e, "declares"))
            fail_msg("prefix of %zu bytes: reason \"%s\" does not say it is cut short", n, e);
        free(in);
        nf_record_destroy(&d);
    }
    nf_buf_free(&full);
}

static void test_refuses_trailing_bytes(void **state)
{
    (void)state;
    struct nf_buf a = full_record();
    assert_int_equal(nf_buf_append(&a, "\xc0", 1), 0);
    expect_refused(a.data, a.len, "after");
    assert_int_equal(nf_buf_append(&a, a.data, a.len - 1), 0); /* two records back to back */
    expect_refused(a.data, a.len, "after");
    nf_buf_free(&a);
}

static void test_refuses_bad_keys_and_types(void **state)
{
    (void)state;
    REFUSE("\x81\x01\xa1x", "not a string");          /* {1: "x"} */
    REFUSE("\x81\xc4\x01x\x01", "not a string");      /* {bin "x": 1} */
    REFUSE("\x81\x91\xa1x\x01", "not a string");      /* {["x"]: 1} */
    REFUSE("\x82\xa5title\xa1" "a\xa5title\xa1" "b", "duplicate");
    REFUSE("\x82\xa5title\xa1" "a\xa5title\xa1" "b", "title");
    REFUSE("\x81\xa5title\x07", "title");             /* title: 7 */
    REFUSE("\x81\xa7" "attempt\xa1" "1", "attempt"); /* attempt: "1" */
    REFUSE("\x81\xa6source\x91\xa1x", "source");     /* source: ["x"] */
    REFUSE("\x81\xa8" "entities\x80", "entities");   /* entities: {} */
    REFUSE("\x81\xa3raw\xc3", "raw");                 /* raw: true */
    REFUSE("\x81\xa5trace\xa0", "trace");             /* trace: "" */
    REFUSE("\x81\xa1v\x02", "version");               /* v: 2 */
    REFUSE("\x81\xa1v\x02", "2");
    REFUSE("\x81\xa1v\xff", "version");               /* v: -1 */

    /* a nil known field is absent, not an error */
    struct nf_record *r = rec_new();
    assert_int_equal(nf_record_decode(r, "\x82\xa5title\xc0\xa1v\x01", 11), 0);
    assert_false(nf_record_has(r, NF_F_TITLE));
    nf_record_destroy(&r);
}

/* n nested one-element arrays around the integer 1, as the value of key "x". */
static uint8_t *nested_record(size_t n, size_t *len_out)
{
    uint8_t *p = malloc(n + 4);
    assert_non_null(p);
    p[0] = 0x81;
    p[1] = 0xa1;
    p[2] = 'x';
    memset(p + 3, 0x91, n);
    p[n + 3] = 0x01;
    *len_out = n + 4;
    return p;
}

static void test_nesting_limit(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    size_t n;
    /* the record map itself is the first of NF_RECORD_MAX_DEPTH levels (as msgpack-c counts) */
    uint8_t *p = nested_record(NF_RECORD_MAX_DEPTH - 1, &n);
    assert_int_equal(nf_record_decode(r, p, n), 0);
    struct nf_buf b = encode(r); /* and it travels on unchanged */
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, p, n);
    nf_buf_free(&b);
    free(p);

    p = nested_record(NF_RECORD_MAX_DEPTH, &n);
    assert_int_equal(nf_record_decode(r, p, n), -1);
    assert_error_has(r, "deeper");
    free(p);

    /* far deeper than any stack would take if the scanner recursed */
    p = nested_record(1000000, &n);
    assert_int_equal(nf_record_decode(r, p, n), -1);
    assert_error_has(r, "deeper");
    free(p);

    /* a lower limit set by the stage */
    nf_record_set_limits(r, NF_RECORD_MAX_BYTES, 4);
    p = nested_record(3, &n);
    assert_int_equal(nf_record_decode(r, p, n), 0);
    free(p);
    p = nested_record(4, &n);
    assert_int_equal(nf_record_decode(r, p, n), -1);
    assert_error_has(r, "4");
    free(p);

    /* maps count as nesting too: {"x": {"a": {"a": ... 1}}} */
    nf_record_set_limits(r, NF_RECORD_MAX_BYTES, 4); /* the record map and three more */
    const uint8_t maps3[] = {0x81, 0xa1, 'x', 0x81, 0xa1, 'a', 0x81, 0xa1, 'a', 0x81, 0xa1, 'a',
                             0x01};
    const uint8_t maps4[] = {0x81, 0xa1, 'x', 0x81, 0xa1, 'a', 0x81, 0xa1, 'a', 0x81, 0xa1, 'a',
                             0x81, 0xa1, 'a', 0x01};
    assert_int_equal(nf_record_decode(r, maps3, sizeof(maps3)), 0);
    assert_int_equal(nf_record_decode(r, maps4, sizeof(maps4)), -1);
    assert_error_has(r, "deeper");
    nf_record_destroy(&r);
}

static void test_empty_container_counts_as_a_level(void **state)
{
    /* The scanner counted a level only for non-empty containers, so a value of
     * NF_RECORD_MAX_DEPTH + 1 nested arrays whose innermost one is empty was accepted. */

    (void)state;
    struct nf_record *r = rec_new();
    size_t n;
    /* the record map, NF_RECORD_MAX_DEPTH - 1 one-element arrays and an empty one: one level
     * too many */
    uint8_t *p = nested_record(NF_RECORD_MAX_DEPTH - 1, &n);
    p[n - 1] = 0x90;
    assert_int_equal(nf_record_decode(r, p, n), -1);
    assert_error_has(r, "deeper");
    free(p);
    nf_record_destroy(&r);
}

static void test_huge_declared_counts_fail_fast(void **state)
{
    (void)state;
    /* Each declares billions of entries or bytes in a few bytes. The decoder must compare the
     * count with what is left before looping or allocating. */
    REFUSE("\xdf\xff\xff\xff\xff\xa1" "a\x01", "4294967295");
    REFUSE("\xde\xff\xff\xa1" "a\x01", "65535");
    REFUSE("\x81\xa1x\xdd\xff\xff\xff\xff\x01", "x");     /* array32 */
    REFUSE("\x81\xa1x\xdf\xff\xff\xff\xff\x01\x01", "x"); /* map32 */
    REFUSE("\x81\xa1x\xdb\xff\xff\xff\xff" "a", "x");     /* str32 */
    REFUSE("\x81\xa1x\xc6\xff\xff\xff\xff" "a", "x");     /* bin32 */
    REFUSE("\x81\xa1x\xc9\xff\xff\xff\xff\x01" "a", "x"); /* ext32 */
    REFUSE("\x81\xa5title\xdb\xff\xff\xff\xff" "abc", "title");
    REFUSE("\x81\xdb\xff\xff\xff\xff" "abc\x01", NULL); /* key str32 */
    /* nested: an array of 16 arrays each declaring 2^32-1 elements */
    uint8_t nest[6 + 16 * 5];
    memcpy(nest, "\x81\xa1x\xdc\x00\x10", 6);
    for (int i = 0; i < 16; i++)
        memcpy(nest + 6 + 5 * i, "\xdd\xff\xff\xff\xff", 5);
    expect_refused(nest, sizeof(nest), "x");
}

static void test_size_limit(void **state)
{
    (void)state;
    struct nf_buf a = full_record();
    struct nf_record *r = rec_new();
    nf_record_set_limits(r, a.len - 1, NF_RECORD_MAX_DEPTH);
    assert_int_equal(nf_record_decode(r, a.data, a.len), -1);
    assert_error_has(r, "exceeds");
    char num[32];
    snprintf(num, sizeof(num), "%zu", a.len - 1);
    assert_error_has(r, num);
    nf_record_set_limits(r, a.len, NF_RECORD_MAX_DEPTH);
    assert_int_equal(nf_record_decode(r, a.data, a.len), 0);
    check_all(r);
    nf_buf_free(&a);
    nf_record_destroy(&r);
}

static void test_refuses_reserved_byte(void **state)
{
    (void)state;
    REFUSE("\xc1", NULL);
    REFUSE("\x81\xa1x\xc1", "x");
    REFUSE("\x81\xa1x\x92\x01\xc1", "x");
    REFUSE("\x81\xc1\x01", "not a string");
    REFUSE("\x81\xa5title\xc1", "title");
}

static void test_int_out_of_range(void **state)
{
    (void)state;
    /* attempt: 2^63 (uint64) does not fit int64 */
    REFUSE("\x81\xa7" "attempt\xcf\x80\x00\x00\x00\x00\x00\x00\x00", "attempt");
    REFUSE("\x81\xa3seq\xcf\xff\xff\xff\xff\xff\xff\xff\xff", "seq");
    /* INT64_MAX as uint64 and INT64_MIN as int64 are in range */
    struct nf_record *r = rec_new();
    int64_t v;
    assert_int_equal(
        nf_record_decode(r, "\x81\xa3seq\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 14), 0);
    assert_int_equal(nf_record_int(r, NF_F_SEQ, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(
        nf_record_decode(r, "\x81\xa3seq\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 14), 0);
    assert_int_equal(nf_record_int(r, NF_F_SEQ, &v), 0);
    assert_true(v == INT64_MIN);
    /* in an unknown key, any integer is fine: it is not read */
    assert_int_equal(
        nf_record_decode(r, "\x81\xa1x\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 12), 0);
    nf_record_destroy(&r);
}

/* ---- streams of records (batches) ---------------------------------------------------- */

static void test_decode_next_walks_a_batch(void **state)
{
    (void)state;
    /* three records of different sizes back to back, as a batch travels between stages */
    struct nf_record *w = rec_new();
    struct nf_buf batch = {0};
    size_t ends[3];
    for (int i = 0; i < 3; i++) {
        nf_record_reset(w);
        assert_int_equal(nf_record_set_strf(w, NF_F_TITLE, "record %d", i), 0);
        char body[700];
        memset(body, 'a' + i, sizeof(body));
        assert_int_equal(nf_record_set_str(w, NF_F_TEXT, body, (size_t)(100 + 250 * i)), 0);
        assert_int_equal(nf_record_encode(w, &batch), 0);
        ends[i] = batch.len;
    }
    nf_record_destroy(&w);

    struct nf_record *r = rec_new();
    /* a limit above each record but below the whole batch: each record is judged alone */
    nf_record_set_limits(r, ends[2] - ends[1] + 10, NF_RECORD_MAX_DEPTH);
    uint8_t *in = dup_exact(batch.data, batch.len);
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        size_t used = 0;
        if (nf_record_decode_next(r, in + off, batch.len - off, &used) != 0)
            fail_msg("record %d: %s", i, nf_record_error(r));
        off += used;
        assert_int_equal(off, ends[i]);
        char want[32];
        snprintf(want, sizeof(want), "record %d", i);
        assert_str_field(r, NF_F_TITLE, want);
        size_t n;
        assert_non_null(nf_record_str(r, NF_F_TEXT, &n));
        assert_int_equal(n, 100 + 250 * i);
    }
    assert_int_equal(off, batch.len);
    /* the whole batch is not one record */
    nf_record_set_limits(r, NF_RECORD_MAX_BYTES, NF_RECORD_MAX_DEPTH);
    assert_int_equal(nf_record_decode(r, in, batch.len), -1);
    assert_error_has(r, "after the record");
    free(in);

    /* a batch whose last record is cut short: the first ones decode, the last is refused */
    in = dup_exact(batch.data, batch.len - 5);
    size_t used = 0;
    assert_int_equal(nf_record_decode_next(r, in, batch.len - 5, &used), 0);
    assert_int_equal(used, ends[0]);
    assert_int_equal(nf_record_decode_next(r, in + ends[0], batch.len - 5 - ends[0], &used), 0);
    assert_int_equal(nf_record_decode_next(r, in + ends[1], batch.len - 5 - ends[1], &used), -1);
    assert_error_has(r, "truncated");
    free(in);

    /* a record larger than the limit, inside a longer batch */
    nf_record_set_limits(r, ends[0] + 10, NF_RECORD_MAX_DEPTH);
    assert_int_equal(nf_record_decode_next(r, batch.data, batch.len, &used), 0);
    assert_int_equal(nf_record_decode_next(r, batch.data + ends[1], batch.len - ends[1], &used),
                     -1);
    assert_error_has(r, "exceeds");
    nf_buf_free(&batch);
    nf_record_destroy(&r);
}

static void test_decode_next_reports_the_real_fault(void **state)
{
    /* In a batch longer than the size limit, a small record with a wrong-typed field was
     * reported as "record exceeds the limit": any failure was blamed on the limit whenever
     * the rest of the batch went past it. */

    (void)state;
    struct nf_record *r = rec_new();
    uint8_t batch[64];
    memcpy(batch, "\x81\xa5title\x07", 8); /* {title: 7}, 8 bytes */
    memset(batch + 8, 0x80, sizeof(batch) - 8); /* then empty records */
    nf_record_set_limits(r, 32, NF_RECORD_MAX_DEPTH);
    size_t used;
    assert_int_equal(nf_record_decode_next(r, batch, sizeof(batch), &used), -1);
    assert_error_has(r, "title");
    /* the same record alone, for comparison, is reported right */
    assert_int_equal(nf_record_decode_next(r, batch, 8, &used), -1);
    assert_error_has(r, "title");
    nf_record_destroy(&r);
}

/* ---- reuse ---------------------------------------------------------------------------- */

static void test_reuse_leaks_no_state(void **state)
{
    (void)state;
    struct packed vals[N_UNKNOWN];
    pack_unknown_values(vals);

    /* A: everything, plus an unknown key */
    struct nf_buf a0 = full_record();
    struct nf_buf a = {0};
    assert_int_equal(a0.data[0], 0xde); /* map16: one more entry, appended below */
    a0.data[2] += 1;
    assert_int_equal(nf_buf_append(&a, a0.data, a0.len), 0);
    assert_int_equal(nf_buf_append(&a, "\xa6x-meta", 7), 0);
    assert_int_equal(nf_buf_append(&a, vals[0].data, vals[0].size), 0);

    /* B: a few fields only */
    struct nf_record *w = rec_new();
    assert_int_equal(nf_record_set_cstr(w, NF_F_ID, "bbbb"), 0);
    assert_int_equal(nf_record_set_cstr(w, NF_F_TITLE, "B title"), 0);
    struct nf_buf b = encode(w);
    /* D: other entities and source, no title */
    nf_record_reset(w);
    assert_int_equal(nf_record_set_source(w, "file:///d", NULL), 0);
    assert_int_equal(nf_record_add_entity(w, NF_ENT_ORG, "UN", 9), 0);
    struct nf_buf d = encode(w);
    nf_record_destroy(&w);

    struct nf_record *r = rec_new();
    uint8_t *in_a = dup_exact(a.data, a.len);
    assert_int_equal(nf_record_decode(r, in_a, a.len), 0);
    check_all(r);
    assert_int_equal(nf_record_extra_count(r), 1);
    assert_int_equal(nf_record_set_cstr(r, NF_F_BYLINE, "changed"), 0);
    assert_int_equal(nf_record_trace_append(r, "x", 1, 2), 0);
    assert_non_null(nf_record_scratch(r, 100));

    uint8_t *in_b = dup_exact(b.data, b.len);
    assert_int_equal(nf_record_decode(r, in_b, b.len), 0);
    free(in_a); /* nothing of A may be referenced any more */
    assert_string_equal(nf_record_error(r), "");
    assert_str_field(r, NF_F_ID, "bbbb");
    assert_str_field(r, NF_F_TITLE, "B title");
    for (int f = 0; f < NF_F_COUNT; f++)
        if (f != NF_F_ID && f != NF_F_TITLE && nf_record_has(r, (enum nf_field)f))
            fail_msg("field %s leaked from the previous record", nf_field_name((enum nf_field)f));
    assert_int_equal(nf_record_extra_count(r), 0);
    assert_int_equal(nf_record_entity_count(r), 0);
    assert_int_equal(nf_record_trace_len(r), 0);
    assert_int_equal(nf_record_source(r, NULL, NULL), -1);
    assert_null(nf_record_dateline_place(r));
    struct nf_buf b2 = encode(r);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.data, b.data, b.len);

    /* a failed decode in between */
    assert_int_equal(nf_record_decode(r, "\x81\xa5title\x07", 8), -1);
    assert_true(strlen(nf_record_error(r)) > 0);

    uint8_t *in_d = dup_exact(d.data, d.len);
    assert_int_equal(nf_record_decode(r, in_d, d.len), 0);
    free(in_b);
    assert_string_equal(nf_record_error(r), "");
    assert_false(nf_record_has(r, NF_F_TITLE));
    assert_false(nf_record_has(r, NF_F_ID));
    const char *u = NULL, *k = "stale";
    assert_int_equal(nf_record_source(r, &u, &k), 0);
    assert_string_equal(u, "file:///d");
    assert_null(k);
    assert_int_equal(nf_record_entity_count(r), 1);
    assert_string_equal(nf_record_entity(r, 0)->name, "UN");
    struct nf_buf d2 = encode(r);
    assert_int_equal(d2.len, d.len);
    assert_memory_equal(d2.data, d.data, d.len);
    free(in_d);

    /* reset forgets what was set by hand as well */
    assert_int_equal(nf_record_set_cstr(r, NF_F_TITLE, "x"), 0);
    assert_int_equal(nf_record_trace_append(r, "x", 1, 2), 0);
    assert_int_equal(nf_record_add_entity(r, NF_ENT_ORG, "UN", 9), 0);
    nf_record_reset(r);
    for (int f = 0; f < NF_F_COUNT; f++)
        assert_false(nf_record_has(r, (enum nf_field)f));
    assert_int_equal(nf_record_entity_count(r), 0);
    assert_int_equal(nf_record_trace_len(r), 0);
    struct nf_buf e = encode(r);
    assert_int_equal(e.len, 1);
    assert_int_equal(e.data[0], 0x80);

    for (int i = 0; i < N_UNKNOWN; i++)
        free(vals[i].data);
    nf_buf_free(&a0);
    nf_buf_free(&a);
    nf_buf_free(&b);
    nf_buf_free(&b2);
    nf_buf_free(&d);
    nf_buf_free(&d2);
    nf_buf_free(&e);
    nf_record_destroy(&r);
}

static void test_reuse_many_records(void **state)
{
    (void)state;
    /* One record and one output buffer through a stream whose sizes vary widely, as a stage
     * host uses them: every record reads back as itself. */
    struct nf_record *w = rec_new(), *r = rec_new();
    struct nf_buf out = {0};
    char *body = malloc(200000);
    assert_non_null(body);
    for (int i = 0; i < 400; i++) {
        size_t n = (size_t)(i * 7919) % 200000;
        memset(body, 'a' + i % 26, n);
        nf_record_reset(w);
        assert_int_equal(nf_record_set_strf(w, NF_F_TITLE, "title %d", i), 0);
        assert_int_equal(nf_record_set_str(w, NF_F_TEXT, body, n), 0);
        assert_int_equal(nf_record_set_int(w, NF_F_SEQ, i), 0);
        if (i % 3 == 0)
            assert_int_equal(nf_record_add_entity(w, NF_ENT_PERSON, "P", i), 0);
        out.len = 0;
        assert_int_equal(nf_record_encode(w, &out), 0);
        assert_int_equal(nf_record_decode(r, out.data, out.len), 0);
        char want[32];
        snprintf(want, sizeof(want), "title %d", i);
        assert_str_field(r, NF_F_TITLE, want);
        size_t got;
        const char *t = nf_record_str(r, NF_F_TEXT, &got);
        assert_int_equal(got, n);
        assert_true(n == 0 || (t[0] == 'a' + i % 26 && t[n - 1] == 'a' + i % 26));
        int64_t seq;
        assert_int_equal(nf_record_int(r, NF_F_SEQ, &seq), 0);
        assert_int_equal(seq, i);
        assert_int_equal(nf_record_entity_count(r), i % 3 == 0 ? 1 : 0);
    }
    free(body);
    nf_buf_free(&out);
    nf_record_destroy(&w);
    nf_record_destroy(&r);
}

static void test_scratch(void **state)
{
    (void)state;
    struct nf_record *r = rec_new();
    char *a = nf_record_scratch(r, 10);
    assert_non_null(a);
    memcpy(a, "123456789", 10);
    char *b = nf_record_scratch(r, 1 << 20); /* larger than any chunk so far */
    assert_non_null(b);
    memset(b, 0x5a, 1 << 20);
    assert_string_equal(a, "123456789"); /* earlier scratch is not moved */
    nf_record_reset(r);
    b = nf_record_scratch(r, 1 << 20);
    assert_non_null(b);
    memset(b, 0, 1 << 20);
    nf_record_destroy(&r);
}

static void test_scratch_refuses_impossible_sizes(void **state)
{
    (void)state;
    /* A size computed from bad input must fail, not return a block smaller than asked for
     * (rounding n up to the alignment wrapped around to 0). */

    struct nf_record *r = rec_new();
    assert_null(nf_record_scratch(r, SIZE_MAX));
    assert_null(nf_record_scratch(r, SIZE_MAX - 8));
    assert_null(nf_record_scratch(r, SIZE_MAX - 40));
    assert_null(nf_record_scratch(r, SIZE_MAX / 2 + 1));
    nf_record_destroy(&r);
}

/* ---- ids ------------------------------------------------------------------------------ */

static void test_id_make(void **state)
{
    (void)state;
    char id[33];
    memset(id, 'Z', sizeof(id));
    nf_id_make("file:///x", 9, id);
    assert_int_equal(strlen(id), 32);
    for (int i = 0; i < 32; i++)
        assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
    /* pinned: an id must never change across hosts and versions */
    assert_string_equal(id, "3a9d22517cca33efba8d3f0aff950a65");
    /* and it is XXH3-128, high half first */
    XXH128_hash_t h = XXH3_128bits("file:///x", 9);
    char want[33];
    snprintf(want, sizeof(want), "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
    assert_string_equal(id, want);
    nf_id_make("", 0, id);
    assert_string_equal(id, "99aa06d3014798d86001c324468d497f");

    char id2[33];
    nf_id_make("file:///y", 9, id2);
    assert_string_not_equal(id2, "3a9d22517cca33efba8d3f0aff950a65");
    nf_id_make("file:///x", 8, id2); /* only n bytes count */
    assert_string_not_equal(id2, "3a9d22517cca33efba8d3f0aff950a65");
    nf_id_make("file:///x\0", 10, id2); /* nor does a NUL end the input */
    assert_string_not_equal(id2, "3a9d22517cca33efba8d3f0aff950a65");
    /* small ids keep their leading zeros: every id is 32 digits */
    for (int i = 0; i < 2000; i++) {
        char in[16];
        int n = snprintf(in, sizeof(in), "%d", i);
        nf_id_make(in, (size_t)n, id2);
        assert_int_equal(strlen(id2), 32);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_field),
        cmocka_unit_test(test_reencode_unchanged_is_identical),
        cmocka_unit_test(test_raw_value_of_unchanged_field),
        cmocka_unit_test(test_roundtrip_strings_of_every_length_class),
        cmocka_unit_test(test_str_is_nul_terminated),
        cmocka_unit_test(test_roundtrip_bytes),
        cmocka_unit_test(test_roundtrip_ints),
        cmocka_unit_test(test_source_and_dateline),
        cmocka_unit_test(test_source_keeps_unknown_subkeys_when_unchanged),
        cmocka_unit_test(test_entities_replace_and_append),
        cmocka_unit_test(test_entity_type_names),
        cmocka_unit_test(test_trace_across_two_hops),
        cmocka_unit_test(test_unknown_keys_survive_a_change),
        cmocka_unit_test(test_set_then_unset),
        cmocka_unit_test(test_set_str_replaces),
        cmocka_unit_test(test_wrong_field_kind_is_refused),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_refuses_empty_and_non_maps),
        cmocka_unit_test(test_refuses_every_truncation),
        cmocka_unit_test(test_truncation_is_called_truncation),
        cmocka_unit_test(test_refuses_trailing_bytes),
        cmocka_unit_test(test_refuses_bad_keys_and_types),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_empty_container_counts_as_a_level),
        cmocka_unit_test(test_huge_declared_counts_fail_fast),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_refuses_reserved_byte),
        cmocka_unit_test(test_int_out_of_range),
        cmocka_unit_test(test_decode_next_walks_a_batch),
        cmocka_unit_test(test_decode_next_reports_the_real_fault),
        cmocka_unit_test(test_reuse_leaks_no_state),
        cmocka_unit_test(test_reuse_many_records),
        cmocka_unit_test(test_scratch),
        cmocka_unit_test(test_scratch_refuses_impossible_sizes),
        cmocka_unit_test(test_id_make),
        cmocka_unit_test(test_field_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
