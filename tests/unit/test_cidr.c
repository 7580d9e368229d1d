/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prefix parsing, canonical formatting, overlap. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "tap.h"

static void test_parse_format(void)
{
	static const struct { const char *in, *out; int family; int prefix; } v[] = {
		{ "10.8.0.2/32", "10.8.0.2/32", AF_INET, 32 },
		{ "10.8.0.2", "10.8.0.2/32", AF_INET, 32 },
		{ "10.8.0.0/24", "10.8.0.0/24", AF_INET, 24 },
		{ "10.8.0.0/23", "10.8.0.0/23", AF_INET, 23 },
		{ "0.0.0.0/0", "0.0.0.0/0", AF_INET, 0 },
		{ "128.0.0.0/1", "128.0.0.0/1", AF_INET, 1 },
		{ "255.255.255.255/32", "255.255.255.255/32", AF_INET, 32 },
		{ "fd00::2/128", "fd00::2/128", AF_INET6, 128 },
		{ "fd00::2", "fd00::2/128", AF_INET6, 128 },
		{ "FD00:0000:0:0::2/128", "fd00::2/128", AF_INET6, 128 },
		{ "fd00::/8", "fd00::/8", AF_INET6, 8 },
		{ "fd00:1:2::/63", "fd00:1:2::/63", AF_INET6, 63 },
		{ "::/0", "::/0", AF_INET6, 0 },
		{ "::ffff:10.0.0.1/128", "::ffff:10.0.0.1/128", AF_INET6, 128 },
		{ "2001:db8::/32", "2001:db8::/32", AF_INET6, 32 },
	};
	struct wgotp_cidr c;
	char buf[50];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&c, 0xee, sizeof(c));
		is_int(wgotp_cidr_parse(v[i].in, &c), 0, "parse %s", v[i].in);
		ok(c.family == v[i].family && c.prefix == v[i].prefix, "  family and prefix /%d", v[i].prefix);
		wgotp_cidr_format(&c, buf, sizeof(buf));
		is_str(buf, v[i].out, "  formats canonically");
	}

	/* The longest text form fits the documented 50 bytes. */
	is_int(wgotp_cidr_parse("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", &c), 0,
	       "parse the longest IPv6 text");
	wgotp_cidr_format(&c, buf, sizeof(buf));
	is_str(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "  formats within 50 bytes");
	wgotp_cidr_format(&c, buf, 8);
	is_int(strlen(buf), 7, "format truncates to the buffer");
}

static void test_parse_bad(void)
{
	static const char *bad[] = {
		"", "/", "/32", "10.8.0.2/", "10.8.0.2/33", "10.8.0.2/100", "10.8.0.2/1000",
		"fd00::2/129", "10.8.0.2/+32", "10.8.0.2/-1", "10.8.0.2/ 32", "10.8.0.2 /32",
		" 10.8.0.2/32", "10.8.0.2/32 ", "10.8.0.2/32\n", "10.8.0.2/3a", "10.8.0.2/0x20",
		"10.8.0.2/032", "10.8.0.2/00", "10.8.0.2/32/32", "10.8.0", "10.8.0.256", "10.8.0.2.1",
		"010.8.0.2", "10.8.0.x", "fd00::2::1", "fd00:::2", "fe80::1%eth0", "fe80::1%eth0/128",
		"gd00::/8", "host.example.com", "10.8.0.1/24", "10.8.0.128/24", "10.8.1.0/23",
		"0.0.0.1/0", "fd00::1/64", "fd00::/7", "::1/127",
		"0000000000000000000000000000000000000000000000000000000000000000000000000000000::/8",
	};
	struct wgotp_cidr c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(wgotp_cidr_parse(bad[i], &c), -EINVAL, "refuse \"%s\"", bad[i]);
	is_int(wgotp_cidr_parse(NULL, &c), -EINVAL, "refuse NULL");
}

static bool ov(const char *a, const char *b)
{
	struct wgotp_cidr x, y;

	if (wgotp_cidr_parse(a, &x) || wgotp_cidr_parse(b, &y)) {
		diag("bad test input %s or %s", a, b);
		return false;
	}
	if (wgotp_cidr_overlap(&x, &y) != wgotp_cidr_overlap(&y, &x)) {
		diag("overlap not symmetric for %s and %s", a, b);
		return false;
	}
	return wgotp_cidr_overlap(&x, &y);
}

static void test_overlap(void)
{
	static const struct { const char *a, *b; bool want; } v[] = {
		{ "10.8.0.2/32", "10.8.0.2/32", true },
		{ "10.8.0.2/32", "10.8.0.3/32", false },
		{ "10.0.0.0/8", "10.1.2.3/32", true },
		{ "10.8.0.0/24", "10.8.1.0/24", false },
		{ "10.8.0.0/23", "10.8.1.0/24", true },
		{ "10.8.0.0/31", "10.8.0.1/32", true },
		{ "10.8.0.0/31", "10.8.0.2/32", false },
		{ "10.8.0.0/30", "10.8.0.4/30", false },
		{ "0.0.0.0/0", "192.0.2.1/32", true },
		{ "128.0.0.0/1", "127.255.255.255/32", false },
		{ "fd00::/8", "fd00::2/128", true },
		{ "fe80::/10", "fd00::/8", false },
		{ "fe80::/10", "febf::/16", true },
		{ "fe80::/10", "fec0::/16", false },
		{ "::/0", "2001:db8::1/128", true },
		{ "fd00::2/128", "fd00::3/128", false },
		{ "fd00:0:0:1::/64", "fd00:0:0:1:8000::/65", true },
		/* An IPv4 prefix and an IPv6 one never overlap, even mapped. */
		{ "10.0.0.1/32", "::ffff:10.0.0.1/128", false },
		{ "0.0.0.0/0", "::/0", false },
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		ok(ov(v[i].a, v[i].b) == v[i].want, "%s and %s %s", v[i].a, v[i].b,
		   v[i].want ? "overlap" : "do not overlap");
}

static void test_equal(void)
{
	struct wgotp_cidr a, b;

	wgotp_cidr_parse("10.8.0.2", &a);
	wgotp_cidr_parse("10.8.0.2/32", &b);
	ok(wgotp_cidr_equal(&a, &b), "a bare address equals its host prefix");
	wgotp_cidr_parse("10.8.0.0/24", &b);
	ok(!wgotp_cidr_equal(&a, &b), "a prefix does not equal the larger one that holds it");
	wgotp_cidr_parse("10.8.0.0/25", &a);
	ok(!wgotp_cidr_equal(&a, &b), "same address, another length: not equal");
	wgotp_cidr_parse("::ffff:10.8.0.2/128", &a);
	wgotp_cidr_parse("10.8.0.2/32", &b);
	ok(!wgotp_cidr_equal(&a, &b), "an IPv4-mapped IPv6 prefix is not the IPv4 one");
	wgotp_cidr_parse("FD00::2", &a);
	wgotp_cidr_parse("fd00:0::2/128", &b);
	ok(wgotp_cidr_equal(&a, &b), "two spellings of one IPv6 prefix are equal");
}

/* Walk a list; the re-formatted prefixes joined with ',' into out, or
 * "ERR@N" when piece N (from 1) is refused. */
static void walk(const char *list, char *out, size_t len)
{
	const char *cur = list;
	struct wgotp_cidr c;
	size_t off = 0, n = 0;
	int r;

	out[0] = '\0';
	while ((r = wgotp_cidr_list_next(&cur, &c)) > 0) {
		n++;
		if (off)
			out[off++] = ',';
		wgotp_cidr_format(&c, out + off, len - off);
		off += strlen(out + off);
	}
	if (r < 0)
		snprintf(out, len, "ERR@%zu", n + 1);
}

static void test_list(void)
{
	static const struct { const char *in, *out; } v[] = {
		{ "", "" },
		{ "10.8.0.2/32", "10.8.0.2/32" },
		{ "10.8.0.2,FD00:0::2", "10.8.0.2/32,fd00::2/128" },
		{ "10.8.0.0/24,10.9.0.1/32,fd00::/8", "10.8.0.0/24,10.9.0.1/32,fd00::/8" },
		/* what a forged store row would hide in the list */
		{ "10.8.0.2/32\npublic_key=0000\nallowed_ip=0.0.0.0/0", "ERR@1" },
		{ "10.8.0.2/32,10.8.0.3/32\nallowed_ip=0.0.0.0/0", "ERR@2" },
		{ "10.8.0.2/32\n", "ERR@1" },
		{ "10.8.0.2/32\r", "ERR@1" },
		{ "10.8.0.2/32,", "ERR@1" },
		{ ",10.8.0.2/32", "ERR@1" },
		{ "10.8.0.2/32,,10.8.0.3/32", "ERR@2" },
		{ "10.8.0.2/32, 10.8.0.3/32", "ERR@2" },
		{ "10.8.0.2/32 10.8.0.3/32", "ERR@1" },
		{ ",", "ERR@1" },
		{ "10.8.0.2/32,10.8.0.1/24", "ERR@2" },
		{ "10.8.0.2/32,ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128x", "ERR@2" },
	};
	const char *cur = NULL;
	struct wgotp_cidr c;
	char out[256];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		walk(v[i].in, out, sizeof(out));
		is_str(out, v[i].out, "list %zu re-formats or stops where it must", i);
	}
	is_int(wgotp_cidr_list_next(&cur, &c), -EINVAL, "a NULL list is refused");
	is_int(wgotp_cidr_list_next(NULL, &c), -EINVAL, "a NULL cursor is refused");
}

int main(void)
{
	test_parse_format();
	test_parse_bad();
	test_overlap();
	test_equal();
	test_list();
	return done_testing();
}
