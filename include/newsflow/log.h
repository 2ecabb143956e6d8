/* Logging: one line per event on stderr, "TIME LEVEL WHO: message". The host sets WHO (the stage
 * and worker, or the supervisor) once; every line a process writes carries it. */
#ifndef NEWSFLOW_LOG_H
#define NEWSFLOW_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum nf_log_level { NF_LOG_ERROR, NF_LOG_WARN, NF_LOG_INFO, NF_LOG_DEBUG };

/* Sets who is speaking ("clean[1]") and the lowest level written. Not thread-safe: call once at
 * start-up. */
void nf_log_setup(const char *who, enum nf_log_level level);
/* Lines as JSON objects {"time","level","stage","worker","record","msg"} instead of text
 * (log_format = "json"). Call at start-up, like nf_log_setup. */
void nf_log_json(bool on);
/* The id of the record the process handles now, named by JSON lines (NULL: none). The host
 * sets it around each record; the string must stay valid until the next call. */
void nf_log_record(const char *id);
/* Parses "error", "warn", "info", "debug"; -1 when unknown. */
int nf_log_level_parse(const char *s);
void nf_logf(enum nf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same with a va_list, for wrappers. */
void nf_log_vwrite(enum nf_log_level level, const char *fmt, va_list ap);

/* The time now as the log lines write it, UTC to the millisecond: "2026-01-02T03:04:05.678Z"
 * (the form of SQLite's strftime('%Y-%m-%dT%H:%M:%fZ'), so that stores agree). `out` has room
 * for NF_LOG_TIME_LEN bytes with the terminating NUL. */
#define NF_LOG_TIME_LEN 32
void nf_log_time(char *out, size_t n);

#endif
