/* A small, valid filter for the loader tests: an option of every type, all callbacks a filter
 * may have. It stamps each record's story_id with its `tag` option so a test can see that the
 * descriptor's callbacks are the plugin's own. Calls no nf_ctx function (tests pass ctx NULL). */
#include <stdlib.h>

#include "newsflow/plugin.h"

struct ok_conf {
    const char *tag;
    const char *dir;
    int64_t times;
    double ratio;
    bool loud;
    int64_t budget;
};

struct ok_state {
    const struct ok_conf *conf;
    int64_t seen;
};

static int ok_init(struct nf_ctx *ctx, const void *conf, void **state_out)
{
    (void)ctx;
    struct ok_state *s = calloc(1, sizeof(*s));
    if (!s)
        return NF_ERR;
    s->conf = conf;
    *state_out = s;
    return NF_OK;
}

static int ok_process(void *state, struct nf_ctx *ctx, struct nf_record *rec)
{
    (void)ctx;
    struct ok_state *s = state;
    s->seen++;
    return nf_record_set_cstr(rec, NF_F_STORY_ID, s->conf->tag) < 0 ? NF_ERR : NF_OK;
}

static int ok_flush(void *state, struct nf_ctx *ctx)
{
    (void)state;
    (void)ctx;
    return NF_OK;
}

static void ok_destroy(void *state)
{
    free(state);
}

static const struct nf_option ok_options[] = {
    {"tag", NF_OPT_STRING, "ok", offsetof(struct ok_conf, tag), "Written into story_id."},
    {"dir", NF_OPT_PATH, "state", offsetof(struct ok_conf, dir), "A directory."},
    {"times", NF_OPT_INT, "1", offsetof(struct ok_conf, times), "A count."},
    {"ratio", NF_OPT_DOUBLE, "0.5", offsetof(struct ok_conf, ratio), "A fraction."},
    {"loud", NF_OPT_BOOL, "false", offsetof(struct ok_conf, loud), "A switch."},
    {"budget", NF_OPT_SIZE, "8M", offsetof(struct ok_conf, budget), "A size."},
    {.name = NULL},
};

NF_PLUGIN_EXPORT const struct nf_plugin nf_plugin = {
    .abi = NF_PLUGIN_ABI,
    .size = sizeof(struct nf_plugin),
    .name = "tp_ok",
    .description = "Loader test filter that stamps story_id",
    .kind = NF_PLUGIN_FILTER,
    .options = ok_options,
    .conf_size = sizeof(struct ok_conf),
    .init = ok_init,
    .process = ok_process,
    .flush = ok_flush,
    .destroy = ok_destroy,
};
