/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_buf.h"
#include "secret.h"

static bool buf_reserve(struct wgotp_buf *b, size_t more)
{
	size_t need, cap;
	char *p;

	if (b->error)
		return false;
	if (more > SIZE_MAX / 2 - b->len - 1 || (b->max && b->len + more > b->max)) {
		b->error = -EFBIG;
		return false;
	}
	need = b->len + more + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	/* Not realloc: the old block may hold a secret and must be wiped. */
	p = malloc(cap);
	if (!p) {
		b->error = -ENOMEM;
		return false;
	}
	if (b->p) {
		memcpy(p, b->p, b->len + 1);
		wgotp_freezero(b->p, b->cap);
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void wgotp_buf_add(struct wgotp_buf *b, const void *data, size_t len)
{
	if (!buf_reserve(b, len))
		return;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void wgotp_buf_adds(struct wgotp_buf *b, const char *s)
{
	wgotp_buf_add(b, s, strlen(s));
}

void wgotp_buf_addc(struct wgotp_buf *b, char c)
{
	wgotp_buf_add(b, &c, 1);
}

void wgotp_buf_addf(struct wgotp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (!b->error)
			b->error = -EINVAL;
		return;
	}
	if (!buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void wgotp_buf_add_json(struct wgotp_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '"':	wgotp_buf_add(b, "\\\"", 2); break;
		case '\\':	wgotp_buf_add(b, "\\\\", 2); break;
		case '\n':	wgotp_buf_add(b, "\\n", 2); break;
		case '\r':	wgotp_buf_add(b, "\\r", 2); break;
		case '\t':	wgotp_buf_add(b, "\\t", 2); break;
		default:
			if (*c < 0x20 || *c == 0x7f) {
				char e[6] = { '\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15] };

				wgotp_buf_add(b, e, sizeof(e));
			} else {
				wgotp_buf_addc(b, (char)*c);
			}
		}
	}
}

void wgotp_buf_add_base64(struct wgotp_buf *b, const void *data, size_t len, bool url)
{
	static const char std[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char web[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *alpha = url ? web : std;
	const unsigned char *in = data;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		char q[4] = {
			alpha[in[i] >> 2],
			alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)],
			alpha[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)],
			alpha[in[i + 2] & 63],
		};
		wgotp_buf_add(b, q, 4);
	}
	if (i < len) {
		char q[4] = { alpha[in[i] >> 2], 0, '=', '=' };

		if (i + 1 < len) {
			q[1] = alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			q[2] = alpha[(in[i + 1] & 15) << 2];
		} else {
			q[1] = alpha[(in[i] & 3) << 4];
		}
		wgotp_buf_add(b, q, url ? (i + 1 < len ? 3 : 2) : 4);
	}
}

void wgotp_buf_add_form(struct wgotp_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || strchr("-._~", *c)) {
			wgotp_buf_addc(b, (char)*c);
		} else {
			char e[3] = { '%', hex[*c >> 4], hex[*c & 15] };

			wgotp_buf_add(b, e, 3);
		}
	}
}

int wgotp_buf_take(struct wgotp_buf *b, char **out, size_t *len)
{
	int ret = b->error;

	*out = NULL;
	if (len)
		*len = 0;
	if (!ret && !b->p)
		wgotp_buf_add(b, "", 0);
	ret = b->error;
	if (ret) {
		wgotp_buf_free(b);
		return ret;
	}
	*out = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return 0;
}

void wgotp_buf_free(struct wgotp_buf *b)
{
	wgotp_freezero(b->p, b->cap);
	b->p = NULL;
	b->len = b->cap = 0;
	b->error = 0;
}

static int b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int wgotp_base64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
	unsigned char *p;
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0, ret;

	*out = NULL;
	*outlen = 0;
	if (inlen % 4 == 1)
		return -EINVAL;
	p = malloc(inlen * 3 / 4 + 1);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < inlen; i++) {
		int v = b64url_val((unsigned char)in[i]);

		if (v < 0) {
			ret = -EINVAL;
			goto cleanup;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[n++] = (unsigned char)(acc >> bits);
		}
	}
	*out = p;
	*outlen = n;
	p = NULL;
	ret = 0;
cleanup:
	free(p);
	return ret;
}
