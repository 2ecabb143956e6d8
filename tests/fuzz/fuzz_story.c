/* libFuzzer target for story's snapshot reader (plugins/story, compiled in): a worker restarted
 * over a story.snap that is damaged, cut short or written by something else. At start a real
 * snapshot is made (two events of one kind told five times each, with copies and tellings read
 * before the others: stories, the index, the id tables, member lists, a split and its moves,
 * former names). Each input changes it: its first two bytes cut that many bytes from its end (0:
 * none), and each five bytes after them XOR one byte (a 32-bit offset, then the value); the
 * checksum is then put right, so that the reader's own checks are what stand (an input whose third
 * byte is odd keeps the checksum wrong). Whatever the bytes: the stage starts (the file taken, or
 * set aside and started without stories), and judges an article, which gets a story id; nothing
 * crashes or leaks. The context calls are answered by fuzz_ctx.h and here (the host is not linked
 * in). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "newsflow/plugin.h"
#include "newsflow/record.h"
#include "options.h"

#define FUZZ_NAME "fuzz_story"
#include "fuzz_ctx.h"

static char state_dir[64];

int nf_ctx_workers(const struct nf_ctx *ctx)
{
    (void)ctx;
    return 1;
}

int nf_ctx_worker(const struct nf_ctx *ctx)
{
    (void)ctx;
    return 0;
}

const char *nf_ctx_stage(const struct nf_ctx *ctx)
{
    (void)ctx;
    return "story";
}

int64_t nf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *nf_ctx_state_dir(const struct nf_ctx *ctx)
{
    (void)ctx;
    return state_dir;
}

extern const struct nf_plugin nf_plugin;

static struct nf_ctx ctx;
static const void *conf;
static uint8_t *base; /* the snapshot made at start */
static size_t base_len;

/* Two arrests of one team's players weeks apart, each told five times: enough for a split. */
static const char *const told[] = {
    "Harbor City Sharks receiver Marcus Bell was arrested on suspicion of drunken driving early "
    "Tuesday, the state highway patrol said. Bell, 25, was stopped at 2:30 a.m. on Route 52 "
    "after his car was clocked at 85 mph. He was booked and released on $5,000 bail.",
    "Sharks wide receiver Marcus Bell faces a drunken driving charge after officers stopped him "
    "on Route 52 at about 2:30 a.m. Tuesday. The 25-year-old was driving 85 mph, the highway "
    "patrol said, and was released after posting $5,000 bail.",
    "Harbor City Sharks defensive tackle Leon Carter was arrested on suspicion of drunken "
    "driving early Saturday, weeks after receiver Marcus Bell was arrested for drunken driving. "
    "Carter, 32, was stopped at 1:15 a.m. on Route 94 at 92 mph. He was released on $10,000 bail.",
    "The highway patrol arrested Sharks receiver Marcus Bell, 25, on suspicion of driving under "
    "the influence on Tuesday. Bell was pulled over on Route 52 at 2:30 a.m. doing 85 mph and "
    "was freed on $5,000 bail.",
    "Sharks defensive tackle Leon Carter faces a drunken driving charge, the second Sharks "
    "player arrested this month. Officers stopped the 32-year-old on Route 94 at 1:15 a.m. "
    "Saturday at 92 mph. Carter posted $10,000 bail.",
    "The highway patrol arrested Sharks tackle Leon Carter, 32, on suspicion of driving under "
    "the influence on Saturday. Carter was pulled over on Route 94 at 1:15 a.m. doing 92 mph and "
    "was freed on $10,000 bail.",
    "Marcus Bell, the Sharks' 25-year-old receiver, was booked for drunken driving after a stop "
    "on Route 52 at 2:30 a.m. Tuesday, when he was clocked at 85 mph. Bell posted $5,000 bail.",
    "Leon Carter, the Sharks' 32-year-old defensive tackle, was booked for drunken driving after "
    "a stop on Route 94 at 1:15 a.m. Saturday at 92 mph. Carter posted $10,000 bail.",
    "Sharks receiver Marcus Bell was released on $5,000 bail after his arrest for drunken "
    "driving on Route 52 early Tuesday. Officers said Bell, 25, was going 85 mph at 2:30 a.m.",
    "Sharks tackle Leon Carter was released on $10,000 bail after his arrest for drunken driving "
    "on Route 94 early Saturday. Officers said Carter, 32, was going 92 mph at 1:15 a.m."};

/* Judges one article (copy_of: the id of its original, or NULL), read at `order`, and checks it
 * got a story. */
static void judge(void *state, int i, const char *copy_of, int64_t order)
{
    struct nf_record *rec = nf_record_new();
    CHECK(rec != NULL, "out of memory");
    char id[33];
    snprintf(id, sizeof(id), "%032x", 0x5107 + i);
    nf_record_set_cstr(rec, NF_F_ID, id);
    nf_record_set_cstr(rec, NF_F_TEXT, told[i % 10]);
    nf_record_set_int(rec, NF_F_READ_ORDER, order);
    if (copy_of)
        nf_record_set_cstr(rec, NF_F_DUP_OF, copy_of);
    ctx.error[0] = '\0';
    CHECK(nf_plugin.process(state, &ctx, rec) == NF_OK, "process: %s", ctx.error);
    size_t n;
    const char *sid = nf_record_str(rec, NF_F_STORY_ID, &n);
    CHECK(sid && n == 32, "no story id");
    nf_record_destroy(&rec);
}

/* Empties a directory of this user's (the state directory: the snapshot, its log, what was set
 * aside), opened without following a link; false when it is not one. */
static bool dir_clear(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    DIR *d = fdopendir(fd);
    CHECK(d != NULL, "%s", dir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    return true;
}

static void state_clear(void)
{
    CHECK(dir_clear(state_dir), "%s", state_dir);
}

/* A run killed hard (a timeout's SIGKILL) leaves its directory, named by its pid: those of pids
 * no longer alive are removed at the next start, when they are this user's directories (not
 * links to one: /tmp is everyone's). */
static void stale_remove(void)
{
    DIR *d = opendir("/tmp");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        char rest[16];
        if (sscanf(e->d_name, "nf-fuzz-story-%ld-%15s", &pid, rest) != 2 || pid <= 0 ||
            pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char dir[300];
        snprintf(dir, sizeof(dir), "/tmp/%s", e->d_name);
        if (dir_clear(dir))
            rmdir(dir);
    }
    closedir(d);
}

static void state_remove(void)
{
    state_clear();
    rmdir(state_dir);
}

static void *start(void)
{
    void *state = NULL;
    ctx.error[0] = '\0';
    CHECK(nf_plugin.init(&ctx, conf, &state) == NF_OK, "init: %s", ctx.error);
    return state;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    stale_remove();
    snprintf(state_dir, sizeof(state_dir), "/tmp/nf-fuzz-story-%ld-XXXXXX", (long)getpid());
    CHECK(mkdtemp(state_dir) != NULL, "mkdtemp");
    atexit(state_remove);
    conf = fuzz_conf_defaults(&nf_plugin);
    void *state = start();
    for (int i = 0; i < 10; i++)
        judge(state, i, NULL, 1000 + i);
    char orig[33];
    snprintf(orig, sizeof(orig), "%032x", 0x5107 + 2);
    judge(state, 12, orig, 1012); /* a copy */
    for (int i = 13; i < 16; i++) /* tellings read before all others: each renames its story */
        judge(state, i, NULL, 16 - i);
    nf_plugin.destroy(state); /* writes the snapshot */
    char path[512];
    snprintf(path, sizeof(path), "%s/story.snap", state_dir);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "no snapshot was written");
    fseek(f, 0, SEEK_END);
    base_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    base = malloc(base_len);
    CHECK(base && fread(base, 1, base_len, f) == base_len, "cannot read the snapshot");
    fclose(f);
    CHECK(base_len > 64, "a snapshot of %zu bytes", base_len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t *snap = malloc(base_len);
    CHECK(snap != NULL, "out of memory");
    memcpy(snap, base, base_len);
    size_t len = base_len, cut = (size_t)data[0] | (size_t)data[1] << 8;
    if (cut)
        len -= cut % (len - 8);
    for (size_t i = 3; i + 5 <= size; i += 5) {
        uint32_t at;
        memcpy(&at, data + i, 4);
        snap[at % len] ^= data[i + 4];
    }
    if (!(data[2] & 1) && len >= 8) {
        uint64_t sum = XXH3_64bits(snap, len - 8);
        memcpy(snap + len - 8, &sum, 8);
    }
    state_clear();
    char path[512];
    snprintf(path, sizeof(path), "%s/story.snap", state_dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(snap, 1, len, f) == len, "cannot write %s", path);
    fclose(f);
    free(snap);
    void *state = start();
    judge(state, 20 + data[2] % 10, NULL, 1020 + data[2] % 10); /* a new telling */
    judge(state, 3, NULL, 1003); /* sent again: its story's renames go with it */
    nf_plugin.destroy(state);
    return 0;
}
