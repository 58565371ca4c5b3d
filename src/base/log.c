/*
 * log.c - one-line messages on stderr.
 *
 * Each message is formatted into one buffer and written with a single
 * write(2) so lines from several threads do not interleave.
 */
#include "cairn/common.h"
#include "cairn/log.h"

#include <stdarg.h>
#include <unistd.h>

static enum log_level log_level = LOG_NORMAL;

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

/* Formats "cairn: <prefix><message>\n" and writes it in one call. */
static void log_emit(const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	int n = snprintf(line, sizeof(line), "cairn: %s", prefix);
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}

#define LOG_FN(fname, lvl, prefix)                          \
	void fname(const char *fmt, ...)                    \
	{                                                   \
		if (log_level < (lvl))                      \
			return;                             \
		va_list ap;                                 \
		va_start(ap, fmt);                          \
		log_emit(prefix, fmt, ap);                  \
		va_end(ap);                                 \
	}

LOG_FN(log_warn, LOG_NORMAL, "warning: ")
LOG_FN(log_info, LOG_NORMAL, "")
LOG_FN(log_verbose, LOG_VERBOSE, "")
LOG_FN(log_debug, LOG_DEBUG, "debug: ")

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_emit("error: ", fmt, ap);
	va_end(ap);
}
