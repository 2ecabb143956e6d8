/* The config a command names, loaded and applied to the process (cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "newsflow/log.h"
#include "security.h"
#include "transport.h"

char *nf_cli_slurp(const char *path, size_t limit)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = malloc(limit + 1);
    size_t n = text ? fread(text, 1, limit, f) : 0;
    bool whole = text && feof(f);
    fclose(f);
    if (!whole) {
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

struct nf_config *nf_cli_load(const char *config, const char *snapshot, char *const *sets,
                              int n_sets, const char *cmd)
{
    if (!config) {
        fprintf(stderr, "newsflow %s: which config? (newsflow help)\n", cmd);
        return NULL;
    }
    char err[2048];
    struct nf_config *cfg;
    if (snapshot) {
        char *text = nf_cli_slurp(snapshot, (size_t)16 << 20);
        if (!text) {
            fprintf(stderr, "newsflow: cannot read the config snapshot %s: %s\n", snapshot,
                    strerror(errno));
            return NULL;
        }
        cfg = nf_config_load_text(config, text, sets, n_sets, err, sizeof(err));
        free(text);
    } else {
        cfg = nf_config_load(config, sets, n_sets, err, sizeof(err));
    }
    if (!cfg) {
        fprintf(stderr, "newsflow: %s\n", err);
        return NULL;
    }
    nf_transport_set_max_message(cfg->max_message);
    nf_log_json(cfg->log_json);
    if (nf_security_setup(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "newsflow: %s: %s\n", cfg->path, err);
        nf_config_destroy(&cfg);
    }
    return cfg;
}
