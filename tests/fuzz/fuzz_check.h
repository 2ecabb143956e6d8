/* CHECK(cond, fmt, ...): aborts the fuzzer with the condition and a reason when cond is false,
 * named by FUZZ_NAME (define it before including this). */
#ifndef NF_FUZZ_CHECK_H
#define NF_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s: %s: ", FUZZ_NAME, #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#endif
