/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Strict JSON bodies, cookies and X-Forwarded-For (body.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "body.h"
#include "secret.h"

struct pj {
	const char *s;
	size_t len, pos;
	char *why;
	size_t whylen;
};

__attribute__((format(printf, 2, 3)))
static int pj_fail(struct pj *p, const char *fmt, ...)
{
	va_list ap;

	if (p->why && p->whylen) {
		va_start(ap, fmt);
		vsnprintf(p->why, p->whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void pj_ws(struct pj *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static int hex4(const char *s, unsigned int *out)
{
	unsigned int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned int cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned int cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* A JSON string at p->pos (the opening quote) into a new buffer of at
 * most max bytes (decoded). */
static int pj_string(struct pj *p, size_t max, char **out)
{
	char *buf = NULL;
	size_t n = 0;
	int ret = -EINVAL;

	*out = NULL;
	if (p->pos >= p->len || p->s[p->pos] != '"')
		return pj_fail(p, "expected a string");
	p->pos++;
	buf = malloc(max + 5);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		unsigned char c;
		char tmp[4];
		size_t k;

		if (p->pos >= p->len) {
			ret = pj_fail(p, "unterminated string");
			goto cleanup;
		}
		c = (unsigned char)p->s[p->pos];
		if (c == '"') {
			p->pos++;
			break;
		}
		if (c < 0x20) {
			ret = pj_fail(p, "control character in a string");
			goto cleanup;
		}
		if (c == '\\') {
			unsigned int cp, lo;

			if (p->pos + 1 >= p->len) {
				ret = pj_fail(p, "unterminated string");
				goto cleanup;
			}
			c = (unsigned char)p->s[p->pos + 1];
			p->pos += 2;
			switch (c) {
			case '"': case '\\': case '/': tmp[0] = (char)c; k = 1; break;
			case 'b': tmp[0] = '\b'; k = 1; break;
			case 'f': tmp[0] = '\f'; k = 1; break;
			case 'n': tmp[0] = '\n'; k = 1; break;
			case 'r': tmp[0] = '\r'; k = 1; break;
			case 't': tmp[0] = '\t'; k = 1; break;
			case 'u':
				if (p->pos + 4 > p->len || hex4(p->s + p->pos, &cp) < 0) {
					ret = pj_fail(p, "bad \\u escape");
					goto cleanup;
				}
				p->pos += 4;
				if (cp >= 0xdc00 && cp <= 0xdfff) {
					ret = pj_fail(p, "lone surrogate in a string");
					goto cleanup;
				}
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
					    hex4(p->s + p->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff) {
						ret = pj_fail(p, "lone surrogate in a string");
						goto cleanup;
					}
					p->pos += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				if (cp == 0) {
					ret = pj_fail(p, "NUL in a string");
					goto cleanup;
				}
				k = put_utf8(tmp, cp);
				break;
			default:
				ret = pj_fail(p, "bad escape in a string");
				goto cleanup;
			}
		} else {
			k = utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos);
			if (!k) {
				ret = pj_fail(p, "invalid UTF-8 in a string");
				goto cleanup;
			}
			memcpy(tmp, p->s + p->pos, k);
			p->pos += k;
		}
		if (n + k > max) {
			ret = pj_fail(p, "string too long");
			goto cleanup;
		}
		memcpy(buf + n, tmp, k);
		n += k;
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	ret = 0;
cleanup:
	if (buf)
		wgotp_freezero(buf, max + 5);
	return ret;
}

/* -?(0|[1-9][0-9]*), within int64, nothing after it but a delimiter */
static int pj_int(struct pj *p, int64_t *out)
{
	size_t start = p->pos;
	bool neg = false;
	uint64_t v = 0, lim;

	if (p->pos < p->len && p->s[p->pos] == '-') {
		neg = true;
		p->pos++;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9')
		return pj_fail(p, "expected a number");
	if (p->s[p->pos] == '0' && p->pos + 1 < p->len && p->s[p->pos + 1] >= '0' &&
	    p->s[p->pos + 1] <= '9')
		return pj_fail(p, "leading zero in a number");
	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		unsigned int d = (unsigned int)(p->s[p->pos] - '0');

		if (v > (lim - d) / 10)
			return pj_fail(p, "number out of range");
		v = v * 10 + d;
		p->pos++;
	}
	if (p->pos < p->len && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
		return pj_fail(p, "expected a whole number");
	(void)start;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int pj_parse(const char *body, size_t len, const struct pj_field *schema, size_t n,
	     struct pj_value *out, char *why, size_t whylen)
{
	struct pj p = { .s = body, .len = len, .why = why, .whylen = whylen };
	char *name = NULL;
	int ret;

	if (why && whylen)
		why[0] = '\0';
	if (n > PJ_MAX_FIELDS)
		return -EINVAL;
	memset(out, 0, sizeof(*out) * n);
	if (!body)
		return pj_fail(&p, "empty body");
	pj_ws(&p);
	if (p.pos >= p.len || body[p.pos] != '{') {
		ret = pj_fail(&p, "the body must be one JSON object");
		goto cleanup;
	}
	p.pos++;
	pj_ws(&p);
	if (p.pos < p.len && body[p.pos] == '}') {
		p.pos++;
	} else {
		for (;;) {
			size_t i;

			pj_ws(&p);
			ret = pj_string(&p, 64, &name);
			if (ret < 0) {
				if (ret == -EINVAL)
					pj_fail(&p, "expected a field name");
				goto cleanup;
			}
			for (i = 0; i < n && strcmp(schema[i].name, name); i++)
				;
			if (i == n) {
				ret = pj_fail(&p, "unknown field \"%.40s\"", name);
				goto cleanup;
			}
			if (out[i].present) {
				ret = pj_fail(&p, "duplicated field \"%s\"", schema[i].name);
				goto cleanup;
			}
			free(name);
			name = NULL;
			pj_ws(&p);
			if (p.pos >= p.len || body[p.pos] != ':') {
				ret = pj_fail(&p, "expected ':'");
				goto cleanup;
			}
			p.pos++;
			pj_ws(&p);
			if (schema[i].type == PJ_STRING) {
				if (p.pos >= p.len || body[p.pos] != '"') {
					ret = pj_fail(&p, "field \"%s\" must be a string", schema[i].name);
					goto cleanup;
				}
				ret = pj_string(&p, schema[i].max_len, &out[i].str);
				if (ret == -EINVAL && why)
					snprintf(why + strlen(why), whylen - strlen(why), " (field \"%s\")",
						 schema[i].name);
			} else {
				if (p.pos >= p.len || (body[p.pos] != '-' && (body[p.pos] < '0' || body[p.pos] > '9'))) {
					ret = pj_fail(&p, "field \"%s\" must be a whole number", schema[i].name);
					goto cleanup;
				}
				ret = pj_int(&p, &out[i].num);
			}
			if (ret < 0)
				goto cleanup;
			out[i].present = true;
			pj_ws(&p);
			if (p.pos < p.len && body[p.pos] == ',') {
				p.pos++;
				continue;
			}
			if (p.pos < p.len && body[p.pos] == '}') {
				p.pos++;
				break;
			}
			ret = pj_fail(&p, "expected ',' or '}'");
			goto cleanup;
		}
	}
	pj_ws(&p);
	if (p.pos != p.len) {
		ret = pj_fail(&p, "trailing data after the object");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (schema[i].required && !out[i].present) {
			ret = pj_fail(&p, "missing field \"%s\"", schema[i].name);
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	free(name);
	if (ret < 0)
		pj_values_free(out, n);
	return ret;
}

void pj_values_free(struct pj_value *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		wgotp_free_str(v[i].str);
		v[i].str = NULL;
		v[i].present = false;
	}
}

int cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *s = header;
	bool found = false;

	if (outlen)
		out[0] = '\0';
	if (!header)
		return -ENOENT;
	while (*s) {
		const char *end, *eq;
		size_t vl;

		while (*s == ' ' || *s == '\t' || *s == ';')
			s++;
		if (!*s)
			break;
		end = strchr(s, ';');
		if (!end)
			end = s + strlen(s);
		eq = memchr(s, '=', (size_t)(end - s));
		if (eq && (size_t)(eq - s) == nl && !memcmp(s, name, nl)) {
			if (found)
				return -EEXIST;
			found = true;
			vl = (size_t)(end - eq - 1);
			while (vl && (eq[vl] == ' ' || eq[vl] == '\t'))
				vl--;
			if (vl >= outlen)
				return -EINVAL;
			memcpy(out, eq + 1, vl);
			out[vl] = '\0';
		}
		s = end;
	}
	return found ? 0 : -ENOENT;
}

static bool parse_addr(const char *s, size_t len, struct wgotp_cidr *out)
{
	char buf[INET6_ADDRSTRLEN];

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len || len >= sizeof(buf) || memchr(s, '/', len))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return wgotp_cidr_parse(buf, out) == 0;
}

static bool in_nets(const struct wgotp_cidr *a, const struct wgotp_cidr *nets, int n)
{
	for (int i = 0; i < n; i++) {
		if (nets[i].family == a->family && wgotp_cidr_overlap(&nets[i], a))
			return true;
	}
	return false;
}

bool addr_in(const char *addr, const struct wgotp_cidr *nets, int n)
{
	struct wgotp_cidr a;

	return addr && parse_addr(addr, strlen(addr), &a) && in_nets(&a, nets, n);
}

void client_address(const char *peer, const char *xff, const struct wgotp_cidr *trusted,
		    int n_trusted, char *out, size_t outlen)
{
	struct wgotp_cidr a, last;
	const char *end;

	snprintf(out, outlen, "%s", peer ? peer : "");
	if (!peer || !xff || !n_trusted || !parse_addr(peer, strlen(peer), &last) ||
	    !in_nets(&last, trusted, n_trusted))
		return;
	end = xff + strlen(xff);
	while (end > xff) {
		const char *comma = end;

		while (comma > xff && comma[-1] != ',')
			comma--;
		if (!parse_addr(comma, (size_t)(end - comma), &a))
			break;
		last = a;
		if (!in_nets(&a, trusted, n_trusted))
			break;
		end = comma > xff ? comma - 1 : xff;
	}
	wgotp_cidr_format(&last, out, outlen);
	/* a host prefix prints as its address */
	char *slash = strchr(out, '/');
	if (slash)
		*slash = '\0';
}
