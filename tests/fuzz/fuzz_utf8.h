/* Shared by the fuzzers whose output must be text: whether s[0..n) is well-formed UTF-8. */
#ifndef NF_FUZZ_UTF8_H
#define NF_FUZZ_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <utf8proc.h>

static inline bool fuzz_valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(n - i), &cp);
        if (k < 1)
            return false;
        i += (size_t)k;
    }
    return true;
}

#endif
