/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Text encodings: RFC 4648 base32 for TOTP secrets, base64 for WireGuard
 * keys, hex for the UAPI protocol.
 *
 * Keys and secrets are decoded without branches or table lookups indexed
 * by their characters, in the manner of wireguard-tools' encoding.c: each
 * character class test is a subtraction whose sign bit, spread by an
 * arithmetic right shift, becomes an all-ones or all-zeros mask.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "encoding.h"
#include "secret.h"

/*
 * -1 (all ones) when lo <= c <= hi, 0 otherwise; c, lo and hi in 0..255.
 * Both differences are negative exactly when c is in range, and only
 * then does their AND keep the sign bit.
 */
static inline int ct_range_mask(int c, int lo, int hi)
{
	return (((lo - 1) - c) & (c - (hi + 1))) >> 8;
}

/* A base64 character to 0..63, or -1. */
static inline int b64_value(unsigned char ch)
{
	int c = ch;
	int v = -1;

	v += ct_range_mask(c, 'A', 'Z') & (c - 'A' + 1);
	v += ct_range_mask(c, 'a', 'z') & (c - 'a' + 26 + 1);
	v += ct_range_mask(c, '0', '9') & (c - '0' + 52 + 1);
	v += ct_range_mask(c, '+', '+') & (62 + 1);
	v += ct_range_mask(c, '/', '/') & (63 + 1);
	return v;
}

/* 0..63 to its base64 character. */
static inline char b64_char(unsigned int v)
{
	int i = (int)v;

	return (char)(i + 'A'
		      + (((25 - i) >> 8) & 6)
		      - (((51 - i) >> 8) & 75)
		      - (((61 - i) >> 8) & 15)
		      + (((62 - i) >> 8) & 3));
}

/* A base32 character (either case) to 0..31, or -1. */
static inline int b32_value(unsigned char ch)
{
	int c = ch;
	int v = -1;

	v += ct_range_mask(c, 'A', 'Z') & (c - 'A' + 1);
	v += ct_range_mask(c, 'a', 'z') & (c - 'a' + 1);
	v += ct_range_mask(c, '2', '7') & (c - '2' + 26 + 1);
	return v;
}

/* 0..31 to its upper-case base32 character. */
static inline char b32_char(unsigned int v)
{
	int i = (int)v;

	return (char)(i + 'A' + (((25 - i) >> 8) & ('2' - 'A' - 26)));
}

/* A hex digit (either case) to 0..15, or -1. */
static inline int hex_value(unsigned char ch)
{
	int c = ch;
	int v = -1;

	v += ct_range_mask(c, '0', '9') & (c - '0' + 1);
	v += ct_range_mask(c, 'a', 'f') & (c - 'a' + 10 + 1);
	v += ct_range_mask(c, 'A', 'F') & (c - 'A' + 10 + 1);
	return v;
}

/* 0..15 to its lower-case hex digit. */
static inline char hex_char(unsigned int v)
{
	return (char)(87U + v + (((v - 10U) >> 8) & ~38U));
}

int wgotp_base32_decode(const char *in, uint8_t *out, size_t outlen)
{
	size_t nchars = 0, npad = 0, need, i, o = 0;
	uint32_t buf = 0, bits = 0;
	int bad = 0, v, ret = -EINVAL;

	if (!in)
		goto cleanup;
	/* Shape first: which characters carry data, where the padding is. */
	for (i = 0; in[i]; i++) {
		if (in[i] == ' ')
			continue;
		if (in[i] == '=') {
			npad++;
			continue;
		}
		if (npad)	/* data after padding */
			goto cleanup;
		nchars++;
	}
	/* 8 characters carry 5 bytes; a final group of 1, 3 or 6 carries
	 * no whole number of bytes. */
	switch (nchars % 8) {
	case 1: case 3: case 6:
		goto cleanup;
	}
	if (npad && npad != (8 - nchars % 8) % 8)
		goto cleanup;
	need = nchars * 5 / 8;
	if (need > outlen) {
		ret = -ENOBUFS;
		goto cleanup;
	}
	if (need > (size_t)2147483647)
		goto cleanup;

	for (i = 0; in[i]; i++) {
		if (in[i] == ' ' || in[i] == '=')
			continue;
		v = b32_value((unsigned char)in[i]);
		bad |= v;	/* -1 sets every bit, 0..31 only low ones */
		buf = (buf << 5) | ((uint32_t)v & 31);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(buf >> bits);
			buf &= (1U << bits) - 1;
		}
	}
	/* The leftover bits must be zero, or two texts would decode to the
	 * same bytes. */
	bad |= (int)(buf << 8);
	if (bad & ~31) {
		wgotp_wipe(out, o);
		goto cleanup;
	}
	ret = (int)o;
cleanup:
	buf = 0;
	return ret;
}

int wgotp_base32_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
	size_t need, i, o = 0;
	uint32_t buf = 0, bits = 0;
	int ret = -ENOBUFS;

	if (len > ((size_t)2147483647 - 1) / 8 * 5)
		goto cleanup;
	need = (len * 8 + 4) / 5;
	if (!out || need + 1 > outlen)
		goto cleanup;
	for (i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_char((buf >> bits) & 31);
		}
		buf &= (1U << bits) - 1;
	}
	if (bits)
		out[o++] = b32_char((buf << (5 - bits)) & 31);
	out[o] = '\0';
	ret = (int)o;
cleanup:
	buf = 0;
	return ret;
}

int wgotp_key_from_base64(uint8_t key[WGOTP_KEY_LEN], const char *b64)
{
	volatile uint32_t bad = 0;
	uint32_t val;
	unsigned int i, j;
	int v, ret = -EINVAL;

	if (!b64 || strnlen(b64, WGOTP_KEY_B64_LEN + 1) != WGOTP_KEY_B64_LEN ||
	    b64[WGOTP_KEY_B64_LEN - 1] != '=') {
		wgotp_wipe(key, WGOTP_KEY_LEN);
		goto cleanup;
	}
	/* Ten groups of four characters give 30 bytes. */
	for (i = 0; i < WGOTP_KEY_LEN / 3; i++) {
		val = 0;
		for (j = 0; j < 4; j++) {
			v = b64_value((unsigned char)b64[i * 4 + j]);
			bad |= (uint32_t)v >> 31;
			val |= ((uint32_t)v & 63) << (18 - 6 * j);
		}
		key[i * 3 + 0] = (uint8_t)(val >> 16);
		key[i * 3 + 1] = (uint8_t)(val >> 8);
		key[i * 3 + 2] = (uint8_t)val;
	}
	/* Three characters give the last two bytes and two bits that must
	 * be zero for the text to be the canonical one. */
	val = 0;
	for (j = 0; j < 3; j++) {
		v = b64_value((unsigned char)b64[i * 4 + j]);
		bad |= (uint32_t)v >> 31;
		val |= ((uint32_t)v & 63) << (18 - 6 * j);
	}
	bad |= val & 0xff;
	key[i * 3 + 0] = (uint8_t)(val >> 16);
	key[i * 3 + 1] = (uint8_t)(val >> 8);
	val = 0;
	if (bad) {
		wgotp_wipe(key, WGOTP_KEY_LEN);
		goto cleanup;
	}
	ret = 0;
cleanup:
	return ret;
}

void wgotp_key_to_base64(char b64[WGOTP_KEY_B64_LEN + 1], const uint8_t key[WGOTP_KEY_LEN])
{
	const uint8_t *s;
	char *d;
	unsigned int i;

	for (i = 0; i < WGOTP_KEY_LEN / 3; i++) {
		s = &key[i * 3];
		d = &b64[i * 4];
		d[0] = b64_char(s[0] >> 2);
		d[1] = b64_char(((s[0] << 4) | (s[1] >> 4)) & 63);
		d[2] = b64_char(((s[1] << 2) | (s[2] >> 6)) & 63);
		d[3] = b64_char(s[2] & 63);
	}
	s = &key[i * 3];
	d = &b64[i * 4];
	d[0] = b64_char(s[0] >> 2);
	d[1] = b64_char(((s[0] << 4) | (s[1] >> 4)) & 63);
	d[2] = b64_char((s[1] << 2) & 63);
	d[3] = '=';
	b64[WGOTP_KEY_B64_LEN] = '\0';
}

void wgotp_hex_encode(const uint8_t *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i < len; i++) {
		out[i * 2] = hex_char(in[i] >> 4);
		out[i * 2 + 1] = hex_char(in[i] & 0xf);
	}
	out[len * 2] = '\0';
}

void wgotp_key_to_hex(char hex[2 * WGOTP_KEY_LEN + 1], const uint8_t key[WGOTP_KEY_LEN])
{
	wgotp_hex_encode(key, WGOTP_KEY_LEN, hex);
}

int wgotp_hex_decode(const char *in, uint8_t *out, size_t outlen)
{
	size_t len, i;
	int hi, lo, bad = 0, ret = -EINVAL;

	if (!in)
		goto cleanup;
	len = strlen(in);
	if (len % 2 || len / 2 > (size_t)2147483647)
		goto cleanup;
	if (len / 2 > outlen) {
		ret = -ENOBUFS;
		goto cleanup;
	}
	for (i = 0; i < len / 2; i++) {
		hi = hex_value((unsigned char)in[i * 2]);
		lo = hex_value((unsigned char)in[i * 2 + 1]);
		bad |= hi | lo;
		out[i] = (uint8_t)(((hi & 15) << 4) | (lo & 15));
	}
	if (bad & ~15) {
		wgotp_wipe(out, len / 2);
		goto cleanup;
	}
	ret = (int)(len / 2);
cleanup:
	return ret;
}
