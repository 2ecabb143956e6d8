/* Security of tcp links: CURVE keys and the ZAP handler that admits only allowed peers.
 *
 * Every socket that listens on tcp is a CURVE server with the pipeline's server key; every socket
 * that connects over tcp is a CURVE client with this host's client key and expects the server's
 * public key. The ZAP handler of each process that listens accepts a client only when its public
 * key is in the allow-list file (curve_allow), and logs and counts every peer it refuses.
 * ipc sockets are not touched: they live in the private run directory. */
#ifndef NF_SECURITY_H
#define NF_SECURITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Reads the key files the config names, when any of its stages uses tcp:// and insecure is not
 * set; from then on nf_socket_open secures every tcp socket. Returns 0, or -1 with the key, the
 * file and what is wrong in err. */
int nf_security_setup(const struct nf_config *cfg, char *err, size_t errlen);

/* Whether tcp links are secured (nf_security_setup found keys). */
bool nf_security_on(void);

/* Makes a socket about to bind or connect to `endpoint` a CURVE server or client, when the
 * endpoint is tcp and security is on. Returns 0 or -1 (errno from ZeroMQ). */
int nf_security_apply(void *sock, const char *endpoint, bool bind);

/* Starts the ZAP handler on a context (a thread answering inproc://zeromq.zap.01). It ends when
 * the context is terminated; nf_zap_join waits for it. Returns 0 or -1 with the reason. */
int nf_zap_start(void *zctx, char *err, size_t errlen);
void nf_zap_join(void);

/* Peers the ZAP handler refused so far. */
int64_t nf_zap_refused(void);

/* `newsflow keygen PREFIX`: writes PREFIX.key (the secret key, mode 0600) and PREFIX.pub (the
 * public key), each one Z85 line. Refuses to overwrite. Returns 0 or -1 with the reason. */
int nf_keygen(const char *prefix, char *err, size_t errlen);

#endif
