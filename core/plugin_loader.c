/* Plugin loader. The descriptor is read in two steps: first its abi and size, which every ABI
 * version keeps at the start, and only if both are acceptable the rest, copying exactly the size
 * the plugin declares. A plugin built against other headers is refused, never misread. */
#include "plugin_loader.h"

#include <dlfcn.h>
#include "options.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_desc(const struct nf_plugin *p, const char *path, char *err, size_t errlen)
{
    if (!p->name || !p->name[0]) {
        snprintf(err, errlen, "plugin %s: descriptor has no name", path);
        return -1;
    }
    bool ok;
    switch (p->kind) {
    case NF_PLUGIN_SOURCE: ok = p->next != NULL; break;
    case NF_PLUGIN_FILTER:
    case NF_PLUGIN_SINK: ok = p->process != NULL; break;
    default:
        snprintf(err, errlen, "plugin %s: unknown kind %d", path, (int)p->kind);
        return -1;
    }
    if (!ok) {
        snprintf(err, errlen, "plugin %s: a %s plugin must have a %s callback", path,
                 p->kind == NF_PLUGIN_SOURCE ? "source" : "filter or sink",
                 p->kind == NF_PLUGIN_SOURCE ? "next" : "process");
        return -1;
    }
    for (const struct nf_option *o = p->options; o && o->name; o++) {
        size_t w = o->type == NF_OPT_BOOL     ? sizeof(bool)
                   : o->type == NF_OPT_DOUBLE ? sizeof(double)
                   : o->type == NF_OPT_INT || o->type == NF_OPT_SIZE ? sizeof(int64_t)
                                                                     : sizeof(char *);
        if (w > p->conf_size || o->offset > p->conf_size - w) {
            snprintf(err, errlen, "plugin %s: option '%s' lies outside its conf struct "
                                  "(offset %zu, conf_size %zu)",
                     path, o->name, o->offset, p->conf_size);
            return -1;
        }
    }
    char e[512];
    if (nf_options_table_check(p->options, e, sizeof(e)) < 0) {
        snprintf(err, errlen, "plugin %s: %s", path, e);
        return -1;
    }
    return 0;
}

/* An option row as ABI 1 wrote it: before min, max, choices and flags were appended. */
struct nf_option_v1 {
    const char *name;
    enum nf_opt_type type;
    const char *def;
    size_t offset;
    const char *description;
};

/* ABI 1's table in this ABI's rows, the appended members zero (no bounds, any value, no path
 * checks). The copy is the handle's, freed with it. Returns 0 or -1 (out of memory). */
static int upgrade_v1_options(struct nf_plugin_handle *h)
{
    const struct nf_option_v1 *v1 = (const struct nf_option_v1 *)(const void *)h->desc.options;
    if (!v1)
        return 0;
    size_t n = 0;
    while (v1[n].name)
        n++;
    h->own_options = calloc(n + 1, sizeof(*h->own_options));
    if (!h->own_options)
        return -1;
    for (size_t i = 0; i < n; i++)
        h->own_options[i] = (struct nf_option){v1[i].name, v1[i].type, v1[i].def, v1[i].offset,
                                               v1[i].description};
    h->desc.options = h->own_options;
    return 0;
}

struct nf_plugin_handle *nf_plugin_load_path(const char *path, char *err, size_t errlen)
{
    if (!strchr(path, '/')) {
        /* dlopen would search the library path for a bare name; we mean this file */
        char rel[4096];
        snprintf(rel, sizeof(rel), "./%s", path);
        return nf_plugin_load_path(rel, err, errlen);
    }
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "plugin %s: not found or not readable", path);
        return NULL;
    }
    /* RTLD_NODELETE: a stage process loads its plugin once and exits; unmapping it (and the
     * libraries only it uses) at the end gains nothing and would turn what a library keeps for
     * the life of the process (libxml2's parser globals) into memory nothing points to. */
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!dl) {
        snprintf(err, errlen, "plugin %s: cannot load: %s", path, dlerror());
        return NULL;
    }
    const struct nf_plugin *p = dlsym(dl, "nf_plugin");
    if (!p) {
        snprintf(err, errlen, "plugin %s: no 'nf_plugin' descriptor: %s", path, dlerror());
        goto fail;
    }
    uint32_t abi, size;
    memcpy(&abi, &p->abi, sizeof(abi));
    memcpy(&size, &p->size, sizeof(size));
    /* ABI 1 differs only in the option rows (shorter) and the descriptor's end (no validate):
     * read through the old row layout, so that a plugin built before ABI 2 keeps working. */
    if (abi != NF_PLUGIN_ABI && abi != 1 && abi != 2) {
        snprintf(err, errlen, "plugin %s: built for plugin ABI %u, this newsflow speaks ABI %u; "
                              "rebuild the plugin against these headers",
                 path, abi, (unsigned)NF_PLUGIN_ABI);
        goto fail;
    }
    if (abi == 1 && size > offsetof(struct nf_plugin, validate))
        size = offsetof(struct nf_plugin, validate); /* what ABI 1 had; anything after is not ours */
    if (abi == 2 && size > offsetof(struct nf_plugin, durable))
        size = offsetof(struct nf_plugin, durable); /* ABI 2's descriptor ends with validate */
    if (size < NF_PLUGIN_MIN_SIZE) {
        snprintf(err, errlen, "plugin %s: descriptor is %u bytes, ABI %u needs at least %zu",
                 path, size, abi, (size_t)NF_PLUGIN_MIN_SIZE);
        goto fail;
    }
    size_t plen = strlen(path);
    struct nf_plugin_handle *h = calloc(1, sizeof(*h) + plen + 1);
    if (!h) {
        snprintf(err, errlen, "plugin %s: out of memory", path);
        goto fail;
    }
    /* A newer plugin of the same ABI may be larger: its extra members are optional by the
     * append-only rule, and this host does not know them. */
    memcpy(&h->desc, p, size < sizeof(h->desc) ? size : sizeof(h->desc));
    memcpy(h->path, path, plen + 1);
    h->dl = dl;
    h->abi = (int)abi;
    if (abi == 1 && upgrade_v1_options(h) < 0) {
        snprintf(err, errlen, "plugin %s: out of memory", path);
        free(h);
        goto fail;
    }
    if (check_desc(&h->desc, path, err, errlen) < 0) {
        free(h->own_options);
        free(h);
        goto fail;
    }
    return h;
fail:
    dlclose(dl);
    return NULL;
}

struct nf_plugin_handle *nf_plugin_load(const char *dir, const char *name, char *err,
                                        size_t errlen)
{
    if (!name[0] || strchr(name, '/') || strstr(name, "..")) {
        snprintf(err, errlen, "plugin name \"%s\" is not a plain name", name);
        return NULL;
    }
    /* `dir` is a search path: DIR[:DIR...], the first that holds NAME.so wins */
    char path[4096];
    const char *p = dir;
    for (;;) {
        const char *colon = strchr(p, ':');
        int dl = colon ? (int)(colon - p) : (int)strlen(p);
        int n = snprintf(path, sizeof(path), "%.*s/%s.so", dl, p, name);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            snprintf(err, errlen, "plugin path too long");
            return NULL;
        }
        if (!colon || access(path, F_OK) == 0)
            break;
        p = colon + 1;
    }
    if (strchr(dir, ':') && access(path, F_OK) != 0) {
        snprintf(err, errlen, "plugin %s: no %s.so in any of %s", name, name, dir);
        return NULL;
    }
    return nf_plugin_load_path(path, err, errlen);
}

void nf_plugin_unload(struct nf_plugin_handle **ph)
{
    if (!ph || !*ph)
        return;
    /* Balances dlopen; the object stays mapped (RTLD_NODELETE), so atexit handlers and
     * thread-locals a plugin leaves behind stay valid. */
    dlclose((*ph)->dl);
    free((*ph)->own_options);
    free(*ph);
    *ph = NULL;
}
