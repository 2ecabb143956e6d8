/* Log lines on stderr: "2026-01-02T03:04:05.678Z info clean[1]: message". One write(2) per line
 * so that lines of concurrent processes sharing a terminal or a file do not interleave. */
#include "newsflow/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_who[64] = "newsflow";
static enum nf_log_level log_level = NF_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};
static bool log_json;
static const char *log_record; /* the id of the record being handled, or NULL */

void nf_log_setup(const char *who, enum nf_log_level level)
{
    snprintf(log_who, sizeof(log_who), "%s", who);
    log_level = level;
}

void nf_log_json(bool on)
{
    log_json = on;
}

void nf_log_record(const char *id)
{
    log_record = id;
}

/* {"time", "level", "stage", "worker", "record", "msg"}: "clean[1]" is stage clean, worker 1. */
static size_t json_line(char *line, size_t cap, const char *ts, enum nf_log_level level,
                        const char *msg)
{
    char stage[64];
    int worker = -1;
    snprintf(stage, sizeof(stage), "%s", log_who);
    char *br = strchr(stage, '[');
    if (br) {
        worker = atoi(br + 1);
        *br = '\0';
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:s}", "time", ts, "level", level_names[level],
                          "stage", stage, "record", log_record, "msg", msg);
    if (o && worker >= 0)
        json_object_set_new(o, "worker", json_integer(worker));
    size_t n = o ? json_dumpb(o, line, cap - 1, JSON_COMPACT | JSON_PRESERVE_ORDER) : 0;
    json_decref(o);
    if (n == 0 || n > cap - 1) /* too long for one line: the message alone, cut */
        n = (size_t)snprintf(line, cap - 1, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":"
                                            "\"(a log line too long for JSON)\"}", ts,
                             level_names[level]);
    return n;
}

int nf_log_level_parse(const char *s)
{
    for (int i = 0; i <= NF_LOG_DEBUG; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}


void nf_log_time(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void nf_log_vwrite(enum nf_log_level level, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;
    char line[2048];
    char stamp[NF_LOG_TIME_LEN];
    nf_log_time(stamp, sizeof(stamp));
    size_t len;
    if (log_json) {
        char msg[2048];
        vsnprintf(msg, sizeof(msg), fmt, ap);
        len = json_line(line, sizeof(line) - 1, stamp, level, msg);
    } else {
        int n = snprintf(line, sizeof(line), "%s %s %s: ", stamp, level_names[level], log_who);
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
        len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    }
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void nf_logf(enum nf_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nf_log_vwrite(level, fmt, ap);
    va_end(ap);
}
