/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log: one structured line per decision, its time (UTC, RFC
 * 3339) first, then key=value pairs with quoted, escaped values, e.g.
 *   2026-12-01T16:44:20Z wgotp-audit event=begin origin=radius
 *     user="alice@example.com" client="10.0.0.1" method=totp result=accept
 *     reason=ok device="" duration=28800
 * whatever the destination (a syslog or radius.log line carries the
 * receiver's timestamp as well). Never a code, a secret or a password.
 * The format: doc/audit-log.md.
 */
#ifndef WGOTP_AUDIT_H
#define WGOTP_AUDIT_H

#include <stdint.h>

struct wgotp_audit {
	const char *event;		/* "login", "answer", "activate", ... */
	const char *origin;
	const char *user;
	const char *client;
	const char *method;
	const char *result;		/* "accept", "challenge", "reject", "error" */
	const char *reason;
	const char *device;
	int64_t duration;		/* 0 = not shown */
	int64_t old_expires;		/* event=extend: the deadline before; 0 = not shown */
	int64_t expires;		/* the session's deadline; 0 = not shown */
};

void wgotp_audit(const struct wgotp_audit *a);

/*
 * Where audit lines go (wgotp.conf [General] AuditLog): "syslog" or "" (the
 * front end's log sink, which sends them to syslog/radius.log), "stderr",
 * or an absolute file path, opened O_APPEND with mode 0640 and written one
 * line per write(2). Process-wide; wgotp_flow_new() calls it.
 * Returns 0 or a negative errno (the file cannot be opened).
 */
int wgotp_audit_configure(const char *spec);

/* Quote and escape v into out: control characters, quotes and backslashes
 * become escapes; overlong values are cut. */
void wgotp_audit_quote(const char *v, char *out, size_t outlen);

#endif
