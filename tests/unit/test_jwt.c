/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The JWT client assertion: built, then checked here independently with
 * OpenSSL: the header's x5t#S256, the claims, and the RSA-PSS SHA-256
 * signature with a salt as long as the digest.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jwt.h"
#include "mail_buf.h"
#include "secret.h"
#include "tap.h"
#include "testutil.h"

static X509 *self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *n;

	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"wgotp test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static char *write_pem(const char *dir, const char *name, EVP_PKEY *key, X509 *cert, mode_t mode)
{
	char *path;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	f = fopen(path, "w");
	if (!f)
		abort();
	if (cert)
		PEM_write_X509(f, cert);
	if (key)
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(path, mode);
	return path;
}

static struct json_object *part_json(const char *s, size_t len)
{
	unsigned char *dec = NULL;
	size_t declen = 0;
	struct json_object *o = NULL;
	char *z;

	if (wgotp_base64url_decode(s, len, &dec, &declen) < 0)
		return NULL;
	z = strndup((char *)dec, declen);
	o = json_tokener_parse(z);
	free(z);
	free(dec);
	return o;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t jint(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int) ?
	       json_object_get_int64(v) : -1;
}

/* 1 when sig verifies over data with PS256 and the given salt length. */
static int verify(EVP_PKEY *pub, const char *data, size_t len, const unsigned char *sig,
		  size_t siglen, int saltlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int r;

	EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pub);
	EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
	EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen);
	EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256());
	r = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)data, len);
	EVP_MD_CTX_free(md);
	return r;
}

int main(void)
{
	char *dir = tu_tmpdir(), *certf, *keyf, *bothf, *openf, *otherf, *jwt = NULL;
	EVP_PKEY *key = EVP_RSA_gen(2048), *other = EVP_RSA_gen(2048);
	X509 *cert = self_signed(key);
	struct wgotp_jwt_cred cred;
	struct wgotp_error err;
	struct json_object *hdr, *claims;
	unsigned char md[32], *sig = NULL;
	unsigned int mdlen = 0;
	size_t siglen = 0;
	struct wgotp_buf b = { 0 };
	char *want_x5t = NULL, *dot1, *dot2;
	const int64_t now = 1741079100;

	if (!key || !other || !cert)
		skip_all("cannot generate an RSA key");
	certf = write_pem(dir, "cert.pem", NULL, cert, 0644);
	keyf = write_pem(dir, "key.pem", key, NULL, 0600);
	bothf = write_pem(dir, "both.pem", key, cert, 0640);
	openf = write_pem(dir, "open.pem", key, NULL, 0644);
	otherf = write_pem(dir, "other.pem", other, NULL, 0600);

	is_int(wgotp_jwt_cred_load(certf, openf, &cred, &err), -EPERM,
	       "a world-readable private key is refused");
	ok(strstr(err.msg, "open.pem") != NULL, "naming the file: %s", err.msg);
	is_int(wgotp_jwt_cred_load(certf, otherf, &cred, &err), -EINVAL,
	       "a key that does not match the certificate is refused");
	is_int(wgotp_jwt_cred_load(keyf, keyf, &cred, &err), -EINVAL, "a key is not a certificate");
	is_int(wgotp_jwt_cred_load(bothf, NULL, &cred, &err), 0, "certificate and key in one file");
	wgotp_jwt_cred_clear(&cred);
	wgotp_error_clear(&err);
	is_int(wgotp_jwt_cred_load(certf, keyf, &cred, &err), 0, "certificate and key in two files %s", err.msg);

	/* x5t#S256, computed independently. */
	X509_digest(cert, EVP_sha256(), md, &mdlen);
	wgotp_buf_add_base64(&b, md, mdlen, true);
	wgotp_buf_take(&b, &want_x5t, NULL);
	is_str(cred.x5t_s256, want_x5t, "x5t#S256 is base64url SHA-256 of the DER");

	is_int(wgotp_jwt_client_assertion(&cred, "11111111-2222-3333-4444-555555555555",
					  "https://login.example/tenant/oauth2/v2.0/token", now, &jwt, &err),
	       0, "assertion");
	dot1 = strchr(jwt, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	ok(dot1 && dot2 && !strchr(dot2 + 1, '.'), "three parts");
	ok(!strpbrk(jwt, "=+/"), "base64url without padding");
	hdr = part_json(jwt, (size_t)(dot1 - jwt));
	claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	ok(hdr && claims, "header and claims are JSON");
	is_str(jstr(hdr, "alg"), "PS256", "alg PS256");
	is_str(jstr(hdr, "typ"), "JWT", "typ JWT");
	is_str(jstr(hdr, "x5t#S256"), want_x5t, "header x5t#S256");
	is_str(jstr(claims, "aud"), "https://login.example/tenant/oauth2/v2.0/token", "aud = token endpoint");
	is_str(jstr(claims, "iss"), "11111111-2222-3333-4444-555555555555", "iss = client id");
	is_str(jstr(claims, "sub"), "11111111-2222-3333-4444-555555555555", "sub = client id");
	ok(jstr(claims, "jti") && strlen(jstr(claims, "jti")) == 36, "jti is a UUID");
	is_int(jint(claims, "iat"), now, "iat = now");
	is_int(jint(claims, "nbf"), now, "nbf = now");
	ok(jint(claims, "exp") > now && jint(claims, "exp") <= now + 600, "exp within 10 minutes");

	is_int(wgotp_base64url_decode(dot2 + 1, strlen(dot2 + 1), &sig, &siglen), 0, "signature decodes");
	is_int(siglen, 256, "2048-bit signature");
	is_int(verify(key, jwt, (size_t)(dot2 - jwt), sig, siglen, RSA_PSS_SALTLEN_DIGEST), 1,
	       "RSA-PSS SHA-256 signature verifies, salt = digest length");
	ok(verify(key, jwt, (size_t)(dot2 - jwt), sig, siglen, 20) != 1,
	   "and not with another salt length (the check can fail)");
	ok(verify(other, jwt, (size_t)(dot2 - jwt), sig, siglen, RSA_PSS_SALTLEN_DIGEST) != 1,
	   "nor with another key");
	jwt[5] ^= 1;
	ok(verify(key, jwt, (size_t)(dot2 - jwt), sig, siglen, RSA_PSS_SALTLEN_DIGEST) != 1,
	   "nor over altered data");

	json_object_put(hdr);
	json_object_put(claims);
	free(sig);
	free(want_x5t);
	wgotp_free_str(jwt);
	wgotp_jwt_cred_clear(&cred);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	X509_free(cert);
	free(certf);
	free(keyf);
	free(bothf);
	free(openf);
	free(otherf);
	tu_rmdir(dir);
	return done_testing();
}
