/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging. The front end supplies the sink (radlog, pam_syslog, stderr);
 * library code only formats. Never pass a code, secret or password to
 * these functions.
 */
#ifndef WGOTP_LOG_H
#define WGOTP_LOG_H

#include <stdarg.h>

enum wgotp_log_level {
	WGOTP_LOG_ERR,
	WGOTP_LOG_WARN,
	WGOTP_LOG_INFO,
	WGOTP_LOG_AUDIT,	/* one structured line per decision */
	WGOTP_LOG_DEBUG,
};

typedef void (*wgotp_log_fn)(void *arg, enum wgotp_log_level level, const char *msg);

/* Process-wide sink. fn == NULL restores the default (stderr). Messages
 * above max_level (DEBUG > AUDIT > INFO > ...) are dropped, except AUDIT,
 * which is always delivered. */
void wgotp_log_set_sink(wgotp_log_fn fn, void *arg, enum wgotp_log_level max_level);

void wgotp_log(enum wgotp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void wgotp_vlog(enum wgotp_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define log_err(...)   wgotp_log(WGOTP_LOG_ERR, __VA_ARGS__)
#define log_warn(...)  wgotp_log(WGOTP_LOG_WARN, __VA_ARGS__)
#define log_info(...)  wgotp_log(WGOTP_LOG_INFO, __VA_ARGS__)
#define log_debug(...) wgotp_log(WGOTP_LOG_DEBUG, __VA_ARGS__)
/* _f: prefix with the function name, as OpenSSH's log.h does */
#define log_err_f(fmt, ...)   wgotp_log(WGOTP_LOG_ERR, "%s: " fmt, __func__, ##__VA_ARGS__)
#define log_warn_f(fmt, ...)  wgotp_log(WGOTP_LOG_WARN, "%s: " fmt, __func__, ##__VA_ARGS__)
#define log_debug_f(fmt, ...) wgotp_log(WGOTP_LOG_DEBUG, "%s: " fmt, __func__, ##__VA_ARGS__)

#endif
