/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * OAuth 2.0 client credentials (Microsoft identity platform) with a token
 * cache in the store.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "log.h"
#include "mail_buf.h"
#include "oauth.h"
#include "secret.h"

#define SECRET_MAX 4096
#define JSON_DEPTH 16

static const char assertion_type[] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

void wgotp_oauth_sanitize(const char *s, char *out, size_t len)
{
	size_t n = 0;

	if (!len)
		return;
	for (; s && *s && *s != '\r' && *s != '\n' && n + 1 < len; s++)
		out[n++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s;
	out[n] = '\0';
}

bool wgotp_oauth_token_ok(const char *t)
{
	size_t n = 0;

	for (; t[n] && (isalnum((unsigned char)t[n]) || strchr("-._~+/", t[n])); n++)
		;
	if (!n)
		return false;
	while (t[n] == '=')
		n++;
	return t[n] == '\0' && n <= WGOTP_OAUTH_TOKEN_MAX;
}

/* Wipe a json-c string in place before the object is freed. */
static void json_wipe_string(struct json_object *o)
{
	if (o && json_object_is_type(o, json_type_string))
		wgotp_wipe((char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
}

struct json_object *wgotp_json_parse(const char *json, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len > (size_t)INT32_MAX - 1)
		return NULL;
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  json_tokener_get_parse_end(tok) < len)) {
		/* Trailing garbage after the object. */
		size_t end = json_tokener_get_parse_end(tok);

		while (end < len && isspace((unsigned char)json[end]))
			end++;
		if (end < len) {
			json_object_put(o);
			o = NULL;
		}
	}
	json_tokener_free(tok);
	return o;
}

int wgotp_oauth_parse_token(const char *json, size_t len, char **token, int64_t *expires_in,
			    struct wgotp_error *err)
{
	struct json_object *root, *v;
	char code[64], desc[300];
	const char *s;
	int64_t exp = -1;
	int ret;

	*token = NULL;
	*expires_in = 0;
	root = wgotp_json_parse(json, len);
	if (!root || !json_object_is_type(root, json_type_object)) {
		ret = wgotp_error_set(err, EPROTO, "token endpoint: the answer is not a JSON object");
		goto cleanup;
	}
	if (json_object_object_get_ex(root, "error", &v)) {
		wgotp_oauth_sanitize(json_object_is_type(v, json_type_string) ?
				     json_object_get_string(v) : "(not a string)", code, sizeof(code));
		desc[0] = '\0';
		if (json_object_object_get_ex(root, "error_description", &v) &&
		    json_object_is_type(v, json_type_string))
			wgotp_oauth_sanitize(json_object_get_string(v), desc, sizeof(desc));
		ret = wgotp_error_set(err, EACCES, "token endpoint: %s%s%s", code,
				      desc[0] ? ": " : "", desc);
		goto cleanup;
	}
	if (json_object_object_get_ex(root, "token_type", &v) &&
	    (!json_object_is_type(v, json_type_string) ||
	     strcasecmp(json_object_get_string(v), "Bearer"))) {
		ret = wgotp_error_set(err, EPROTO, "token endpoint: token_type is not Bearer");
		goto cleanup;
	}
	if (json_object_object_get_ex(root, "expires_in", &v)) {
		/* A number, or (older endpoints) a string of digits. */
		if (json_object_is_type(v, json_type_int)) {
			exp = json_object_get_int64(v);
		} else if (json_object_is_type(v, json_type_string)) {
			char *end;

			s = json_object_get_string(v);
			errno = 0;
			exp = strtoll(s, &end, 10);
			if (errno || end == s || *end)
				exp = -1;
		}
	}
	if (exp <= 0 || exp > 366 * 86400) {
		ret = wgotp_error_set(err, EPROTO, "token endpoint: no valid expires_in");
		goto cleanup;
	}
	if (!json_object_object_get_ex(root, "access_token", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		ret = wgotp_error_set(err, EPROTO, "token endpoint: no access_token");
		goto cleanup;
	}
	s = json_object_get_string(v);
	if (!wgotp_oauth_token_ok(s)) {
		ret = wgotp_error_set(err, EPROTO,
				      "token endpoint: the access_token has characters a bearer token may not have");
		goto cleanup;
	}
	*token = strdup(s);
	if (!*token) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	*expires_in = exp;
	ret = 0;
cleanup:
	if (root && json_object_object_get_ex(root, "access_token", &v))
		json_wipe_string(v);
	json_object_put(root);
	return ret;
}

/* A tenant (GUID, domain, "organizations") or client id as a URL path
 * segment and cache key part: letters, digits, '-', '.', '_'. */
static bool id_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 128)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-._", *s))
			return false;
	}
	return true;
}

void wgotp_oauth_clear(struct wgotp_oauth *o)
{
	free(o->token_url);
	free(o->tenant);
	free(o->client_id);
	free(o->secret_file);
	free(o->ca_file);
	wgotp_jwt_cred_clear(&o->cred);
	memset(o, 0, sizeof(*o));
}

int wgotp_oauth_init(struct wgotp_oauth *o, const struct wgotp_config *cfg,
		     struct wgotp_store *store, struct wgotp_error *err)
{
	const char *auth = cfg->graph_authority;
	char *secret = NULL;
	size_t secretlen = 0, alen;
	int ret;

	memset(o, 0, sizeof(*o));
	o->store = store;
	if (!id_ok(cfg->graph_tenant))
		return wgotp_error_set(err, EINVAL,
				       "[Graph] Tenant must be set to the directory (tenant) id or domain");
	if (!id_ok(cfg->graph_client_id))
		return wgotp_error_set(err, EINVAL,
				       "[Graph] ClientId must be set to the application (client) id");
	if (!auth || !wgotp_http_url_ok(auth))
		return wgotp_error_set(err, EINVAL, "[Graph] Authority must be an https:// URL");
	if (!!cfg->graph_client_secret_file == !!cfg->graph_certificate_file)
		return wgotp_error_set(err, EINVAL,
				       "[Graph] set exactly one credential: ClientSecretFile, or CertificateFile (with PrivateKeyFile)");
	if (cfg->graph_private_key_file && !cfg->graph_certificate_file)
		return wgotp_error_set(err, EINVAL, "[Graph] PrivateKeyFile needs CertificateFile");

	alen = strlen(auth);
	while (alen && auth[alen - 1] == '/')
		alen--;
	if (asprintf(&o->token_url, "%.*s/%s/oauth2/v2.0/token", (int)alen, auth,
		     cfg->graph_tenant) < 0) {
		o->token_url = NULL;
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	o->tenant = strdup(cfg->graph_tenant);
	o->client_id = strdup(cfg->graph_client_id);
	if (cfg->mail_ca_file)
		o->ca_file = strdup(cfg->mail_ca_file);
	if (!o->tenant || !o->client_id || (cfg->mail_ca_file && !o->ca_file)) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	if (cfg->graph_certificate_file) {
		ret = wgotp_jwt_cred_load(cfg->graph_certificate_file, cfg->graph_private_key_file,
					  &o->cred, err);
		if (ret < 0)
			goto cleanup;
	} else {
		/* Read it once now so a missing or open file shows at start. */
		ret = wgotp_secret_read(cfg->graph_client_secret_file, SECRET_MAX, &secret, &secretlen);
		if (ret == -EPERM) {
			ret = wgotp_error_set(err, EPERM,
					      "[Graph] ClientSecretFile %s: readable or writable by others (chmod 600 or 640)",
					      cfg->graph_client_secret_file);
			goto cleanup;
		} else if (ret < 0) {
			ret = wgotp_error_set(err, -ret, "[Graph] ClientSecretFile %s: %s",
					      cfg->graph_client_secret_file, strerror(-ret));
			goto cleanup;
		} else if (!secretlen) {
			ret = wgotp_error_set(err, EINVAL, "[Graph] ClientSecretFile %s is empty",
					      cfg->graph_client_secret_file);
			goto cleanup;
		}
		o->secret_file = strdup(cfg->graph_client_secret_file);
		if (!o->secret_file) {
			ret = wgotp_error_set(err, ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	wgotp_freezero(secret, secretlen);
	if (ret < 0)
		wgotp_oauth_clear(o);
	return ret;
}

static char *cache_key(const struct wgotp_oauth *o, const char *scope)
{
	char *k;

	if (asprintf(&k, "oauth:%s:%s:%s", o->tenant, o->client_id, scope) < 0)
		return NULL;
	return k;
}

/* The form body: client_id, scope, grant_type and the credential. */
static int token_form(struct wgotp_oauth *o, const char *scope, int64_t now, char **body,
		      size_t *len, struct wgotp_error *err)
{
	struct wgotp_buf b = { 0 };
	char *cred = NULL;
	size_t credlen = 0;
	int ret;

	if (o->cred.key) {
		ret = wgotp_jwt_client_assertion(&o->cred, o->client_id, o->token_url, now, &cred, err);
		if (ret < 0)
			return ret;
		credlen = strlen(cred);
	} else {
		ret = wgotp_secret_read(o->secret_file, SECRET_MAX, &cred, &credlen);
		if (ret < 0)
			return wgotp_error_set(err, -ret, "[Graph] ClientSecretFile %s: %s",
					       o->secret_file, strerror(-ret));
	}
	wgotp_buf_adds(&b, "client_id=");
	wgotp_buf_add_form(&b, o->client_id);
	wgotp_buf_adds(&b, "&scope=");
	wgotp_buf_add_form(&b, scope);
	wgotp_buf_adds(&b, "&grant_type=client_credentials");
	if (o->cred.key) {
		wgotp_buf_adds(&b, "&client_assertion_type=");
		wgotp_buf_add_form(&b, assertion_type);
		wgotp_buf_adds(&b, "&client_assertion=");
	} else {
		wgotp_buf_adds(&b, "&client_secret=");
	}
	wgotp_buf_add_form(&b, cred);
	ret = wgotp_buf_take(&b, body, len);
	if (ret < 0)
		ret = wgotp_error_set(err, -ret, "out of memory");
	wgotp_freezero(cred, credlen);
	return ret;
}

static int fetch_token(struct wgotp_oauth *o, const char *scope, int64_t now,
		       const struct wgotp_deadline *dl, char **token, int64_t *expires_in,
		       struct wgotp_error *err)
{
	struct wgotp_http_response r = { .retry_after = -1 };
	struct wgotp_http_request req = {
		.url = o->token_url,
		.content_type = "application/x-www-form-urlencoded",
		.ca_file = o->ca_file,
	};
	char *body = NULL;
	size_t bodylen = 0;
	int ret;

	ret = token_form(o, scope, now, &body, &bodylen, err);
	if (ret < 0)
		return ret;
	req.body = body;
	req.body_len = bodylen;
	ret = wgotp_http_post_patient(&req, dl, "token endpoint", &r, err);
	if (ret < 0)
		goto cleanup;
	if (r.status == 429 || r.status == 503) {
		ret = wgotp_error_set(err, EBUSY,
				      "token endpoint: throttled (HTTP %ld, Retry-After %lld s)%s",
				      r.status, (long long)r.retry_after,
				      r.retry_fits ? "" : "; the wait does not fit in the mail time budget");
		goto cleanup;
	}
	ret = wgotp_oauth_parse_token(r.body ? r.body : "", r.len, token, expires_in, err);
	if (ret == -EPROTO && r.status != 200)
		ret = wgotp_error_set(err, EPROTO, "token endpoint: HTTP %ld", r.status);
	else if (ret == 0 && r.status != 200)
		ret = wgotp_error_set(err, EPROTO, "token endpoint: HTTP %ld with a token", r.status);
	if (ret < 0) {
		wgotp_free_str(*token);
		*token = NULL;
	}
cleanup:
	wgotp_freezero(body, bodylen);
	wgotp_http_response_clear(&r);
	return ret;
}

int wgotp_oauth_token(struct wgotp_oauth *o, const char *scope, int64_t now, bool refresh,
		      const struct wgotp_deadline *dl, char **token, struct wgotp_error *err)
{
	struct wgotp_store *st = o->store;
	char *key = NULL, *cached = NULL;
	int64_t expires_in = 0, margin;
	int ret;

	*token = NULL;
	key = cache_key(o, scope);
	if (!key)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	if (st && refresh) {
		ret = st->ops->kv_del(st->state, key);
		if (ret < 0 && ret != -ENOENT)
			log_warn("mail: cannot drop the cached token (%s)", strerror(-ret));
	} else if (st) {
		ret = st->ops->kv_get(st->state, key, now, &cached);
		if (ret == 0 && cached && wgotp_oauth_token_ok(cached)) {
			*token = cached;
			cached = NULL;
			goto cleanup;
		} else if (ret < 0 && ret != -ENOENT) {
			log_warn("mail: cannot read the token cache (%s); asking for a new token",
				 strerror(-ret));
		}
	}

	ret = fetch_token(o, scope, now, dl, token, &expires_in, err);
	if (ret < 0)
		goto cleanup;
	margin = expires_in > 2 * WGOTP_OAUTH_MARGIN ? WGOTP_OAUTH_MARGIN : expires_in / 2;
	if (st && expires_in >= WGOTP_OAUTH_MIN_LIFETIME) {
		int r = st->ops->kv_put(st->state, key, *token, now + expires_in - margin);

		if (r < 0)
			log_warn("mail: cannot cache the token (%s)", strerror(-r));
	}
	ret = 0;
cleanup:
	wgotp_free_str(cached);
	free(key);
	return ret;
}
