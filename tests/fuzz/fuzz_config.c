/* libFuzzer target for the config loader (core/config.c): the input is the content of a memory
 * file, loaded by its /proc/self/fd path twice, without and with a few --set overrides. A config
 * is either loaded, and then holds together (stages with names, plugins and workers, inputs that
 * point at stages, endpoints that can be built, options a plugin's table accepts or refuses
 * with file:line), or refused with a terminated message that fits the buffer. ${NAME}
 * substitution reads the variables set in LLVMFuzzerInitialize. Inputs with @include are
 * skipped: an include may name any file (/dev/stdin, /dev/zero), and config files are trusted.
 * No plugin is loaded: a descriptor with an option of each type stands in for every plugin. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "options.h"

#define FUZZ_NAME "fuzz_config"
#include "fuzz_check.h"

struct conf {
    const char *path;
    const char *name;
    int64_t count;
    int64_t bytes;
    double ratio;
    bool watch;
};

static const struct nf_option options[] = {
    {"path", NF_OPT_PATH, ".", offsetof(struct conf, path), "a path"},
    {"name", NF_OPT_STRING, "x", offsetof(struct conf, name), "a string"},
    {"count", NF_OPT_INT, "10", offsetof(struct conf, count), "an integer"},
    {"bytes", NF_OPT_SIZE, "3K", offsetof(struct conf, bytes), "a size"},
    {"ratio", NF_OPT_DOUBLE, "0.5", offsetof(struct conf, ratio), "a number"},
    {"watch", NF_OPT_BOOL, "false", offsetof(struct conf, watch), "a switch"},
    {.name = NULL},
};

/* libconfig 1.5 (Debian 12) leaks in its scanner when a file fails to parse inside a string
 * (its string buffer; a string holding a NUL byte): a few bytes once per refused file. Not ours
 * to fix; only allocations made inside libconfig are excused (it never calls back into us). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libconfig.so\n";
}

/* A memory file leaves nothing behind, whichever way the process ends. */
static int cfg_fd = -1;
static char cfg_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cfg_fd = memfd_create("fuzz-config", 0);
    CHECK(cfg_fd >= 0, "memfd_create failed");
    snprintf(cfg_path, sizeof(cfg_path), "/proc/self/fd/%d", cfg_fd);
    /* what ${...} in the seeds and the dictionary refer to; a fixed plugin dir keeps the
     * loader from looking for its own executable */
    setenv("NEWSFLOW_PLUGIN_DIR", "/nonexistent/plugins", 1);
    setenv("NF_FUZZ_DIR", "/tmp/nf-fuzz-config", 1);
    setenv("NF_FUZZ_EMPTY", "", 1);
    setenv("NF_FUZZ_LONG", "a-value-long-enough-to-push-an-ipc-path-past-its-limit-when-used-as"
                           "-a-run-directory-name-for-sure-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1);
    unsetenv("NEWSFLOW_STATE");
    unsetenv("NEWSFLOW_INPUT");
    unsetenv("NEWSFLOW_DB");
    return 0;
}

static void check_loaded(const struct nf_config *c)
{
    CHECK(c->path && c->dir && c->plugin_dir && c->run_dir && c->state_dir && c->deadletter &&
              c->log_level,
          "a loaded config lacks a path");
    CHECK(c->n_stages > 0 && c->stages, "a loaded config has no stages");
    struct nf_strpool *pool = nf_strpool_new();
    CHECK(pool, "out of memory");
    for (int i = 0; i < c->n_stages; i++) {
        const struct nf_stage_conf *st = &c->stages[i];
        CHECK(st->name && st->plugin && st->where, "stage %d lacks a name or plugin", i);
        CHECK(nf_config_stage_index(c, st->name) == i, "stage %s is not found by name", st->name);
        CHECK(st->workers >= 1 && st->workers <= 256, "stage %s has %d workers", st->name,
              st->workers);
        for (int k = 0; k < st->n_inputs; k++)
            CHECK(st->input_idx[k] >= 0 && st->input_idx[k] < c->n_stages,
                  "stage %s input %d out of range", st->name, k);
        for (int k = 0; k < st->n_consumers; k++)
            CHECK(st->consumers[k] >= 0 && st->consumers[k] < c->n_stages,
                  "stage %s consumer %d out of range", st->name, k);
        char ep[600];
        if (st->n_inputs)
            CHECK(nf_config_inbox(c, i, false, true, ep, sizeof(ep)) == 0 &&
                      nf_config_inbox(c, i, true, false, ep, sizeof(ep)) == 0,
                  "stage %s: the loader accepted an inbox that cannot be built", st->name);
        else
            CHECK(nf_config_ack_endpoint(c, i, st->workers - 1, true, ep, sizeof(ep)) == 0,
                  "stage %s: the loader accepted an ack endpoint that cannot be built",
                  st->name);

        const struct nf_plugin p = {
            .abi = NF_PLUGIN_ABI,
            .size = sizeof(struct nf_plugin),
            .name = "fuzz_plugin",
            .kind = !st->n_inputs      ? NF_PLUGIN_SOURCE
                    : st->n_consumers ? NF_PLUGIN_FILTER
                                      : NF_PLUGIN_SINK,
            .options = options,
            .conf_size = sizeof(struct conf),
        };
        struct conf pc;
        memset(&pc, 0, sizeof(pc));
        char err[300];
        memset(err, 'x', sizeof(err));
        if (nf_config_plugin_conf(c, i, &p, &pc, pool, err, sizeof(err)) < 0)
            CHECK(memchr(err, '\0', sizeof(err)) && err[0], "unterminated or empty option error");
        else
            CHECK(pc.path && pc.name, "options without their values");
    }
    nf_strpool_destroy(&pool);
}

static void load(char *const *sets, int n_sets, size_t errlen)
{
    char *err = malloc(errlen); /* exactly errlen: ASan sees any write past it */
    CHECK(err, "out of memory");
    memset(err, 'x', errlen);
    struct nf_config *c = nf_config_load(cfg_path, sets, n_sets, err, errlen);
    if (c) {
        check_loaded(c);
        nf_config_destroy(&c);
        CHECK(!c, "destroy does not clear the pointer");
    } else {
        CHECK(memchr(err, '\0', errlen), "the error message is not terminated");
        CHECK(errlen == 1 || err[0], "refused without a message");
    }
    free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024 || memmem(data, size, "@include", 8))
        return 0;
    CHECK(ftruncate(cfg_fd, 0) == 0 && pwrite(cfg_fd, data, size, 0) == (ssize_t)size,
          "cannot write the memory file");
    load(NULL, 0, 1024);
    /* --set on keys the seeds use; the last one is substituted like the file's strings */
    char s1[] = "log_level=debug", s2[] = "fetch.workers=2", s3[] = "clean.window=64",
         s4[] = "store.path=${NF_FUZZ_DIR}/db";
    char *sets[] = {s1, s2, s3, s4};
    load(sets, 4, size % 2 ? 40 : 512); /* a short buffer must still end in a terminator */
    return 0;
}
