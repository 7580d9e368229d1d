/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IPv4/IPv6 prefixes as WireGuard's allowed-ips takes them. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"

static const uint8_t *cidr_bytes(const struct wgotp_cidr *c)
{
	return c->family == AF_INET ? (const uint8_t *)&c->addr.v4 : c->addr.v6.s6_addr;
}

/* Do the first `bits` bits of a and b agree? */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, whole))
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff00 >> rest);
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* Are all bits from `bits` on zero? */
static bool host_bits_zero(const uint8_t *a, unsigned int bits, unsigned int total)
{
	unsigned int i;

	for (i = bits; i < total; i++)
		if (a[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

int wgotp_cidr_parse(const char *s, struct wgotp_cidr *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash, *p;
	struct wgotp_cidr c;
	unsigned int prefix = 0, max;
	size_t alen;
	int ret = -EINVAL;

	memset(&c, 0, sizeof(c));
	if (!s || !out)
		goto cleanup;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		goto cleanup;
	memcpy(addr, s, alen);
	addr[alen] = '\0';

	c.family = memchr(addr, ':', alen) ? AF_INET6 : AF_INET;
	if (inet_pton(c.family, addr, c.family == AF_INET ? (void *)&c.addr.v4 : (void *)&c.addr.v6) != 1)
		goto cleanup;
	max = c.family == AF_INET ? 32 : 128;

	if (slash) {
		/* 1 to 3 digits, no sign, no spaces, no leading zero. */
		p = slash + 1;
		if (!*p || strlen(p) > 3 || (p[0] == '0' && p[1]))
			goto cleanup;
		for (; *p; p++) {
			if (*p < '0' || *p > '9')
				goto cleanup;
			prefix = prefix * 10 + (unsigned int)(*p - '0');
		}
		if (prefix > max)
			goto cleanup;
	} else {
		prefix = max;
	}
	c.prefix = (uint8_t)prefix;
	if (!host_bits_zero(cidr_bytes(&c), prefix, max))
		goto cleanup;
	*out = c;
	ret = 0;
cleanup:
	return ret;
}

void wgotp_cidr_format(const struct wgotp_cidr *c, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	if (!buf || !len)
		return;
	if (!c || (c->family != AF_INET && c->family != AF_INET6) ||
	    !inet_ntop(c->family, cidr_bytes(c), addr, sizeof(addr))) {
		snprintf(buf, len, "(invalid)");
		return;
	}
	snprintf(buf, len, "%s/%u", addr, (unsigned int)c->prefix);
}

bool wgotp_cidr_overlap(const struct wgotp_cidr *a, const struct wgotp_cidr *b)
{
	unsigned int bits;

	if (a->family != b->family || (a->family != AF_INET && a->family != AF_INET6))
		return false;
	bits = a->prefix < b->prefix ? a->prefix : b->prefix;
	if (bits > (a->family == AF_INET ? 32U : 128U))
		bits = a->family == AF_INET ? 32U : 128U;
	return prefix_equal(cidr_bytes(a), cidr_bytes(b), bits);
}

bool wgotp_cidr_equal(const struct wgotp_cidr *a, const struct wgotp_cidr *b)
{
	if (a->family != b->family || a->prefix != b->prefix ||
	    (a->family != AF_INET && a->family != AF_INET6))
		return false;
	return !memcmp(cidr_bytes(a), cidr_bytes(b), a->family == AF_INET ? 4 : 16);
}

int wgotp_cidr_list_next(const char **cursor, struct wgotp_cidr *out)
{
	char piece[INET6_ADDRSTRLEN + 4];	/* address, '/', 3 digits */
	const char *p, *end;
	size_t len;
	int ret = -EINVAL;

	if (!cursor || !*cursor || !out)
		goto cleanup;
	p = *cursor;
	if (!*p) {
		ret = 0;
		goto cleanup;
	}
	end = strchrnul(p, ',');
	len = (size_t)(end - p);
	/* "a,": a trailing comma is not an empty end of the list */
	if (len == 0 || len >= sizeof(piece) || (*end == ',' && !end[1]))
		goto cleanup;
	memcpy(piece, p, len);
	piece[len] = '\0';
	if (wgotp_cidr_parse(piece, out) < 0)
		goto cleanup;
	*cursor = *end ? end + 1 : end;
	ret = 1;
cleanup:
	return ret;
}
