/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * How the login flow hands an emailed code to a transport. The flow only
 * sees this interface: tests inject a recorder, the front ends the real
 * transports (Graph, SMTP, sendmail) built from the configuration.
 */
#ifndef WGOTP_MAILER_H
#define WGOTP_MAILER_H

#include <stdint.h>

#include "error.h"

struct wgotp_mail_code {
	const char *to;			/* the user's address */
	const char *code;		/* wipe any copy of it after use */
	int64_t lifetime;		/* seconds the code is valid */
	int64_t now;
};

/* The warning before a session ends (wg-activator, [Session] WarnBefore). */
struct wgotp_mail_warn {
	const char *to;
	const char *device;		/* the device's name */
	const char *end_text;		/* "17:45" in the session's time zone */
	const char *date_text;		/* "2026-03-29" */
	int64_t end;			/* the deadline, seconds since the epoch */
	int64_t now;
	const char *link;		/* where to extend it ([Portal] PublicURL), or NULL */
};

struct wgotp_mailer {
	/* 0 once the transport accepted the message; a negative errno and
	 * err->msg (without the code) when it did not. */
	int (*send_code)(void *arg, const struct wgotp_mail_code *m, struct wgotp_error *err);
	void (*free)(void *arg);
	void *arg;
	/* The same for a warning; NULL in mailers that send none. */
	int (*send_warn)(void *arg, const struct wgotp_mail_warn *m, struct wgotp_error *err);
};

#endif
