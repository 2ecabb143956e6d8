/* HTTP GET over one reused libcurl easy handle (see feed_http.h). */
#include "feed_http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct feed_http {
    const struct feed_http_conf *conf;
    CURL *curl;
    CURLM *multi;
    struct curl_slist *hdrs; /* of the request under way */
    bool busy;
    char *body;
    size_t len, cap;
    bool too_big;
    char refused[64]; /* the address a request was refused for */
    char errbuf[CURL_ERROR_SIZE];
};

/* Loopback, private, shared, link-local, unspecified and multicast addresses: the machine's
 * own network, which a feed's links must not reach unless private_hosts allows it. */
static bool feed_http_private(const char *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1)
        goto v4;
    if (inet_pton(AF_INET6, ip, a) != 1)
        return true; /* not an address we can judge: refused */
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, 12) == 0) {
        memmove(a, a + 12, 4);
        goto v4;
    }
    static const unsigned char zero[15] = {0};
    return (memcmp(a, zero, 15) == 0 && a[15] <= 1) /* :: and ::1 */
           || (a[0] & 0xfe) == 0xfc                /* fc00::/7 unique local */
           || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) /* fe80::/10 link local */
           || a[0] == 0xff;                         /* multicast */
v4:
    return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
           (a[0] == 169 && a[1] == 254) || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
           (a[0] == 192 && a[1] == 168) || a[0] >= 224;
}

static int feed_http_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
    (void)local_ip;
    (void)port;
    (void)local_port;
    struct feed_http *h = arg;
    if (h->conf->private_hosts || !feed_http_private(ip))
        return CURL_PREREQFUNC_OK;
    snprintf(h->refused, sizeof(h->refused), "%s", ip);
    return CURL_PREREQFUNC_ABORT;
}

static size_t feed_http_write(char *p, size_t size, size_t nmemb, void *arg)
{
    struct feed_http *h = arg;
    size_t n = size * nmemb;
    if (h->len + n > (size_t)h->conf->max_bytes) {
        h->too_big = true;
        return 0; /* aborts the transfer */
    }
    if (h->len + n + 1 > h->cap) {
        size_t cap = h->cap ? h->cap : 64 << 10;
        while (cap < h->len + n + 1)
            cap *= 2;
        char *b = realloc(h->body, cap);
        if (!b)
            return 0;
        h->body = b;
        h->cap = cap;
    }
    memcpy(h->body + h->len, p, n);
    h->len += n;
    return n;
}

struct feed_http *feed_http_new(const struct feed_http_conf *conf, char *err, size_t errn)
{
    struct feed_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errn, "out of memory");
        return NULL;
    }
    h->conf = conf;
    h->curl = curl_easy_init();
    h->multi = curl_multi_init();
    if (!h->curl || !h->multi) {
        snprintf(err, errn, "cannot set up libcurl");
        curl_easy_cleanup(h->curl);
        curl_multi_cleanup(h->multi);
        free(h);
        return NULL;
    }
    CURL *c = h->curl;
    CURLcode rc = CURLE_OK;
    /* Each option is checked: a libcurl built without one must not silently fetch unbounded. */
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_WRITEFUNCTION, feed_http_write);
    SET(CURLOPT_WRITEDATA, h);
    SET(CURLOPT_ERRORBUFFER, h->errbuf);
    SET(CURLOPT_FOLLOWLOCATION, conf->max_redirects > 0 ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, (long)conf->max_redirects);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_TIMEOUT_MS, (long)conf->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)conf->connect_timeout_ms);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)conf->max_bytes);
    SET(CURLOPT_ACCEPT_ENCODING, "gzip, deflate");
    SET(CURLOPT_USERAGENT, conf->user_agent);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_HTTPGET, 1L);
    SET(CURLOPT_PREREQFUNCTION, feed_http_prereq);
    SET(CURLOPT_PREREQDATA, h);
#undef SET
    if (rc != CURLE_OK) {
        snprintf(err, errn, "cannot set up libcurl: %s", curl_easy_strerror(rc));
        curl_easy_cleanup(h->curl);
        curl_multi_cleanup(h->multi);
        free(h);
        return NULL;
    }
    return h;
}

void feed_http_destroy(struct feed_http **ph)
{
    if (!ph || !*ph)
        return;
    struct feed_http *h = *ph;
    if (h->busy)
        curl_multi_remove_handle(h->multi, h->curl);
    curl_slist_free_all(h->hdrs);
    curl_multi_cleanup(h->multi);
    curl_easy_cleanup(h->curl);
    free(h->body);
    free(h);
    *ph = NULL;
}

static const char *feed_http_header(CURL *c, const char *name)
{
    struct curl_header *hd = NULL;
    if (curl_easy_header(c, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK || !hd->value ||
        !hd->value[0])
        return NULL;
    return hd->value;
}

static struct curl_slist *feed_http_add(struct curl_slist *l, const char *name, const char *v)
{
    char line[1024];
    if (!l || !v || strlen(v) > 900)
        return l;
    snprintf(line, sizeof(line), "%s: %s", name, v);
    struct curl_slist *t = curl_slist_append(l, line);
    if (!t)
        curl_slist_free_all(l);
    return t;
}

int feed_http_start(struct feed_http *h, const char *url, const char *accept, const char *etag,
                    const char *last_modified, char *err, size_t errn)
{
    if (h->busy) {
        snprintf(err, errn, "a request is already under way");
        return -1;
    }
    h->len = 0;
    h->too_big = false;
    h->refused[0] = '\0';
    h->errbuf[0] = '\0';
    char line[1024];
    snprintf(line, sizeof(line), "Accept: %s", accept);
    struct curl_slist *hdrs = curl_slist_append(NULL, line);
    hdrs = feed_http_add(hdrs, "If-None-Match", etag);
    hdrs = feed_http_add(hdrs, "If-Modified-Since", last_modified);
    if (!hdrs) {
        snprintf(err, errn, "out of memory");
        return -1;
    }
    if (curl_easy_setopt(h->curl, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_multi_add_handle(h->multi, h->curl) != CURLM_OK) {
        curl_slist_free_all(hdrs);
        snprintf(err, errn, "cannot start the request");
        return -1;
    }
    h->hdrs = hdrs;
    h->busy = true;
    return 0;
}

int feed_http_busy(const struct feed_http *h)
{
    return h->busy;
}

/* The request ended with `rc`: its response, or why there is none. */
static int feed_http_finish(struct feed_http *h, CURLcode rc, struct feed_http_resp *resp,
                            char *err, size_t errn)
{
    curl_multi_remove_handle(h->multi, h->curl);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h->hdrs);
    h->hdrs = NULL;
    h->busy = false;
    if (rc != CURLE_OK) {
        const struct feed_http_conf *c = h->conf;
        if (h->refused[0])
            snprintf(err, errn,
                     "refused: %s is a loopback, private or link-local address "
                     "(private_hosts is off)",
                     h->refused);
        else if (h->too_big || rc == CURLE_FILESIZE_EXCEEDED)
            snprintf(err, errn, "the response is larger than max_bytes (%lld bytes)",
                     (long long)c->max_bytes);
        else if (rc == CURLE_OPERATION_TIMEDOUT)
            snprintf(err, errn, "timed out (timeout_ms %lld, connect_timeout_ms %lld): %s",
                     (long long)c->timeout_ms, (long long)c->connect_timeout_ms, h->errbuf);
        else if (rc == CURLE_TOO_MANY_REDIRECTS)
            snprintf(err, errn, "more than max_redirects (%lld) redirects",
                     (long long)c->max_redirects);
        else
            snprintf(err, errn, "%s", h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        return -1;
    }
    if (!h->body && !(h->body = malloc(h->cap = 64 << 10))) {
        h->cap = 0;
        snprintf(err, errn, "out of memory");
        return -1;
    }
    h->body[h->len] = '\0';
    char *ct = NULL, *eff = NULL;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &ct);
    curl_easy_getinfo(h->curl, CURLINFO_EFFECTIVE_URL, &eff);
    resp->body = h->body;
    resp->len = h->len;
    resp->content_type = ct;
    resp->effective_url = eff;
    resp->etag = feed_http_header(h->curl, "ETag");
    resp->last_modified = feed_http_header(h->curl, "Last-Modified");
    curl_off_t retry = 0;
    if (curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK && retry > 0)
        resp->retry_after_s = retry;
    return 1;
}

int feed_http_poll(struct feed_http *h, int wait_ms, struct feed_http_resp *resp, char *err,
                   size_t errn)
{
    *resp = (struct feed_http_resp){0};
    if (!h->busy) {
        snprintf(err, errn, "no request under way");
        return -1;
    }
    int running = 0;
    CURLMcode mc = curl_multi_perform(h->multi, &running);
    if (mc == CURLM_OK && running && wait_ms > 0) {
        curl_multi_poll(h->multi, NULL, 0, wait_ms, NULL);
        mc = curl_multi_perform(h->multi, &running);
    }
    if (mc != CURLM_OK) {
        curl_multi_remove_handle(h->multi, h->curl);
        curl_slist_free_all(h->hdrs);
        h->hdrs = NULL;
        h->busy = false;
        snprintf(err, errn, "%s", curl_multi_strerror(mc));
        return -1;
    }
    int left;
    for (CURLMsg *m; (m = curl_multi_info_read(h->multi, &left));)
        if (m->msg == CURLMSG_DONE && m->easy_handle == h->curl)
            return feed_http_finish(h, m->data.result, resp, err, errn);
    return 0;
}

int feed_http_get(struct feed_http *h, const char *url, const char *accept, const char *etag,
                  const char *last_modified, struct feed_http_resp *resp, char *err, size_t errn)
{
    if (feed_http_start(h, url, accept, etag, last_modified, err, errn) < 0)
        return -1;
    int r;
    while ((r = feed_http_poll(h, 1000, resp, err, errn)) == 0)
        ;
    return r > 0 ? 0 : -1;
}
