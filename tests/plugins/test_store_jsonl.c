/* store_jsonl through its descriptor: every line parses back (jansson) with the schema's keys in
 * order, entities, trace and unknown keys of every msgpack type are kept, raw is base64 only when
 * asked, bad UTF-8 never breaks a line, and append/truncate behave as configured; corrections of
 * earlier verdicts follow their record's line on a line of their own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mock_core.h"
/* corrections as dedup and story write them (compiled in, as into the plugins) */
#include "../../plugins/dedup/amend.c"

static char out_path[512];

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A record as the previous stage would send it, with keys this build does not know. */
static void decode_with_extras(struct nf_record *rec, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
    pack_str(&pk, "v");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "id");
    pack_str(&pk, "0123456789abcdef0123456789abcdef");
    pack_str(&pk, "x_score");
    msgpack_pack_double(&pk, 0.75);
    pack_str(&pk, "x_tags");
    msgpack_pack_array(&pk, 3);
    pack_str(&pk, "sahel");
    msgpack_pack_int64(&pk, -42);
    msgpack_pack_nil(&pk);
    pack_str(&pk, "x_meta");
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    pack_str(&pk, "big");
    msgpack_pack_uint64(&pk, 1234567890123ULL);
    msgpack_pack_int(&pk, 7); /* a non-string key */
    pack_str(&pk, "seven");
    pack_str(&pk, "x_bin");
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "\x00\x01\xff", 3);
    pack_str(&pk, "x_nil");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "x_empty"); /* an empty string: msgpack gives it no pointer */
    pack_str(&pk, "");
    assert_int_equal(nf_record_decode(rec, sb->data, sb->size), 0);
}

static int read_lines(json_t **out, int max)
{
    FILE *f = fopen(out_path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        assert_true(n < max);
        json_error_t err;
        out[n] = json_loads(line, 0, &err);
        if (!out[n])
            fail_msg("line %d does not parse: %s: %s", n + 1, err.text, line);
        n++;
    }
    free(line);
    fclose(f);
    return n;
}

static void test_writes_records_as_json_lines(void **state)
{
    (void)state;
    const char *opts[] = {out_path, "append=false", "include_raw=true", NULL};
    char popt[600];
    snprintf(popt, sizeof(popt), "path=%s", out_path);
    opts[0] = popt;
    struct mock_plugin *mp = mock_plugin_new("store_jsonl", opts);
    assert_non_null(mp);
    assert_int_equal(mock_desc(mp)->kind, NF_PLUGIN_SINK);

    struct nf_record *rec = nf_record_new();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    decode_with_extras(rec, &sb);
    assert_int_equal(nf_record_set_source(rec, "file:///data/news/003_d827aa3b829ea74b.txt",
                                          "file"), 0);
    nf_record_set_cstr(rec, NF_F_FETCHED_AT, "2024-05-01T10:00:00Z");
    nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain");
    nf_record_set_cstr(rec, NF_F_TEXT, "BAMAKO, Mali — Colonel Goïta spoke.\n\"Quoted\" text.");
    nf_record_set_cstr(rec, NF_F_TITLE, "Sahel states sign pact");
    nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, "2023-11-06");
    nf_record_set_dateline(rec, "Bamako");
    nf_record_set_cstr(rec, NF_F_LANG, "en");
    nf_record_add_entity(rec, NF_ENT_PLACE, "Bamako", 2);
    nf_record_add_entity(rec, NF_ENT_PERSON, "Assimi Goïta", 1);
    nf_record_set_cstr(rec, NF_F_DUP_OF, "fedcba9876543210fedcba9876543210");
    nf_record_set_bytes(rec, NF_F_RAW, "hello\0world", 11);
    nf_record_set_int(rec, NF_F_SEQ, 99); /* transport bookkeeping: not exported */
    nf_record_trace_append(rec, "fetch", 0, 1000);
    assert_int_equal(mock_roundtrip(rec), 0);
    /* One hop as received, one added by this stage. */
    nf_record_trace_append(rec, "store", 1, 2000);
    assert_int_equal(mock_process(mp, rec), NF_OK);

    /* A second record with bytes that are not UTF-8 in its text. */
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, "11111111111111111111111111111111");
    nf_record_set_source(rec, "file:///data/news/x.txt.gz", "file");
    nf_record_set_cstr(rec, NF_F_TEXT, "caf\xe9 au lait");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    /* A third, after a run of ASCII: an overlong form, a surrogate, a character past the
     * three-byte range, and a sequence cut short at the end. */
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, "22222222222222222222222222222222");
    nf_record_set_cstr(rec, NF_F_TEXT,
                       "0123456789abcdef\xC0\xAF|\xED\xA0\x80|\xF0\x9F\x93\xB0|end\xE2\x82");
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);

    json_t *lines[8];
    int n = read_lines(lines, 8);
    assert_int_equal(n, 3);
    json_t *a = lines[0];

    /* The schema's keys in schema order, then the unknown ones in arrival order. */
    static const char *const order[] = {
        "v",        "id",     "source", "fetched_at", "content_type", "text",  "title",
        "published_at", "dateline", "lang", "entities", "dup_of", "trace", "raw",
        "x_score",  "x_tags", "x_meta", "x_bin", "x_nil", "x_empty"};
    size_t k = 0;
    for (void *it = json_object_iter(a); it; it = json_object_iter_next(a, it), k++) {
        assert_true(k < sizeof(order) / sizeof(*order));
        assert_string_equal(json_object_iter_key(it), order[k]);
    }
    assert_int_equal(k, sizeof(order) / sizeof(*order));

    assert_int_equal(json_integer_value(json_object_get(a, "v")), 1);
    assert_string_equal(json_string_value(json_object_get(a, "id")),
                        "0123456789abcdef0123456789abcdef");
    json_t *src = json_object_get(a, "source");
    assert_string_equal(json_string_value(json_object_get(src, "uri")),
                        "file:///data/news/003_d827aa3b829ea74b.txt");
    assert_string_equal(json_string_value(json_object_get(src, "kind")), "file");
    assert_string_equal(json_string_value(json_object_get(a, "text")),
                        "BAMAKO, Mali — Colonel Goïta spoke.\n\"Quoted\" text.");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(a, "dateline"), "place")), "Bamako");

    json_t *ents = json_object_get(a, "entities");
    assert_int_equal(json_array_size(ents), 2);
    json_t *e1 = json_array_get(ents, 1);
    assert_string_equal(json_string_value(json_object_get(e1, "type")), "person");
    assert_string_equal(json_string_value(json_object_get(e1, "name")), "Assimi Goïta");
    assert_int_equal(json_integer_value(json_object_get(e1, "mentions")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(ents, 0), "mentions")),
                     2);

    json_t *trace = json_object_get(a, "trace");
    assert_int_equal(json_array_size(trace), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(trace, 0), "stage")),
                        "fetch");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(trace, 0), "t")), 1000);
    assert_string_equal(json_string_value(json_object_get(json_array_get(trace, 1), "stage")),
                        "store");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(trace, 1), "w")), 1);

    assert_string_equal(json_string_value(json_object_get(a, "raw")), "aGVsbG8Ad29ybGQ=");
    assert_null(json_object_get(a, "seq"));

    /* Unknown keys, every msgpack type converted. */
    assert_true(json_real_value(json_object_get(a, "x_score")) == 0.75);
    json_t *tags = json_object_get(a, "x_tags");
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "sahel");
    assert_int_equal(json_integer_value(json_array_get(tags, 1)), -42);
    assert_true(json_is_null(json_array_get(tags, 2)));
    json_t *meta = json_object_get(a, "x_meta");
    assert_true(json_is_true(json_object_get(meta, "ok")));
    assert_int_equal(json_integer_value(json_object_get(meta, "big")), 1234567890123LL);
    assert_string_equal(json_string_value(json_object_get(meta, "7")), "seven");
    assert_string_equal(json_string_value(json_object_get(a, "x_bin")), "AAH/");
    assert_true(json_is_null(json_object_get(a, "x_nil")));
    assert_string_equal(json_string_value(json_object_get(a, "x_empty")), "");

    /* Bad UTF-8 is repaired, not passed on and not a reason to lose the line. */
    assert_string_equal(json_string_value(json_object_get(lines[1], "text")),
                        "caf\xef\xbf\xbd au lait");
    assert_string_equal(json_string_value(json_object_get(lines[2], "text")),
                        "0123456789abcdef\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|"
                        "\xF0\x9F\x93\xB0|end\xEF\xBF\xBD\xEF\xBF\xBD");
    assert_null(json_object_get(lines[1], "trace"));
    assert_null(json_object_get(lines[1], "raw"));

    for (int i = 0; i < n; i++)
        json_decref(lines[i]);
    msgpack_sbuffer_destroy(&sb);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void write_one(const char *append, const char *id)
{
    char popt[600];
    snprintf(popt, sizeof(popt), "path=%s", out_path);
    const char *opts[] = {popt, append, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_jsonl", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, id);
    nf_record_set_source(rec, "file:///x/a.txt", "file");
    nf_record_set_bytes(rec, NF_F_RAW, "not written", 11);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_append_and_truncate(void **state)
{
    (void)state;
    json_t *lines[8];
    write_one("append=false", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    write_one("append=true", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    int n = read_lines(lines, 8);
    assert_int_equal(n, 2);
    assert_string_equal(json_string_value(json_object_get(lines[1], "id")),
                        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    /* raw is left out unless include_raw. */
    assert_null(json_object_get(lines[0], "raw"));
    for (int i = 0; i < n; i++)
        json_decref(lines[i]);

    write_one("append=false", "cccccccccccccccccccccccccccccccc");
    n = read_lines(lines, 8);
    assert_int_equal(n, 1);
    assert_string_equal(json_string_value(json_object_get(lines[0], "id")),
                        "cccccccccccccccccccccccccccccccc");
    json_decref(lines[0]);
}

static void test_corrections_get_a_line_of_their_own(void **state)
{
    (void)state;
    static const char C[] = "cccccccccccccccccccccccccccccccc";
    static const char B[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    char popt[600];
    snprintf(popt, sizeof(popt), "path=%s", out_path);
    const char *opts[] = {popt, "append=false", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_jsonl", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, C);
    nf_record_set_cstr(rec, NF_F_STORY_ID, C);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    /* B was read before C and arrived after it: C is its copy, the story is B's */
    nf_record_reset(rec);
    nf_record_set_cstr(rec, NF_F_ID, B);
    nf_record_set_cstr(rec, NF_F_STORY_ID, B);
    struct nf_amend am = {0};
    const char *why;
    assert_int_equal(nf_amend_add(&am, NF_AMEND_DUP_OF, C, B), 0);
    assert_int_equal(nf_amend_add(&am, NF_AMEND_STORY_ID, C, B), 0);
    assert_int_equal(nf_amend_apply(&am, rec, &why), 0);
    assert_int_equal(mock_process(mp, rec), NF_OK);
    assert_int_equal(mock_flush(mp), NF_OK);
    json_t *lines[8];
    int n = read_lines(lines, 8);
    assert_int_equal(n, 3);
    assert_string_equal(json_string_value(json_object_get(lines[1], "id")), B);
    assert_null(json_object_get(lines[1], "amend"));
    assert_int_equal(json_object_size(lines[2]), 1);
    json_t *fix = json_object_get(lines[2], "amend");
    assert_string_equal(json_string_value(json_object_get(json_object_get(fix, "dup_of"), C)), B);
    assert_string_equal(json_string_value(json_object_get(json_object_get(fix, "story_id"), C)),
                        B);
    for (int i = 0; i < n; i++)
        json_decref(lines[i]);
    nf_amend_free(&am);
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

static void test_unwritable_path_fails_init(void **state)
{
    (void)state;
    /* a directory that cannot be: /dev/null is a file */
    const char *opts[] = {"path=/dev/null/out.jsonl", NULL};
    assert_null(mock_plugin_new("store_jsonl", opts));
    assert_non_null(strstr(mock_last_error(), "cannot open /dev/null/out.jsonl"));
    /* the error names the option, so that the operator knows which key to fix */
    assert_non_null(strstr(mock_last_error(), "option path"));
}

/* A file in directories that are not there yet: they are made (the table says NF_OPT_MKDIR,
 * which is what `check` relies on). */
static void test_missing_directory_is_made(void **state)
{
    (void)state;
    char dir[600], file[700], opt[720];
    snprintf(dir, sizeof(dir), "%s/made/below", mock_state_dir());
    snprintf(file, sizeof(file), "%s/out.jsonl", dir);
    snprintf(opt, sizeof(opt), "path=%s", file);
    const char *opts[] = {opt, NULL};
    struct mock_plugin *mp = mock_plugin_new("store_jsonl", opts);
    assert_non_null(mp);
    mock_plugin_destroy(&mp);
    assert_int_equal(access(file, F_OK), 0);
    unlink(file);
    rmdir(dir);
    snprintf(dir, sizeof(dir), "%s/made", mock_state_dir());
    rmdir(dir);
}

/* An empty path is refused by the option table, before init. */
static void test_empty_path_is_refused(void **state)
{
    (void)state;
    const char *opts[] = {"path=", NULL};
    assert_null(mock_plugin_new("store_jsonl", opts));
    assert_string_equal(mock_last_error(), "option 'path' must not be empty");
}

/* A full disk is said as such, with the file and the option (/dev/full answers every write
 * with ENOSPC). */
static void test_full_disk_is_said(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0) {
        skip();
        return;
    }
    const char *opts[] = {"path=/dev/full", NULL};
    struct mock_plugin *mp = mock_plugin_new("store_jsonl", opts);
    assert_non_null(mp);
    struct nf_record *rec = nf_record_new();
    nf_record_set_cstr(rec, NF_F_ID, "dddddddddddddddddddddddddddddddd");
    nf_record_set_source(rec, "file:///x/a.txt", "file");
    assert_int_equal(mock_process(mp, rec), NF_OK); /* buffered */
    assert_int_equal(mock_flush(mp), NF_ERR);
    print_message("%s\n", mock_last_error());
    assert_non_null(strstr(mock_last_error(), "/dev/full"));
    assert_non_null(strstr(mock_last_error(), "the disk is full"));
    assert_non_null(strstr(mock_last_error(), "option path"));
    nf_record_destroy(&rec);
    mock_plugin_destroy(&mp);
}

int main(void)
{
    snprintf(out_path, sizeof(out_path), "%s/out.jsonl", mock_state_dir());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_records_as_json_lines),
        cmocka_unit_test(test_append_and_truncate),
        cmocka_unit_test(test_corrections_get_a_line_of_their_own),
        cmocka_unit_test(test_unwritable_path_fails_init),
        cmocka_unit_test(test_missing_directory_is_made),
        cmocka_unit_test(test_empty_path_is_refused),
        cmocka_unit_test(test_full_disk_is_said),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(out_path);
    rmdir(mock_state_dir());
    return rc;
}
