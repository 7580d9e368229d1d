// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: a stored session's allowed IPs, text that whoever can
 * write the store chooses, through wgotp_cidr_list_next() and
 * wgotp_session_ips(). Whatever is accepted must be the canonical text of
 * prefixes of the device (nothing but hex digits, '.', ':', '/' and ','),
 * and must be accepted again unchanged. Includes cidr.c and
 * session_ips.c directly so they are instrumented. Built and run by
 * tests/fuzz/run-fuzzers (make fuzz).
 */
#include "config.h"

#include <stdlib.h>

#include "cidr.c"
#include "session_ips.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* alice's laptop holds three prefixes; key: 32 bytes of 'A' */
static const char users[] =
	"{\"version\":1,\"users\":{\"alice@example.com\":{\"method\":\"totp\",\"totp_state\":\"none\","
	"\"devices\":[{\"name\":\"laptop\",\"public_key\":\"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\","
	"\"allowed_ips\":[\"10.8.0.2/32\",\"10.9.0.0/24\",\"fd00::2/128\"]}]},"
	"\"bob@example.com\":{\"method\":\"totp\",\"totp_state\":\"none\","
	"\"devices\":[{\"name\":\"phone\",\"public_key\":\"QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=\","
	"\"allowed_ips\":[\"10.8.0.3/32\"]}]}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wgotp_directory *dir;
	struct wgotp_session s = { 0 }, again;
	struct wgotp_error err;
	struct wgotp_cidr c, back;
	char out[sizeof(s.allowed_ips)], out2[sizeof(s.allowed_ips)], one[64];
	const char *cur;
	int r;

	if (!dir && wgotp_dir_parse("fuzz", users, sizeof(users) - 1, &dir, &err) < 0)
		__builtin_trap();
	if (size >= sizeof(s.allowed_ips))
		return 0;
	memcpy(s.allowed_ips, data, size);
	snprintf(s.user, sizeof(s.user), "alice@example.com");
	snprintf(s.device, sizeof(s.device), "laptop");
	snprintf(s.public_key, sizeof(s.public_key), "%s", dir->users[0].devices[0].public_key);

	/* every prefix the walker hands out formats and parses back to itself */
	cur = s.allowed_ips;
	while ((r = wgotp_cidr_list_next(&cur, &c)) > 0) {
		wgotp_cidr_format(&c, one, sizeof(one));
		if (wgotp_cidr_parse(one, &back) < 0 || !wgotp_cidr_equal(&c, &back))
			__builtin_trap();
	}
	if (r != 0 && r != -EINVAL)
		__builtin_trap();

	r = wgotp_session_ips(dir, &s, out, sizeof(out), &err);
	if (r < 0) {
		if (out[0] || !err.msg[0] || strpbrk(err.msg, "\n\r"))
			__builtin_trap();	/* nothing out, a one-line message */
		return 0;
	}
	if (!out[0] || strspn(out, "0123456789abcdef.:/,") != strlen(out))
		__builtin_trap();
	again = s;
	memcpy(again.allowed_ips, out, sizeof(out));
	if (wgotp_session_ips(dir, &again, out2, sizeof(out2), &err) < 0 || strcmp(out, out2) != 0)
		__builtin_trap();	/* canonical: accepted again, unchanged */
	return 0;
}
