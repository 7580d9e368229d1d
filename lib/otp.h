/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One-time codes: TOTP (RFC 6238 through liboath) and emailed codes. */
#ifndef WGOTP_OTP_H
#define WGOTP_OTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WGOTP_CODE_MAX 10
#define WGOTP_MAC_LEN 32

enum wgotp_totp_alg {
	WGOTP_TOTP_SHA1,
	WGOTP_TOTP_SHA256,
	WGOTP_TOTP_SHA512,
};

struct wgotp_totp_params {
	int digits;			/* 6..8 */
	int period;			/* seconds */
	int window;			/* steps accepted either side of now */
	enum wgotp_totp_alg alg;
};

int wgotp_totp_alg_parse(const char *s, enum wgotp_totp_alg *out);

/* A code is only digits, exactly `digits` of them: 0 or -EINVAL. */
int wgotp_code_check_format(const char *code, int digits);

/* The code for time step `step` (now / period). out: digits + 1 bytes. */
int wgotp_totp_generate(const uint8_t *secret, size_t len, const struct wgotp_totp_params *p,
			uint64_t step, char *out);

/*
 * Verify `code` at time `now`. Every step of the window is computed and
 * compared in constant time; the earliest matching step greater than
 * `last_step` is returned in *matched. Returns 0 on a match, -EACCES on no
 * match, -EALREADY when the code matches only steps at or below
 * last_step (a replay), -EINVAL for a malformed code.
 */
int wgotp_totp_verify(const uint8_t *secret, size_t len, const struct wgotp_totp_params *p,
		      int64_t now, const char *code, uint64_t last_step, uint64_t *matched);

/* Same with the secret in base32, wiped after use. */
int wgotp_totp_verify_b32(const char *secret_b32, const struct wgotp_totp_params *p,
			  int64_t now, const char *code, uint64_t last_step, uint64_t *matched);

/*
 * Every step of the window [now - window, now + window] whose code is
 * `code`, in ascending order, into steps (at most max; 2 * window + 1
 * suffices): *n of them, 0 when none matches. Every step is computed and
 * compared whatever matched, so the time does not depend on the code.
 * -EINVAL for a code of the wrong format or a bad secret.
 */
#define WGOTP_TOTP_MAX_STEPS 21		/* 2 * the largest Window + 1 */
int wgotp_totp_match_b32(const char *secret_b32, const struct wgotp_totp_params *p, int64_t now,
			 const char *code, uint64_t *steps, size_t max, size_t *n);

/* A new random secret of `len` bytes (20 = 160 bits) in base32. */
int wgotp_totp_new_secret(size_t len, char *out, size_t outlen);

/* Uniform random decimal code of `digits` digits from the OpenSSL CSPRNG,
 * by rejection sampling (no modulo bias). out: digits + 1 bytes. */
int wgotp_email_code_new(int digits, char *out);

/* HMAC-SHA256(key, challenge_id || 0 || code): what the store keeps. */
int wgotp_code_mac(const uint8_t *key, size_t keylen, const char *challenge_id,
		   const char *code, uint8_t mac[WGOTP_MAC_LEN]);

#endif
