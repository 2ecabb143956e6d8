/* libFuzzer target for clean_text (plugins/clean_text/clean_text.c, compiled in): arbitrary
 * bytes as an article's text (valid UTF-8 or not: the plugin repairs windows-1252 and mojibake),
 * with or without a title the record already has, through the plugin's own process(). Whatever
 * the bytes: the plugin answers NF_OK with a text of valid UTF-8 that is not longer than it may
 * grow (windows-1252 to UTF-8 at most triples), or an error with a reason; nothing leaks. The
 * few context calls a filter makes are answered here (the host is not linked in). Input: byte
 * 0 picks whether a title is set and the content type, the rest is the text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "newsflow/plugin.h"
#include "fuzz_utf8.h"
#include "newsflow/record.h"
#include "options.h"

#define FUZZ_NAME "fuzz_clean_text"
#include "fuzz_ctx.h"

extern const struct nf_plugin nf_plugin;

static void *state;
static struct nf_ctx ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!state)
        CHECK(nf_plugin.init(&ctx, fuzz_conf_defaults(&nf_plugin), &state) == NF_OK, "init: %s",
              ctx.error);
    uint8_t opt = data[0];
    struct nf_record *rec = nf_record_new();
    CHECK(rec != NULL, "out of memory");
    nf_record_set_cstr(rec, NF_F_ID, "0123456789abcdef0123456789abcdef");
    nf_record_set_str(rec, NF_F_TEXT, (const char *)data + 1, size - 1);
    if (opt & 1)
        nf_record_set_cstr(rec, NF_F_TITLE, "Mali, Burkina Faso and Niger sign Sahel pact");
    if (opt & 2)
        nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain; charset=windows-1252");
    ctx.error[0] = '\0';
    int rc = nf_plugin.process(state, &ctx, rec);
    if (rc == NF_OK) {
        size_t n;
        const char *t = nf_record_str(rec, NF_F_TEXT, &n);
        if (t) {
            CHECK(fuzz_valid_utf8(t, n), "text out is not UTF-8");
            CHECK(n <= 3 * (size - 1) + 16, "text grew from %zu to %zu bytes", size - 1, n);
        }
        static const enum nf_field fields[] = {NF_F_TITLE, NF_F_BYLINE, NF_F_OUTLET,
                                               NF_F_PUBLISHED_AT};
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            const char *v = nf_record_str(rec, fields[i], &n);
            if (v)
                CHECK(fuzz_valid_utf8(v, n), "field %zu is not UTF-8", i);
        }
    } else {
        CHECK(rc == NF_ERR || rc == NF_SKIP, "process returned %d", rc);
        CHECK(rc != NF_ERR || ctx.error[0], "an error without a reason");
    }
    nf_record_destroy(&rec);
    return 0;
}
