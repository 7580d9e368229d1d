/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"

void wgotp_audit_quote(const char *v, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (; v && *v; v++) {
		unsigned char c = (unsigned char)*v;
		char esc[5];
		size_t n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			n = 4;
		} else {
			esc[0] = (char)c;
			n = 1;
		}
		if (o + n + 2 > outlen)
			break;
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o++] = '"';
	out[o] = '\0';
}

enum audit_dest { AUDIT_SINK, AUDIT_STDERR, AUDIT_FILE };

static pthread_mutex_t audit_mu = PTHREAD_MUTEX_INITIALIZER;
static enum audit_dest audit_dest = AUDIT_SINK;
static int audit_fd = -1;

int wgotp_audit_configure(const char *spec)
{
	int fd = -1, ret = 0;

	pthread_mutex_lock(&audit_mu);
	if (!spec || !*spec || !strcmp(spec, "syslog")) {
		audit_dest = AUDIT_SINK;
	} else if (!strcmp(spec, "stderr")) {
		audit_dest = AUDIT_STDERR;
	} else if (spec[0] == '/') {
		fd = open(spec, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0) {
			ret = -errno;
			goto cleanup;
		}
		if (audit_fd >= 0)
			close(audit_fd);
		audit_fd = fd;
		audit_dest = AUDIT_FILE;
	} else {
		ret = -EINVAL;
	}
cleanup:
	pthread_mutex_unlock(&audit_mu);
	return ret;
}

/* The time of the line: UTC, RFC 3339 to the second ("2026-12-01T16:44:20Z"). */
static void audit_stamp(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm) ||
	    !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

/* One line, timestamped already, to where AuditLog says. */
static void audit_emit(const char *line)
{
	char buf[2048];
	int n;

	pthread_mutex_lock(&audit_mu);
	switch (audit_dest) {
	case AUDIT_SINK:
		pthread_mutex_unlock(&audit_mu);
		wgotp_log(WGOTP_LOG_AUDIT, "%s", line);
		return;
	case AUDIT_STDERR:
	case AUDIT_FILE:
		n = snprintf(buf, sizeof(buf), "%s\n", line);
		if (n > 0 && (size_t)n >= sizeof(buf)) {
			n = sizeof(buf) - 1;
			buf[n - 1] = '\n';
		}
		if (n > 0 && write(audit_dest == AUDIT_FILE ? audit_fd : STDERR_FILENO, buf,
				  (size_t)n) < 0) {
			/* Nowhere better to say it than the log. */
			pthread_mutex_unlock(&audit_mu);
			wgotp_log(WGOTP_LOG_ERR, "audit log write failed: %s", strerror(errno));
			wgotp_log(WGOTP_LOG_AUDIT, "%s", line);
			return;
		}
		break;
	}
	pthread_mutex_unlock(&audit_mu);
}

/* " key=2026-03-29T01:30:00Z" (UTC, the instant), or "" for t <= 0. */
static void audit_instant(int64_t t, const char *key, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char stamp[24];

	out[0] = '\0';
	if (t <= 0 || !gmtime_r(&tt, &tm))
		return;
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(out, len, "%s%s", key, stamp);
}

void wgotp_audit(const struct wgotp_audit *a)
{
	char line[1536], stamp[32];

	char user[3 * 256], client[3 * 128], device[3 * 64 + 8], dur[32] = "", dl[112] = "";

	audit_stamp(stamp, sizeof(stamp));
	wgotp_audit_quote(a->user ? a->user : "", user, sizeof(user));
	wgotp_audit_quote(a->client ? a->client : "", client, sizeof(client));
	wgotp_audit_quote(a->device ? a->device : "", device, sizeof(device));
	if (a->duration > 0)
		snprintf(dur, sizeof(dur), " duration=%lld", (long long)a->duration);
	if (a->old_expires > 0 || a->expires > 0) {
		char o[48] = "", n[48] = "";

		audit_instant(a->old_expires, " old_expires=", o, sizeof(o));
		audit_instant(a->expires, " expires=", n, sizeof(n));
		snprintf(dl, sizeof(dl), "%s%s", o, n);
	}
	snprintf(line, sizeof(line),
		  "%s wgotp-audit event=%s origin=%s user=%s client=%s method=%s result=%s reason=%s device=%s%s%s",
		  stamp, a->event ? a->event : "-", a->origin ? a->origin : "-", user, client,
		  a->method ? a->method : "-", a->result ? a->result : "-",
		  a->reason ? a->reason : "-", device, dur, dl);
	audit_emit(line);
}
