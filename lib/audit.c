/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>

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

void wgotp_audit(const struct wgotp_audit *a)
{
	char user[3 * 256], client[3 * 128], device[3 * 64 + 8], dur[32] = "";

	wgotp_audit_quote(a->user ? a->user : "", user, sizeof(user));
	wgotp_audit_quote(a->client ? a->client : "", client, sizeof(client));
	wgotp_audit_quote(a->device ? a->device : "", device, sizeof(device));
	if (a->duration > 0)
		snprintf(dur, sizeof(dur), " duration=%lld", (long long)a->duration);
	wgotp_log(WGOTP_LOG_AUDIT,
		  "wgotp-audit event=%s origin=%s user=%s client=%s method=%s result=%s reason=%s device=%s%s",
		  a->event ? a->event : "-", a->origin ? a->origin : "-", user, client,
		  a->method ? a->method : "-", a->result ? a->result : "-",
		  a->reason ? a->reason : "-", device, dur);
}
