/* Helpers shared by plugins: see plugin_util.h. */
#include "plugin_util.h"

#include <stdlib.h>

int nfu_grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void **p = pp;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

pcre2_code *nfu_compile(struct nf_ctx *ctx, const char *what, const char *re, uint32_t flags)
{
    int code;
    PCRE2_SIZE at;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                  PCRE2_UTF | PCRE2_UCP | flags, &code, &at, NULL);
    if (!c) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof(msg));
        nf_ctx_error(ctx, "%s: %s at offset %zu", what, (const char *)msg, (size_t)at);
        return NULL;
    }
    (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE); /* without JIT: slower, not wrong */
    return c;
}
