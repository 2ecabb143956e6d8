/* fetch_feed: a source that polls RSS, RDF, Atom and JSON feeds over HTTP(S) and emits one
 * record per new item: the article page as fetched (or the feed's own content when the item
 * has no link or fetch_pages is off), with what the feed says of it (title, date, author, the
 * feed's title as outlet). Requests are paced per host; feeds are fetched conditionally; a
 * ledger in the state directory remembers the items whose records were acknowledged so a
 * restart does not fetch them again. It does not clean pages or guess charsets. */
#include <curl/curl.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "feed_http.h"
#include "feed_parse.h"
#include "ledger.h"
#include "newsflow/plugin.h"

#define FF_ACCEPT_FEED                                                                        \
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, " \
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
#define FF_ACCEPT_PAGE "text/html, application/xhtml+xml;q=0.9, text/plain;q=0.5, */*;q=0.1"
/* A page that failed is tried again at most this many times in all. */
#define FF_MAX_PAGE_TRIES 4
/* How far the queue is searched for an item whose host may be asked now. */
#define FF_SCAN 256
/* How long one call of next() may wait for the network. */
#define FF_WAIT_MS 20

struct fetch_feed_conf {
    const char *feeds;
    const char *feeds_file;
    int64_t poll_s;
    bool once;
    bool fetch_pages;
    int64_t timeout_ms, connect_timeout_ms;
    int64_t max_bytes;
    int64_t max_redirects;
    const char *user_agent;
    int64_t host_delay_ms;
    bool remember;
    int64_t retry_failed_s;
    int64_t forget_days;
    bool private_hosts;
};

static const struct nf_option fetch_feed_options[] = {
    {"feeds", NF_OPT_STRING, "", offsetof(struct fetch_feed_conf, feeds),
     "Feed URLs (http or https), separated by commas or spaces. RSS 2.0/0.9x, RSS 1.0 (RDF), "
     "Atom and JSON Feed are read, whatever the server calls them."},
    {"feeds_file", NF_OPT_PATH, "", offsetof(struct fetch_feed_conf, feeds_file),
     "A file of feed URLs, one a line, optionally followed by that feed's own poll interval in "
     "seconds; '#' starts a comment. Read at start-up, together with `feeds`.",
     .flags = NF_OPT_READ_FILE},
    {"poll_s", NF_OPT_INT, "300", offsetof(struct fetch_feed_conf, poll_s),
     "Seconds between two polls of a feed. A feed that fails is tried again after twice as "
     "long each time it fails in a row (at most 64 times poll_s), then at poll_s again once it "
     "answers.", .min = "1"},
    {"once", NF_OPT_BOOL, "false", offsetof(struct fetch_feed_conf, once),
     "Poll every feed once, emit every new item, then end (for `newsflow run --once` and "
     "batch jobs). Otherwise the source runs until stopped."},
    {"fetch_pages", NF_OPT_BOOL, "true", offsetof(struct fetch_feed_conf, fetch_pages),
     "Fetch each item's article page and emit it as raw HTML for clean_html. When false, or "
     "for an item without a link, the record carries the feed's own content (or summary) "
     "instead."},
    {"timeout_ms", NF_OPT_INT, "30000", offsetof(struct fetch_feed_conf, timeout_ms),
     "Longest a whole request may take (connecting, redirects and the body included).",
     .min = "1"},
    {"connect_timeout_ms", NF_OPT_INT, "10000",
     offsetof(struct fetch_feed_conf, connect_timeout_ms),
     "Longest the connection to a server (name lookup and TLS included) may take.", .min = "1"},
    {"max_bytes", NF_OPT_SIZE, "8M", offsetof(struct fetch_feed_conf, max_bytes),
     "Largest body, after decompression, read for a feed or a page; a larger one is abandoned "
     "as an error that names the URL.", .min = "1"},
    {"max_redirects", NF_OPT_INT, "5", offsetof(struct fetch_feed_conf, max_redirects),
     "Redirects followed per request (http and https only); 0 follows none.", .min = "0"},
    {"user_agent", NF_OPT_STRING, "newsflow-fetch_feed/1.0",
     offsetof(struct fetch_feed_conf, user_agent),
     "The User-Agent header sent with every request. Give it a way to reach you."},
    {"host_delay_ms", NF_OPT_INT, "1000", offsetof(struct fetch_feed_conf, host_delay_ms),
     "Politeness: the least time between the end of one request to a host and the start of the "
     "next (per worker). Items of other hosts go ahead meanwhile.", .min = "0"},
    {"remember", NF_OPT_BOOL, "true", offsetof(struct fetch_feed_conf, remember),
     "Keep a ledger (state directory) of the items whose records reached the end of the "
     "pipeline or whose page failed, and each feed's ETag and Last-Modified, so that a restart "
     "fetches neither those pages nor an unchanged feed again."},
    {"retry_failed_s", NF_OPT_INT, "3600", offsetof(struct fetch_feed_conf, retry_failed_s),
     "A page that could not be fetched (its record is in the dead-letter store) is tried "
     "again, if its feed still lists it, after this many seconds, doubling each time, at most "
     "4 tries in all. 0: never again.", .min = "0"},
    {"forget_days", NF_OPT_INT, "90", offsetof(struct fetch_feed_conf, forget_days),
     "Ledger lines older than this many days are dropped at start-up: an item a feed still "
     "lists after that long is fetched again (the stores take it as an update). 0: never.",
     .min = "0"},
    {"private_hosts", NF_OPT_BOOL, "false", offsetof(struct fetch_feed_conf, private_hosts),
     "Allow requests to loopback, private, shared and link-local addresses (127/8, 10/8, "
     "172.16/12, 192.168/16, 100.64/10, 169.254/16, ::1, fc00::/7, fe80::/10). Off: a feed "
     "cannot make the crawler read the internal network, even through a redirect. Turn it on "
     "for feeds on your own network, or when an HTTP proxy (http_proxy) has such an address."},
    {.name = NULL},
};

enum ff_state { FF_NONE, FF_QUEUED, FF_SENT, FF_ACKED, FF_FAILED };

/* What is known of an item, by the first 64 bits of its record id. */
struct ff_seen {
    uint64_t key; /* first, as nfu_ledger_table wants it; 0: empty slot */
    uint8_t state;
    uint8_t tries;
    int32_t feed; /* feed that queued it in this run, -1 */
    int64_t failed_ms;
};

struct ff_feed {
    char *url;
    int host;
    int64_t poll_ms;
    int64_t due; /* monotonic ms */
    int fails;
    char *etag, *last_mod;     /* of the last 200 response: sent with the next poll */
    char *p_etag, *p_last_mod; /* as kept in the state directory */
    char *title;
    size_t outstanding; /* items of this feed queued or sent and not yet acknowledged */
    bool polled;
};

struct ff_host {
    char name[256];
    int64_t ready; /* monotonic ms from which it may be asked again */
};

struct ff_entry {
    struct feed_item *item; /* owned; NULL once taken */
    int feed;
    int host; /* -1: no request needed */
    char id[33];
};

struct fetch_feed {
    const struct fetch_feed_conf *conf;
    int worker, workers;
    struct ff_feed *feeds;
    size_t n_feeds;
    struct ff_host *hosts;
    size_t n_hosts;
    struct ff_entry *queue;
    size_t q_head, q_len, q_cap;
    struct feed_item *cur; /* the item emitted last: raw may point into it */
    struct nfu_ledger_table seen; /* of struct ff_seen */
    struct nfu_ledger ledger;
    struct feed_http_conf hconf;
    struct feed_http *http;
    /* The request under way: a feed's poll (job_feed, its index) or the page of job.item. */
    int job_feed;
    struct ff_entry job;
    char *uri;
    size_t uri_cap;
    bool curl_ready;
};

/* ---- small helpers ------------------------------------------------------------------- */

static int64_t ff_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct ff_seen *ff_seen_get(struct fetch_feed *s, const char *id)
{
    return nfu_ledger_table_get(&s->seen, nfu_ledger_key(id));
}

/* The entry of `id`, created (state FF_NONE, feed -1) if new; NULL on allocation failure. */
static struct ff_seen *ff_seen_put(struct fetch_feed *s, const char *id)
{
    bool added;
    struct ff_seen *e = nfu_ledger_table_put(&s->seen, nfu_ledger_key(id), &added);
    if (e && added)
        e->feed = -1;
    return e;
}

static int ff_host_of(struct fetch_feed *s, const char *url)
{
    char name[256];
    if (feed_url_host(url, name, sizeof(name)) < 0)
        snprintf(name, sizeof(name), "?");
    for (size_t i = 0; i < s->n_hosts; i++)
        if (strcmp(s->hosts[i].name, name) == 0)
            return (int)i;
    struct ff_host *v = realloc(s->hosts, (s->n_hosts + 1) * sizeof(*v));
    if (!v)
        return -1;
    s->hosts = v;
    snprintf(v[s->n_hosts].name, sizeof(v->name), "%s", name);
    v[s->n_hosts].ready = 0;
    return (int)s->n_hosts++;
}

/* A request to host `h` just ended: the next waits host_delay_ms. */
static void ff_host_used(struct fetch_feed *s, int h)
{
    if (h >= 0)
        s->hosts[h].ready = ff_mono() + s->conf->host_delay_ms;
}

static const char *ff_feed_uri(struct fetch_feed *s, const char *feed, const char *key)
{
    size_t need = strlen(feed) + strlen(key) + 2;
    if (need > s->uri_cap) {
        char *u = realloc(s->uri, need);
        if (!u)
            return NULL;
        s->uri = u;
        s->uri_cap = need;
    }
    snprintf(s->uri, s->uri_cap, "%s#%s", feed, key);
    return s->uri;
}

/* The record id of an item: its page's canonical URL, so that one article seen through two
 * feeds is one record; an item without a link is named by its feed and its guid. */
static int ff_item_id(struct fetch_feed *s, const struct ff_feed *f, const struct feed_item *it,
                      char id[33])
{
    const char *name = it->link ? it->link : ff_feed_uri(s, f->url, it->key);
    if (!name)
        return -1;
    nf_id_make(name, strlen(name), id);
    return 0;
}

/* ---- the ledger and the feeds' validators ---------------------------------------------- */

/* A ledger line: "ID a TIME" (acknowledged) or "ID f TIME TRIES" (the page failed), TIME in
 * ms since the epoch. Returns the state, or FF_NONE for a line that is not one. */
static enum ff_state ff_ledger_parse(const char *line, char id[64], int64_t *ms, int *tries)
{
    char st;
    long long t = 0;
    *tries = 0;
    int n = sscanf(line, "%63s %c %lld %d", id, &st, &t, tries);
    *ms = t;
    if (n < 3 || strlen(id) != 32 || (st == 'f' && n < 4))
        return FF_NONE;
    return st == 'a' ? FF_ACKED : st == 'f' ? FF_FAILED : FF_NONE;
}

/* What reading the ledgers needs to know and counts. */
struct ff_ledger_read {
    struct fetch_feed *s;
    int64_t cutoff; /* lines older than this are forgotten */
    size_t own_lines, own_stale;
};

static int ff_ledger_line(void *arg, const char *line, bool mine)
{
    struct ff_ledger_read *r = arg;
    char id[64];
    int64_t ms;
    int tries;
    enum ff_state st = ff_ledger_parse(line, id, &ms, &tries);
    r->own_lines += mine;
    if (st == FF_NONE || ms < r->cutoff) {
        r->own_stale += mine;
        return 0;
    }
    struct ff_seen *e = ff_seen_put(r->s, id);
    if (!e)
        return -1;
    if (st == FF_ACKED) {
        e->state = FF_ACKED;
    } else if (e->state != FF_ACKED) {
        e->state = FF_FAILED;
        e->failed_ms = ms;
        e->tries = (uint8_t)(tries > 255 ? 255 : tries < 0 ? 0 : tries);
    }
    return 0;
}

/* The rewrite keeps the lines written since the cutoff. */
static bool ff_ledger_keep(void *arg, const char *line)
{
    const struct ff_ledger_read *r = arg;
    char id[64];
    int64_t ms;
    int tries;
    return ff_ledger_parse(line, id, &ms, &tries) != FF_NONE && ms >= r->cutoff;
}

/* Lines older than forget_days are not loaded, and this worker's file is rewritten without
 * them once they are more than half of it. A line lost in a crash (appends are not synced)
 * only means a page is fetched once more, and the stores take a record again as an update. */
static int ff_ledger_open(struct fetch_feed *s, struct nf_ctx *ctx)
{
    struct ff_ledger_read r = {
        .s = s,
        .cutoff = s->conf->forget_days > 0 && s->conf->forget_days < 1000000
                      ? nf_now_ms() - s->conf->forget_days * 86400000
                      : INT64_MIN,
    };
    if (nfu_ledger_read(&s->ledger, ctx, ff_ledger_line, &r) < 0)
        return -1;
    if (r.own_stale > 0 && r.own_stale * 2 > r.own_lines)
        nfu_ledger_rewrite(&s->ledger, ctx, ff_ledger_keep, &r);
    return nfu_ledger_open(&s->ledger, ctx);
}

static char *ff_dup_field(const char *v)
{
    return v && strcmp(v, "-") != 0 ? strdup(v) : NULL;
}

/* Validators file: "URL<TAB>ETAG<TAB>LAST-MODIFIED" ('-' for none), one per feed. */
static void ff_validators_load(struct fetch_feed *s, struct nf_ctx *ctx)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/fetch_feed-*.feeds", nf_ctx_state_dir(ctx));
    glob_t g;
    if (glob(path, 0, NULL, &g) != 0)
        return;
    char *line = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        if (!f)
            continue;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0) {
            if (line[n - 1] == '\n')
                line[n - 1] = '\0';
            char *save = NULL, *url = strtok_r(line, "\t", &save);
            char *etag = strtok_r(NULL, "\t", &save), *lm = strtok_r(NULL, "\t", &save);
            if (!url || !etag || !lm)
                continue;
            for (size_t k = 0; k < s->n_feeds; k++) {
                struct ff_feed *fd = &s->feeds[k];
                if (strcmp(fd->url, url) != 0)
                    continue;
                free(fd->etag);
                free(fd->last_mod);
                free(fd->p_etag);
                free(fd->p_last_mod);
                fd->etag = ff_dup_field(etag);
                fd->last_mod = ff_dup_field(lm);
                fd->p_etag = ff_dup_field(etag);
                fd->p_last_mod = ff_dup_field(lm);
            }
        }
        fclose(f);
    }
    free(line);
    globfree(&g);
}

static bool ff_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every item a feed's last poll gave has been acknowledged (or failed): its validators can be
 * kept, so that a restart asks "anything newer?". Kept only then: an item queued but never
 * sent must not hide behind a 304 after a restart. */
static void ff_validators_commit(struct fetch_feed *s, struct nf_ctx *ctx, struct ff_feed *f)
{
    if (!s->conf->remember || f->outstanding > 0 ||
        (ff_same(f->etag, f->p_etag) && ff_same(f->last_mod, f->p_last_mod)))
        return;
    free(f->p_etag);
    free(f->p_last_mod);
    f->p_etag = f->etag ? strdup(f->etag) : NULL;
    f->p_last_mod = f->last_mod ? strdup(f->last_mod) : NULL;
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/fetch_feed-%d.feeds", nf_ctx_state_dir(ctx), s->worker);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *t = fopen(tmp, "w");
    if (!t) {
        nf_log(ctx, NF_LOG_WARN, "cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    for (size_t i = 0; i < s->n_feeds; i++) {
        const struct ff_feed *d = &s->feeds[i];
        if (d->p_etag || d->p_last_mod)
            fprintf(t, "%s\t%s\t%s\n", d->url, d->p_etag ? d->p_etag : "-",
                    d->p_last_mod ? d->p_last_mod : "-");
    }
    if (fclose(t) != 0 || rename(tmp, path) != 0)
        nf_log(ctx, NF_LOG_WARN, "cannot write %s: %s", path, strerror(errno));
}

/* An item of feed `feed` is finished in this run (acknowledged or failed). */
static void ff_item_done(struct fetch_feed *s, struct nf_ctx *ctx, struct ff_seen *e)
{
    if (e->feed < 0 || (size_t)e->feed >= s->n_feeds)
        return;
    struct ff_feed *f = &s->feeds[e->feed];
    e->feed = -1;
    if (f->outstanding > 0 && --f->outstanding == 0)
        ff_validators_commit(s, ctx, f);
}

/* ---- the feed list ------------------------------------------------------------------- */

static int ff_add_feed(struct fetch_feed *s, struct nf_ctx *ctx, const char *text, int64_t poll_s,
                       const char *where)
{
    char *url = feed_url_canon(NULL, text);
    if (!url) {
        nf_ctx_error(ctx, "%s: '%s' is not an http or https URL", where, text);
        return -1;
    }
    for (size_t i = 0; i < s->n_feeds; i++)
        if (strcmp(s->feeds[i].url, url) == 0) {
            free(url);
            return 0;
        }
    /* Sharding: each worker polls the feeds whose URL hashes to it. */
    if (s->workers > 1 &&
        XXH3_64bits(url, strlen(url)) % (uint64_t)s->workers != (uint64_t)s->worker) {
        free(url);
        return 0;
    }
    struct ff_feed *v = realloc(s->feeds, (s->n_feeds + 1) * sizeof(*v));
    if (!v) {
        free(url);
        nf_ctx_error(ctx, "out of memory");
        return -1;
    }
    s->feeds = v;
    int host = ff_host_of(s, url);
    if (host < 0) {
        free(url);
        nf_ctx_error(ctx, "out of memory");
        return -1;
    }
    v[s->n_feeds++] = (struct ff_feed){.url = url, .host = host, .poll_ms = poll_s * 1000};
    return 0;
}

static int ff_read_feeds(struct fetch_feed *s, struct nf_ctx *ctx, size_t *total)
{
    const struct fetch_feed_conf *c = s->conf;
    char *list = strdup(c->feeds ? c->feeds : "");
    if (!list) {
        nf_ctx_error(ctx, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(list, ", \t\r\n", &save); t; t = strtok_r(NULL, ", \t\r\n", &save)) {
        (*total)++;
        if (ff_add_feed(s, ctx, t, c->poll_s, "option 'feeds'") < 0) {
            free(list);
            return -1;
        }
    }
    free(list);
    if (!c->feeds_file || !c->feeds_file[0])
        return 0;
    FILE *f = fopen(c->feeds_file, "r");
    if (!f) {
        nf_ctx_error(ctx, "cannot read %s (%s): %s", c->feeds_file,
                     nf_ctx_option_where(ctx, "feeds_file"), strerror(errno));
        return -1;
    }
    char *line = NULL, where[4200];
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *sv = NULL, *url = strtok_r(line, " \t\r\n", &sv);
        if (!url)
            continue;
        char *poll = strtok_r(NULL, " \t\r\n", &sv), *end = NULL;
        snprintf(where, sizeof(where), "%s:%d", c->feeds_file, lineno);
        int64_t p = c->poll_s;
        if (poll) {
            long long v = strtoll(poll, &end, 10);
            if (*end || v <= 0 || strtok_r(NULL, " \t\r\n", &sv)) {
                nf_ctx_error(ctx,
                             "%s: expected a URL and optionally a poll interval in "
                             "seconds (a positive integer)",
                             where);
                rc = -1;
                break;
            }
            p = v;
        }
        (*total)++;
        rc = ff_add_feed(s, ctx, url, p, where);
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- the queue ----------------------------------------------------------------------- */

static int ff_enqueue(struct fetch_feed *s, struct feed_item *it, int feed, int host,
                      const char *id)
{
    if (s->q_len == s->q_cap) {
        if (s->q_head > 0) {
            memmove(s->queue, s->queue + s->q_head, (s->q_len - s->q_head) * sizeof(*s->queue));
            s->q_len -= s->q_head;
            s->q_head = 0;
        }
        if (s->q_len == s->q_cap) {
            size_t cap = s->q_cap ? s->q_cap * 2 : 64;
            struct ff_entry *v = realloc(s->queue, cap * sizeof(*v));
            if (!v)
                return -1;
            s->queue = v;
            s->q_cap = cap;
        }
    }
    struct ff_entry *e = &s->queue[s->q_len++];
    *e = (struct ff_entry){.item = it, .feed = feed, .host = host};
    memcpy(e->id, id, 33);
    return 0;
}

/* The first queued item that needs no request or whose host may be asked now. */
static bool ff_take(struct fetch_feed *s, int64_t now, struct ff_entry *out)
{
    size_t end = s->q_head + FF_SCAN < s->q_len ? s->q_head + FF_SCAN : s->q_len;
    for (size_t i = s->q_head; i < end; i++) {
        struct ff_entry *e = &s->queue[i];
        if (!e->item || (e->host >= 0 && s->hosts[e->host].ready > now))
            continue;
        *out = *e;
        e->item = NULL;
        while (s->q_head < s->q_len && !s->queue[s->q_head].item)
            s->q_head++;
        if (s->q_head == s->q_len)
            s->q_head = s->q_len = 0;
        return true;
    }
    return false;
}

/* ---- polling a feed ------------------------------------------------------------------ */

/* The least time a server asks with Retry-After (429, 503), at most a day. */
static int64_t ff_retry_after_ms(const struct feed_http_resp *r)
{
    int64_t s = r->retry_after_s;
    return s <= 0 ? 0 : s > 86400 ? 86400000 : s * 1000;
}

/* A feed's poll failed: asked again after poll_s, doubled per failure in a row (up to 64
 * times), or later if the server said so with Retry-After. */
static void ff_feed_failed(struct fetch_feed *s, struct nf_ctx *ctx, struct ff_feed *f,
                           const char *why, int64_t retry_after_ms)
{
    f->fails++;
    int shift = f->fails - 1 < 6 ? f->fails - 1 : 6;
    int64_t wait = f->poll_ms << shift;
    if (wait < retry_after_ms)
        wait = retry_after_ms;
    f->due = ff_mono() + wait;
    nf_ctx_count(ctx, "feed_errors", 1);
    nf_ctx_count(ctx, "input_errors", 1); /* a finite run of failures only is an error */
    if (s->conf->once)
        nf_log(ctx, NF_LOG_ERROR, "feed %s: %s", f->url, why);
    else
        nf_log(ctx, NF_LOG_ERROR, "feed %s: %s; trying again in %lld s (failure %d in a row)",
               f->url, why, (long long)(wait / 1000), f->fails);
}

/* Whether an item is to be queued: never seen, or its page failed long enough ago. */
static bool ff_wanted(const struct fetch_feed *s, const struct ff_seen *e)
{
    if (!e || e->state == FF_NONE)
        return true;
    if (e->state != FF_FAILED || s->conf->retry_failed_s <= 0 || e->tries >= FF_MAX_PAGE_TRIES)
        return false;
    int shift = e->tries > 1 ? e->tries - 1 : 0;
    return nf_now_ms() >= e->failed_ms + (s->conf->retry_failed_s * 1000 << shift);
}

/* The charset parameter of a Content-Type, into out ("" when there is none). */
static void ff_charset(const char *ct, char *out, size_t n)
{
    out[0] = '\0';
    for (const char *p = ct ? strchr(ct, ';') : NULL; p; p = strchr(p + 1, ';')) {
        const char *q = p + 1 + strspn(p + 1, " \t");
        if (strncasecmp(q, "charset", 7) != 0)
            continue;
        q += 7 + strspn(q + 7, " \t");
        if (*q++ != '=')
            continue;
        q += strspn(q, " \t\"'");
        size_t len = strcspn(q, " \t\"';");
        if (len < n) {
            memcpy(out, q, len);
            out[len] = '\0';
        }
        return;
    }
}

/* A feed's poll ended: rc < 0 (no response, err says why) or the response r. */
static void ff_poll_end(struct fetch_feed *s, struct nf_ctx *ctx, struct ff_feed *f, int rc,
                        const struct feed_http_resp *rp, const char *err)
{
    struct feed_http_resp r = *rp;
    char why[1200], perr[1024];
    ff_host_used(s, f->host);
    nf_ctx_count(ctx, "feed_requests", 1);
    nf_ctx_count(ctx, "inputs", 1);
    if (rc < 0) {
        snprintf(why, sizeof(why), "GET %s: %s", f->url, err);
        ff_feed_failed(s, ctx, f, why, 0);
        return;
    }
    if (r.status == 304 && (f->etag || f->last_mod)) {
        f->fails = 0;
        f->due = ff_mono() + f->poll_ms;
        nf_ctx_count(ctx, "feed_not_modified", 1);
        nf_log(ctx, NF_LOG_DEBUG, "feed %s: not modified", f->url);
        return;
    }
    if (r.status < 200 || r.status > 299) {
        snprintf(why, sizeof(why), "GET %s: HTTP %ld", f->url, r.status);
        ff_feed_failed(s, ctx, f, why, ff_retry_after_ms(&r));
        return;
    }
    struct feed_doc doc;
    char charset[64];
    ff_charset(r.content_type, charset, sizeof(charset));
    if (feed_parse(r.body, r.len, r.effective_url ? r.effective_url : f->url, charset,
                   !s->conf->fetch_pages,
                   &doc, perr, sizeof(perr)) < 0) {
        feed_doc_clear(&doc);
        snprintf(why, sizeof(why), "GET %s: HTTP %ld, %s", f->url, r.status, perr);
        ff_feed_failed(s, ctx, f, why, 0);
        return;
    }
    free(f->etag);
    free(f->last_mod);
    f->etag = r.etag ? strdup(r.etag) : NULL;
    f->last_mod = r.last_modified ? strdup(r.last_modified) : NULL;
    if (doc.title) {
        free(f->title);
        f->title = doc.title;
        doc.title = NULL;
    }
    size_t fresh = 0, known = 0;
    int feed = (int)(f - s->feeds);
    for (size_t i = 0; i < doc.n_items; i++) {
        struct feed_item *it = doc.items[i];
        char id[33];
        if (ff_item_id(s, f, it, id) < 0)
            goto nomem;
        struct ff_seen *e = ff_seen_get(s, id);
        if (!ff_wanted(s, e)) {
            known++;
            continue;
        }
        if (!e && !(e = ff_seen_put(s, id)))
            goto nomem;
        bool page = it->link && s->conf->fetch_pages;
        int host = page ? ff_host_of(s, it->link) : -1;
        if ((page && host < 0) || ff_enqueue(s, it, feed, host, id) < 0)
            goto nomem;
        doc.items[i] = NULL;
        e->state = FF_QUEUED;
        e->feed = feed;
        f->outstanding++;
        fresh++;
    }
    const char *kind = doc.kind;
    feed_doc_clear(&doc);
    f->fails = 0;
    f->due = ff_mono() + f->poll_ms;
    nf_ctx_count(ctx, "feed_items", (int64_t)fresh);
    nf_log(ctx, NF_LOG_INFO, "feed %s (%s): %zu new items, %zu known", f->url, kind, fresh, known);
    if (f->outstanding == 0)
        ff_validators_commit(s, ctx, f);
    return;
nomem:
    feed_doc_clear(&doc);
    ff_feed_failed(s, ctx, f, "out of memory", 0);
}

/* ---- one record ---------------------------------------------------------------------- */

static bool ff_is_page_type(const char *ct)
{
    size_t n = strcspn(ct, "; \t");
    return (n == 9 && !strncasecmp(ct, "text/html", 9)) ||
           (n == 21 && !strncasecmp(ct, "application/xhtml+xml", 21)) ||
           (n == 10 && !strncasecmp(ct, "text/plain", 10));
}

/* An article page's request ended (rc < 0: no response, err says why): raw, content_type,
 * and url when set_url, into rec. *site_out: the page names its site. The reason of a failure
 * names the URL and the status. */
static int ff_page_end(struct fetch_feed *s, struct nf_ctx *ctx, const char *url, int host, int rc,
                       const struct feed_http_resp *r, const char *err, struct nf_record *rec,
                       bool set_url, bool *site_out)
{
    ff_host_used(s, host);
    nf_ctx_count(ctx, "page_requests", 1);
    if (rc < 0) {
        nf_ctx_error(ctx, "GET %s: %s", url, err);
        return NF_ERR;
    }
    if (r->status < 200 || r->status > 299) {
        /* a server that asks for a pause (429, 503 with Retry-After) gets it */
        int64_t pause = ff_retry_after_ms(r);
        if (host >= 0 && pause > s->conf->host_delay_ms)
            s->hosts[host].ready = ff_mono() + pause;
        nf_ctx_error(ctx, "GET %s: HTTP %ld", url, r->status);
        return NF_ERR;
    }
    if (r->len == 0) {
        nf_ctx_error(ctx, "GET %s: HTTP %ld with an empty body", url, r->status);
        return NF_ERR;
    }
    const char *ct = r->content_type ? r->content_type : "text/html";
    if (!ff_is_page_type(ct)) {
        nf_ctx_error(ctx, "GET %s: HTTP %ld, %.100s is not a web page", url, r->status, ct);
        return NF_ERR;
    }
    if (nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, ct) < 0 ||
        nf_record_set_bytes_ref(rec, NF_F_RAW, r->body, r->len) < 0)
        goto nomem;
    if (set_url) {
        char *eff = r->effective_url ? feed_url_canon(NULL, r->effective_url) : NULL;
        int e = nf_record_set_cstr(rec, NF_F_URL, eff ? eff : url);
        free(eff);
        if (e < 0)
            goto nomem;
    }
    if (site_out)
        *site_out = feed_page_names_site(r->body, r->len);
    return NF_OK;
nomem:
    nf_ctx_error(ctx, "out of memory");
    return NF_ERR;
}

static int ff_set_content(struct nf_record *rec, const struct feed_item *it)
{
    const char *ct = it->content_html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
    return nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, ct) < 0 ||
                   nf_record_set_bytes_ref(rec, NF_F_RAW, it->content, it->content_len) < 0
               ? -1
               : 0;
}

/* What the feed says of the item, into rec: id, source and the small fields. */
static int ff_fill(struct fetch_feed *s, struct nf_ctx *ctx, const struct ff_entry *e,
                   struct nf_record *rec)
{
    const struct feed_item *it = e->item;
    bool page = e->host >= 0;
    const char *uri = page ? it->link : ff_feed_uri(s, s->feeds[e->feed].url, it->key);
    if (!uri || nf_record_set_cstr(rec, NF_F_ID, e->id) < 0 ||
        nf_record_set_source(rec, uri, page ? "http" : "feed") < 0 ||
        (it->title && nf_record_set_cstr(rec, NF_F_TITLE, it->title) < 0) ||
        (it->published && nf_record_set_cstr(rec, NF_F_PUBLISHED_AT, it->published) < 0) ||
        (it->author && nf_record_set_cstr(rec, NF_F_BYLINE, it->author) < 0) ||
        (it->link && nf_record_set_cstr(rec, NF_F_URL, it->link) < 0)) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    return NF_OK;
}

/* The record of `id` could not be made: noted in the ledger, tried again after retry_failed_s
 * unless `final`. */
static void ff_mark_failed(struct fetch_feed *s, struct nf_ctx *ctx, struct ff_seen *seen,
                           const char *id, bool final)
{
    seen->state = FF_FAILED;
    seen->failed_ms = nf_now_ms();
    if (seen->tries < 255)
        seen->tries++;
    if (final)
        seen->tries = FF_MAX_PAGE_TRIES;
    if (s->conf->remember) {
        char line[96];
        int n = snprintf(line, sizeof(line), "%s f %lld %d\n", id, (long long)seen->failed_ms,
                         seen->tries);
        nfu_ledger_append(&s->ledger, ctx, line, (size_t)n);
    }
}

/* The item's record is made (rc NF_OK) or failed: noted, and the feed's title as outlet when
 * the page named no site. */
static int ff_emit_end(struct fetch_feed *s, struct nf_ctx *ctx, const struct ff_entry *e,
                       struct nf_record *rec, int rc, bool site)
{
    struct ff_seen *seen = ff_seen_put(s, e->id);
    const char *title = s->feeds[e->feed].title;
    if (rc == NF_OK && !site && title && nf_record_set_cstr(rec, NF_F_OUTLET, title) < 0) {
        nf_ctx_error(ctx, "out of memory");
        rc = NF_ERR;
    }
    if (!seen)
        return rc;
    if (rc == NF_OK) {
        seen->state = FF_SENT;
        return NF_OK;
    }
    /* the feed's own item is unusable: asking again would not change it */
    ff_mark_failed(s, ctx, seen, e->id, e->host < 0);
    ff_item_done(s, ctx, seen);
    nf_ctx_count(ctx, e->host >= 0 ? "page_errors" : "item_errors", 1);
    return NF_ERR;
}

/* An item that needs no request: the feed's own content. */
static int ff_emit_content(struct fetch_feed *s, struct nf_ctx *ctx, const struct ff_entry *e,
                           struct nf_record *rec)
{
    const struct feed_item *it = e->item;
    int rc = ff_fill(s, ctx, e, rec);
    if (rc == NF_OK && !it->content) {
        const char *uri = NULL;
        nf_record_source(rec, &uri, NULL);
        if (it->link)
            nf_ctx_error(ctx, "%s: the item has no content in the feed and fetch_pages is off",
                         uri);
        else
            nf_ctx_error(ctx, "%s: the item has neither a link nor any content", uri);
        rc = NF_ERR;
    } else if (rc == NF_OK && ff_set_content(rec, it) < 0) {
        nf_ctx_error(ctx, "out of memory");
        rc = NF_ERR;
    }
    return ff_emit_end(s, ctx, e, rec, rc, false);
}

/* ---- the plugin ---------------------------------------------------------------------- */

static void fetch_feed_destroy(void *state)
{
    struct fetch_feed *s = state;
    if (!s)
        return;
    for (size_t i = s->q_head; i < s->q_len; i++)
        free(s->queue[i].item);
    free(s->queue);
    free(s->cur);
    free(s->job.item);
    for (size_t i = 0; i < s->n_feeds; i++) {
        struct ff_feed *f = &s->feeds[i];
        free(f->url);
        free(f->etag);
        free(f->last_mod);
        free(f->p_etag);
        free(f->p_last_mod);
        free(f->title);
    }
    free(s->feeds);
    free(s->hosts);
    nfu_ledger_table_free(&s->seen);
    free(s->uri);
    nfu_ledger_close(&s->ledger);
    feed_http_destroy(&s->http);
    if (s->curl_ready)
        curl_global_cleanup();
    free(s);
}

/* One rule joins two options: there must be feeds, from `feeds` or from `feeds_file`. */
static int fetch_feed_validate(const void *vconf, const char **option_out, char *err,
                               size_t errlen)
{
    const struct fetch_feed_conf *c = vconf;
    if (c->feeds[strspn(c->feeds, ", \t\r\n")] || c->feeds_file[0])
        return NF_OK;
    *option_out = "feeds";
    snprintf(err, errlen, "no feed to poll: set option 'feeds' or 'feeds_file'");
    return NF_ERR;
}

static int fetch_feed_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    /* the times, sizes and counts are within the option table's bounds */
    const struct fetch_feed_conf *c = vconf;
    struct fetch_feed *s = calloc(1, sizeof(*s));
    if (!s) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = c;
    s->seen.size = sizeof(struct ff_seen);
    s->job_feed = -1;
    s->worker = nf_ctx_worker(ctx);
    s->workers = nf_ctx_workers(ctx);
    nfu_ledger_init(&s->ledger, "fetch_feed", s->worker);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        nf_ctx_error(ctx, "cannot initialise libcurl");
        goto fail;
    }
    s->curl_ready = true;
    size_t total = 0;
    if (ff_read_feeds(s, ctx, &total) < 0)
        goto fail;
    if (total == 0) {
        nf_ctx_error(ctx, "no feed to poll: set 'feeds' or 'feeds_file'");
        goto fail;
    }
    s->hconf = (struct feed_http_conf){
        .timeout_ms = c->timeout_ms,
        .connect_timeout_ms = c->connect_timeout_ms,
        .max_bytes = c->max_bytes,
        .max_redirects = c->max_redirects,
        .user_agent = c->user_agent,
        .private_hosts = c->private_hosts,
    };
    char err[512];
    s->http = feed_http_new(&s->hconf, err, sizeof(err));
    if (!s->http) {
        nf_ctx_error(ctx, "%s", err);
        goto fail;
    }
    if (c->remember) {
        if (ff_ledger_open(s, ctx) < 0)
            goto fail;
        ff_validators_load(s, ctx);
    }
    if ((uint64_t)c->max_bytes > NF_RECORD_MAX_BYTES)
        nf_log(ctx, NF_LOG_WARN,
               "max_bytes %lld is over the record limit %u: pages that large will be refused "
               "by the next stage",
               (long long)c->max_bytes, NF_RECORD_MAX_BYTES);
    nf_log(ctx, NF_LOG_INFO, "%zu of %zu feeds polled by this worker%s", s->n_feeds, total,
           c->once ? ", once" : "");
    *state_out = s;
    return NF_OK;
fail:
    fetch_feed_destroy(s);
    return NF_ERR;
}

static struct ff_feed *ff_due(struct fetch_feed *s, int64_t now)
{
    for (size_t i = 0; i < s->n_feeds; i++) {
        struct ff_feed *f = &s->feeds[i];
        if (s->conf->once ? f->polled : f->due > now)
            continue;
        if (s->hosts[f->host].ready <= now)
            return f;
    }
    return NULL;
}

static bool ff_all_polled(const struct fetch_feed *s)
{
    for (size_t i = 0; i < s->n_feeds; i++)
        if (!s->feeds[i].polled)
            return false;
    return true;
}

/* Advances the request under way. Returns NF_AGAIN while it runs, NF_OK/NF_ERR when it was a
 * page (its record is in rec), and 1 when it was a feed (its items are queued). */
static int ff_job_step(struct fetch_feed *s, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct feed_http_resp r;
    char err[1024];
    int rc = feed_http_poll(s->http, FF_WAIT_MS, &r, err, sizeof(err));
    if (rc == 0)
        return NF_AGAIN;
    rc = rc > 0 ? 0 : -1;
    if (s->job_feed >= 0) {
        struct ff_feed *f = &s->feeds[s->job_feed];
        s->job_feed = -1;
        ff_poll_end(s, ctx, f, rc, &r, err);
        return 1;
    }
    struct ff_entry e = s->job;
    s->job.item = NULL;
    free(s->cur);
    s->cur = e.item;
    /* whether the page names its site matters only when the feed's title could stand in */
    bool site = false, *site_out = s->feeds[e.feed].title ? &site : NULL;
    int out = ff_fill(s, ctx, &e, rec);
    if (out == NF_OK)
        out = ff_page_end(s, ctx, e.item->link, e.host, rc, &r, err, rec, true, site_out);
    return ff_emit_end(s, ctx, &e, rec, out, site);
}

static int fetch_feed_next(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct fetch_feed *s = state;
    /* A few steps per call: a page or a feed started here often ends within FF_WAIT_MS. The
     * call never blocks for long, so the host's loop (acknowledgements, watchdog) keeps going
     * while a slow server takes its time. */
    for (int step = 0; step < 4; step++) {
        if (feed_http_busy(s->http)) {
            int rc = ff_job_step(s, ctx, rec);
            if (rc != 1)
                return rc;
            continue;
        }
        int64_t now = ff_mono();
        struct ff_entry e;
        /* a feed that is due goes first: its poll is one request, and a long queue of pages
         * must not keep news from being seen */
        struct ff_feed *f = ff_due(s, now);
        if (f) {
            char err[1024];
            f->polled = true;
            if (feed_http_start(s->http, f->url, FF_ACCEPT_FEED, f->etag, f->last_mod, err,
                                sizeof(err)) < 0) {
                struct feed_http_resp none = {0};
                ff_poll_end(s, ctx, f, -1, &none, err);
                continue;
            }
            s->job_feed = (int)(f - s->feeds);
            continue;
        }
        if (ff_take(s, now, &e)) {
            if (e.host < 0) {
                free(s->cur);
                s->cur = e.item;
                return ff_emit_content(s, ctx, &e, rec);
            }
            char err[1024];
            if (feed_http_start(s->http, e.item->link, FF_ACCEPT_PAGE, NULL, NULL, err,
                                sizeof(err)) < 0) {
                free(s->cur);
                s->cur = e.item;
                int rc = ff_fill(s, ctx, &e, rec);
                if (rc == NF_OK) {
                    struct feed_http_resp none = {0};
                    rc = ff_page_end(s, ctx, e.item->link, e.host, -1, &none, err, rec, true, NULL);
                }
                return ff_emit_end(s, ctx, &e, rec, rc, false);
            }
            s->job = e;
            continue;
        }
        if (s->conf->once && s->q_head == s->q_len && ff_all_polled(s))
            return NF_EOF;
        return NF_AGAIN;
    }
    return NF_AGAIN;
}

static void fetch_feed_acked(void *state, struct nf_ctx *ctx, const char *id)
{
    struct fetch_feed *s = state;
    if (strlen(id) != 32)
        return;
    struct ff_seen *e = ff_seen_put(s, id);
    if (!e)
        return;
    e->state = FF_ACKED;
    if (s->conf->remember) {
        char line[64];
        int n = snprintf(line, sizeof(line), "%s a %lld\n", id, (long long)nf_now_ms());
        nfu_ledger_append(&s->ledger, ctx, line, (size_t)n);
    }
    ff_item_done(s, ctx, e);
}

/* Reads a journaled record's input again after a restart: the page, or the item in its feed. */
static int ff_refetch(struct fetch_feed *s, struct nf_ctx *ctx, struct nf_record *rec)
{
    const char *uri = NULL, *kind = NULL;
    nf_record_source(rec, &uri, &kind);
    if (!uri || !kind) {
        nf_ctx_error(ctx, "the record has no source to fetch again");
        return NF_ERR;
    }
    if (!strcmp(kind, "http")) {
        int host = ff_host_of(s, uri);
        int64_t wait = host >= 0 ? s->hosts[host].ready - ff_mono() : 0;
        if (wait > 0) /* recovery resends many records at once: still one request at a time */
            nanosleep(&(struct timespec){wait / 1000, (wait % 1000) * 1000000}, NULL);
        struct feed_http_resp r;
        char err[1024];
        int rc = feed_http_get(s->http, uri, FF_ACCEPT_PAGE, NULL, NULL, &r, err, sizeof(err));
        return ff_page_end(s, ctx, uri, host, rc, &r, err, rec, false, NULL);
    }
    const char *hash = strchr(uri, '#');
    if (strcmp(kind, "feed") != 0 || !hash) {
        nf_ctx_error(ctx, "%s (%s) is not a feed item", uri, kind);
        return NF_ERR;
    }
    char *feed = strndup(uri, (size_t)(hash - uri));
    if (!feed) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    struct feed_http_resp r;
    struct feed_doc doc = {0};
    char err[1024];
    int rc = NF_ERR;
    int host = ff_host_of(s, feed);
    int got = feed_http_get(s->http, feed, FF_ACCEPT_FEED, NULL, NULL, &r, err, sizeof(err));
    ff_host_used(s, host);
    if (got < 0) {
        nf_ctx_error(ctx, "GET %s: %s", feed, err);
        goto out;
    }
    if (r.status < 200 || r.status > 299) {
        nf_ctx_error(ctx, "GET %s: HTTP %ld", feed, r.status);
        goto out;
    }
    char charset[64];
    ff_charset(r.content_type, charset, sizeof(charset));
    if (feed_parse(r.body, r.len, r.effective_url ? r.effective_url : feed, charset, true, &doc,
                   err, sizeof(err)) < 0) {
        nf_ctx_error(ctx, "GET %s: %s", feed, err);
        goto out;
    }
    for (size_t i = 0; i < doc.n_items; i++) {
        const struct feed_item *it = doc.items[i];
        if (strcmp(it->key, hash + 1) != 0)
            continue;
        if (!it->content) {
            nf_ctx_error(ctx, "%s: the item has no content any more", uri);
            goto out;
        }
        /* copied: the document goes before the record is encoded */
        const char *ct =
            it->content_html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
        if (nf_record_set_bytes(rec, NF_F_RAW, it->content, it->content_len) < 0 ||
            nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, ct) < 0) {
            nf_ctx_error(ctx, "out of memory");
            goto out;
        }
        rc = NF_OK;
        goto out;
    }
    nf_ctx_error(ctx, "%s: the feed no longer lists the item", uri);
out:
    feed_doc_clear(&doc);
    free(feed);
    return rc;
}

static int fetch_feed_refetch(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct fetch_feed *s = state;
    int rc = ff_refetch(s, ctx, rec);
    /* The host resends the record (or dead-letters it): the feed's next poll must not fetch
     * its page a second time for nothing. */
    const char *id = nf_record_str(rec, NF_F_ID, NULL);
    struct ff_seen *e = id && strlen(id) == 32 ? ff_seen_put(s, id) : NULL;
    if (e && e->state != FF_ACKED) {
        if (rc == NF_OK)
            e->state = FF_SENT;
        else
            ff_mark_failed(s, ctx, e, id, false);
    }
    return rc;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "fetch_feed",
    .description = "Polls RSS, Atom and JSON feeds over HTTP(S) and emits each new item's "
                   "article page (or the feed's own content), paced per host",
    .kind = NF_PLUGIN_SOURCE,
    .options = fetch_feed_options,
    .conf_size = sizeof(struct fetch_feed_conf),
    .init = fetch_feed_init,
    .next = fetch_feed_next,
    .acked = fetch_feed_acked,
    .destroy = fetch_feed_destroy,
    .refetch = fetch_feed_refetch,
    .validate = fetch_feed_validate,
};
