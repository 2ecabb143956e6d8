/* A source's ledger of finished items: see ledger.h. */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* This worker's file into buf. */
static void nfu_ledger_own(const struct nfu_ledger *l, struct nf_ctx *ctx, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s-%d.ledger", nf_ctx_state_dir(ctx), l->name, l->worker);
}

void nfu_ledger_init(struct nfu_ledger *l, const char *name, int worker)
{
    *l = (struct nfu_ledger){.name = name, .worker = worker, .fd = -1};
}

int nfu_ledger_read(struct nfu_ledger *l, struct nf_ctx *ctx, nfu_ledger_line_fn fn, void *arg)
{
    char pattern[4096], own[4096];
    snprintf(pattern, sizeof(pattern), "%s/%s-*.ledger", nf_ctx_state_dir(ctx), l->name);
    nfu_ledger_own(l, ctx, own, sizeof(own));
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < g.gl_pathc && rc == 0; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        if (!f)
            continue;
        bool mine = strcmp(g.gl_pathv[i], own) == 0;
        while (rc == 0 && getline(&line, &cap, f) > 0)
            rc = fn(arg, line, mine);
        fclose(f);
    }
    free(line);
    globfree(&g);
    if (rc < 0)
        nf_ctx_error(ctx, "out of memory reading the ledgers");
    return rc < 0 ? -1 : 0;
}

void nfu_ledger_rewrite(struct nfu_ledger *l, struct nf_ctx *ctx, nfu_ledger_keep_fn keep,
                        void *arg)
{
    char path[4096], tmp[4200];
    nfu_ledger_own(l, ctx, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w");
    bool ok = in && out;
    char *line = NULL;
    size_t cap = 0;
    while (ok && getline(&line, &cap, in) > 0)
        if (keep(arg, line))
            ok = fputs(line, out) >= 0;
    free(line);
    if (in)
        fclose(in);
    if (out && (fflush(out) != 0 || fsync(fileno(out)) != 0))
        ok = false;
    if (out && fclose(out) != 0)
        ok = false;
    if (!ok || rename(tmp, path) != 0) {
        nf_log(ctx, NF_LOG_WARN, "cannot rewrite the ledger %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

int nfu_ledger_open(struct nfu_ledger *l, struct nf_ctx *ctx)
{
    char path[4096];
    nfu_ledger_own(l, ctx, path, sizeof(path));
    l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        nf_ctx_error(ctx, "cannot open the ledger %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

void nfu_ledger_append(struct nfu_ledger *l, struct nf_ctx *ctx, const char *line, size_t n)
{
    if (l->fd >= 0 && write(l->fd, line, n) != (ssize_t)n)
        nf_log(ctx, NF_LOG_WARN, "cannot append to the ledger: %s", strerror(errno));
}

void nfu_ledger_close(struct nfu_ledger *l)
{
    if (l->fd >= 0) {
        /* No one to tell of a failure any more: the input is then refused once more. */
        if (l->n_held && write(l->fd, l->held, l->n_held) < 0)
            l->n_held = 0;
        close(l->fd);
    }
    l->fd = -1;
    l->n_held = 0;
}

void nfu_ledger_hold_refused(struct nfu_ledger *l, const char *id, uint64_t a, uint64_t b)
{
    int n = snprintf(l->held, sizeof(l->held), "!%s %llu %llu\n", id, (unsigned long long)a,
                     (unsigned long long)b);
    l->n_held = n > 0 && (size_t)n < sizeof(l->held) && strlen(id) == 32 ? (size_t)n : 0;
}

void nfu_ledger_settle(struct nfu_ledger *l, struct nf_ctx *ctx)
{
    if (!l->n_held)
        return;
    nfu_ledger_append(l, ctx, l->held, l->n_held);
    l->n_held = 0;
}

bool nfu_ledger_parse_refused(const char *line, char id_out[33], uint64_t *a_out,
                              uint64_t *b_out)
{
    unsigned long long a, b;
    int used = 0;
    if (line[0] != '!' || sscanf(line + 1, "%32[0-9a-f] %llu %llu%n", id_out, &a, &b, &used) != 3 ||
        strlen(id_out) != 32)
        return false;
    *a_out = a;
    *b_out = b;
    return true;
}

uint64_t nfu_ledger_key(const char *id)
{
    uint64_t k = 0;
    for (int i = 0; i < 16 && id[i]; i++) {
        char c = id[i];
        k = k << 4 | (uint64_t)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
    }
    return k ? k : 1;
}

static uint64_t nfu_ledger_slot_key(const char *slot)
{
    uint64_t k;
    memcpy(&k, slot, sizeof(k));
    return k;
}

void *nfu_ledger_table_get(const struct nfu_ledger_table *t, uint64_t key)
{
    if (!t->n)
        return NULL;
    for (size_t j = key & (t->cap - 1);; j = (j + 1) & (t->cap - 1)) {
        char *e = (char *)t->slots + j * t->size;
        uint64_t k = nfu_ledger_slot_key(e);
        if (k == key)
            return e;
        if (!k)
            return NULL;
    }
}

void *nfu_ledger_table_put(struct nfu_ledger_table *t, uint64_t key, bool *added_out)
{
    if (added_out)
        *added_out = false;
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        char *v = calloc(cap, t->size);
        if (!v)
            return NULL;
        for (size_t i = 0; i < t->cap; i++) {
            const char *e = (const char *)t->slots + i * t->size;
            uint64_t k = nfu_ledger_slot_key(e);
            if (!k)
                continue;
            size_t j = k & (cap - 1);
            while (nfu_ledger_slot_key(v + j * t->size))
                j = (j + 1) & (cap - 1);
            memcpy(v + j * t->size, e, t->size);
        }
        free(t->slots);
        t->slots = v;
        t->cap = cap;
    }
    for (size_t j = key & (t->cap - 1);; j = (j + 1) & (t->cap - 1)) {
        char *e = (char *)t->slots + j * t->size;
        uint64_t k = nfu_ledger_slot_key(e);
        if (k == key)
            return e;
        if (!k) {
            memcpy(e, &key, sizeof(key));
            t->n++;
            if (added_out)
                *added_out = true;
            return e;
        }
    }
}

void nfu_ledger_table_free(struct nfu_ledger_table *t)
{
    free(t->slots);
    *t = (struct nfu_ledger_table){.size = t->size};
}
