/* What the command-line programs share: reading the config a command names (or the snapshot
 * the supervisor validated) and setting up the process from it. */
#ifndef NF_CLI_H
#define NF_CLI_H

#include <stddef.h>

#include "config.h"

/* Loads `config` (or, with `snapshot`, that file's text as the config at `config`'s path) with
 * the --set values, then sets the process up from it: the largest message a socket accepts,
 * the log format, the CURVE keys. NULL after printing the reason on stderr, prefixed with `cmd`
 * when no config was named. */
struct nf_config *nf_cli_load(const char *config, const char *snapshot, char *const *sets,
                              int n_sets, const char *cmd);

/* A whole file of at most `limit` bytes, NUL-terminated (the caller frees it); NULL when it
 * cannot be read or is longer. */
char *nf_cli_slurp(const char *path, size_t limit);

#endif
