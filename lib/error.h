/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A human-readable error message that travels beside a negative errno.
 * Parsers fill it with "FILE:LINE: what is wrong"; the caller decides
 * whether and where to log it.
 */
#ifndef WGOTP_ERROR_H
#define WGOTP_ERROR_H

#include <stddef.h>

struct wgotp_error {
	char msg[512];
};

/* Set err->msg (err may be NULL) and return -errnum (errnum > 0). */
int wgotp_error_set(struct wgotp_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void wgotp_error_clear(struct wgotp_error *err)
{
	if (err)
		err->msg[0] = '\0';
}

#endif
