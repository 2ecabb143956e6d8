/* HTTP GET for fetch_feed over one reused libcurl easy handle (its connection cache keeps
 * connections alive between requests to a host): timeouts, a bounded number of redirects,
 * http and https only, gzip and deflate accepted, a cap on the decompressed body, conditional
 * requests. It does not pace requests or retry: the plugin decides when to ask. */
#ifndef FETCH_FEED_HTTP_H
#define FETCH_FEED_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct feed_http_conf {
    int64_t timeout_ms, connect_timeout_ms, max_bytes, max_redirects;
    const char *user_agent;
};

/* A response. Every pointer is valid until the next request on the same handle. */
struct feed_http_resp {
    long status;
    const char *body; /* NUL-terminated (the NUL is not counted in len) */
    size_t len;
    const char *content_type;  /* NULL when the server sent none */
    const char *effective_url; /* after redirects */
    const char *etag, *last_modified; /* NULL when absent */
};

struct feed_http;

/* The caller owns the result; NULL when libcurl cannot be set up (err says why). */
struct feed_http *feed_http_new(const struct feed_http_conf *conf, char *err, size_t errn);
void feed_http_destroy(struct feed_http **h);

/* GETs `url`. `accept` is the Accept header; `etag` and `last_modified` (may be NULL) make the
 * request conditional. Returns 0 with *resp filled whatever the status, or -1 with the reason
 * in err when no complete response came (timeout, too large, too many redirects, refused
 * connection...). */
int feed_http_get(struct feed_http *h, const char *url, const char *accept, const char *etag,
                  const char *last_modified, struct feed_http_resp *resp, char *err, size_t errn);

#endif
