/* Stage host: runs one worker of one stage, its plugin and its sockets, in this process. */
#ifndef NF_STAGE_H
#define NF_STAGE_H

#include <stdbool.h>

#include "config.h"

/* Runs worker `worker` of stage `stage` until SIGTERM/SIGINT, or, for a source with `once`,
 * until its input is exhausted and every record it sent is acknowledged. Returns the process
 * exit code: 0 on a clean stop, 1 on a runtime failure, 2 on a start-up (config) error. */
int nf_stage_run(const struct nf_config *cfg, int stage, int worker, bool once);

/* The same for a stage named on a command line: a stage that is not in the config, or a worker
 * number out of its range, is said on stderr (exit code 2). */
int nf_stage_main(const struct nf_config *cfg, const char *stage, int worker, bool once);

#endif
