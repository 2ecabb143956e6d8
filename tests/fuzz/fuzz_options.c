/* libFuzzer target for option values (core/options.c): arbitrary text, given as each value kind
 * to each option type, with an error buffer of arbitrary size. A value is either stored as
 * what it says, or refused with a terminated message that fits the buffer; nothing is written
 * outside the option's member. Input: byte 0 picks option and kind, byte 1 the base directory
 * and the error buffer's size, the rest is the text. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define FUZZ_NAME "fuzz_options"
#include "fuzz_check.h"

struct conf {
    int64_t before;
    union {
        const char *s;
        int64_t i;
        double d;
        bool b;
    } v;
    int64_t after;
};

static const enum nf_opt_type types[] = {NF_OPT_STRING, NF_OPT_PATH,  NF_OPT_INT,
                                         NF_OPT_DOUBLE, NF_OPT_BOOL,  NF_OPT_SIZE};
#define N_TYPES (sizeof(types) / sizeof(types[0]))
#define N_KINDS 5
#define GUARD 0x5a5a5a5a5a5a5a5aLL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum nf_opt_type type = types[data[0] % N_TYPES];
    enum nf_valkind kind = (enum nf_valkind)(data[0] / N_TYPES % N_KINDS);
    const char *base = data[1] & 1 ? "/etc/newsflow" : NULL;
    size_t errlen = 1 + (data[1] >> 1);
    char *text = malloc(size - 1);
    char *err = malloc(errlen); /* exactly errlen: ASan sees any write past it */
    CHECK(text && err, "out of memory");
    memcpy(text, data + 2, size - 2);
    text[size - 2] = '\0';

    const struct nf_option opt = {"fuzzed", type, NULL, offsetof(struct conf, v), "fuzz"};
    struct conf c = {.before = GUARD, .after = GUARD};
    struct nf_strpool *pool = nf_strpool_new();
    CHECK(pool, "out of memory");
    int rc = nf_option_set(&opt, &c, kind, text, base, pool, err, errlen);
    CHECK(c.before == GUARD && c.after == GUARD, "wrote outside the option's member");
    if (rc == 0) {
        int64_t sz;
        switch (type) {
        case NF_OPT_STRING:
            CHECK(strcmp(c.v.s, text) == 0, "stored \"%s\" for \"%s\"", c.v.s, text);
            break;
        case NF_OPT_PATH:
            if (text[0] == '/' || !text[0] || !base) {
                CHECK(strcmp(c.v.s, text) == 0, "path \"%s\" became \"%s\"", text, c.v.s);
            } else {
                size_t bl = strlen(base);
                CHECK(strncmp(c.v.s, base, bl) == 0 && c.v.s[bl] == '/' &&
                          strcmp(c.v.s + bl + 1, text) == 0,
                      "path \"%s\" joined as \"%s\"", text, c.v.s);
            }
            break;
        case NF_OPT_SIZE:
            CHECK(c.v.i >= 0, "negative size %lld from \"%s\"", (long long)c.v.i, text);
            CHECK(nf_parse_size(text, &sz) == 0 && sz == c.v.i, "size disagrees");
            break;
        case NF_OPT_INT:
        case NF_OPT_DOUBLE:
        case NF_OPT_BOOL:
            break;
        }
    } else {
        CHECK(rc == -1, "returned %d", rc);
        CHECK(memchr(err, '\0', errlen) != NULL, "message not terminated");
        if (errlen > 16)
            CHECK(strstr(err, "'fuzzed'"), "message \"%s\" does not name the option", err);
        if (type == NF_OPT_SIZE && kind == NF_VAL_TEXT) {
            int64_t sz;
            CHECK(nf_parse_size(text, &sz) < 0, "size \"%s\" parses but was refused", text);
        }
    }
    nf_strpool_destroy(&pool);
    free(text);
    free(err);
    return 0;
}
