/* Writes the seed corpus of fuzz_record: a few valid records that together hold every field,
 * unknown keys of every msgpack type, a multi-hop trace and the smallest record. Run it (built
 * with -DNF_FUZZ=ON) as `gen_record_corpus tests/fuzz/corpus/record` when the schema grows. */
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsflow/record.h"

static int save(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

static int save_record(const char *dir, const char *name, struct nf_record *r)
{
    struct nf_buf b = {0};
    int rc = nf_record_encode(r, &b) == 0 ? save(dir, name, b.data, b.len) : -1;
    nf_buf_free(&b);
    return rc;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    struct nf_record *r = nf_record_new();
    if (!r)
        return 1;
    int rc = 0;
    char id[33];

    /* every field */
    nf_id_make("file:///sample/000.txt", 22, id);
    nf_record_set_int(r, NF_F_V, NF_RECORD_VERSION);
    nf_record_set_cstr(r, NF_F_ID, id);
    nf_record_set_source(r, "file:///sample/000.txt", "file");
    nf_record_set_cstr(r, NF_F_FETCHED_AT, "2026-01-02T03:04:05.678Z");
    nf_record_set_cstr(r, NF_F_CONTENT_TYPE, "text/plain");
    nf_record_set_bytes(r, NF_F_RAW, "BAMAKO, Mali \xe2\x80\x94 The body.\x00\x01", 28);
    nf_record_set_cstr(r, NF_F_TEXT, "BAMAKO, Mali \xe2\x80\x94 The body.");
    nf_record_set_cstr(r, NF_F_TITLE, "Go\xc3\xafta speaks");
    nf_record_set_cstr(r, NF_F_BYLINE, "By A. Reporter");
    nf_record_set_cstr(r, NF_F_OUTLET, "Example Wire");
    nf_record_set_cstr(r, NF_F_PUBLISHED_AT, "2026-01-01");
    nf_record_set_dateline(r, "BAMAKO");
    nf_record_set_cstr(r, NF_F_LANG, "en");
    nf_record_add_entity(r, NF_ENT_PERSON, "Assimi Go\xc3\xafta", 3);
    nf_record_add_entity(r, NF_ENT_PLACE, "Bamako", 1);
    nf_record_set_bytes(r, NF_F_MINHASH, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    nf_record_set_cstr(r, NF_F_DUP_OF, id);
    nf_record_set_cstr(r, NF_F_STORY_ID, "story-1");
    nf_record_set_cstr(r, NF_F_URL, "https://example.org/a");
    nf_record_trace_append(r, "fetch", 0, 1767225600000);
    nf_record_set_int(r, NF_F_ATTEMPT, 1);
    nf_record_set_cstr(r, NF_F_ACK_TO, "tcp://127.0.0.1:5555");
    nf_record_set_int(r, NF_F_SEQ, 4294967296);
    rc |= save_record(dir, "full.bin", r);

    /* the smallest useful record, and a trace of three hops */
    nf_record_reset(r);
    nf_record_set_int(r, NF_F_V, NF_RECORD_VERSION);
    nf_record_set_cstr(r, NF_F_ID, id);
    rc |= save_record(dir, "minimal.bin", r);
    nf_record_trace_append(r, "fetch", 0, 1);
    nf_record_trace_append(r, "clean", 3, -1);
    nf_record_trace_append(r, "extract", 12, INT64_MAX);
    nf_record_set_int(r, NF_F_ATTEMPT, INT64_MIN);
    rc |= save_record(dir, "trace.bin", r);

    /* unknown keys with nested values of every msgpack type */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pk_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "title");
    pk_str(&pk, "t");
    pk_str(&pk, "x-meta");
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "a");
    msgpack_pack_array(&pk, 6);
    msgpack_pack_double(&pk, 3.25);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int64(&pk, INT64_MIN);
    pk_str(&pk, "b");
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "c");
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "\x00\xc1\xff", 3);
    pk_str(&pk, "x-ext");
    msgpack_pack_ext(&pk, 5, 7);
    msgpack_pack_ext_body(&pk, "abcde", 5);
    pk_str(&pk, "entities");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 3);
    pk_str(&pk, "type");
    pk_str(&pk, "org");
    pk_str(&pk, "name");
    pk_str(&pk, "ECOWAS");
    pk_str(&pk, "mentions");
    msgpack_pack_int(&pk, 2);
    rc |= save(dir, "unknown.bin", sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);

    rc |= save(dir, "empty.bin", "\x80", 1);
    nf_record_destroy(&r);
    return rc ? 1 : 0;
}
