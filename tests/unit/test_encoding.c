/* SPDX-License-Identifier: GPL-2.0-or-later */
/* base32 (RFC 4648 vectors), WireGuard key base64, hex. */
#include "config.h"

#include <errno.h>

#include "encoding.h"
#include "tap.h"

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A plain table-driven base64 encoder to check the branch-free one. */
static void ref_key_b64(const uint8_t *k, char *out)
{
	unsigned int i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= 32; i += 3) {
		v = (uint32_t)k[i] << 16 | (uint32_t)k[i + 1] << 8 | k[i + 2];
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = b64_alphabet[v >> 6 & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	v = (uint32_t)k[30] << 16 | (uint32_t)k[31] << 8;
	out[o++] = b64_alphabet[v >> 18 & 63];
	out[o++] = b64_alphabet[v >> 12 & 63];
	out[o++] = b64_alphabet[v >> 6 & 63];
	out[o++] = '=';
	out[o] = '\0';
}

static uint32_t rng = 2463534242U;

static uint8_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (uint8_t)rng;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_base32_vectors(void)
{
	/* RFC 4648 section 10 */
	static const struct { const char *plain, *padded, *bare; } v[] = {
		{ "", "", "" },
		{ "f", "MY======", "MY" },
		{ "fo", "MZXQ====", "MZXQ" },
		{ "foo", "MZXW6===", "MZXW6" },
		{ "foob", "MZXW6YQ=", "MZXW6YQ" },
		{ "fooba", "MZXW6YTB", "MZXW6YTB" },
		{ "foobar", "MZXW6YTBOI======", "MZXW6YTBOI" },
	};
	char enc[64], low[64];
	uint8_t dec[64];
	size_t i, j, len;
	int r;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		len = strlen(v[i].plain);
		r = wgotp_base32_encode((const uint8_t *)v[i].plain, len, enc, sizeof(enc));
		is_int(r, strlen(v[i].bare), "base32 encode \"%s\": length", v[i].plain);
		is_str(enc, v[i].bare, "base32 encode \"%s\"", v[i].plain);

		memset(dec, 0, sizeof(dec));
		r = wgotp_base32_decode(v[i].padded, dec, sizeof(dec));
		ok(r == (int)len && !memcmp(dec, v[i].plain, len), "base32 decode %s", v[i].padded);
		memset(dec, 0, sizeof(dec));
		r = wgotp_base32_decode(v[i].bare, dec, sizeof(dec));
		ok(r == (int)len && !memcmp(dec, v[i].plain, len), "base32 decode unpadded \"%s\"", v[i].bare);
		for (j = 0; v[i].padded[j]; j++)
			low[j] = (char)(v[i].padded[j] >= 'A' && v[i].padded[j] <= 'Z' ?
					v[i].padded[j] + 32 : v[i].padded[j]);
		low[j] = '\0';
		memset(dec, 0, sizeof(dec));
		r = wgotp_base32_decode(low, dec, sizeof(dec));
		ok(r == (int)len && !memcmp(dec, v[i].plain, len), "base32 decode lower case \"%s\"", low);
	}

	/* The usual TOTP example secret, grouped with spaces as apps show it. */
	r = wgotp_base32_decode("jbsw y3dp ehpk 3pxp", dec, sizeof(dec));
	ok(r == 10 && !memcmp(dec, "Hello!\xde\xad\xbe\xef", 10), "base32 with spaces and lower case");
}

static void test_base32_malformed(void)
{
	static const char *bad[] = {
		"M",			/* 1 character: no whole byte */
		"MZX",			/* 3 */
		"MZXW6Y",		/* 6 */
		"MZXW6YTBO",		/* 8 + 1 */
		"MZ1Q",			/* '1' is not base32 */
		"MZ8Q",			/* nor '8' */
		"MZ0Q",			/* nor '0' */
		"MZ@Q",
		"MZ[Q",			/* just after 'Z' */
		"MZ`Q",			/* just before 'a' */
		"MZ{Q",			/* just after 'z' */
		"MZ\xc3\xa9Q",		/* non-ASCII */
		"MZ-Q",
		"MZ\tQ",		/* only spaces are skipped */
		"MY=",			/* too little padding */
		"MY=====",
		"MY=======",		/* too much */
		"MZXQ===",
		"MZXW6YTB========",	/* padding after a full group */
		"MY======MY",		/* data after padding */
		"M=Y",
		"=",
		"MZ",			/* "f" with a stray low bit: non-canonical */
		"MZ======",
		"MZXR",			/* "fo" with a stray bit */
		"MZXW7",		/* "foo" with a stray bit */
		"MZXW6YR",		/* "foob" with a stray bit */
		"MZXW6YTBOJ",		/* "foobar" with a stray bit */
	};
	uint8_t dec[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(dec, 0xaa, sizeof(dec));
		is_int(wgotp_base32_decode(bad[i], dec, sizeof(dec)), -EINVAL, "base32 refuses \"%s\"", bad[i]);
	}
	is_int(wgotp_base32_decode(NULL, dec, sizeof(dec)), -EINVAL, "base32 refuses NULL");
	is_int(wgotp_base32_decode("MZXW6YTB", dec, 4), -ENOBUFS, "base32 decode: -ENOBUFS when out is short");
	is_int(wgotp_base32_decode("MZXW6YTB", dec, 5), 5, "base32 decode: exact buffer is enough");
	{
		char enc[9];

		is_int(wgotp_base32_encode((const uint8_t *)"fooba", 5, enc, 8), -ENOBUFS,
		       "base32 encode: -ENOBUFS without room for the NUL");
		is_int(wgotp_base32_encode((const uint8_t *)"fooba", 5, enc, 9), 8,
		       "base32 encode: exact buffer is enough");
	}
}

static void test_base32_roundtrip(void)
{
	uint8_t in[80], out[80];
	char enc[160];
	size_t len;
	int i, bad = 0;

	for (len = 0; len <= sizeof(in); len++) {
		for (i = 0; i < 20; i++) {
			size_t k;

			for (k = 0; k < len; k++)
				in[k] = rnd();
			if (wgotp_base32_encode(in, len, enc, sizeof(enc)) != (int)((len * 8 + 4) / 5) ||
			    wgotp_base32_decode(enc, out, sizeof(out)) != (int)len || memcmp(in, out, len))
				bad++;
		}
	}
	is_int(bad, 0, "base32 round trip of 0..80 random bytes");
}

static void test_key_vectors(void)
{
	static const char b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
	static const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	uint8_t key[32], want[32];
	char out[45], hout[65];
	int i;

	for (i = 0; i < 32; i++)
		want[i] = (uint8_t)i;
	is_int(wgotp_key_from_base64(key, b64), 0, "key from base64");
	ok(!memcmp(key, want, 32), "key bytes 0..31");
	wgotp_key_to_base64(out, want);
	is_str(out, b64, "key to base64");
	wgotp_key_to_hex(hout, want);
	is_str(hout, hex, "key to hex");

	for (i = 0; i < 32; i++)
		want[i] = (uint8_t)(i % 2 ? 0xff : 0xfb);
	wgotp_key_to_base64(out, want);
	is_str(out, "+//7//v/+//7//v/+//7//v/+//7//v/+//7//v/+/8=", "key to base64 with + and /");
	is_int(wgotp_key_from_base64(key, out), 0, "key with + and / from base64");
	ok(!memcmp(key, want, 32), "key with + and / decodes");

	memset(want, 0, 32);
	wgotp_key_to_base64(out, want);
	is_str(out, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "zero key to base64");
}

static void test_key_roundtrip(void)
{
	uint8_t key[32], back[32];
	char out[45], ref[45];
	int i, j, bad = 0;

	for (i = 0; i < 2000; i++) {
		for (j = 0; j < 32; j++)
			key[j] = rnd();
		wgotp_key_to_base64(out, key);
		ref_key_b64(key, ref);
		if (strcmp(out, ref) || wgotp_key_from_base64(back, out) || memcmp(key, back, 32))
			bad++;
	}
	is_int(bad, 0, "2000 random keys: encode matches a table encoder and decodes back");
}

/* Every byte value at every position: accepted exactly when it is in
 * the alphabet (and, at the last data position, canonical). */
static void test_key_every_char(void)
{
	char s[45];
	uint8_t key[32];
	int c, pos, wrong = 0, wiped = 0;

	for (pos = 0; pos < 43; pos++) {
		for (c = 1; c < 256; c++) {
			bool in = c < 128 && strchr(b64_alphabet, c);
			int want_ok;

			memcpy(s, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 45);
			s[pos] = (char)c;
			/* Position 42 carries 4 data bits and 2 that must be 0. */
			want_ok = in && (pos != 42 || ((strchr(b64_alphabet, c) - b64_alphabet) & 3) == 0);
			memset(key, 0xaa, sizeof(key));
			if ((wgotp_key_from_base64(key, s) == 0) != want_ok)
				wrong++;
			else if (!want_ok && !all_zero(key, 32))
				wiped++;
			else if (want_ok) {
				/* The character's value lands in the right bits. */
				int v = (int)(strchr(b64_alphabet, c) - b64_alphabet);
				int bit = pos * 6, k;
				uint32_t got = 0;

				for (k = 0; k < 6; k++) {
					int b = bit + k;

					got = got << 1 | (b < 256 ? (uint32_t)(key[b / 8] >> (7 - b % 8) & 1) : 0);
				}
				if ((int)got != v)
					wrong++;
			}
		}
	}
	is_int(wrong, 0, "base64 key: each of 255 bytes at each of 43 positions decodes as the alphabet says");
	is_int(wiped, 0, "base64 key: zeroed whenever refused");
}

static void test_key_malformed(void)
{
	static const char *bad[] = {
		"",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",		/* 43, no '=' */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",	/* 45 */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A",		/* 44, no '=' */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=A",		/* '=' in the wrong place */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH==",		/* two '=' */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=",		/* stray low bits */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-=",		/* url-safe alphabet */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh_=",
		"AAECAwQFBgcICQoLDA0OD AREhMUFRYXGBkaGxwdHh8=",		/* space */
		" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=AAAA",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh\xc3\xa9",	/* non-ASCII, 44 bytes */
	};
	uint8_t key[32];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(key, 0xaa, sizeof(key));
		is_int(wgotp_key_from_base64(key, bad[i]), -EINVAL, "key refuses \"%s\"", bad[i]);
		ok(all_zero(key, 32), "  and zeroes the key");
	}
	memset(key, 0xaa, sizeof(key));
	is_int(wgotp_key_from_base64(key, NULL), -EINVAL, "key refuses NULL");
	ok(all_zero(key, 32), "  and zeroes the key");
}

/* Every byte value as the first of 8 base32 characters, and as the
 * first of 2 hex digits: accepted exactly when in the alphabet, with the
 * alphabet's value. */
static void test_every_char(void)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	static const char hexd[] = "0123456789abcdef";
	uint8_t out[5];
	char s[9];
	int c, r, wrong32 = 0, wronghex = 0;

	for (c = 1; c < 256; c++) {
		int up = c >= 'a' && c <= 'z' ? c - 32 : c;
		const char *p = c < 128 ? strchr(b32, up) : NULL;
		const char *h = c < 128 ? strchr(hexd, c >= 'A' && c <= 'Z' ? c + 32 : c) : NULL;

		if (c == ' ' || c == '=')
			continue;	/* structural, tested elsewhere */
		memcpy(s, "AAAAAAAA", 9);
		s[0] = (char)c;
		r = wgotp_base32_decode(s, out, sizeof(out));
		if (p ? r != 5 || out[0] >> 3 != p - b32 : r != -EINVAL)
			wrong32++;
		s[0] = (char)c;
		s[1] = '0';
		s[2] = '\0';
		r = wgotp_hex_decode(s, out, sizeof(out));
		if (h ? r != 1 || out[0] >> 4 != h - hexd : r != -EINVAL)
			wronghex++;
	}
	is_int(wrong32, 0, "base32: each byte value decodes as the alphabet says");
	is_int(wronghex, 0, "hex: each byte value decodes as the alphabet says");
}

static void test_hex(void)
{
	uint8_t out[8];
	char enc[17];

	wgotp_hex_encode((const uint8_t *)"\x00\x09\x0a\x0f\x10\x9f\xa0\xff", 8, enc);
	is_str(enc, "00090a0f109fa0ff", "hex encode, lower case");
	is_int(wgotp_hex_decode("00090a0f109fa0ff", out, sizeof(out)), 8, "hex decode");
	ok(!memcmp(out, "\x00\x09\x0a\x0f\x10\x9f\xa0\xff", 8), "hex decode bytes");
	is_int(wgotp_hex_decode("DEADbeef", out, sizeof(out)), 4, "hex decode mixed case");
	ok(!memcmp(out, "\xde\xad\xbe\xef", 4), "hex decode mixed case bytes");
	is_int(wgotp_hex_decode("", out, sizeof(out)), 0, "hex decode empty");
	is_int(wgotp_hex_decode("abc", out, sizeof(out)), -EINVAL, "hex refuses odd length");
	is_int(wgotp_hex_decode("0g", out, sizeof(out)), -EINVAL, "hex refuses 'g'");
	is_int(wgotp_hex_decode("/0", out, sizeof(out)), -EINVAL, "hex refuses '/'");
	is_int(wgotp_hex_decode(":0", out, sizeof(out)), -EINVAL, "hex refuses ':'");
	is_int(wgotp_hex_decode("@0", out, sizeof(out)), -EINVAL, "hex refuses '@'");
	is_int(wgotp_hex_decode("G0", out, sizeof(out)), -EINVAL, "hex refuses 'G'");
	is_int(wgotp_hex_decode("`0", out, sizeof(out)), -EINVAL, "hex refuses '`'");
	is_int(wgotp_hex_decode(" 0", out, sizeof(out)), -EINVAL, "hex refuses a space");
	is_int(wgotp_hex_decode("000102030405060708", out, sizeof(out)), -ENOBUFS, "hex decode: -ENOBUFS");
	is_int(wgotp_hex_decode(NULL, out, sizeof(out)), -EINVAL, "hex refuses NULL");
}

int main(void)
{
	test_base32_vectors();
	test_base32_malformed();
	test_base32_roundtrip();
	test_key_vectors();
	test_key_roundtrip();
	test_key_every_char();
	test_key_malformed();
	test_every_char();
	test_hex();
	return done_testing();
}
