/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static wgotp_log_fn log_fn;
static void *log_arg;
static enum wgotp_log_level log_max = WGOTP_LOG_INFO;

void wgotp_log_set_sink(wgotp_log_fn fn, void *arg, enum wgotp_log_level max_level)
{
	log_fn = fn;
	log_arg = arg;
	log_max = max_level;
}

static const char *level_name(enum wgotp_log_level level)
{
	switch (level) {
	case WGOTP_LOG_ERR:	return "error";
	case WGOTP_LOG_WARN:	return "warning";
	case WGOTP_LOG_INFO:	return "info";
	case WGOTP_LOG_AUDIT:	return "audit";
	case WGOTP_LOG_DEBUG:	return "debug";
	}
	return "?";
}

void wgotp_vlog(enum wgotp_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level > log_max && level != WGOTP_LOG_AUDIT)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_fn)
		log_fn(log_arg, level, msg);
	else
		fprintf(stderr, "wgotp: %s: %s\n", level_name(level), msg);
}

void wgotp_log(enum wgotp_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	wgotp_vlog(level, fmt, ap);
	va_end(ap);
}
