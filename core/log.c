/* Log lines on stderr: "2026-01-02T03:04:05.678Z info clean[1]: message". One write(2) per line
 * so that lines of concurrent processes sharing a terminal or a file do not interleave. */
#include "newsflow/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char log_who[64] = "newsflow";
static enum nf_log_level log_level = NF_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void nf_log_setup(const char *who, enum nf_log_level level)
{
    snprintf(log_who, sizeof(log_who), "%s", who);
    log_level = level;
}

int nf_log_level_parse(const char *s)
{
    for (int i = 0; i <= NF_LOG_DEBUG; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}


void nf_log_vwrite(enum nf_log_level level, const char *fmt, va_list ap)
{
    if (level > log_level)
        return;
    char line[2048];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], log_who);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
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
