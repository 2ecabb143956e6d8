/* lang: the language of a text, by CLD2 (Google's Compact Language Detector 2, Debian's
 * libcld2), behind a C interface: extract_meta is C and CLD2 is a C++ library. It classifies
 * what it is given; how much of a text to give it is the caller's choice. */
#ifndef EXTRACT_META_LANG_H
#define EXTRACT_META_LANG_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ISO 639-1 code (a static string) of the language most of `text` (`len` bytes of valid
 * UTF-8, plain text; not checked here) is written in; NULL when CLD2 cannot tell it reliably
 * (too little text, two languages too close, a script it does not know) or the language has
 * no two-letter code. Allocates nothing the caller owns; thread-safe. */
const char *lang_detect(const char *text, size_t len);

#ifdef __cplusplus
}
#endif

#endif
