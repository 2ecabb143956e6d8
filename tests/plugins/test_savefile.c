/* plugins/common/savefile.c: a state file written whole (0600, synced, renamed), the log's
 * generations listed in order, a save from a thread that removes the generations it holds only
 * once it is written, and a log appended whole or not at all. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "savefile.h"

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/nf-savefile-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void touch(const char *name)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
}

static bool exists(const char *name)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static char *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[256];
    *n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

/* The file replaces the old one whole, is the user's alone whatever the umask, and leaves no
 * temporary file; a directory that is not there is an error naming the file. */
static void test_save_whole(void **state)
{
    (void)state;
    char path[256], why[512];
    snprintf(path, sizeof(path), "%s/state", dir);
    mode_t old = umask(022);
    assert_int_equal(nfu_save_whole(path, "first", 5, why, sizeof(why)), 0);
    assert_int_equal(nfu_save_whole(path, "second", 6, why, sizeof(why)), 0);
    umask(old);
    size_t n;
    char *got = read_all(path, &n);
    assert_int_equal(n, 6);
    assert_memory_equal(got, "second", 6);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_false(exists("state.tmp"));
    snprintf(path, sizeof(path), "%s/missing/state", dir);
    assert_int_equal(nfu_save_whole(path, "x", 1, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "missing/state.tmp"));
    assert_int_equal(nfu_save_begin(path, why, sizeof(why)), -1);
}

/* Generations are LOG.<digits>, in numeric order; other names beside the log are not. */
static void test_generations_listed(void **state)
{
    (void)state;
    const char *names[] = {"story.log.10", "story.log.2", "story.log.bad", "story.log.3.tmp",
                           "story.log", "story.logs.4", "story.log.1", "other.log.5"};
    for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++)
        touch(names[i]);
    char log[256];
    snprintf(log, sizeof(log), "%s/story.log", dir);
    uint64_t *gens;
    size_t n;
    assert_int_equal(nfu_genlog_list(log, &gens, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(gens[0], 1);
    assert_int_equal(gens[1], 2);
    assert_int_equal(gens[2], 10);
    free(gens);
    snprintf(log, sizeof(log), "%s/none/story.log", dir);
    assert_int_equal(nfu_genlog_list(log, &gens, &n), -1);
}

/* Begins a save of `path` holding "state". */
static int begun(const char *path)
{
    char why[512];
    int fd = nfu_save_begin(path, why, sizeof(why));
    assert_true(fd >= 0);
    assert_int_equal(nfu_write_all(fd, "state", 5), 0);
    return fd;
}

/* A save finished from a thread puts the file in place, then removes the generations up to the
 * one it holds (not later ones); a failed save removes none, and leaves no temporary file. */
static void test_background_save(void **state)
{
    (void)state;
    char path[256], log[256], why[512];
    snprintf(path, sizeof(path), "%s/snap", dir);
    snprintf(log, sizeof(log), "%s/log", dir);
    touch("log.1"), touch("log.2"), touch("log.3");
    struct nfu_bgsave b;
    nfu_bgsave_init(&b, path, log, 0);
    assert_int_equal(nfu_bgsave_start(&b, begun(path), 2, false), 0);
    assert_true(nfu_bgsave_running(&b));
    int64_t took = -1;
    assert_int_equal(nfu_bgsave_join(&b, why, sizeof(why), &took), 0);
    assert_true(took >= 0);
    assert_false(nfu_bgsave_running(&b));
    assert_int_equal(nfu_bgsave_join(&b, why, sizeof(why), NULL), 1); /* reported once */
    size_t n;
    char *got = read_all(path, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "state", 5);
    assert_false(exists("snap.tmp"));
    assert_false(exists("log.1"));
    assert_false(exists("log.2"));
    assert_true(exists("log.3"));
    nfu_bgsave_free(&b);

    /* a directory where the file goes: the rename fails in the thread */
    snprintf(path, sizeof(path), "%s/taken", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    touch("taken/inside");
    nfu_bgsave_init(&b, path, log, 2);
    assert_int_equal(nfu_bgsave_start(&b, begun(path), 3, false), 0);
    assert_int_equal(nfu_bgsave_join(&b, why, sizeof(why), NULL), -1);
    assert_non_null(strstr(why, "taken.tmp"));
    assert_true(exists("log.3"));
    assert_false(exists("taken.tmp"));
    /* waited for, the same */
    assert_int_equal(nfu_bgsave_start(&b, begun(path), 3, true), -1);
    assert_int_equal(nfu_bgsave_join(&b, why, sizeof(why), NULL), -1);
    assert_true(exists("log.3"));
    nfu_bgsave_free(&b);
}

/* An append writer for the test: the header "H" when the log is new, then `entry`; with
 * `fail_after` >= 0, only that many bytes of the entry are written and the write fails. */
struct appender {
    const char *entry;
    int fail_after;
    uint64_t size_seen;
};

static int append_entry(void *arg, int fd, uint64_t size)
{
    struct appender *a = arg;
    a->size_seen = size;
    if (size == 0 && nfu_write_all(fd, "H", 1) < 0)
        return -1;
    size_t n = strlen(a->entry);
    if (a->fail_after < 0)
        return nfu_write_all(fd, a->entry, n);
    if (nfu_write_all(fd, a->entry, (size_t)a->fail_after) < 0)
        return -1;
    errno = ENOSPC;
    return -1;
}

/* A log appended whole or not at all: a new one is created 0600 and told it is new (for its
 * header); an append that fails part way is cut off, so that the next one follows what the file
 * had; a log that cannot be opened is an error naming it, and the next append, once it can, is
 * whole. */
static void test_append_whole_or_not_at_all(void **state)
{
    (void)state;
    char log[256], why[512];
    snprintf(log, sizeof(log), "%s/log", dir);
    struct appender a = {.entry = "one;", .fail_after = -1};
    assert_int_equal(nfu_append(log, append_entry, &a, why, sizeof(why)), 0);
    assert_int_equal(a.size_seen, 0);
    struct stat st;
    assert_int_equal(stat(log, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    a = (struct appender){.entry = "two;", .fail_after = 2};
    assert_int_equal(nfu_append(log, append_entry, &a, why, sizeof(why)), -1);
    assert_int_equal(a.size_seen, 5);
    assert_non_null(strstr(why, log));
    assert_non_null(strstr(why, strerror(ENOSPC)));
    size_t n;
    char *got = read_all(log, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "Hone;", 5);
    /* the log's place taken by a directory: cannot be opened, then can again */
    char aside[300];
    snprintf(aside, sizeof(aside), "%s.aside", log);
    assert_int_equal(rename(log, aside), 0);
    assert_int_equal(mkdir(log, 0700), 0);
    a = (struct appender){.entry = "two;", .fail_after = -1};
    assert_int_equal(nfu_append(log, append_entry, &a, why, sizeof(why)), -1);
    assert_non_null(strstr(why, log));
    assert_int_equal(rmdir(log), 0);
    assert_int_equal(rename(aside, log), 0);
    assert_int_equal(nfu_append(log, append_entry, &a, why, sizeof(why)), 0);
    got = read_all(log, &n);
    assert_int_equal(n, 9);
    assert_memory_equal(got, "Hone;two;", 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_save_whole, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_generations_listed, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_background_save, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_append_whole_or_not_at_all, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
