/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Browser sessions in the store, keyed by an HMAC of the cookie (websession.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "secret.h"
#include "websession.h"

#define KEY_MAX (8 + 2 * WGOTP_MAC_LEN + 1)

bool wgotp_web_token_valid(const char *token)
{
	size_t i;

	if (!token)
		return false;
	for (i = 0; token[i]; i++) {
		char c = token[i];

		if (i >= WGOTP_WEB_TOKEN_LEN || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return i == WGOTP_WEB_TOKEN_LEN;
}

int wgotp_web_token_new(char token[WGOTP_WEB_TOKEN_LEN + 1])
{
	uint8_t raw[WGOTP_WEB_TOKEN_LEN / 2];
	int ret;

	ret = wgotp_random(raw, sizeof(raw));
	if (ret == 0)
		wgotp_hex_encode(raw, sizeof(raw), token);
	wgotp_wipe(raw, sizeof(raw));
	return ret;
}

/* "web:s:" or "web:g:" + hex(HMAC(key, label || 0 || token)) */
static int store_key(struct wgotp_flow *f, const char *prefix, const char *token, char key[KEY_MAX])
{
	uint8_t mac[WGOTP_MAC_LEN];
	char hex[2 * WGOTP_MAC_LEN + 1];
	int ret;

	if (!wgotp_web_token_valid(token))
		return -EINVAL;
	ret = wgotp_flow_mac(f, "wgotp-web-session", token, mac);
	if (ret < 0)
		return ret;
	wgotp_hex_encode(mac, sizeof(mac), hex);
	snprintf(key, KEY_MAX, "%s%s", prefix, hex);
	return 0;
}

static int encode(const struct wgotp_websession *s, char **out)
{
	json_object *o = json_object_new_object();
	const char *txt;
	int ret = -ENOMEM;

	*out = NULL;
	if (!o)
		return -ENOMEM;
	if (json_object_object_add(o, "k", json_object_new_int(s->kind)) ||
	    json_object_object_add(o, "o", json_object_new_string(s->origin)) ||
	    json_object_object_add(o, "u", json_object_new_string(s->user)) ||
	    json_object_object_add(o, "c", json_object_new_string(s->csrf)) ||
	    json_object_object_add(o, "ch", json_object_new_string(s->challenge_id)) ||
	    json_object_object_add(o, "m", json_object_new_int(s->method)) ||
	    json_object_object_add(o, "d", json_object_new_string(s->device)) ||
	    json_object_object_add(o, "cx", json_object_new_int64(s->challenge_expires)) ||
	    json_object_object_add(o, "t0", json_object_new_int64(s->created)) ||
	    json_object_object_add(o, "t1", json_object_new_int64(s->expires)))
		goto cleanup;
	txt = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (!txt)
		goto cleanup;
	*out = strdup(txt);
	ret = *out ? 0 : -ENOMEM;
cleanup:
	json_object_put(o);
	return ret;
}

static bool copy_str(json_object *o, const char *k, char *dst, size_t len)
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	if (strlen(s) >= len)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

static bool get_int(json_object *o, const char *k, int64_t *dst)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*dst = json_object_get_int64(v);
	return true;
}

/* A record we wrote ourselves; anything else is treated as absent. */
static int decode(const char *txt, struct wgotp_websession *s)
{
	json_object *o = json_tokener_parse(txt);
	int64_t kind = 0, method = 0;
	int ret = -ENOENT;

	memset(s, 0, sizeof(*s));
	if (!o || !json_object_is_type(o, json_type_object))
		goto cleanup;
	if (!get_int(o, "k", &kind) || !get_int(o, "m", &method) ||
	    !copy_str(o, "o", s->origin, sizeof(s->origin)) ||
	    !copy_str(o, "u", s->user, sizeof(s->user)) ||
	    !copy_str(o, "c", s->csrf, sizeof(s->csrf)) ||
	    !copy_str(o, "ch", s->challenge_id, sizeof(s->challenge_id)) ||
	    !copy_str(o, "d", s->device, sizeof(s->device)) ||
	    !get_int(o, "cx", &s->challenge_expires) || !get_int(o, "t0", &s->created) ||
	    !get_int(o, "t1", &s->expires))
		goto cleanup;
	if ((kind != WGOTP_WEB_PENDING && kind != WGOTP_WEB_SIGNED_IN) ||
	    (method != WGOTP_METHOD_TOTP && method != WGOTP_METHOD_EMAIL) ||
	    !wgotp_web_token_valid(s->csrf))
		goto cleanup;
	s->kind = (enum wgotp_web_kind)kind;
	s->method = (enum wgotp_method)method;
	ret = 0;
cleanup:
	json_object_put(o);
	if (ret < 0)
		wgotp_wipe(s, sizeof(*s));
	return ret;
}

int wgotp_websession_put(struct wgotp_flow *f, struct wgotp_store *st, const char *token,
			 const struct wgotp_websession *s)
{
	char key[KEY_MAX], *val = NULL;
	int ret;

	ret = store_key(f, "web:s:", token, key);
	if (ret < 0)
		return ret;
	ret = encode(s, &val);
	if (ret < 0)
		return ret;
	ret = st->ops->kv_put(st->state, key, val, s->expires);
	wgotp_free_str(val);
	return ret;
}

int wgotp_websession_new(struct wgotp_flow *f, struct wgotp_store *st, struct wgotp_websession *s,
			 char token[WGOTP_WEB_TOKEN_LEN + 1])
{
	int ret;

	ret = wgotp_web_token_new(token);
	if (ret < 0)
		return ret;
	ret = wgotp_web_token_new(s->csrf);
	if (ret < 0)
		return ret;
	s->created = wgotp_flow_now(f);
	return wgotp_websession_put(f, st, token, s);
}

int wgotp_websession_get(struct wgotp_flow *f, struct wgotp_store *st, const char *token,
			 const char *origin, struct wgotp_websession *out)
{
	char key[KEY_MAX], *val = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = store_key(f, "web:s:", token, key);
	if (ret < 0)
		return ret;
	ret = st->ops->kv_get(st->state, key, wgotp_flow_now(f), &val);
	if (ret < 0)
		return ret;
	ret = decode(val, out);
	wgotp_free_str(val);
	if (ret == 0 && (strcmp(out->origin, origin) || out->expires <= wgotp_flow_now(f))) {
		wgotp_wipe(out, sizeof(*out));
		ret = -ENOENT;
	}
	return ret;
}

int wgotp_websession_del(struct wgotp_flow *f, struct wgotp_store *st, const char *token)
{
	char key[KEY_MAX];
	int ret;

	ret = store_key(f, "web:s:", token, key);
	if (ret < 0)
		return ret;
	ret = st->ops->kv_del(st->state, key);
	/* a grant never outlives its session */
	if (store_key(f, "web:g:", token, key) == 0)
		st->ops->kv_del(st->state, key);
	return ret;
}

int wgotp_web_anon_csrf(struct wgotp_flow *f, const char *token, char out[WGOTP_WEB_TOKEN_LEN + 1])
{
	uint8_t mac[WGOTP_MAC_LEN];
	int ret;

	if (!wgotp_web_token_valid(token))
		return -EINVAL;
	ret = wgotp_flow_mac(f, "wgotp-web-anon-csrf", token, mac);
	if (ret == 0)
		wgotp_hex_encode(mac, sizeof(mac), out);
	wgotp_wipe(mac, sizeof(mac));
	return ret;
}

bool wgotp_web_csrf_equal(const char *expected, const char *got)
{
	if (!expected || !got || strlen(expected) != WGOTP_WEB_TOKEN_LEN ||
	    strnlen(got, WGOTP_WEB_TOKEN_LEN + 1) != WGOTP_WEB_TOKEN_LEN)
		return false;
	return wgotp_ct_equal(expected, got, WGOTP_WEB_TOKEN_LEN);
}

int wgotp_websession_grant_put(struct wgotp_flow *f, struct wgotp_store *st, const char *token,
			       int64_t duration, int64_t expires)
{
	char key[KEY_MAX], val[32];
	int ret;

	ret = store_key(f, "web:g:", token, key);
	if (ret < 0)
		return ret;
	snprintf(val, sizeof(val), "%" PRId64, duration);
	return st->ops->kv_put(st->state, key, val, expires);
}

int wgotp_websession_grant_take(struct wgotp_flow *f, struct wgotp_store *st, const char *token,
				int64_t *duration)
{
	char key[KEY_MAX], *val = NULL, *end;
	long long d;
	int ret;

	ret = store_key(f, "web:g:", token, key);
	if (ret < 0)
		return ret;
	ret = st->ops->kv_get(st->state, key, wgotp_flow_now(f), &val);
	if (ret < 0)
		return ret;
	d = strtoll(val, &end, 10);
	ret = *end || d < 0 ? -ENOENT : 0;
	free(val);
	if (ret < 0)
		return ret;
	/* the delete is what uses it: of two takes, one deletes, one gets -ENOENT */
	ret = st->ops->kv_del(st->state, key);
	if (ret == 0)
		*duration = d;
	return ret;
}

bool wgotp_websession_grant_pending(struct wgotp_flow *f, struct wgotp_store *st, const char *token)
{
	char key[KEY_MAX], *val = NULL;

	if (store_key(f, "web:g:", token, key) < 0)
		return false;
	if (st->ops->kv_get(st->state, key, wgotp_flow_now(f), &val) < 0)
		return false;
	free(val);
	return true;
}
