/* bench_lang: extract_meta alone, in one process, on a directory of plain-text articles (as
 * make_corpus writes them): each file is cleaned by clean_text first (not timed), then every
 * record goes through extract_meta with the options given, and the CPU time of that pass alone
 * is printed as microseconds an article and articles/s per core. It runs the plugins through
 * the test suite's mock core (no processes, no sockets), so its figure has no plumbing in it and
 * it can run under callgrind. bench/bench_lang.sh prints the pipeline's figures.
 * Usage: bench_lang DIR [MAX_FILES] [OPTION=VALUE]... (extract_meta's options) */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mock_core.h"
#include "newsflow/record.h"

static int bench_lang_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double bench_lang_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [MAX_FILES] [OPTION=VALUE]...\n", argv[0]);
        return 2;
    }
    size_t max = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt") != 0)
            continue;
        if (n == cap && !(names = realloc(names, (cap = cap ? 2 * cap : 1024) * sizeof(*names))))
            return 2;
        if (!(names[n++] = strdup(e->d_name)))
            return 2;
    }
    closedir(d);
    qsort(names, n, sizeof(*names), bench_lang_name_cmp);
    while (max && n > max)
        free(names[--n]);

    const char **opts = calloc((size_t)argc, sizeof(*opts));
    if (!opts)
        return 2;
    for (int i = 3; i < argc; i++)
        opts[i - 3] = argv[i];
    struct mock_plugin *clean = mock_plugin_new("clean_text", NULL);
    struct mock_plugin *meta = mock_plugin_new("extract_meta", opts);
    struct nf_record **recs = calloc(n ? n : 1, sizeof(*recs));
    if (!clean || !meta || !recs)
        return 2;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
        size_t len;
        char *raw = mock_slurp(path, &len);
        struct nf_record *rec = nf_record_new();
        char id[33];
        if (!raw || !rec)
            return 2;
        nf_id_make(path, strlen(path), id);
        if (nf_record_set_cstr(rec, NF_F_ID, id) < 0 ||
            nf_record_set_cstr(rec, NF_F_CONTENT_TYPE, "text/plain") < 0 ||
            nf_record_set_bytes(rec, NF_F_RAW, raw, len) < 0 || mock_process(clean, rec) != NF_OK)
            return 2;
        nf_record_unset(rec, NF_F_RAW);
        free(raw);
        recs[i] = rec;
    }

    double t0 = bench_lang_cpu_s();
    size_t failed = 0, with_lang = 0;
    for (size_t i = 0; i < n; i++) {
        failed += mock_process(meta, recs[i]) != NF_OK;
        with_lang += nf_record_has(recs[i], NF_F_LANG);
    }
    double s = bench_lang_cpu_s() - t0;
    printf("extract_meta alone: %zu articles in %.3f s CPU: %.1f us an article, %.0f articles/s "
           "per core (%zu with a language, %zu failed)\n",
           n, s, n ? s * 1e6 / (double)n : 0.0, s > 0 ? (double)n / s : 0.0, with_lang, failed);
    for (size_t i = 0; i < n; i++) {
        nf_record_destroy(&recs[i]);
        free(names[i]);
    }
    free(recs);
    free(names);
    free(opts);
    mock_plugin_destroy(&meta);
    mock_plugin_destroy(&clean);
    return failed ? 1 : 0;
}
