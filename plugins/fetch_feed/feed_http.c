/* HTTP GET over one reused libcurl easy handle (see feed_http.h). */
#include "feed_http.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct feed_http {
    const struct feed_http_conf *conf;
    CURL *curl;
    char *body;
    size_t len, cap;
    bool too_big;
    char errbuf[CURL_ERROR_SIZE];
};

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
    if (!h->curl) {
        snprintf(err, errn, "cannot set up libcurl");
        free(h);
        return NULL;
    }
    CURL *c = h->curl;
    CURLcode rc = CURLE_OK;
    /* Each option is checked: a libcurl built without one must not silently fetch unbounded. */
#define SET(opt, val)                                                                              \
    if (rc == CURLE_OK)                                                                            \
    rc = curl_easy_setopt(c, opt, val)
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
#undef SET
    if (rc != CURLE_OK) {
        snprintf(err, errn, "cannot set up libcurl: %s", curl_easy_strerror(rc));
        curl_easy_cleanup(h->curl);
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

int feed_http_get(struct feed_http *h, const char *url, const char *accept, const char *etag,
                  const char *last_modified, struct feed_http_resp *resp, char *err, size_t errn)
{
    *resp = (struct feed_http_resp){0};
    h->len = 0;
    h->too_big = false;
    h->errbuf[0] = '\0';
    struct curl_slist *hdrs = NULL, *t;
    char line[1024];
    snprintf(line, sizeof(line), "Accept: %s", accept);
    hdrs = curl_slist_append(NULL, line);
    if (hdrs && etag && strlen(etag) < 900) {
        snprintf(line, sizeof(line), "If-None-Match: %s", etag);
        hdrs = (t = curl_slist_append(hdrs, line)) ? t : (curl_slist_free_all(hdrs), NULL);
    }
    if (hdrs && last_modified && strlen(last_modified) < 900) {
        snprintf(line, sizeof(line), "If-Modified-Since: %s", last_modified);
        hdrs = (t = curl_slist_append(hdrs, line)) ? t : (curl_slist_free_all(hdrs), NULL);
    }
    if (!hdrs) {
        snprintf(err, errn, "out of memory");
        return -1;
    }
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(h->curl);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        const struct feed_http_conf *c = h->conf;
        if (h->too_big || rc == CURLE_FILESIZE_EXCEEDED)
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
    resp->effective_url = eff ? eff : url;
    resp->etag = feed_http_header(h->curl, "ETag");
    resp->last_modified = feed_http_header(h->curl, "Last-Modified");
    return 0;
}
