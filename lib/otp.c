/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One-time codes. TOTP codes are computed by liboath for each step of the
 * window and compared here in constant time (liboath's own validators
 * compare with strcmp). Email codes come from the OpenSSL CSPRNG by
 * rejection sampling and are kept only as an HMAC under the server key.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <liboath/oath.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>

#include "directory.h"
#include "encoding.h"
#include "otp.h"
#include "secret.h"

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_init_rc;

/* liboath must be initialised once per process; it is never finalised,
 * since another module in the same process (pam_oath) may use it too. */
static void oath_init_once(void)
{
	oath_init_rc = oath_init();
}

int wgotp_totp_alg_parse(const char *s, enum wgotp_totp_alg *out)
{
	if (!strcasecmp(s, "SHA1"))
		*out = WGOTP_TOTP_SHA1;
	else if (!strcasecmp(s, "SHA256"))
		*out = WGOTP_TOTP_SHA256;
	else if (!strcasecmp(s, "SHA512"))
		*out = WGOTP_TOTP_SHA512;
	else
		return -EINVAL;
	return 0;
}

int wgotp_code_check_format(const char *code, int digits)
{
	int i;

	if (!code || digits < 1 || digits > WGOTP_CODE_MAX)
		return -EINVAL;
	for (i = 0; i < digits; i++) {
		if (code[i] < '0' || code[i] > '9')
			return -EINVAL;
	}
	return code[i] == '\0' ? 0 : -EINVAL;
}

static int totp_flags(enum wgotp_totp_alg alg)
{
	switch (alg) {
	case WGOTP_TOTP_SHA256:
		return OATH_TOTP_HMAC_SHA256;
	case WGOTP_TOTP_SHA512:
		return OATH_TOTP_HMAC_SHA512;
	case WGOTP_TOTP_SHA1:
		break;
	}
	return 0;
}

int wgotp_totp_generate(const uint8_t *secret, size_t len, const struct wgotp_totp_params *p,
			uint64_t step, char *out)
{
	if (p->digits < 6 || p->digits > 8 || p->period <= 0 || !len)
		return -EINVAL;
	if (step > (uint64_t)INT64_MAX / (uint64_t)p->period)
		return -ERANGE;
	pthread_once(&oath_once, oath_init_once);
	if (oath_init_rc != OATH_OK)
		return -EIO;
	if (oath_totp_generate2((const char *)secret, len, (time_t)(step * (uint64_t)p->period),
				(unsigned)p->period, 0, (unsigned)p->digits, totp_flags(p->alg),
				out) != OATH_OK)
		return -EIO;
	return 0;
}

int wgotp_totp_verify(const uint8_t *secret, size_t len, const struct wgotp_totp_params *p,
		      int64_t now, const char *code, uint64_t last_step, uint64_t *matched)
{
	char want[WGOTP_CODE_MAX + 1];
	uint64_t cur, step;
	bool found_new = false, found_old = false;
	int ret;

	if (wgotp_code_check_format(code, p->digits) < 0)
		return -EINVAL;
	if (now < 0 || p->window < 0)
		return -EINVAL;
	cur = (uint64_t)now / (uint64_t)p->period;
	/* Every step of the window is computed and compared, whatever
	 * matched before, so the time taken does not depend on the code. */
	for (int64_t off = -p->window; off <= p->window; off++) {
		bool eq;

		if (off < 0 && cur < (uint64_t)-off)
			continue;
		step = cur + (uint64_t)off;
		ret = wgotp_totp_generate(secret, len, p, step, want);
		if (ret < 0)
			goto cleanup;
		eq = wgotp_ct_equal(want, code, (size_t)p->digits);
		if (eq && step > last_step && !found_new) {
			found_new = true;
			*matched = step;
		} else if (eq && step <= last_step) {
			found_old = true;
		}
	}
	ret = found_new ? 0 : found_old ? -EALREADY : -EACCES;
cleanup:
	wgotp_wipe(want, sizeof(want));
	return ret;
}

int wgotp_totp_verify_b32(const char *secret_b32, const struct wgotp_totp_params *p,
			  int64_t now, const char *code, uint64_t last_step, uint64_t *matched)
{
	uint8_t key[WGOTP_TOTP_SECRET_MAX];
	int len, ret;

	len = wgotp_base32_decode(secret_b32, key, sizeof(key));
	if (len <= 0) {
		ret = -EINVAL;
		goto cleanup;
	}
	ret = wgotp_totp_verify(key, (size_t)len, p, now, code, last_step, matched);
cleanup:
	wgotp_wipe(key, sizeof(key));
	return ret;
}

int wgotp_totp_match_b32(const char *secret_b32, const struct wgotp_totp_params *p, int64_t now,
			 const char *code, uint64_t *steps, size_t max, size_t *n)
{
	uint8_t key[WGOTP_TOTP_SECRET_MAX];
	char want[WGOTP_CODE_MAX + 1];
	uint64_t cur, step;
	int len, ret;

	*n = 0;
	if (wgotp_code_check_format(code, p->digits) < 0 || now < 0 || p->window < 0 ||
	    (size_t)(2 * p->window + 1) > max)
		return -EINVAL;
	len = wgotp_base32_decode(secret_b32, key, sizeof(key));
	if (len <= 0) {
		ret = -EINVAL;
		goto cleanup;
	}
	cur = (uint64_t)now / (uint64_t)p->period;
	for (int64_t off = -p->window; off <= p->window; off++) {
		if (off < 0 && cur < (uint64_t)-off)
			continue;
		step = cur + (uint64_t)off;
		ret = wgotp_totp_generate(key, (size_t)len, p, step, want);
		if (ret < 0)
			goto cleanup;
		if (wgotp_ct_equal(want, code, (size_t)p->digits))
			steps[(*n)++] = step;
	}
	ret = 0;
cleanup:
	wgotp_wipe(want, sizeof(want));
	wgotp_wipe(key, sizeof(key));
	return ret;
}

int wgotp_totp_new_secret(size_t len, char *out, size_t outlen)
{
	uint8_t key[WGOTP_TOTP_SECRET_MAX];
	int ret;

	if (len < 10 || len > sizeof(key))
		return -EINVAL;
	ret = wgotp_random(key, len);
	if (ret < 0)
		goto cleanup;
	ret = wgotp_base32_encode(key, len, out, outlen);
	if (ret > 0)
		ret = 0;
cleanup:
	wgotp_wipe(key, sizeof(key));
	return ret;
}

int wgotp_email_code_new(int digits, char *out)
{
	/* Draw 32-bit values and refuse those at or above the largest
	 * multiple of 10^digits: the rest is uniform. */
	uint64_t mod = 1, limit, v;
	uint32_t r;
	int ret;

	if (digits < 4 || digits > WGOTP_CODE_MAX)
		return -EINVAL;
	for (int i = 0; i < digits; i++)
		mod *= 10;
	if (mod > UINT32_MAX) {
		/* 10 digits: combine two draws into 64 bits. */
		uint64_t r64;

		limit = UINT64_MAX - UINT64_MAX % mod;
		do {
			ret = wgotp_random(&r64, sizeof(r64));
			if (ret < 0)
				return ret;
		} while (r64 >= limit);
		v = r64 % mod;
		wgotp_wipe(&r64, sizeof(r64));
	} else {
		limit = ((uint64_t)UINT32_MAX + 1) - (((uint64_t)UINT32_MAX + 1) % mod);
		do {
			ret = wgotp_random(&r, sizeof(r));
			if (ret < 0)
				return ret;
		} while ((uint64_t)r >= limit);
		v = r % mod;
		wgotp_wipe(&r, sizeof(r));
	}
	for (int i = digits - 1; i >= 0; i--) {
		out[i] = (char)('0' + v % 10);
		v /= 10;
	}
	out[digits] = '\0';
	return 0;
}

int wgotp_code_mac(const uint8_t *key, size_t keylen, const char *challenge_id,
		   const char *code, uint8_t mac[WGOTP_MAC_LEN])
{
	uint8_t zero = 0;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *c = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int ret = -EIO;

	if (!keylen)
		return -EINVAL;
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!m)
		goto cleanup;
	c = EVP_MAC_CTX_new(m);
	if (!c)
		goto cleanup;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(c, key, keylen, params) ||
	    !EVP_MAC_update(c, (const unsigned char *)challenge_id, strlen(challenge_id)) ||
	    !EVP_MAC_update(c, &zero, 1) ||
	    !EVP_MAC_update(c, (const unsigned char *)code, strlen(code)) ||
	    !EVP_MAC_final(c, mac, &outl, WGOTP_MAC_LEN) || outl != WGOTP_MAC_LEN)
		goto cleanup;
	ret = 0;
cleanup:
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	return ret;
}
