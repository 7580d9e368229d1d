/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A growable byte buffer for text that may hold secrets (codes, tokens,
 * client secrets): growing copies into a new block and wipes the old one,
 * and freeing wipes. A failure (out of memory, over max) is remembered and
 * reported once by wgotp_buf_take(), so builders append without checking
 * each call.
 */
#ifndef WGOTP_MAIL_BUF_H
#define WGOTP_MAIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct wgotp_buf {
	char *p;		/* always NUL-terminated when non-NULL */
	size_t len, cap;
	size_t max;		/* 0 = no limit; beyond it the buffer fails */
	int error;		/* 0, or -ENOMEM / -EFBIG once it failed */
};

void wgotp_buf_add(struct wgotp_buf *b, const void *data, size_t len);
void wgotp_buf_adds(struct wgotp_buf *b, const char *s);
void wgotp_buf_addc(struct wgotp_buf *b, char c);
void wgotp_buf_addf(struct wgotp_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append s as the inside of a JSON string (quotes not included). */
void wgotp_buf_add_json(struct wgotp_buf *b, const char *s);
/* Append base64 (url = true: base64url without padding). */
void wgotp_buf_add_base64(struct wgotp_buf *b, const void *data, size_t len, bool url);
/* Append s form-urlencoded (application/x-www-form-urlencoded). */
void wgotp_buf_add_form(struct wgotp_buf *b, const char *s);

/* Hand the text over: 0 with *out (NUL-terminated, free with
 * wgotp_freezero(*out, *len + 1) or wgotp_free_str) or -ENOMEM / -EFBIG;
 * the buffer is empty afterwards either way. */
int wgotp_buf_take(struct wgotp_buf *b, char **out, size_t *len);
/* Wipe and free. */
void wgotp_buf_free(struct wgotp_buf *b);

/* Decode base64url (no padding) into a malloc'ed block; -EINVAL on a bad
 * character. */
int wgotp_base64url_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen);

#endif
