/* A keyword filter with the kinds of option rule a plugin can declare: allowed values (mode),
 * bounds (min_len), a file it reads (words_file), and a rule joining two options that only a
 * validate callback can say (mode "drop" needs words). e2e.config_errors checks each at
 * `newsflow check`, before anything runs. */
#include <stdio.h>
#include <string.h>

#include "newsflow/plugin.h"

struct keyword_conf {
    const char *mode;
    const char *words;
    const char *words_file;
    int64_t min_len;
};

static const struct nf_option keyword_options[] = {
    {"mode", NF_OPT_STRING, "keep", offsetof(struct keyword_conf, mode),
     "What to do with a record whose title holds a word.", .choices = "keep|drop|count"},
    {"words", NF_OPT_STRING, "", offsetof(struct keyword_conf, words), "Words, by commas."},
    {"words_file", NF_OPT_PATH, "", offsetof(struct keyword_conf, words_file),
     "More words, one a line.", .flags = NF_OPT_READ_FILE},
    {"min_len", NF_OPT_INT, "3", offsetof(struct keyword_conf, min_len),
     "Shortest word looked for.", .min = "1", .max = "64"},
    {.name = NULL},
};

static int keyword_validate(const void *vconf, const char **option_out, char *err,
                            size_t errlen)
{
    const struct keyword_conf *c = vconf;
    if (strcmp(c->mode, "keep") != 0 && !c->words[0] && !c->words_file[0]) {
        *option_out = "words";
        snprintf(err, errlen, "option 'words' (or 'words_file') is needed when mode is \"%s\"",
                 c->mode);
        return NF_ERR;
    }
    return NF_OK;
}

static int keyword_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)state;
    (void)ctx;
    (void)rec;
    return NF_OK;
}

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "tp_keyword",
    .description = "Keyword filter with choices, bounds, a path and a validate rule",
    .kind = NF_PLUGIN_FILTER,
    .options = keyword_options,
    .conf_size = sizeof(struct keyword_conf),
    .process = keyword_process,
    .validate = keyword_validate,
};
