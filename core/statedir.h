/* Private directories and the state lock. State, run and store directories hold journals,
 * ledgers, dead letters and the sockets records travel through: only their owner may read or
 * write them, and one pipeline at a time may use a state directory. */
#ifndef NF_STATEDIR_H
#define NF_STATEDIR_H

#include <stddef.h>
#include <sys/types.h>

/* Creates `path` and its missing parents with mode 0700, then checks that the directory is one
 * this process may trust: owned by the effective user (or root) and not writable by group or
 * others. `what` names it in the error ("state_dir"). Returns 0, or -1 with the reason in err. */
int nf_dir_private(const char *path, const char *what, char *err, size_t errlen);

/* Takes the lock of a state directory (STATE_DIR/newsflow.lock) and writes this process's pid
 * into it. The descriptor is inherited by the workers the supervisor starts, so the lock is held
 * until the last process of this pipeline has gone. Returns the descriptor, or -1 with the
 * holder's pid in err when another pipeline holds it (or another error). */
int nf_state_lock(const char *state_dir, char *err, size_t errlen);

/* The pid written in STATE_DIR/newsflow.lock while a pipeline holds it; 0 when none holds it. */
pid_t nf_state_lock_holder(const char *state_dir);

#endif
