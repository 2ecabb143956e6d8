/* Transport: ZeroMQ sockets with newsflow's settings, the per-stage inbox broker, and the
 * acknowledgement batcher. Everything else about ZeroMQ stays inside this module and stage.c. */
#ifndef NF_TRANSPORT_H
#define NF_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A socket of `type` with bounded linger and high-water marks `hwm` both ways, bound or
 * connected to `endpoint`. NULL with the reason in err. */
void *nf_socket_open(void *zctx, int type, const char *endpoint, bool bind, int hwm,
                     char *err, size_t errlen);
void nf_socket_close(void **sock);
/* The same in two steps, for a socket with several peers or options set before its first
 * connection: a socket with newsflow's settings, then each endpoint bound or connected (CURVE
 * applied per endpoint). nf_socket_attach returns 0 or -1 with the reason in err. */
void *nf_socket_new(void *zctx, int type, int hwm, char *err, size_t errlen);
int nf_socket_attach(void *s, const char *endpoint, bool bind, char *err, size_t errlen);

/* Whether a tcp://HOST:PORT endpoint (or `listen`, when set) names an address of this host:
 * one of its interfaces' addresses, or a name that resolves to one. */
bool nf_endpoint_is_local(const char *endpoint, const char *listen);

/* The largest message any socket opened afterwards accepts from a peer (ZMQ_MAXMSGSIZE): a
 * larger one drops that peer's connection before it is read whole. Default 64 MiB. */
void nf_transport_set_max_message(int64_t bytes);

/* Tries to bind, one at a time, every tcp address this host would listen on for `cfg` (inboxes
 * it would serve, sources' acknowledgements), skipping those `running` (a running generation,
 * or NULL) listens on itself. For each that cannot be bound calls fn with the stage, its key
 * ("endpoint" or "ack_endpoint"), the endpoint and the reason. Returns how many failed. */
struct nf_config;
struct nf_stage_conf;
int nf_probe_binds(const struct nf_config *cfg, const struct nf_config *running,
                   void (*fn)(void *arg, const struct nf_stage_conf *st, const char *key,
                              const char *endpoint, const char *why),
                   void *arg);

/* The inbox of one stage: upstream workers PUSH to `front`, the stage's workers PULL from
 * `back`. Runs until the context is shut down. Returns 0 then, -1 on a setup error. */
int nf_broker_run(void *zctx, const char *front, const char *back, int hwm, char *err,
                  size_t errlen);
/* The same, also ending on "TERMINATE" from the PAIR socket bound at `ctl_endpoint` (NULL:
 * none), so that one inbox can be stopped while the others run. */
int nf_broker_run_ctl(void *zctx, const char *front, const char *back, int hwm,
                      const char *ctl_endpoint, char *err, size_t errlen);

/* Acknowledgements to sources, batched per source endpoint. Entries are held until released
 * (a sink's batch committed) or sent as they come (everything else). */
struct nf_acker;
struct nf_acker *nf_acker_new(void *zctx);
void nf_acker_destroy(struct nf_acker **a);
/* Queues (seq, weight) for `endpoint`. held: wait for nf_acker_release. Returns 0 or -1. */
int nf_acker_add(struct nf_acker *a, const char *endpoint, int64_t seq, int64_t weight,
                 bool held);
/* commit: held entries become ready; otherwise they are dropped (the source will replay). */
void nf_acker_release(struct nf_acker *a, bool commit);
/* The same for the first n held entries only (in the order they were added); the later ones
 * stay held. */
void nf_acker_release_first(struct nf_acker *a, size_t n, bool commit);
/* Drops the held entries after the first n (the source will replay them). */
void nf_acker_drop_after(struct nf_acker *a, size_t n);
/* Sends what is ready without blocking; what cannot go now stays for the next call. */
void nf_acker_send(struct nf_acker *a);
size_t nf_acker_held(const struct nf_acker *a);

/* Decodes one acknowledgement message: calls fn(seq, weight) for each entry. A weight is
 * positive, or from -NF_ACK_MARKS to -1: the mark of an ordered stage (order.h), or the entry
 * NF_ACK_DIED. Returns the number of entries, or -1 if the message is malformed. */
#define NF_ACK_MARKS (INT64_C(1) << 20)
/* The entry that acknowledges no record (record 0, weight 0): a supervisor telling a source that
 * a worker died on its host, so that the source resends early what it may have held, as this
 * host's supervisor tells its own sources with SIGURG (stage.c, supervisor.c). */
#define NF_ACK_DIED_SEQ 0
#define NF_ACK_DIED_WEIGHT 0
int nf_ack_decode(const void *data, size_t len, void (*fn)(void *arg, int64_t seq,
                                                           int64_t weight),
                  void *arg);

/* ---- senders ---------------------------------------------------------------------------- */

/* Records go from stage to stage as messages of two frames: who sent them (NF_SENDER_BYTES),
 * then the batch. A worker that died may leave messages in a broker's pipe while its successor,
 * on a connection of its own, already sends: the broker takes from both in turn, so a record the
 * dead worker judged could reach the next stage after what its successor judged later (story:
 * a row under a story that a later record had already split or merged, which the store had
 * moved before the row arrived). The receiver takes nothing from a worker once it has heard its
 * successor: those records are not acknowledged, and their sources send them again, to be
 * judged again by the successor. A message of one frame (a replay of dead letters, an older
 * peer) says no sender and is taken. */
#define NF_SENDER_BYTES 32
struct nf_sender {
    uint64_t stage;      /* XXH3 of the stage's name */
    uint64_t host;       /* XXH3 of the supervisor's host name and state directory: hosts number
                          * their workers of one stage each from 0 */
    uint32_t worker;     /* its number in the stage, on its host */
    int64_t incarnation; /* the worker's start: microseconds since the epoch */
};
void nf_sender_put(const struct nf_sender *s, uint8_t out[NF_SENDER_BYTES]);
/* Reads a sender frame; -1 when it is not one (size, tag). */
int nf_sender_get(const void *data, size_t len, struct nf_sender *s);

/* What a receiver heard: the latest incarnation of each sending worker (stage, host, number). A message from an earlier
 * incarnation than the latest heard is stale, unless the latest has been silent for
 * NF_SENDER_QUIET_MS (a clock set back, or a worker moved to a host whose clock is behind: the
 * earlier one is then the live one, and becomes the latest). At most NF_SENDERS_MAX workers are
 * kept; past that the one heard least recently is forgotten. */
#define NF_SENDER_QUIET_MS 3000
#define NF_SENDERS_MAX 4096
struct nf_senders;
struct nf_senders *nf_senders_new(void);
void nf_senders_free(struct nf_senders **h);
/* Whether a message from s, arriving at now_ms (monotonic), is stale; notes it otherwise. */
bool nf_senders_stale(struct nf_senders *h, const struct nf_sender *s, int64_t now_ms);

#endif
