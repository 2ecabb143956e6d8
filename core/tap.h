/* newsflow tap: the records leaving a stage of a running pipeline, as JSON lines (tap.c). */
#ifndef NF_TAP_H
#define NF_TAP_H

#include "config.h"

/* Prints what leaves `stage` until interrupted, `limit` records (< 0: no limit) or `seconds`
 * (0: no limit) have passed. `keys` (borrowed; NULL: all) is a comma-separated list of the
 * top-level keys to print: a reader of a busy stage's traces need not pay for its texts.
 * Returns the exit code. */
int nf_tap(const struct nf_config *cfg, const char *stage, long limit, int seconds,
           const char *keys);

#endif
