/* Stable record ids: XXH3-128 of the source's identity, printed as 32 hex digits. XXH3's output
 * is specified and frozen, so ids stay the same across hosts, builds and versions. */
#include <stdio.h>
#include <xxhash.h>

#include "newsflow/record.h"

void nf_id_make(const void *p, size_t n, char out[33])
{
    XXH128_hash_t h = XXH3_128bits(p, n);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}
