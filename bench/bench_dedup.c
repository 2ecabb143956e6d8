/* Micro-benchmark of near-duplicate detection: signs every article of a JSON-lines corpus
 * ({id, title, text} a line, as make_corpus.py --format jsonl writes), then judges them in order
 * (text and headline) against the dedup index, timing both, and prints articles/s and the index's memory per
 * article, as articles per CPU second (best of --rounds). With --export it also writes {source, dup_of} lines that score_dups.py reads.
 * It calls the stage functions directly: no records, processes or sockets. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../plugins/dedup/index.h"
#include "../plugins/minhash/sig.h"
#include "newsflow/record.h"

/* CPU time of this process: on a shared machine, wall time would count other people's work as
 * ours; articles per CPU second is the rate of one core. */
static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct art {
    char *key;
    char *text, *title;
    size_t len, title_len;
};

int main(int argc, char **argv)
{
    const char *corpus = NULL, *export = NULL;
    int shingle = 4;
    double threshold = 0.5, containment = 0.8, min_ratio = 0.4, same_headline = 0.4;
    size_t window = 1000000;
    int rounds = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--export") && i + 1 < argc)
            export = argv[++i];
        else if (!strcmp(argv[i], "--shingle") && i + 1 < argc)
            shingle = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threshold") && i + 1 < argc)
            threshold = atof(argv[++i]);
        else if (!strcmp(argv[i], "--containment") && i + 1 < argc)
            containment = atof(argv[++i]);
        else if (!strcmp(argv[i], "--same-headline") && i + 1 < argc)
            same_headline = atof(argv[++i]);
        else if (!strcmp(argv[i], "--min-ratio") && i + 1 < argc)
            min_ratio = atof(argv[++i]);
        else if (!strcmp(argv[i], "--window") && i + 1 < argc)
            window = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (argv[i][0] != '-')
            corpus = argv[i];
        else
            corpus = NULL, i = argc;
    }
    if (!corpus) {
        fprintf(stderr, "usage: bench_dedup ARTICLES.jsonl [--export OUT.jsonl] [--shingle N] "
                        "[--threshold J] [--containment C] [--min-ratio R] [--same-headline J] "
                        "[--window N] "
                        "[--rounds N]\n");
        return 2;
    }
    FILE *f = fopen(corpus, "r");
    if (!f) {
        perror(corpus);
        return 1;
    }
    struct art *arts = NULL;
    size_t n = 0, cap = 0, bytes = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    while ((ll = getline(&line, &lcap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)ll, 0, NULL);
        json_t *id = j ? json_object_get(j, "id") : NULL, *tx = j ? json_object_get(j, "text") : NULL;
        json_t *ti = j ? json_object_get(j, "title") : NULL;
        if (json_is_string(id) && json_is_string(tx)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                arts = realloc(arts, cap * sizeof(*arts));
                if (!arts)
                    return 1;
            }
            arts[n].key = strdup(json_string_value(id));
            arts[n].len = json_string_length(tx);
            arts[n].text = malloc(arts[n].len + 1);
            memcpy(arts[n].text, json_string_value(tx), arts[n].len + 1);
            arts[n].title = json_is_string(ti) ? strdup(json_string_value(ti)) : NULL;
            arts[n].title_len = arts[n].title ? strlen(arts[n].title) : 0;
            bytes += arts[n].len;
            n++;
        }
        json_decref(j);
    }
    free(line);
    fclose(f);
    struct nf_sig *sigs = malloc((n ? n : 1) * sizeof(*sigs));
    struct nf_sig_work work = {0};
    uint8_t (*ids)[16] = malloc((n ? n : 1) * 16);
    for (size_t i = 0; i < n; i++) {
        char uri[600], hex[33];
        snprintf(uri, sizeof(uri), "file://%s#%s", corpus, arts[i].key);
        nf_id_make(uri, strlen(uri), hex);
        for (int b = 0; b < 16; b++)
            sscanf(hex + 2 * b, "%2hhx", &ids[i][b]);
    }
    double best_sign = 1e9, best_judge = 1e9;
    struct nf_dup_params p = {window, nf_dup_rows_for(threshold), threshold, containment,
                              min_ratio, same_headline};
    struct nf_dup_index *idx = NULL;
    uint8_t (*roots)[16] = malloc((n ? n : 1) * 16);
    int *copy = calloc(n ? n : 1, sizeof(int));
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        for (size_t i = 0; i < n; i++) {
            const char *why;
            if (nf_sig_compute(&work, arts[i].text, arts[i].len, shingle, &sigs[i], &why) < 0 ||
                nf_sig_headline(&work, arts[i].title, arts[i].title_len, &sigs[i], &why) < 0) {
                fprintf(stderr, "%s: %s\n", arts[i].key, why);
                return 1;
            }
        }
        double t1 = now_s();
        nf_dup_index_destroy(&idx);
        idx = nf_dup_index_new(&p);
        if (!idx)
            return 1;
        double t2 = now_s();
        for (size_t i = 0; i < n; i++) {
            const char *why;
            copy[i] = sigs[i].shingles ? nf_dup_index_judge(idx, ids[i], (int64_t)i, &sigs[i],
                                                            roots[i], &why, NULL, NULL)
                                       : 0;
            if (copy[i] < 0) {
                fprintf(stderr, "%s: out of memory judging it\n", arts[i].key);
                return 1;
            }
        }
        double t3 = now_s();
        if (t1 - t0 < best_sign)
            best_sign = t1 - t0;
        if (t3 - t2 < best_judge)
            best_judge = t3 - t2;
    }
    size_t dups = 0;
    for (size_t i = 0; i < n; i++)
        dups += copy[i] == 1;
    size_t count = nf_dup_index_count(idx);
    printf("articles %zu (%.0f bytes of text each), copies found %zu, shingle %d, rows %d\n", n,
           n ? (double)bytes / (double)n : 0.0, dups, shingle, p.rows);
    printf("sign:          %9.0f articles/s (%.1f MB/s)\n", (double)n / best_sign,
           (double)bytes / best_sign / 1e6);
    printf("LSH judge+add: %9.0f articles/s (%.2f candidates verified per article)\n",
           (double)n / best_judge,
           (double)nf_dup_index_candidates(idx) / (double)(n ? n : 1));
    printf("both:          %9.0f articles/s per core (%.2f us of CPU per article: %.2f signing, "
           "%.2f judging)\n",
           (double)n / (best_sign + best_judge), 1e6 * (best_sign + best_judge) / (double)n,
           1e6 * best_sign / (double)n, 1e6 * best_judge / (double)n);
    printf("index memory:  %zu bytes for a window of %zu (%zu articles held, the tables as grown "
           "so far); %zu = %.0f bytes per article slot with the tables grown to the window\n",
           nf_dup_index_bytes(idx), window, count, nf_dup_index_bytes_full(idx),
           (double)nf_dup_index_bytes_full(idx) / (double)window);
    if (export) {
        FILE *o = fopen(export, "w");
        if (!o) {
            perror(export);
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            char hex[33];
            for (int b = 0; b < 16; b++)
                sprintf(hex + 2 * b, "%02x", ids[i][b]);
            fprintf(o, "{\"id\": \"%s\", \"source\": {\"uri\": \"file://%s#%s\"}", hex, corpus,
                    arts[i].key);
            if (copy[i] == 1) {
                for (int b = 0; b < 16; b++)
                    sprintf(hex + 2 * b, "%02x", roots[i][b]);
                fprintf(o, ", \"dup_of\": \"%s\"", hex);
            }
            fprintf(o, "}\n");
        }
        fclose(o);
    }
    nf_dup_index_destroy(&idx);
    nf_sig_work_free(&work);
    for (size_t i = 0; i < n; i++)
        free(arts[i].key), free(arts[i].text), free(arts[i].title);
    free(arts), free(sigs), free(ids), free(roots), free(copy);
    return 0;
}
