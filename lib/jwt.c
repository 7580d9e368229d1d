/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * JWT client assertion, PS256, for the OAuth 2.0 client credentials flow.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "jwt.h"
#include "mail_buf.h"
#include "secret.h"

#define PEM_MAX (64 * 1024)

/* Never prompt on a terminal for a passphrase: encrypted keys fail. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static const char *ossl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : "unknown OpenSSL error";
}

int wgotp_jwt_x5t_s256(X509 *cert, char out[WGOTP_X5T_LEN + 1])
{
	struct wgotp_buf b = { 0 };
	unsigned char md[SHA256_DIGEST_LENGTH], *der = NULL;
	char *s = NULL;
	int n, ret;

	n = i2d_X509(cert, &der);
	if (n <= 0)
		return -EINVAL;
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	wgotp_buf_add_base64(&b, md, sizeof(md), true);
	ret = wgotp_buf_take(&b, &s, NULL);
	if (ret < 0)
		return ret;
	snprintf(out, WGOTP_X5T_LEN + 1, "%s", s);
	free(s);
	return 0;
}

void wgotp_jwt_cred_clear(struct wgotp_jwt_cred *c)
{
	EVP_PKEY_free(c->key);		/* OpenSSL wipes key material */
	X509_free(c->cert);
	memset(c, 0, sizeof(*c));
}

int wgotp_jwt_cred_load(const char *cert_file, const char *key_file, struct wgotp_jwt_cred *out,
			struct wgotp_error *err)
{
	BIO *bio = NULL;
	FILE *f = NULL;
	char *pem = NULL;
	size_t pemlen = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!key_file || !*key_file)
		key_file = cert_file;

	f = fopen(cert_file, "re");
	if (!f) {
		ret = wgotp_error_set(err, errno, "[Graph] CertificateFile %s: %s", cert_file,
				      strerror(errno));
		goto cleanup;
	}
	out->cert = PEM_read_X509(f, NULL, no_passphrase, NULL);
	if (!out->cert) {
		ret = wgotp_error_set(err, EINVAL, "[Graph] CertificateFile %s: no PEM certificate (%s)",
				      cert_file, ossl_reason());
		goto cleanup;
	}

	ret = wgotp_secret_read(key_file, PEM_MAX, &pem, &pemlen);
	if (ret == -EPERM) {
		ret = wgotp_error_set(err, EPERM,
				      "[Graph] PrivateKeyFile %s: readable or writable by others (chmod 600 or 640)",
				      key_file);
		goto cleanup;
	} else if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "[Graph] PrivateKeyFile %s: %s", key_file,
				      strerror(-ret));
		goto cleanup;
	}
	bio = BIO_new_mem_buf(pem, (int)pemlen);
	if (!bio) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	out->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!out->key) {
		ret = wgotp_error_set(err, EINVAL,
				      "[Graph] PrivateKeyFile %s: no unencrypted PEM private key (%s)",
				      key_file, ossl_reason());
		goto cleanup;
	}
	if (!EVP_PKEY_is_a(out->key, "RSA") && !EVP_PKEY_is_a(out->key, "RSA-PSS")) {
		ret = wgotp_error_set(err, EINVAL, "[Graph] PrivateKeyFile %s: not an RSA key (PS256 needs RSA)",
				      key_file);
		goto cleanup;
	}
	if (EVP_PKEY_get_bits(out->key) < 2048) {
		ret = wgotp_error_set(err, EINVAL, "[Graph] PrivateKeyFile %s: RSA key shorter than 2048 bits",
				      key_file);
		goto cleanup;
	}
	if (X509_check_private_key(out->cert, out->key) != 1) {
		ret = wgotp_error_set(err, EINVAL, "[Graph] the private key %s does not belong to the certificate %s",
				      key_file, cert_file);
		goto cleanup;
	}
	ret = wgotp_jwt_x5t_s256(out->cert, out->x5t_s256);
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "[Graph] CertificateFile %s: cannot hash the certificate",
				      cert_file);
		goto cleanup;
	}
	ret = 0;
cleanup:
	ERR_clear_error();
	BIO_free(bio);
	wgotp_freezero(pem, PEM_MAX + 1);
	if (f)
		fclose(f);
	if (ret < 0)
		wgotp_jwt_cred_clear(out);
	return ret;
}

static int sign_ps256(EVP_PKEY *key, const char *data, size_t len, unsigned char **sig,
		      size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int ret = -EIO;

	*sig = NULL;
	if (!md)
		return -ENOMEM;
	if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, key) != 1)
		goto cleanup;
	if (EVP_PKEY_is_a(key, "RSA") &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1)
		goto cleanup;
	if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)
		goto cleanup;
	if (EVP_DigestSign(md, NULL, siglen, (const unsigned char *)data, len) != 1)
		goto cleanup;
	*sig = malloc(*siglen);
	if (!*sig) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (EVP_DigestSign(md, *sig, siglen, (const unsigned char *)data, len) != 1) {
		free(*sig);
		*sig = NULL;
		goto cleanup;
	}
	ret = 0;
cleanup:
	EVP_MD_CTX_free(md);
	return ret;
}

int wgotp_jwt_client_assertion(const struct wgotp_jwt_cred *c, const char *client_id,
			       const char *audience, int64_t now, char **out,
			       struct wgotp_error *err)
{
	struct wgotp_buf hdr = { 0 }, claims = { 0 }, tok = { 0 };
	unsigned char rnd[16], *sig = NULL;
	char *h = NULL, *cl = NULL, jti[37];
	size_t hlen, cllen, siglen = 0;
	int ret;

	*out = NULL;
	ret = wgotp_random(rnd, sizeof(rnd));
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "no random bytes for the JWT id");
		goto cleanup;
	}
	rnd[6] = (rnd[6] & 0x0f) | 0x40;	/* a version 4 UUID */
	rnd[8] = (rnd[8] & 0x3f) | 0x80;
	snprintf(jti, sizeof(jti),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9],
		 rnd[10], rnd[11], rnd[12], rnd[13], rnd[14], rnd[15]);

	wgotp_buf_addf(&hdr, "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t#S256\":\"%s\"}", c->x5t_s256);
	wgotp_buf_adds(&claims, "{\"aud\":\"");
	wgotp_buf_add_json(&claims, audience);
	wgotp_buf_adds(&claims, "\",\"iss\":\"");
	wgotp_buf_add_json(&claims, client_id);
	wgotp_buf_adds(&claims, "\",\"sub\":\"");
	wgotp_buf_add_json(&claims, client_id);
	wgotp_buf_addf(&claims, "\",\"jti\":\"%s\",\"nbf\":%lld,\"iat\":%lld,\"exp\":%lld}", jti,
		       (long long)now, (long long)now, (long long)(now + WGOTP_JWT_LIFETIME));
	if ((ret = wgotp_buf_take(&hdr, &h, &hlen)) < 0 ||
	    (ret = wgotp_buf_take(&claims, &cl, &cllen)) < 0) {
		ret = wgotp_error_set(err, -ret, "cannot build the JWT: %s", strerror(-ret));
		goto cleanup;
	}
	wgotp_buf_add_base64(&tok, h, hlen, true);
	wgotp_buf_addc(&tok, '.');
	wgotp_buf_add_base64(&tok, cl, cllen, true);
	if (tok.error) {
		ret = wgotp_error_set(err, -tok.error, "cannot build the JWT: %s", strerror(-tok.error));
		goto cleanup;
	}
	ret = sign_ps256(c->key, tok.p, tok.len, &sig, &siglen);
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "cannot sign the JWT client assertion (%s)",
				      ossl_reason());
		goto cleanup;
	}
	wgotp_buf_addc(&tok, '.');
	wgotp_buf_add_base64(&tok, sig, siglen, true);
	ret = wgotp_buf_take(&tok, out, NULL);
	if (ret < 0)
		ret = wgotp_error_set(err, -ret, "cannot build the JWT: %s", strerror(-ret));
cleanup:
	ERR_clear_error();
	free(sig);
	free(h);
	free(cl);
	wgotp_buf_free(&hdr);
	wgotp_buf_free(&claims);
	wgotp_buf_free(&tok);
	return ret;
}
