/* Supervisor: one machine's pipeline. Starts the stages' inbox brokers and every worker of every
 * stage as its own process, restarts crashed workers with backoff, and drains on SIGTERM. */
#ifndef NF_SUPERVISOR_H
#define NF_SUPERVISOR_H

#include <stdbool.h>

#include "config.h"

/* What of one config runs on this host (several hosts, one config): the stages whose workers
 * run here (NULL: every stage) and the stages whose inboxes are served here (NULL: every ipc
 * inbox, and every tcp inbox whose address is one of this host's). Comma-separated names. */
struct nf_placement {
    const char *stages;
    const char *inboxes;
};

/* Checks that every name in a placement list is a stage of the config. Returns 0 or -1 with
 * the unknown name in err. */
int nf_placement_check(const struct nf_config *cfg, const char *list, const char *what,
                       char *err, size_t errlen);

/* `argv_tail` are the arguments every worker gets after "stage CONFIG STAGE --worker N"
 * (the --set overrides), NULL-terminated. With `once`, returns when every source has exhausted
 * its input and every record it sent is acknowledged. Returns the exit code. */
int nf_supervisor_run(const struct nf_config *cfg, const char *config_path,
                      char *const *argv_tail, bool once, const struct nf_placement *where);

/* Runs only the inbox brokers of the config until SIGTERM (for deployments where each worker is
 * its own service). Returns the exit code. */
int nf_brokers_run(const struct nf_config *cfg, const struct nf_placement *where);

#endif
