/* Small helpers several plugins share: growing a buffer, compiling a PCRE2 pattern once at
 * init with a message that says what and where. Linked statically into each plugin that uses
 * them; not part of the plugin ABI. */
#ifndef NF_PLUGIN_UTIL_H
#define NF_PLUGIN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "newsflow/plugin.h"

/* Makes *pp (an array of elements of `elem` bytes, capacity *cap) hold at least `need`
 * elements, doubling. Returns 0, or -1 with *pp unchanged on allocation failure. */
int nfu_grow(void *pp, size_t *cap, size_t need, size_t elem);

/* Compiles `re` with PCRE2_UTF|PCRE2_UCP|flags and JIT (when JIT is unavailable the pattern
 * still works, slower). NULL with "WHAT: message at offset N" given to nf_ctx_error. */
pcre2_code *nfu_compile(struct nf_ctx *ctx, const char *what, const char *re, uint32_t flags);

#endif
