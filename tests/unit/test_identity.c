/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A user's canonical identity: what is one, what is refused. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "directory.h"
#include "identity.h"
#include "tap.h"

static void test_canon(void)
{
	static const struct { const char *in, *out; } good[] = {
		{ "alice", "alice" },
		{ "Alice", "alice" },
		{ "ALICE@Example.COM", "alice@example.com" },
		{ "a.b_c%d+e-f", "a.b_c%d+e-f" },
		{ "alice@sub.example.com", "alice@sub.example.com" },
		{ "x", "x" },
	};
	static const char *const bad[] = {
		"", "alice ", " alice", "alice  ", "al ice", "alice\t", "alice\n", "alice\r",
		"\talice", "alice\x7f", "alic\xc3\xa9", "alice\xc2\xa0", ".alice", "alice.",
		"al..ice", "alice@", "@example.com", "alice@example", "alice@@example.com",
		"alice@ex ample.com", "alice@example.com ", "\"alice\"@example.com",
		"DOMAIN\\alice", "alice/x", "alice@[192.0.2.1]", "alice@a.example@b.example",
	};
	char out[WGOTP_EMAIL_MAX + 1], big[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		is_int(wgotp_identity_canon(good[i].in, out, sizeof(out)), 0, "canonical: \"%s\"", good[i].in);
		is_str(out, good[i].out, "  in lower case");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(out, "junk", 5);
		is_int(wgotp_identity_canon(bad[i], out, sizeof(out)), -EINVAL, "refused: entry %zu", i);
		is_str(out, "", "  and nothing written");
	}
	is_int(wgotp_identity_canon(NULL, out, sizeof(out)), -EINVAL, "NULL: refused");

	/* bounds: a 64-byte bare name, not 65; a 254-byte address, not 255 */
	memset(big, 'a', 65);
	big[64] = '\0';
	is_int(wgotp_identity_canon(big, out, sizeof(out)), 0, "a 64-byte bare name");
	big[64] = 'a';
	big[65] = '\0';
	is_int(wgotp_identity_canon(big, out, sizeof(out)), -EINVAL, "a 65-byte bare name: refused");
	memset(big, 'a', sizeof(big));
	memcpy(big, "a@", 2);
	for (size_t i = 52; i < 250; i += 50)
		big[i] = '.';		/* labels of at most 51 bytes */
	big[254] = '\0';
	ok(wgotp_email_valid(big), "(a 254-byte address is valid)");
	is_int(wgotp_identity_canon(big, out, sizeof(out)), 0, "a 254-byte address");
	big[254] = 'b';
	big[255] = '\0';
	is_int(wgotp_identity_canon(big, out, sizeof(out)), -EINVAL, "a 255-byte address: refused");
	is_int(wgotp_identity_canon("alice", out, 5), -ENOSPC, "too small a buffer: -ENOSPC");
	is_str(out, "", "  and nothing written");
}

static void test_mailable(void)
{
	ok(wgotp_identity_mailable("alice@example.com"), "an address is mailable");
	ok(!wgotp_identity_mailable("alice"), "a bare name is not");
	ok(!wgotp_identity_mailable("alice@example"), "nor a one-label domain");
	ok(!wgotp_identity_mailable(NULL), "nor NULL");
}

int main(void)
{
	test_canon();
	test_mailable();
	return done_testing();
}
