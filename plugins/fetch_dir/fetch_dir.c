/* fetch_dir: a source that reads a directory of articles (.txt, .html, .htm, and the same
 * gzipped), one record per file. By default it scans once, in sorted order, and ends; with
 * `watch` it then follows files closed after writing or moved in, and never ends. It does not
 * parse, clean or guess a charset. It remembers the files whose records were acknowledged and
 * those it refused (the ledger, in the stage's state directory, shared by all its workers) and
 * does not read them again after a restart unless they changed since. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#include "ledger.h"
#include "newsflow/plugin.h"

/* Compressed input is streamed through a buffer of this size, so only the inflated text is
 * ever held whole (and that is bounded by max_bytes). */
#define FETCH_DIR_ZCHUNK (64u << 10)
/* With watch, how often to look whether a directory that was removed or moved away is there
 * again. */
#define FETCH_DIR_PROBE_MS 250
/* A NUL byte within this many leading bytes makes a file binary. */
#define FETCH_DIR_SNIFF_BYTES 8192u

struct fetch_dir_conf {
    const char *path;
    bool recursive;
    const char *extensions;
    bool watch;
    int64_t max_bytes;
    int64_t settle_ms;
    bool remember;
};

static const struct nf_option fetch_dir_options[] = {
    {"path", NF_OPT_PATH, NULL, offsetof(struct fetch_dir_conf, path),
     "Directory to read articles from.", .min = "1", .flags = NF_OPT_READ_DIR},
    {"recursive", NF_OPT_BOOL, "true", offsetof(struct fetch_dir_conf, recursive),
     "Also read the subdirectories (symbolic links to directories are not followed)."},
    {"extensions", NF_OPT_STRING, "txt,html,htm", offsetof(struct fetch_dir_conf, extensions),
     "Comma-separated file extensions to read; NAME.EXT.gz is read too, decompressed. Names "
     "starting with a dot are never read (temporary files of writers)."},
    {"watch", NF_OPT_BOOL, "false", offsetof(struct fetch_dir_conf, watch),
     "After the first scan, keep running and read files as they are closed after writing or "
     "moved into the directory (inotify). If the directory is removed or moved away, this is "
     "logged and it is watched again once its path is a directory again."},
    {"max_bytes", NF_OPT_SIZE, "16M", offsetof(struct fetch_dir_conf, max_bytes),
     "Largest file, and largest inflated size of a gzipped file, that is read; a bigger one is "
     "refused as an error.", .min = "1"},
    {"settle_ms", NF_OPT_INT, "200", offsetof(struct fetch_dir_conf, settle_ms),
     "With watch: how long a file must stay untouched after it was closed before it is read, "
     "so that a writer that closes and reopens is read once, complete. A file renamed into the "
     "directory is complete and is read at once.", .min = "0"},
    {"remember", NF_OPT_BOOL, "true", offsetof(struct fetch_dir_conf, remember),
     "Keep a ledger of the files whose records reached the end of the pipeline, and of those "
     "refused (and dead-lettered) for what they hold, and do not read them again after a "
     "restart unless they were modified since."},
    {.name = NULL},
};

struct fetch_dir_list {
    char **v;
    size_t n, cap;
};

/* A file seen by inotify, waiting to settle. rel NULL: superseded by a later event. */
struct fetch_dir_pending {
    char *rel;
    uint64_t hash;
    int64_t ready_ms;
};

struct fetch_dir_watch {
    int wd;
    char *rel; /* directory relative to the root, "" for the root itself */
};

struct fetch_dir {
    const struct fetch_dir_conf *conf;
    char *root; /* absolute and resolved */
    int rootfd;
    int worker, workers;
    char *ext_store; /* the extensions option, split in place */
    char **exts;
    size_t n_exts;

    struct fetch_dir_list files; /* the first scan, sorted */
    size_t pos;

    int ifd; /* inotify, -1 without watch */
    int64_t probe_ms; /* while rootfd is -1 (the root went away): when to look for it again */
    struct fetch_dir_watch *watches;
    size_t n_watches, cap_watches;
    struct fetch_dir_pending *pending; /* ordered by ready_ms */
    size_t pending_head, n_pending, cap_pending;

    /* Reused for every file: the content (raw points into it until the next call), the
     * compressed input chunk and the uri. */
    uint8_t *buf;
    size_t cap;
    uint8_t *zin;
    z_stream zs;
    bool zs_ready;
    char *uri;
    size_t uri_cap;

    /* The ledger of every worker's finished files and refused files, by id (see
     * fetch_dir_item and fetch_dir_refusal), and this worker's file of it. */
    struct nfu_ledger_table items, refusals;
    struct nfu_ledger ledger;
    size_t ledger_lines; /* lines of this worker's file */
    size_t skipped, skipped_refused;
};

/* What the ledger says of a finished file. Every file of a directory has one: kept to 16 bytes
 * (at a load of at most 1/2, 100,000 files take 4 MiB, 10 MiB with the refusal's fields). */
struct fetch_dir_item {
    uint64_t key;     /* nfu_ledger_key of the file's record id */
    int64_t acked_ns; /* when its record was last acknowledged; 0: never */
};

/* A file refused (and dead-lettered) when it had this size and modification time. */
struct fetch_dir_refusal {
    uint64_t key;
    int64_t size, mtime_ns;
};

/* ---- small helpers ------------------------------------------------------------------- */

static char *fetch_dir_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    if (a) {
        memcpy(p, dir, a);
        p[a++] = '/';
    }
    memcpy(p + a, name, b + 1);
    return p;
}

static int fetch_dir_list_push(struct fetch_dir_list *l, char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static void fetch_dir_list_free(struct fetch_dir_list *l, size_t from)
{
    for (size_t i = from; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (struct fetch_dir_list){0};
}

static int fetch_dir_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool fetch_dir_ends_with(const char *s, size_t n, const char *suffix, size_t sn)
{
    return n >= sn && strncasecmp(s + n - sn, suffix, sn) == 0;
}

/* Whether a file name is one to read; *gz and *ext_out tell how. Hidden names are skipped so
 * that a writer's temporary file (".name.txt.part", rsync's ".name.XXXXXX") is never read. */
static bool fetch_dir_match(const struct fetch_dir *s, const char *name, bool *gz,
                            const char **ext_out)
{
    if (name[0] == '.')
        return false;
    size_t n = strlen(name);
    bool z = fetch_dir_ends_with(name, n, ".gz", 3);
    if (z)
        n -= 3;
    for (size_t i = 0; i < s->n_exts; i++) {
        size_t en = strlen(s->exts[i]);
        if (n > en + 1 && name[n - en - 1] == '.' && fetch_dir_ends_with(name, n, s->exts[i], en)) {
            *gz = z;
            *ext_out = s->exts[i];
            return true;
        }
    }
    return false;
}

/* Sharding: each of N workers takes the files whose path hash falls to it, so no two workers
 * ever read the same file and no coordination is needed. */
static bool fetch_dir_mine(const struct fetch_dir *s, const char *rel)
{
    if (s->workers <= 1)
        return true;
    return XXH3_64bits(rel, strlen(rel)) % (uint64_t)s->workers == (uint64_t)s->worker;
}

/* ---- inotify bookkeeping ------------------------------------------------------------- */

static struct fetch_dir_watch *fetch_dir_watch_find(struct fetch_dir *s, int wd)
{
    for (size_t i = 0; i < s->n_watches; i++)
        if (s->watches[i].wd == wd)
            return &s->watches[i];
    return NULL;
}

static void fetch_dir_watch_remove(struct fetch_dir *s, size_t i)
{
    free(s->watches[i].rel);
    s->watches[i] = s->watches[--s->n_watches];
}

static int fetch_dir_watch_add(struct fetch_dir *s, struct nf_ctx *ctx, const char *rel)
{
    char *abs = fetch_dir_join(s->root, rel);
    if (!abs)
        return -1;
    uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF |
                    IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
    if (s->conf->recursive)
        mask |= IN_CREATE; /* only to learn of new subdirectories; files wait for the close */
    int wd = inotify_add_watch(s->ifd, abs, mask);
    if (wd < 0) {
        nf_log(ctx, NF_LOG_WARN, "cannot watch %s: %s%s", abs, strerror(errno),
               errno == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
        free(abs);
        return 0; /* files there are still read by the scan; only later ones are missed */
    }
    free(abs);
    /* The same directory (inode) gives the same wd: after a move, only its path changes. */
    struct fetch_dir_watch *w = fetch_dir_watch_find(s, wd);
    char *copy = strdup(rel);
    if (!copy)
        return -1;
    if (w) {
        free(w->rel);
        w->rel = copy;
        return 0;
    }
    if (s->n_watches == s->cap_watches) {
        size_t cap = s->cap_watches ? s->cap_watches * 2 : 16;
        struct fetch_dir_watch *v = realloc(s->watches, cap * sizeof(*v));
        if (!v) {
            free(copy);
            return -1;
        }
        s->watches = v;
        s->cap_watches = cap;
    }
    s->watches[s->n_watches++] = (struct fetch_dir_watch){wd, copy};
    return 0;
}

/* A directory moved away: forget its watches and those below it (their paths are stale). If
 * it moved within the tree, the IN_MOVED_TO that follows watches it again under its new name. */
static void fetch_dir_watch_drop_tree(struct fetch_dir *s, const char *rel)
{
    size_t n = strlen(rel);
    for (size_t i = 0; i < s->n_watches;) {
        const char *w = s->watches[i].rel;
        if (strncmp(w, rel, n) == 0 && (w[n] == '\0' || w[n] == '/')) {
            inotify_rm_watch(s->ifd, s->watches[i].wd);
            fetch_dir_watch_remove(s, i);
        } else {
            i++;
        }
    }
}

/* settle: wait settle_ms before reading it (a file closed after writing: its writer may open
 * it again); a file renamed into place is complete and is read at once. */
static int fetch_dir_pending_push(struct fetch_dir *s, char *rel, bool supersede, bool settle)
{
    uint64_t h = XXH3_64bits(rel, strlen(rel));
    /* A new event for a file still waiting restarts its wait: drop the older entry and append,
     * which keeps the queue ordered by ready time. */
    for (size_t i = s->pending_head; supersede && i < s->n_pending; i++) {
        struct fetch_dir_pending *p = &s->pending[i];
        if (p->rel && p->hash == h && strcmp(p->rel, rel) == 0) {
            free(p->rel);
            p->rel = NULL;
            break;
        }
    }
    if (s->pending_head == s->n_pending)
        s->pending_head = s->n_pending = 0;
    if (s->n_pending == s->cap_pending) {
        if (s->pending_head > 0) {
            memmove(s->pending, s->pending + s->pending_head,
                    (s->n_pending - s->pending_head) * sizeof(*s->pending));
            s->n_pending -= s->pending_head;
            s->pending_head = 0;
        }
        if (s->n_pending == s->cap_pending) {
            size_t cap = s->cap_pending ? s->cap_pending * 2 : 64;
            struct fetch_dir_pending *v = realloc(s->pending, cap * sizeof(*v));
            if (!v) {
                free(rel);
                return -1;
            }
            s->pending = v;
            s->cap_pending = cap;
        }
    }
    s->pending[s->n_pending++] =
        (struct fetch_dir_pending){rel, h, nf_now_ms() + (settle ? s->conf->settle_ms : 0)};
    return 0;
}

/* The oldest settled file, or NULL. The caller owns the result. */
static char *fetch_dir_pending_pop(struct fetch_dir *s)
{
    int64_t now = nf_now_ms();
    while (s->pending_head < s->n_pending) {
        struct fetch_dir_pending *p = &s->pending[s->pending_head];
        if (p->rel && p->ready_ms > now)
            return NULL;
        s->pending_head++;
        if (p->rel)
            return p->rel;
    }
    return NULL;
}

/* ---- scanning ------------------------------------------------------------------------ */

/* Adds the files under `rel` (a directory relative to the root) that this worker reads to
 * `out`, and with watch also watches the directories. A subdirectory that cannot be read is
 * logged and skipped; the root that cannot be read is an error. */
static int fetch_dir_scan(struct fetch_dir *s, struct nf_ctx *ctx, const char *rel,
                          struct fetch_dir_list *out)
{
    /* Watch before listing: a file closed between the two is then seen at least once. */
    if (s->ifd >= 0 && fetch_dir_watch_add(s, ctx, rel) < 0)
        goto nomem;
    int fd = openat(s->rootfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (!rel[0]) {
            nf_ctx_error(ctx, "cannot read directory %s: %s", s->root, strerror(e));
            return -1;
        }
        nf_log(ctx, NF_LOG_WARN, "cannot read directory %s/%s: %s; skipped", s->root, rel,
               strerror(e));
        return 0;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (errno = 0, de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.')
            continue;
        unsigned char type = de->d_type;
        struct stat st;
        if (type == DT_UNKNOWN)
            type = fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0 ? DT_REG
                   : S_ISDIR(st.st_mode)                              ? DT_DIR
                   : S_ISLNK(st.st_mode)                              ? DT_LNK
                                                                      : DT_REG;
        if (type == DT_LNK) {
            /* A link counts as what it points to, but a link to a directory is not followed
             * (no loops); a dangling one is kept so that its error is reported. */
            if (fstatat(dirfd(d), name, &st, 0) == 0 && S_ISDIR(st.st_mode))
                continue;
            type = DT_REG;
        }
        if (type == DT_DIR) {
            if (!s->conf->recursive)
                continue;
            char *sub = fetch_dir_join(rel, name);
            rc = sub ? fetch_dir_scan(s, ctx, sub, out) : -2;
            free(sub);
            continue;
        }
        bool gz;
        const char *ext;
        if (!fetch_dir_match(s, name, &gz, &ext))
            continue;
        char *path = fetch_dir_join(rel, name);
        if (!path || !fetch_dir_mine(s, path)) {
            rc = path ? 0 : -2;
            free(path);
            continue;
        }
        if (fetch_dir_list_push(out, path) < 0) {
            free(path);
            rc = -2;
        }
    }
    if (rc == 0 && errno) {
        nf_ctx_error(ctx, "cannot list %s/%s: %s", s->root, rel, strerror(errno));
        rc = -1;
    } else if (rc == -2) {
        nf_ctx_error(ctx, "out of memory");
        rc = -1;
    }
    closedir(d);
    return rc;
nomem:
    nf_ctx_error(ctx, "out of memory");
    return -1;
}

/* Scans a directory that appeared while watching and queues what it already holds. */
static int fetch_dir_scan_new(struct fetch_dir *s, struct nf_ctx *ctx, const char *rel)
{
    struct fetch_dir_list found = {0};
    int rc = fetch_dir_scan(s, ctx, rel, &found);
    if (found.n > 1)
        qsort(found.v, found.n, sizeof(*found.v), fetch_dir_cmp);
    size_t i = 0;
    while (rc == 0 && i < found.n)
        rc = fetch_dir_pending_push(s, found.v[i++], false, true); /* takes the path */
    fetch_dir_list_free(&found, i);
    return rc;
}

/* The watched directory itself was removed or moved away: nothing under its path is watched
 * any more (the watches follow the moved inodes), so forget them and what waited to be read
 * there, and look for the path again (fetch_dir_probe). */
static void fetch_dir_root_lost(struct fetch_dir *s, struct nf_ctx *ctx, const char *how)
{
    nf_log(ctx, NF_LOG_WARN, "%s was %s; watching for it to be there again", s->root, how);
    while (s->n_watches) {
        inotify_rm_watch(s->ifd, s->watches[0].wd);
        fetch_dir_watch_remove(s, 0);
    }
    size_t dropped = 0;
    for (size_t i = s->pending_head; i < s->n_pending; i++) {
        dropped += s->pending[i].rel != NULL;
        free(s->pending[i].rel);
        s->pending[i].rel = NULL;
    }
    if (dropped)
        nf_log(ctx, NF_LOG_WARN, "%zu %s waiting to be read went with it", dropped,
               dropped == 1 ? "file" : "files");
    close(s->rootfd);
    s->rootfd = -1;
    s->probe_ms = 0; /* look at once: it may be back already */
}

/* Every FETCH_DIR_PROBE_MS: whether the root is still the directory its path names (inotify
 * says nothing of its removal while this source holds it open, and a directory put in its
 * place is another one); while it is gone, whether it is there again, then watch it and queue
 * what it holds. */
static void fetch_dir_probe(struct fetch_dir *s, struct nf_ctx *ctx)
{
    int64_t now = nf_now_ms();
    if (now < s->probe_ms)
        return;
    s->probe_ms = now + FETCH_DIR_PROBE_MS;
    if (s->rootfd >= 0) {
        struct stat held, named;
        if (fstat(s->rootfd, &held) == 0 &&
            (stat(s->root, &named) < 0 || named.st_dev != held.st_dev ||
             named.st_ino != held.st_ino))
            fetch_dir_root_lost(s, ctx, held.st_nlink ? "replaced" : "removed");
        if (s->rootfd >= 0)
            return;
    }
    s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0)
        return;
    nf_log(ctx, NF_LOG_INFO, "%s is there again; watching it", s->root);
    if (fetch_dir_scan_new(s, ctx, "") < 0)
        nf_log(ctx, NF_LOG_ERROR, "rescan of %s failed", s->root);
}

/* Reads every queued inotify event without blocking. */
static void fetch_dir_drain(struct fetch_dir *s, struct nf_ctx *ctx)
{
    char evbuf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(s->ifd, evbuf, sizeof(evbuf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            if (errno != EAGAIN)
                nf_log(ctx, NF_LOG_ERROR, "reading inotify events: %s", strerror(errno));
            return;
        }
        if (n == 0)
            return;
        for (char *p = evbuf; p < evbuf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            if (ev->mask & IN_Q_OVERFLOW) {
                /* Events were lost: look at everything again. Files read twice keep their id,
                 * so what follows sees a replay, not a new article. */
                nf_log(ctx, NF_LOG_WARN, "inotify queue overflowed; rescanning %s", s->root);
                if (fetch_dir_scan_new(s, ctx, "") < 0)
                    nf_log(ctx, NF_LOG_ERROR, "rescan of %s failed", s->root);
                continue;
            }
            struct fetch_dir_watch *w = fetch_dir_watch_find(s, ev->wd);
            if (!w)
                continue;
            if (!w->rel[0] && (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))) {
                fetch_dir_root_lost(s, ctx,
                                    ev->mask & IN_MOVE_SELF     ? "moved away"
                                    : ev->mask & IN_DELETE_SELF ? "removed"
                                                                : "unmounted or removed");
                return; /* the events still queued are of watches now gone */
            }
            if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
                /* A subdirectory: watched again when it comes back (IN_CREATE or IN_MOVED_TO
                 * in its parent). */
                nf_log(ctx, NF_LOG_INFO, "%s/%s was %s", s->root, w->rel,
                       ev->mask & IN_MOVE_SELF ? "moved away" : "removed");
                char *rel = strdup(w->rel);
                if (rel)
                    fetch_dir_watch_drop_tree(s, rel);
                free(rel);
                continue;
            }
            if (ev->mask & IN_IGNORED) {
                fetch_dir_watch_remove(s, (size_t)(w - s->watches));
                continue;
            }
            if (!ev->len || ev->name[0] == '.')
                continue;
            char *rel = fetch_dir_join(w->rel, ev->name);
            if (!rel) {
                nf_log(ctx, NF_LOG_ERROR, "out of memory; an event for %s was lost", ev->name);
                continue;
            }
            if (ev->mask & IN_ISDIR) {
                if (ev->mask & IN_MOVED_FROM)
                    fetch_dir_watch_drop_tree(s, rel);
                else if (s->conf->recursive && (ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
                         fetch_dir_scan_new(s, ctx, rel) < 0)
                    nf_log(ctx, NF_LOG_ERROR, "cannot follow new directory %s/%s", s->root,
                           rel);
                free(rel);
                continue;
            }
            bool gz;
            const char *ext;
            if ((ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) &&
                fetch_dir_match(s, ev->name, &gz, &ext) && fetch_dir_mine(s, rel)) {
                if (fetch_dir_pending_push(s, rel, true, !(ev->mask & IN_MOVED_TO)) < 0)
                    nf_log(ctx, NF_LOG_ERROR, "out of memory; %s/%s was not queued", s->root,
                           ev->name);
            } else {
                free(rel);
            }
        }
    }
}

/* ---- reading one file ---------------------------------------------------------------- */

/* Makes room for `need` bytes in the content buffer. */
static int fetch_dir_reserve(struct fetch_dir *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 64u << 10;
    while (cap < need)
        cap *= 2;
    /* Never more than max_bytes + 1: enough to tell "too big" apart from "exactly the limit". */
    size_t limit = (size_t)s->conf->max_bytes + 1;
    if (cap > limit)
        cap = limit > need ? limit : need;
    uint8_t *b = realloc(s->buf, cap);
    if (!b)
        return -1;
    s->buf = b;
    s->cap = cap;
    return 0;
}

/* Reads a plain file into buf; *n_out is the size, or max_bytes + 1 if it is larger. */
static int fetch_dir_read_plain(struct fetch_dir *s, int fd, size_t hint, size_t *n_out,
                                const char **why)
{
    size_t limit = (size_t)s->conf->max_bytes + 1, n = 0;
    if (fetch_dir_reserve(s, hint + 1 < limit ? hint + 1 : limit) < 0)
        return *why = "out of memory", -1;
    for (;;) {
        if (n == s->cap && fetch_dir_reserve(s, n + 1) < 0)
            return *why = "out of memory", -1;
        size_t room = s->cap - n;
        if (room > limit - n)
            room = limit - n;
        if (room == 0)
            break;
        ssize_t r = read(fd, s->buf + n, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return *why = strerror(errno), -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *n_out = n;
    return 0;
}

/* Inflates a gzip file (one or more members) into buf, refusing output past max_bytes so that
 * a small file that inflates to gigabytes costs at most max_bytes of memory. */
static int fetch_dir_read_gz(struct fetch_dir *s, int fd, size_t hint, size_t *n_out,
                             const char **why)
{
    size_t limit = (size_t)s->conf->max_bytes + 1, n = 0;
    size_t guess = hint > limit / 4 ? limit : hint * 4;
    if (fetch_dir_reserve(s, guess ? guess : 1) < 0)
        return *why = "out of memory", -1;
    if (inflateReset2(&s->zs, 16 + MAX_WBITS) != Z_OK)
        return *why = "cannot reset zlib", -1;
    s->zs.avail_in = 0;
    bool eof = false, member_done = false;
    for (;;) {
        if (s->zs.avail_in == 0 && !eof) {
            ssize_t r = read(fd, s->zin, FETCH_DIR_ZCHUNK);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return *why = strerror(errno), -1;
            eof = r == 0;
            s->zs.next_in = s->zin;
            s->zs.avail_in = (uInt)r;
        }
        if (s->zs.avail_in == 0 && eof) {
            if (!member_done)
                return *why = "unexpected end of file", -2;
            break;
        }
        if (member_done) {
            /* Another member follows (concatenated gzip files are one file to gunzip). */
            if (inflateReset2(&s->zs, 16 + MAX_WBITS) != Z_OK)
                return *why = "cannot reset zlib", -1;
            member_done = false;
        }
        if (n == s->cap && fetch_dir_reserve(s, n + 1) < 0)
            return *why = "out of memory", -1;
        size_t room = s->cap - n;
        if (room > limit - n)
            room = limit - n;
        s->zs.next_out = s->buf + n;
        s->zs.avail_out = (uInt)(room > UINT32_MAX ? UINT32_MAX : room);
        uInt before = s->zs.avail_out;
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        n += before - s->zs.avail_out;
        if (n >= limit) {
            *n_out = limit;
            return 0;
        }
        if (rc == Z_STREAM_END)
            member_done = true;
        else if (rc == Z_BUF_ERROR)
            continue; /* needs more input or more room; both are given above */
        else if (rc != Z_OK) {
            *why = rc == Z_MEM_ERROR ? "out of memory"
                                     : (s->zs.msg ? s->zs.msg : "corrupt gzip");
            return rc == Z_MEM_ERROR ? -1 : -2;
        }
    }
    *n_out = n;
    return 0;
}

/* The first NUL byte if the content looks binary, else NULL. Binary formats (images, PDF,
 * archives, UTF-16 text) have NUL bytes near the start; a few stray NULs further in occur in
 * real web pages (a broken template) and do not make the page unreadable, so those pass, as
 * grep and git judge it too. */
static const uint8_t *fetch_dir_binary(const uint8_t *p, size_t n)
{
    const uint8_t *nul = memchr(p, 0, n);
    if (!nul || (size_t)(nul - p) < FETCH_DIR_SNIFF_BYTES)
        return nul;
    size_t count = 0;
    for (const uint8_t *q = nul; q; q = memchr(q + 1, 0, n - (size_t)(q + 1 - p)))
        count++;
    return count > n / 100 ? nul : NULL;
}

/* Whether text that came in a .txt is really an HTML page. */
static bool fetch_dir_sniff_html(const uint8_t *p, size_t n)
{
    size_t i = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    const char *t = (const char *)p + i;
    size_t left = n - i;
    return (left >= 14 && strncasecmp(t, "<!doctype html", 14) == 0) ||
           (left >= 5 && strncasecmp(t, "<html", 5) == 0);
}

static int fetch_dir_set_uri(struct fetch_dir *s, const char *rel)
{
    size_t need = 7 + strlen(s->root) + 1 + strlen(rel) + 1;
    if (need > s->uri_cap) {
        char *u = realloc(s->uri, need);
        if (!u)
            return -1;
        s->uri = u;
        s->uri_cap = need;
    }
    snprintf(s->uri, s->uri_cap, "file://%s/%s", s->root, rel);
    return 0;
}

static int64_t fetch_dir_mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* A file refused for what it holds (not for a failure to read it, which may pass): the ledger
 * remembers it as it is, once the host has dead-lettered it, so that a restart does not refuse
 * it again. */
static int fetch_dir_refuse(struct fetch_dir *s, const char *id, const struct stat *st)
{
    nfu_ledger_hold_refused(&s->ledger, id, (uint64_t)st->st_size,
                            (uint64_t)fetch_dir_mtime_ns(st));
    struct fetch_dir_refusal *r = nfu_ledger_table_put(&s->refusals, nfu_ledger_key(id), NULL);
    if (r) {
        r->size = (int64_t)st->st_size;
        r->mtime_ns = fetch_dir_mtime_ns(st);
    }
    return NF_ERR;
}

static int fetch_dir_read(struct fetch_dir *s, struct nf_ctx *ctx, const char *rel,
                          struct nf_record *rec)
{
    if (fetch_dir_set_uri(s, rel) < 0) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    const char *abs = s->uri + 7;
    char id[33];
    nf_id_make(s->uri, strlen(s->uri), id);
    /* Id and source first: a file that fails is dead-lettered under them. */
    if (nf_record_set_cstr(rec, NF_F_ID, id) < 0 ||
        nf_record_set_source(rec, s->uri, "file") < 0) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    bool gz = false;
    const char *ext = "txt";
    const char *base = strrchr(rel, '/');
    fetch_dir_match(s, base ? base + 1 : rel, &gz, &ext);

    /* O_NONBLOCK: a FIFO that slipped in must not hang the source in open(). */
    int fd = openat(s->rootfd, rel, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        nf_ctx_error(ctx, "cannot open %s: %s", abs, strerror(errno));
        return NF_ERR;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        nf_ctx_error(ctx, "cannot stat %s: %s", abs, strerror(errno));
        close(fd);
        return NF_ERR;
    }
    if (!S_ISREG(st.st_mode)) {
        nf_ctx_error(ctx, "%s is not a regular file", abs);
        close(fd);
        return fetch_dir_refuse(s, id, &st);
    }
    int64_t max = s->conf->max_bytes;
    if (st.st_size > max) {
        nf_ctx_error(ctx, "%s is %lld bytes, over max_bytes %lld", abs, (long long)st.st_size,
                     (long long)max);
        close(fd);
        return fetch_dir_refuse(s, id, &st);
    }
    size_t n = 0;
    const char *why = NULL;
    int rc = gz ? fetch_dir_read_gz(s, fd, (size_t)st.st_size, &n, &why)
                : fetch_dir_read_plain(s, fd, (size_t)st.st_size, &n, &why);
    close(fd);
    if (rc == -2) {
        nf_ctx_error(ctx, "%s is not a valid gzip file: %s", abs, why);
        return fetch_dir_refuse(s, id, &st);
    }
    if (rc < 0) {
        nf_ctx_error(ctx, "cannot read %s: %s", abs, why);
        return NF_ERR;
    }
    if (n > (size_t)max) {
        if (!gz) {
            nf_ctx_error(ctx, "%s grew past max_bytes %lld while being read", abs,
                         (long long)max);
            return NF_ERR; /* it is changing: a later look may find it whole */
        }
        nf_ctx_error(ctx, "%s inflates to more than max_bytes %lld", abs, (long long)max);
        return fetch_dir_refuse(s, id, &st);
    }
    if (n == 0) {
        nf_ctx_error(ctx, "%s is empty", abs);
        return fetch_dir_refuse(s, id, &st);
    }
    const uint8_t *nul = fetch_dir_binary(s->buf, n);
    if (nul) {
        nf_record_set_bytes_ref(rec, NF_F_RAW, s->buf, n);
        nf_ctx_error(ctx, "%s is binary, not text (a NUL byte at offset %zu)", abs,
                     (size_t)(nul - s->buf));
        return fetch_dir_refuse(s, id, &st);
    }
    bool html = strcasecmp(ext, "html") == 0 || strcasecmp(ext, "htm") == 0 ||
                strcasecmp(ext, "xhtml") == 0 || fetch_dir_sniff_html(s->buf, n);
    if (nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, html ? "text/html" : "text/plain") < 0 ||
        nf_record_set_bytes_ref(rec, NF_F_RAW, s->buf, n) < 0) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    return NF_OK;
}

/* ---- the ledger of finished and refused files --------------------------------------- */

/* Passed over: a record was acknowledged after the file's last modification, or the file was
 * refused as it is now. */
static bool fetch_dir_finished(struct fetch_dir *s, const char *id, const struct stat *st,
                               bool *refused_out)
{
    uint64_t key = nfu_ledger_key(id);
    const struct fetch_dir_item *it = nfu_ledger_table_get(&s->items, key);
    const struct fetch_dir_refusal *r = nfu_ledger_table_get(&s->refusals, key);
    int64_t mtime = fetch_dir_mtime_ns(st);
    *refused_out = r && r->size == (int64_t)st->st_size && r->mtime_ns == mtime;
    return *refused_out || (it && it->acked_ns && mtime < it->acked_ns);
}

/* Ledger lines: "ID ACKED_NS" (acknowledged) and "!ID SIZE MTIME_NS" (refused). */
static bool fetch_dir_ledger_parse(const char *line, char id[33], bool *refused, int64_t *a,
                                   int64_t *b)
{
    uint64_t ua, ub;
    if ((*refused = nfu_ledger_parse_refused(line, id, &ua, &ub))) {
        *a = (int64_t)ua;
        *b = (int64_t)ub;
        return true;
    }
    long long ns;
    *b = 0;
    if (sscanf(line, "%32s %lld", id, &ns) != 2 || strlen(id) != 32)
        return false;
    *a = ns;
    return true;
}

static int fetch_dir_ledger_line(void *arg, const char *line, bool mine)
{
    struct fetch_dir *s = arg;
    char id[33];
    bool refused;
    int64_t a, b;
    s->ledger_lines += mine;
    if (!fetch_dir_ledger_parse(line, id, &refused, &a, &b))
        return 0;
    if (refused) {
        bool added;
        struct fetch_dir_refusal *r =
            nfu_ledger_table_put(&s->refusals, nfu_ledger_key(id), &added);
        if (!r)
            return -1;
        if (added || b >= r->mtime_ns) {
            r->size = a;
            r->mtime_ns = b;
        }
        return 0;
    }
    struct fetch_dir_item *it = nfu_ledger_table_put(&s->items, nfu_ledger_key(id), NULL);
    if (!it)
        return -1;
    if (a > it->acked_ns)
        it->acked_ns = a;
    return 0;
}

/* A rewrite keeps the lines that still say something: the latest of each kind per file. */
static bool fetch_dir_ledger_keep(void *arg, const char *line)
{
    struct fetch_dir *s = arg;
    char id[33];
    bool refused;
    int64_t a, b;
    if (!fetch_dir_ledger_parse(line, id, &refused, &a, &b))
        return false;
    if (refused) {
        const struct fetch_dir_refusal *r = nfu_ledger_table_get(&s->refusals, nfu_ledger_key(id));
        return r && r->size == a && r->mtime_ns == b;
    }
    const struct fetch_dir_item *it = nfu_ledger_table_get(&s->items, nfu_ledger_key(id));
    return it && it->acked_ns == a;
}

/* Reads every worker's ledger (files move between workers when their number changes), keeps
 * this worker's file short, and opens it for appending. */
static int fetch_dir_ledger_open(struct fetch_dir *s, struct nf_ctx *ctx)
{
    nfu_ledger_init(&s->ledger, "fetch_dir", s->worker);
    if (nfu_ledger_read(&s->ledger, ctx, fetch_dir_ledger_line, s) < 0)
        return -1;
    /* many files were finished again */
    if (s->ledger_lines > 2 * (s->items.n + s->refusals.n) + 1024)
        nfu_ledger_rewrite(&s->ledger, ctx, fetch_dir_ledger_keep, s);
    return nfu_ledger_open(&s->ledger, ctx);
}

/* The file of `id` reached the end of the pipeline. No fsync: a lost line only means the file
 * is read once more after a crash, and stores are idempotent. */
static void fetch_dir_acked(void *state, struct nf_ctx *ctx, const char *id)
{
    struct fetch_dir *s = state;
    if (s->ledger.fd < 0 || strlen(id) != 32)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    char line[64];
    int n = snprintf(line, sizeof(line), "%s %lld\n", id, (long long)ns);
    nfu_ledger_append(&s->ledger, ctx, line, (size_t)n);
    struct fetch_dir_item *it = nfu_ledger_table_put(&s->items, nfu_ledger_key(id), NULL);
    if (it)
        it->acked_ns = ns;
}

/* Reads the file of a journaled record again, for a resend after a restart. */
static int fetch_dir_refetch(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct fetch_dir *s = state;
    nfu_ledger_settle(&s->ledger, ctx);
    const char *uri = NULL;
    nf_record_source(rec, &uri, NULL);
    size_t rl = strlen(s->root);
    if (!uri || strncmp(uri, "file://", 7) != 0 || strncmp(uri + 7, s->root, rl) != 0 ||
        uri[7 + rl] != '/') {
        nf_ctx_error(ctx, "%s is not under %s", uri ? uri : "(no source uri)", s->root);
        return NF_ERR;
    }
    char *rel = strdup(uri + 7 + rl + 1);
    if (!rel) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    int rc = fetch_dir_read(s, ctx, rel, rec);
    free(rel);
    return rc;
}

/* ---- the plugin ---------------------------------------------------------------------- */

static void fetch_dir_destroy(void *state)
{
    struct fetch_dir *s = state;
    if (!s)
        return;
    fetch_dir_list_free(&s->files, s->pos);
    for (size_t i = s->pending_head; i < s->n_pending; i++)
        free(s->pending[i].rel);
    free(s->pending);
    for (size_t i = 0; i < s->n_watches; i++)
        free(s->watches[i].rel);
    free(s->watches);
    if (s->ifd >= 0)
        close(s->ifd);
    if (s->rootfd >= 0)
        close(s->rootfd);
    nfu_ledger_close(&s->ledger);
    nfu_ledger_table_free(&s->items);
    nfu_ledger_table_free(&s->refusals);
    if (s->zs_ready)
        inflateEnd(&s->zs);
    free(s->buf);
    free(s->zin);
    free(s->uri);
    free(s->exts);
    free(s->ext_store);
    free(s->root);
    free(s);
}

/* Splits the extensions option on commas, spaces and tabs. 0, or -1 with the reason given. */
static int fetch_dir_parse_exts(struct fetch_dir *s, struct nf_ctx *ctx)
{
    static const char sep[] = ", \t";
    s->ext_store = strdup(s->conf->extensions);
    /* One slot per separator and one more: at least as many as there are words. */
    size_t n = 1;
    for (const char *p = s->conf->extensions; *p; p++)
        n += strchr(sep, *p) != NULL;
    s->exts = s->ext_store ? calloc(n, sizeof(*s->exts)) : NULL;
    if (!s->exts) {
        nf_ctx_error(ctx, "out of memory");
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(s->ext_store, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
        while (*t == '.')
            t++;
        if (*t)
            s->exts[s->n_exts++] = t;
    }
    if (s->n_exts == 0) {
        nf_ctx_error(ctx, "option 'extensions' names no extension");
        return -1;
    }
    return 0;
}

/* What the table cannot say: extensions must name one, not only separators and dots. */
static int fetch_dir_validate(const void *vconf, const char **option_out, char *err,
                              size_t errlen)
{
    const struct fetch_dir_conf *conf = vconf;
    if (conf->extensions[strspn(conf->extensions, ", \t.")])
        return NF_OK;
    *option_out = "extensions";
    snprintf(err, errlen, "option 'extensions' names no extension (\"%s\")", conf->extensions);
    return NF_ERR;
}

static int fetch_dir_init(struct nf_ctx *ctx, const void *vconf, void **state_out)
{
    /* a non-empty path, max_bytes > 0 and settle_ms >= 0 are the option table's bounds */
    const struct fetch_dir_conf *conf = vconf;
    if ((uint64_t)conf->max_bytes > NF_RECORD_MAX_BYTES)
        nf_log(ctx, NF_LOG_WARN,
               "max_bytes %lld is over the default record limit %u: files that large will be "
               "refused by the next stage unless it raises its limit",
               (long long)conf->max_bytes, NF_RECORD_MAX_BYTES);
    struct fetch_dir *s = calloc(1, sizeof(*s));
    if (!s) {
        nf_ctx_error(ctx, "out of memory");
        return NF_ERR;
    }
    s->conf = conf;
    s->rootfd = s->ifd = -1;
    s->items.size = sizeof(struct fetch_dir_item);
    s->refusals.size = sizeof(struct fetch_dir_refusal);
    nfu_ledger_init(&s->ledger, "fetch_dir", s->worker);
    s->worker = nf_ctx_worker(ctx);
    s->workers = nf_ctx_workers(ctx);
    s->root = realpath(conf->path, NULL);
    if (!s->root) {
        nf_ctx_error(ctx, "cannot open directory %s (%s): %s", conf->path,
                     nf_ctx_option_where(ctx, "path"), strerror(errno));
        goto fail;
    }
    s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0) {
        nf_ctx_error(ctx, "cannot open directory %s (%s): %s", s->root,
                     nf_ctx_option_where(ctx, "path"), strerror(errno));
        goto fail;
    }
    if (fetch_dir_parse_exts(s, ctx) < 0)
        goto fail;
    s->zin = malloc(FETCH_DIR_ZCHUNK);
    if (!s->zin)
        goto fail_nomem;
    if (inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK)
        goto fail_nomem;
    s->zs_ready = true;
    if (conf->watch) {
        s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (s->ifd < 0) {
            nf_ctx_error(ctx, "cannot watch %s: inotify: %s", s->root, strerror(errno));
            goto fail;
        }
        nf_ctx_wait_fd(ctx, s->ifd); /* a file arriving wakes the host at once */
    }
    if (conf->remember && fetch_dir_ledger_open(s, ctx) < 0)
        goto fail;
    if (fetch_dir_scan(s, ctx, "", &s->files) < 0)
        goto fail;
    /* Sorted, so that runs over the same directory emit the same sequence. */
    if (s->files.n > 1)
        qsort(s->files.v, s->files.n, sizeof(*s->files.v), fetch_dir_cmp);
    nf_log(ctx, NF_LOG_INFO, "%zu %s to read in %s%s", s->files.n,
           s->files.n == 1 ? "file" : "files", s->root,
           conf->watch ? ", then watching for more" : "");
    *state_out = s;
    return NF_OK;
fail_nomem:
    nf_ctx_error(ctx, "out of memory");
fail:
    fetch_dir_destroy(s);
    return NF_ERR;
}

static int fetch_dir_next(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    struct fetch_dir *s = state;
    nfu_ledger_settle(&s->ledger, ctx);
    nf_ctx_progress(ctx, (int64_t)s->pos, (int64_t)s->files.n, "files"); /* those listed */
    if (s->ifd >= 0) {
        fetch_dir_drain(s, ctx);
        fetch_dir_probe(s, ctx);
        if (s->rootfd < 0)
            return NF_AGAIN;
    }
    while (s->pos < s->files.n) {
        char *rel = s->files.v[s->pos];
        s->files.v[s->pos++] = NULL;
        if (s->items.n || s->refusals.n) {
            /* finished or refused in an earlier run and not modified since: not again */
            struct stat st;
            char id[33];
            bool refused;
            if (fetch_dir_set_uri(s, rel) == 0 && fstatat(s->rootfd, rel, &st, 0) == 0) {
                nf_id_make(s->uri, strlen(s->uri), id);
                if (fetch_dir_finished(s, id, &st, &refused)) {
                    s->skipped++;
                    s->skipped_refused += refused;
                    free(rel);
                    continue;
                }
            }
        }
        int rc = fetch_dir_read(s, ctx, rel, rec);
        free(rel);
        return rc;
    }
    if (s->skipped) {
        nf_log(ctx, NF_LOG_INFO,
               "%zu %s finished in an earlier run and not read again (%zu of them refused "
               "then, and unchanged since)",
               s->skipped, s->skipped == 1 ? "file was" : "files were", s->skipped_refused);
        s->skipped = s->skipped_refused = 0;
    }
    if (s->ifd < 0)
        return NF_EOF;
    for (char *rel; (rel = fetch_dir_pending_pop(s));) {
        /* Queued again by a rescan (the directory came back, or inotify overflowed) while
         * still as it was refused: its dead letter exists. */
        struct stat st;
        char id[33];
        bool refused;
        if (s->refusals.n && fetch_dir_set_uri(s, rel) == 0 &&
            fstatat(s->rootfd, rel, &st, 0) == 0) {
            nf_id_make(s->uri, strlen(s->uri), id);
            if (fetch_dir_finished(s, id, &st, &refused) && refused) {
                free(rel);
                continue;
            }
        }
        int rc = fetch_dir_read(s, ctx, rel, rec);
        free(rel);
        return rc;
    }
    return NF_AGAIN;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "fetch_dir",
    .description = "Reads articles from a directory, one record per file; can watch it for more",
    .kind = NF_PLUGIN_SOURCE,
    .options = fetch_dir_options,
    .conf_size = sizeof(struct fetch_dir_conf),
    .init = fetch_dir_init,
    .next = fetch_dir_next,
    .acked = fetch_dir_acked,
    .destroy = fetch_dir_destroy,
    .refetch = fetch_dir_refetch,
    .validate = fetch_dir_validate,
};
