/* newsflow top CONFIG: a live terminal view of every stage and worker of a running pipeline,
 * from the same stats pages as /metrics (top.c). */
#ifndef NF_TOP_H
#define NF_TOP_H

#include "config.h"

/* Refreshes once a second until interrupted or `seconds` have passed (0: no limit). When
 * stdout is not a terminal it prints one table, a second after the first look, and returns.
 * Returns the exit code. */
int nf_top(const struct nf_config *cfg, int seconds);

#endif
