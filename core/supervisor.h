/* Supervisor: one machine's pipeline. Starts the stages' inbox brokers and every worker of every
 * stage as its own process, restarts crashed workers with backoff, and drains on SIGTERM. */
#ifndef NF_SUPERVISOR_H
#define NF_SUPERVISOR_H

#include <stdbool.h>

#include "config.h"

/* `argv_tail` are the arguments every worker gets after "stage CONFIG STAGE --worker N"
 * (the --set overrides), NULL-terminated. With `once`, returns when every source has exhausted
 * its input and every record it sent is acknowledged. Returns the exit code. */
int nf_supervisor_run(const struct nf_config *cfg, const char *config_path,
                      char *const *argv_tail, bool once);

/* Runs only the inbox brokers of the config until SIGTERM (for deployments where each worker is
 * its own service). Returns the exit code. */
int nf_brokers_run(const struct nf_config *cfg);

#endif
