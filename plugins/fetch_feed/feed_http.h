/* HTTP GET for fetch_feed over one reused libcurl easy handle driven by a multi handle (the
 * connection cache keeps connections alive between requests to a host): one request at a time,
 * advanced without blocking the caller for long, timeouts, a bounded number of redirects, http
 * and https only, gzip and deflate accepted, a cap on the decompressed body, conditional
 * requests, and no connection to the local network unless allowed (a feed must not make the
 * crawler read internal services). It does not pace requests or retry: the plugin decides when to ask. */
#ifndef FETCH_FEED_HTTP_H
#define FETCH_FEED_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct feed_http_conf {
    int64_t timeout_ms, connect_timeout_ms, max_bytes, max_redirects;
    const char *user_agent;
    bool private_hosts; /* allow loopback, private and link-local addresses */
};

/* A response. Every pointer is valid until the next request on the same handle. */
struct feed_http_resp {
    long status;
    const char *body; /* NUL-terminated (the NUL is not counted in len) */
    size_t len;
    const char *content_type;         /* NULL when the server sent none */
    const char *effective_url;        /* after redirects */
    const char *etag, *last_modified; /* NULL when absent */
    int64_t retry_after_s;            /* a Retry-After header, in seconds; 0 when absent */
};

struct feed_http;

/* The caller owns the result; NULL when libcurl cannot be set up (err says why). */
struct feed_http *feed_http_new(const struct feed_http_conf *conf, char *err, size_t errn);
void feed_http_destroy(struct feed_http **h);

/* Starts a GET of `url` (see feed_http_get for the arguments); the handle must be idle.
 * Returns 0, or -1 with the reason in err. */
int feed_http_start(struct feed_http *h, const char *url, const char *accept, const char *etag,
                    const char *last_modified, char *err, size_t errn);

/* Advances the request started last, waiting at most wait_ms for the network. Returns 0 while
 * it runs; 1 when it ended with a response (*resp filled, whatever the status); -1 when it
 * ended without one (the reason in err). The handle is idle again after 1 or -1. */
int feed_http_poll(struct feed_http *h, int wait_ms, struct feed_http_resp *resp, char *err,
                   size_t errn);

/* Whether a request is under way. */
int feed_http_busy(const struct feed_http *h);

/* GETs `url` and waits for the end. `accept` is the Accept header; `etag` and `last_modified` (may
 * be NULL) make the request conditional. Returns 0 with *resp filled whatever the status, or -1
 * with the reason in err when no complete response came (timeout, too large, too many redirects,
 * refused connection...). */
int feed_http_get(struct feed_http *h, const char *url, const char *accept, const char *etag,
                  const char *last_modified, struct feed_http_resp *resp, char *err, size_t errn);

#endif
