/* newsflow-stage: one worker of one stage, and nothing else. The supervisor starts its workers
 * with this program when it is beside the newsflow command: it links only what the stage host
 * needs (not the HTTP endpoint's nor PostgreSQL's client libraries, which the views use), so
 * every worker maps and relocates fewer libraries and starts with less memory.
 *
 * Usage: newsflow-stage stage CONFIG STAGE [--worker N] [--snapshot FILE] [--once]
 *                       [--set K=V]...
 * the arguments of `newsflow stage`, so that its command line reads the same in ps. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"
#include "stage.h"

static int usage(const char *why)
{
    fprintf(stderr, "newsflow-stage: %s\nusage: newsflow-stage stage CONFIG STAGE [--worker N] "
                    "[--snapshot FILE] [--once] [--set K=V]...\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    umask(077);
    if (argc < 2 || strcmp(argv[1], "stage") != 0)
        return usage("runs one worker: its first argument is 'stage'");
    const char *config = NULL, *stage = NULL, *snapshot = NULL;
    char **sets = calloc((size_t)argc, sizeof(char *));
    int n_sets = 0, worker = 0;
    bool once = false;
    if (!sets)
        return usage("out of memory");
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--once") == 0) {
            once = true;
        } else if (strcmp(argv[i], "--worker") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end || v < 0 || v > 255)
                return usage("--worker needs a number from 0 to 255");
            worker = (int)v;
        } else if (strcmp(argv[i], "--snapshot") == 0 && i + 1 < argc) {
            snapshot = argv[++i];
        } else if ((strcmp(argv[i], "--set") == 0 || strcmp(argv[i], "-s") == 0) &&
                   i + 1 < argc) {
            sets[n_sets++] = argv[++i];
        } else if (strncmp(argv[i], "--set=", 6) == 0) {
            sets[n_sets++] = argv[i] + 6;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "newsflow-stage: unknown option %s\n", argv[i]);
            return 2;
        } else if (!config) {
            config = argv[i];
        } else if (!stage) {
            stage = argv[i];
        } else {
            fprintf(stderr, "newsflow-stage: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    struct nf_config *cfg = nf_cli_load(config, snapshot, sets, n_sets, "stage");
    if (!cfg) {
        free(sets);
        return 2;
    }
    int rc = nf_stage_main(cfg, stage, worker, once);
    nf_config_destroy(&cfg);
    free(sets);
    return rc;
}
