/*
 * log.h - messages on stderr.
 *
 * Errors are logged once, where they are detected, naming what failed and
 * the object involved; one line each, prefixed "cairn: ". The level is set
 * once at start-up by the CLI, before any thread starts.
 */
#ifndef CAIRN_LOG_H
#define CAIRN_LOG_H

enum log_level { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2, LOG_DEBUG = 3 };

/* Sets the level (default LOG_NORMAL). Call before starting threads. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Always printed: "cairn: error: ...". */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed unless quiet: "cairn: warning: ...". */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed unless quiet: "cairn: ...". */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed at LOG_VERBOSE and above. */
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed at LOG_DEBUG. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
