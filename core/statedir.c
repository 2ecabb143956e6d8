/* Private directories and the state lock (statedir.h). */
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int nf_dir_private(const char *path, const char *what, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "%s %s: path too long", what, path);
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "%s %s: cannot create %s: %s", what, path, tmp,
                     strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s %s: cannot create it: %s", what, path,
                 errno == ENOSPC ? "the disk is full" : strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(path, &st) < 0) {
        snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s %s: not a directory%s", what, path,
                 S_ISLNK(st.st_mode) ? " (a symbolic link: name the directory itself)" : "");
        return -1;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "%s %s is owned by uid %u, not by this user (uid %u): refusing "
                              "to keep state where another user can change it",
                 what, path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -1;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(err, errlen, "%s %s is writable by %s (mode %04o): refusing; make it private "
                              "with chmod 700",
                 what, path, st.st_mode & S_IWOTH ? "every user" : "its group",
                 (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if (access(path, W_OK | X_OK) < 0) {
        snprintf(err, errlen, "%s %s: not writable: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

static void lock_path(const char *state_dir, char *out, size_t n)
{
    snprintf(out, n, "%s/newsflow.lock", state_dir);
}

int nf_state_lock(const char *state_dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    lock_path(state_dir, path, sizeof(path));
    /* Not O_CLOEXEC: the workers inherit it, and the lock lasts as long as any of them. */
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "state_dir %s: cannot open its lock %s: %s", state_dir, path,
                 strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            snprintf(err, errlen, "state_dir %s is in use by another pipeline (supervisor pid "
                                  "%s, or the workers it started): one pipeline per state "
                                  "directory; stop it first or use another state_dir",
                     state_dir, pid[0] ? pid : "unknown");
        else
            snprintf(err, errlen, "state_dir %s: cannot lock %s: %s", state_dir, path,
                     strerror(e));
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        snprintf(err, errlen, "state_dir %s: cannot write its lock: %s", state_dir,
                 errno == ENOSPC ? "the disk is full" : strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

pid_t nf_state_lock_holder(const char *state_dir)
{
    char path[PATH_MAX];
    lock_path(state_dir, path, sizeof(path));
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    pid_t holder = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        char pid[32];
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        holder = (pid_t)strtol(pid, NULL, 10);
    }
    close(fd);
    return holder;
}
