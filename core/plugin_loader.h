/* Plugin loader: dlopen one plugin from the plugin directory and check its descriptor. */
#ifndef NF_PLUGIN_LOADER_H
#define NF_PLUGIN_LOADER_H

#include <stddef.h>

#include "newsflow/plugin.h"

struct nf_plugin_handle {
    void *dl;
    struct nf_plugin desc; /* the host's copy, zero-filled past what the plugin declared */
    int abi;               /* what the plugin was built for: NF_PLUGIN_ABI, or 1 */
    struct nf_option *own_options; /* an ABI-1 table in this ABI's rows (desc.options), or NULL */
    char path[];
};

/* Loads DIR/NAME.so. Checks abi and size before reading anything else, then the descriptor's
 * consistency (callbacks for its kind, option offsets inside conf_size, the table's bounds,
 * choices and path flags). A plugin built for ABI 1 is read through ABI 1's option rows. Caller owns the result;
 * NULL with the reason (path, dlerror(), the numbers that differ) in err. */
struct nf_plugin_handle *nf_plugin_load(const char *dir, const char *name, char *err,
                                        size_t errlen);
/* Loads a plugin from an explicit .so path. */
struct nf_plugin_handle *nf_plugin_load_path(const char *path, char *err, size_t errlen);
void nf_plugin_unload(struct nf_plugin_handle **h);

/* Smallest descriptor a plugin may declare (ABI 1 or 2): everything up to and including
 * destroy. */
#define NF_PLUGIN_MIN_SIZE (offsetof(struct nf_plugin, destroy) + sizeof(void (*)(void *)))

#endif
