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

#endif
