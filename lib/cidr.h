/* SPDX-License-Identifier: GPL-2.0-or-later */
/* IPv4/IPv6 prefixes as WireGuard's allowed-ips takes them. */
#ifndef WGOTP_CIDR_H
#define WGOTP_CIDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct wgotp_cidr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t prefix;		/* 0..32 or 0..128 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

/* "10.0.0.2/32", "fd00::2/128"; a bare address means a host prefix.
 * Host bits beyond the prefix are refused (-EINVAL), as is anything else
 * not a valid prefix. */
int wgotp_cidr_parse(const char *s, struct wgotp_cidr *out);
/* Canonical text form into buf (at least 50 bytes). */
void wgotp_cidr_format(const struct wgotp_cidr *c, char *buf, size_t len);
bool wgotp_cidr_overlap(const struct wgotp_cidr *a, const struct wgotp_cidr *b);
/* The same prefix (family, length and address). */
bool wgotp_cidr_equal(const struct wgotp_cidr *a, const struct wgotp_cidr *b);

/* Walk a comma-separated list ("10.8.0.2/32,fd00::2/128", as a session
 * keeps its allowed IPs), one prefix per call: 1 with *out set and *cursor
 * moved on, 0 at the end of the list, -EINVAL when the next piece is not
 * a prefix (an empty piece, a trailing comma, a space or any other byte
 * wgotp_cidr_parse refuses). Whoever hands a prefix on re-formats *out:
 * the text of the list is never passed through. */
int wgotp_cidr_list_next(const char **cursor, struct wgotp_cidr *out);

#endif
