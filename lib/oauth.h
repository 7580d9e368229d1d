/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OAuth 2.0 client credentials against the Microsoft identity platform
 * ({authority}/{tenant}/oauth2/v2.0/token), with a client secret read from
 * a file at each request, or a certificate (a JWT client assertion, see
 * jwt.h). Access tokens are cached in the store's kv table, shared by every
 * process, under "oauth:<tenant>:<client id>:<scope>", until shortly
 * before they expire.
 */
#ifndef WGOTP_OAUTH_H
#define WGOTP_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "error.h"
#include "jwt.h"
#include "mail_http.h"
#include "store.h"

#define WGOTP_OAUTH_TOKEN_MAX 16384
#define WGOTP_OAUTH_MIN_LIFETIME 60	/* shorter-lived tokens are not cached */
#define WGOTP_OAUTH_MARGIN 300		/* refresh this long before expiry */

struct wgotp_oauth {
	char *token_url;
	char *tenant;
	char *client_id;
	char *secret_file;		/* client secret credential, or ... */
	struct wgotp_jwt_cred cred;	/* ... a certificate (cred.key != NULL) */
	char *ca_file;
	struct wgotp_store *store;	/* may be NULL: no cache */
};

/* From [Graph]: Tenant, ClientId, Authority, ClientSecretFile or
 * CertificateFile + PrivateKeyFile (exactly one credential). The
 * credential is read once here so a mistake shows at start. */
int wgotp_oauth_init(struct wgotp_oauth *o, const struct wgotp_config *cfg,
		     struct wgotp_store *store, struct wgotp_error *err);
void wgotp_oauth_clear(struct wgotp_oauth *o);

/*
 * An access token for scope: from the cache, or else from the token
 * endpoint (then cached). refresh = true skips and replaces the cached
 * one (after a 401). *token is freed with wgotp_free_str().
 */
int wgotp_oauth_token(struct wgotp_oauth *o, const char *scope, int64_t now, bool refresh,
		      const struct wgotp_deadline *dl, char **token, struct wgotp_error *err);

/* A bearer token as RFC 6750 allows (b64token): safe in a header. */
bool wgotp_oauth_token_ok(const char *t);

/*
 * Parse a token endpoint reply (fuzz target). Success: 0 with *token and
 * *expires_in. An error reply {"error", "error_description"}: -EACCES with
 * err naming both (first line of the description). Anything else: -EPROTO.
 */
int wgotp_oauth_parse_token(const char *json, size_t len, char **token, int64_t *expires_in,
			    struct wgotp_error *err);

/* Parse one JSON value of len bytes (depth-limited, no trailing
 * garbage); NULL when it is not one. Free with json_object_put(). */
struct json_object;
struct json_object *wgotp_json_parse(const char *json, size_t len);

/* Copy s into out (len bytes) for a log line: the first line only,
 * control characters replaced, cut to fit. */
void wgotp_oauth_sanitize(const char *s, char *out, size_t len);

#endif
