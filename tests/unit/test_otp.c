/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TOTP against RFC 6238 Appendix B and oathtool; email codes; code MACs. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "encoding.h"
#include "otp.h"
#include "tap.h"

static const struct {
	int64_t t;
	const char *sha1, *sha256, *sha512;
} rfc6238[] = {
	{ 59, "94287082", "46119246", "90693936" },
	{ 1111111109, "07081804", "68084774", "25091201" },
	{ 1111111111, "14050471", "67062674", "99943326" },
	{ 1234567890, "89005924", "91819424", "93441116" },
	{ 2000000000, "69279037", "90698825", "38618901" },
	{ 20000000000LL, "65353130", "77737706", "47863826" },
};

static const uint8_t key20[] = "12345678901234567890";
static const uint8_t key32[] = "12345678901234567890123456789012";
static const uint8_t key64[] =
	"1234567890123456789012345678901234567890123456789012345678901234";

static void test_rfc_vectors(void)
{
	struct wgotp_totp_params p = { .digits = 8, .period = 30, .window = 0 };
	char out[16];

	for (size_t i = 0; i < sizeof(rfc6238) / sizeof(rfc6238[0]); i++) {
		uint64_t step = (uint64_t)rfc6238[i].t / 30, m = 0;

		p.alg = WGOTP_TOTP_SHA1;
		wgotp_totp_generate(key20, 20, &p, step, out);
		is_str(out, rfc6238[i].sha1, "RFC 6238 SHA1 at %lld", (long long)rfc6238[i].t);
		is_int(wgotp_totp_verify(key20, 20, &p, rfc6238[i].t, rfc6238[i].sha1, 0, &m), 0,
		       "verify SHA1 at %lld", (long long)rfc6238[i].t);
		is_int(m, step, "matched step is the current one");
		p.alg = WGOTP_TOTP_SHA256;
		wgotp_totp_generate(key32, 32, &p, step, out);
		is_str(out, rfc6238[i].sha256, "RFC 6238 SHA256 at %lld", (long long)rfc6238[i].t);
		p.alg = WGOTP_TOTP_SHA512;
		wgotp_totp_generate(key64, 64, &p, step, out);
		is_str(out, rfc6238[i].sha512, "RFC 6238 SHA512 at %lld", (long long)rfc6238[i].t);
	}
}

/* An independent implementation: oathtool from oath-toolkit's CLI. */
static void test_oathtool(void)
{
	const char *b32 = "JBSWY3DPEHPK3PXP";
	struct wgotp_totp_params p = { .digits = 6, .period = 30, .window = 1 };
	int64_t times[] = { 30, 59, 1700000000, 1700000029, 1999999999 };
	char cmd[256], got[32], out[16];
	FILE *fp;

	if (system("oathtool --version >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP oathtool not installed");
		return;
	}
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		uint64_t m = 0;

		snprintf(cmd, sizeof(cmd), "oathtool --totp -N @%lld -b %s", (long long)times[i], b32);
		fp = popen(cmd, "r");
		got[0] = '\0';
		if (fp) {
			if (!fgets(got, sizeof(got), fp))
				got[0] = '\0';
			pclose(fp);
		}
		got[strcspn(got, "\n")] = '\0';
		is_int(wgotp_totp_verify_b32(b32, &p, times[i], got, 0, &m), 0,
		       "oathtool's code at %lld verifies", (long long)times[i]);
		wgotp_totp_generate((const uint8_t *)"Hello!\xde\xad\xbe\xef", 10, &p,
				    (uint64_t)times[i] / 30, out);
		is_str(out, got, "our code at %lld equals oathtool's", (long long)times[i]);
	}
}

static void test_window_and_replay(void)
{
	struct wgotp_totp_params p = { .digits = 6, .period = 30, .window = 1 };
	int64_t now = 1700000000;
	uint64_t step = (uint64_t)now / 30, m = 0;
	char prev[8], cur[8], next[8], far[8];

	wgotp_totp_generate(key20, 20, &p, step - 1, prev);
	wgotp_totp_generate(key20, 20, &p, step, cur);
	wgotp_totp_generate(key20, 20, &p, step + 1, next);
	wgotp_totp_generate(key20, 20, &p, step + 2, far);

	is_int(wgotp_totp_verify(key20, 20, &p, now, prev, 0, &m), 0, "previous step accepted (window 1)");
	is_int(m, step - 1, "matched the previous step");
	is_int(wgotp_totp_verify(key20, 20, &p, now, next, 0, &m), 0, "next step accepted (window 1)");
	is_int(m, step + 1, "matched the next step");
	is_int(wgotp_totp_verify(key20, 20, &p, now, far, 0, &m), -EACCES, "two steps ahead refused");
	is_int(wgotp_totp_verify(key20, 20, &p, now, cur, step, &m), -EALREADY,
	       "the step last used is a replay");
	is_int(wgotp_totp_verify(key20, 20, &p, now, prev, step, &m), -EALREADY,
	       "an older step is a replay");
	is_int(wgotp_totp_verify(key20, 20, &p, now, next, step, &m), 0,
	       "a later step after a used one is fine");
	p.window = 0;
	is_int(wgotp_totp_verify(key20, 20, &p, now, prev, 0, &m), -EACCES, "window 0: previous refused");
	p.window = 1;
	/* Bad formats never reach the comparison. */
	is_int(wgotp_totp_verify(key20, 20, &p, now, "12345", 0, &m), -EINVAL, "5 digits refused");
	is_int(wgotp_totp_verify(key20, 20, &p, now, "1234567", 0, &m), -EINVAL, "7 digits refused");
	is_int(wgotp_totp_verify(key20, 20, &p, now, "12a456", 0, &m), -EINVAL, "a letter refused");
	is_int(wgotp_totp_verify(key20, 20, &p, now, " 123456", 0, &m), -EINVAL, "a space refused");
	is_int(wgotp_totp_verify(key20, 20, &p, now, "", 0, &m), -EINVAL, "empty refused");
	is_int(wgotp_totp_verify(key20, 20, &p, now, "-12345", 0, &m), -EINVAL, "a sign refused");
	is_int(wgotp_totp_verify_b32("not base32!", &p, now, cur, 0, &m), -EINVAL, "a bad secret refused");
	is_int(wgotp_totp_verify(key20, 20, &p, 15, prev, 0, &m) == -EACCES ||
	       wgotp_totp_verify(key20, 20, &p, 15, prev, 0, &m) == 0, 1,
	       "step 0 with a window does not underflow");
}

static void test_email_codes(void)
{
	char code[16], code2[16];
	int counts[10] = { 0 }, n = 20000, same = 0;
	bool all_digits = true;

	is_int(wgotp_email_code_new(6, code), 0, "6-digit code");
	is_int(strlen(code), 6, "its length is 6");
	is_int(wgotp_code_check_format(code, 6), 0, "it is well formed");
	is_int(wgotp_email_code_new(10, code), 0, "10-digit code");
	is_int(strlen(code), 10, "its length is 10");
	is_int(wgotp_email_code_new(11, code), -EINVAL, "11 digits refused");
	for (int i = 0; i < n; i++) {
		wgotp_email_code_new(6, code);
		wgotp_email_code_new(6, code2);
		same += !strcmp(code, code2);
		for (int j = 0; j < 6; j++) {
			if (code[j] < '0' || code[j] > '9')
				all_digits = false;
			else
				counts[code[j] - '0']++;
		}
	}
	ok(all_digits, "every character is a digit");
	/* 120000 digits: each count is 12000 +- ~110 (1 sigma); 6 sigma bounds. */
	{
		int lo = 12000 - 660, hi = 12000 + 660, bad = 0;

		for (int d = 0; d < 10; d++)
			bad += counts[d] < lo || counts[d] > hi;
		ok(!bad, "digits are uniform (each within 6 sigma)");
	}
	ok(same < 5, "consecutive codes differ (%d equal pairs in %d)", same, n);
}

static void test_mac(void)
{
	uint8_t k[32] = { 1, 2, 3 }, a[32], b[32], c[32], d[32];

	is_int(wgotp_code_mac(k, sizeof(k), "id1", "123456", a), 0, "mac computed");
	wgotp_code_mac(k, sizeof(k), "id1", "123456", b);
	wgotp_code_mac(k, sizeof(k), "id2", "123456", c);
	wgotp_code_mac(k, sizeof(k), "id1", "123457", d);
	ok(!memcmp(a, b, 32), "the mac is deterministic");
	ok(memcmp(a, c, 32), "the mac depends on the challenge id");
	ok(memcmp(a, d, 32), "the mac depends on the code");
	k[0] ^= 1;
	wgotp_code_mac(k, sizeof(k), "id1", "123456", b);
	ok(memcmp(a, b, 32), "the mac depends on the key");
	is_int(wgotp_code_mac(k, 0, "id1", "123456", b), -EINVAL, "an empty key is refused");
}

static void test_secret(void)
{
	char s1[64], s2[64];

	is_int(wgotp_totp_new_secret(20, s1, sizeof(s1)), 0, "new 160-bit secret");
	is_int(strlen(s1), 32, "160 bits is 32 base32 characters");
	wgotp_totp_new_secret(20, s2, sizeof(s2));
	ok(strcmp(s1, s2), "two secrets differ");
	is_int(wgotp_totp_new_secret(4, s2, sizeof(s2)), -EINVAL, "a 32-bit secret is refused");
}

/* Every matching step of the window, ascending. */
static void test_match(void)
{
	const char *b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";	/* "12345678901234567890" */
	struct wgotp_totp_params p = { 6, 30, 1, WGOTP_TOTP_SHA1 };
	uint64_t steps[WGOTP_TOTP_MAX_STEPS];
	char code[8];
	size_t n = 9;
	uint8_t key[20];
	int len = wgotp_base32_decode(b32, key, sizeof(key));

	wgotp_totp_generate(key, (size_t)len, &p, 59 / 30 + 1, code);
	is_int(wgotp_totp_match_b32(b32, &p, 59, code, steps, WGOTP_TOTP_MAX_STEPS, &n), 0,
	       "match: the next step's code");
	ok(n == 1 && steps[0] == 2, "  matches step 2 alone (n %zu)", n);
	wgotp_totp_generate(key, (size_t)len, &p, 59 / 30 + 5, code);
	wgotp_totp_match_b32(b32, &p, 59, code, steps, WGOTP_TOTP_MAX_STEPS, &n);
	is_int(n, 0, "a code outside the window matches nothing");
	is_int(wgotp_totp_match_b32(b32, &p, 59, "12345", steps, WGOTP_TOTP_MAX_STEPS, &n), -EINVAL,
	       "5 digits: -EINVAL");
	is_int(wgotp_totp_match_b32("!!", &p, 59, "123456", steps, WGOTP_TOTP_MAX_STEPS, &n), -EINVAL,
	       "a secret that is not base32: -EINVAL");
	is_int(wgotp_totp_match_b32(b32, &p, 59, "123456", steps, 2, &n), -EINVAL,
	       "room for fewer steps than the window: -EINVAL");
}

int main(void)
{
	test_match();
	test_rfc_vectors();
	test_oathtool();
	test_window_and_replay();
	test_email_codes();
	test_mac();
	test_secret();
	return done_testing();
}
