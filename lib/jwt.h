/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JWT client assertion that proves a certificate credential to the
 * Microsoft identity platform (RFC 7523): header {alg PS256, typ JWT,
 * x5t#S256}, claims aud (the token endpoint), iss = sub (the client id),
 * jti, nbf, iat, exp, signed RSA-PSS with SHA-256, MGF1-SHA-256 and a salt
 * as long as the digest.
 */
#ifndef WGOTP_JWT_H
#define WGOTP_JWT_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "error.h"

#define WGOTP_JWT_LIFETIME 300		/* seconds; Microsoft allows up to 10 min */
#define WGOTP_X5T_LEN 43		/* base64url of 32 bytes, no padding */

struct wgotp_jwt_cred {
	EVP_PKEY *key;			/* RSA, at least 2048 bits */
	X509 *cert;			/* the first certificate of the file */
	char x5t_s256[WGOTP_X5T_LEN + 1];
};

/*
 * Load the certificate (PEM) and the private key (PEM, unencrypted, read
 * as a secret file: not world-readable; key_file NULL = in cert_file) and
 * check that they belong together.
 */
int wgotp_jwt_cred_load(const char *cert_file, const char *key_file, struct wgotp_jwt_cred *out,
			struct wgotp_error *err);
void wgotp_jwt_cred_clear(struct wgotp_jwt_cred *c);

/* base64url(SHA-256(DER of cert)) */
int wgotp_jwt_x5t_s256(X509 *cert, char out[WGOTP_X5T_LEN + 1]);

/* The signed assertion; *out is freed with wgotp_free_str(). */
int wgotp_jwt_client_assertion(const struct wgotp_jwt_cred *c, const char *client_id,
			       const char *audience, int64_t now, char **out,
			       struct wgotp_error *err);

#endif
