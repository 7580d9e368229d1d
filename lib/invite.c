// SPDX-License-Identifier: GPL-2.0-or-later
/* Invitations to enrol (invite.h) and the users.json edit lock. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "activator_client.h"
#include "encoding.h"
#include "invite.h"
#include "otp.h"
#include "secret.h"

#define LABEL "wgotp-invite"

/* RFC 3986: everything but the unreserved characters percent-encoded. */
static int pct_append(char *out, size_t len, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';

		if (*pos + (plain ? 1 : 3) >= len)
			return -ENOBUFS;
		if (plain) {
			out[(*pos)++] = (char)c;
		} else {
			out[(*pos)++] = '%';
			out[(*pos)++] = hex[c >> 4];
			out[(*pos)++] = hex[c & 15];
		}
	}
	out[*pos] = '\0';
	return 0;
}

static int raw_append(char *out, size_t len, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos + n >= len)
		return -ENOBUFS;
	memcpy(out + *pos, s, n + 1);
	*pos += n;
	return 0;
}

/* otpauth://totp/ISSUER:EMAIL?secret=...&issuer=...&algorithm=...&digits=...&period=... */
int wgotp_totp_uri(const struct wgotp_config *cfg, const char *email, const char *secret,
		    char *uri, size_t len)
{
	const char *issuer = cfg->issuer ? cfg->issuer : "wgotp";
	char tail[64];
	size_t pos = 0;
	int ret;

	snprintf(tail, sizeof(tail), "&algorithm=%s&digits=%d&period=%d", cfg->totp_algorithm,
		 cfg->totp_digits, cfg->totp_period);
	ret = raw_append(uri, len, &pos, "otpauth://totp/");
	ret = ret ?: pct_append(uri, len, &pos, issuer);
	ret = ret ?: raw_append(uri, len, &pos, ":");
	ret = ret ?: pct_append(uri, len, &pos, email);
	ret = ret ?: raw_append(uri, len, &pos, "?secret=");
	ret = ret ?: raw_append(uri, len, &pos, secret);
	ret = ret ?: raw_append(uri, len, &pos, "&issuer=");
	ret = ret ?: pct_append(uri, len, &pos, issuer);
	ret = ret ?: raw_append(uri, len, &pos, tail);
	return ret;
}

int wgotp_totp_params_of(const struct wgotp_config *cfg, struct wgotp_totp_params *p)
{
	p->digits = cfg->totp_digits;
	p->period = cfg->totp_period;
	p->window = cfg->totp_window;
	return wgotp_totp_alg_parse(cfg->totp_algorithm, &p->alg);
}


static bool hex_token_valid(const char *t)
{
	size_t i;

	if (!t)
		return false;
	for (i = 0; t[i]; i++)
		if (i >= WGOTP_INVITE_TOKEN_LEN || !((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return i == WGOTP_INVITE_TOKEN_LEN;
}

int wgotp_invite_from_json(struct json_object *v, struct wgotp_invite *inv)
{
	struct json_object *mac, *exp, *opened, *tries;
	const char *s;

	memset(inv, 0, sizeof(*inv));
	if (json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) < 2 ||
	    json_object_object_length(v) > 4 ||
	    !json_object_object_get_ex(v, "mac", &mac) || !json_object_is_type(mac, json_type_string) ||
	    !json_object_object_get_ex(v, "expires", &exp) || !json_object_is_type(exp, json_type_int))
		return -EINVAL;
	s = json_object_get_string(mac);
	if (!hex_token_valid(s))
		return -EINVAL;
	if (json_object_object_get_ex(v, "opened", &opened)) {
		if (!json_object_is_type(opened, json_type_boolean))
			return -EINVAL;
		inv->opened = json_object_get_boolean(opened);
	}
	if (json_object_object_get_ex(v, "tries", &tries)) {
		if (!json_object_is_type(tries, json_type_int) || json_object_get_int64(tries) < 0 ||
		    json_object_get_int64(tries) > WGOTP_INVITE_MAX_TRIES)
			return -EINVAL;
		inv->tries = (int)json_object_get_int64(tries);
	}
	/* every key must be one of the four */
	json_object_object_foreach(v, k, val) {
		(void)val;
		if (strcmp(k, "mac") && strcmp(k, "expires") && strcmp(k, "opened") && strcmp(k, "tries"))
			return -EINVAL;
	}
	memcpy(inv->mac, s, WGOTP_INVITE_TOKEN_LEN + 1);
	inv->expires = json_object_get_int64(exp);
	return 0;
}

struct json_object *wgotp_invite_to_json(const struct wgotp_invite *inv)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (json_object_object_add(o, "mac", json_object_new_string(inv->mac)) ||
	    json_object_object_add(o, "expires", json_object_new_int64(inv->expires)) ||
	    json_object_object_add(o, "opened", json_object_new_boolean(inv->opened)) ||
	    json_object_object_add(o, "tries", json_object_new_int(inv->tries))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static int token_mac(const struct wgotp_flow *f, const char *token, char hex[WGOTP_INVITE_TOKEN_LEN + 1])
{
	uint8_t mac[WGOTP_MAC_LEN];
	int ret;

	ret = wgotp_flow_mac(f, LABEL, token, mac);
	if (ret == 0)
		wgotp_hex_encode(mac, sizeof(mac), hex);
	wgotp_wipe(mac, sizeof(mac));
	return ret;
}

int wgotp_invite_new(const struct wgotp_flow *f, struct wgotp_user *u, int64_t lifetime,
		     char token[WGOTP_INVITE_TOKEN_LEN + 1])
{
	uint8_t raw[WGOTP_INVITE_TOKEN_LEN / 2];
	struct wgotp_invite inv = { .opened = false };
	int ret;

	ret = wgotp_random(raw, sizeof(raw));
	if (ret < 0)
		goto cleanup;
	wgotp_hex_encode(raw, sizeof(raw), token);
	ret = token_mac(f, token, inv.mac);
	if (ret < 0)
		goto cleanup;
	inv.expires = wgotp_flow_now(f) + lifetime;
	u->invite = inv;
	ret = 0;
cleanup:
	wgotp_wipe(raw, sizeof(raw));
	if (ret < 0)
		wgotp_wipe(token, WGOTP_INVITE_TOKEN_LEN + 1);
	return ret;
}

int wgotp_invite_find(const struct wgotp_flow *f, struct wgotp_directory *dir, const char *token,
		      int64_t now, struct wgotp_user **out)
{
	char hex[WGOTP_INVITE_TOKEN_LEN + 1];
	struct wgotp_user *found = NULL;
	size_t i;
	int ret;

	*out = NULL;
	if (!hex_token_valid(token))
		return -EINVAL;
	ret = token_mac(f, token, hex);
	if (ret < 0)
		return ret;
	for (i = 0; i < dir->n_users; i++) {
		struct wgotp_user *u = &dir->users[i];
		bool eq = wgotp_ct_equal(u->invite.mac, hex, WGOTP_INVITE_TOKEN_LEN);

		if (eq && u->invite.mac[0] && !found)
			found = u;
	}
	if (!found)
		return -ENOENT;
	*out = found;
	return found->invite.expires <= now ? -ETIME : 0;
}

bool wgotp_invite_pending(const struct wgotp_invite *inv, int64_t now)
{
	return inv->mac[0] && inv->expires > now;
}

void wgotp_json_wipe_strings(json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, v) {
		(void)k;
		if (json_object_is_type(v, json_type_string))
			wgotp_wipe((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
	}
}

int wgotp_dird_call(const struct wgotp_config *cfg, json_object *req, json_object **reply,
		    char *code, size_t code_len, struct wgotp_error *err)
{
	const struct wgotp_line_peer pe = {
		.path = cfg->dird_socket, .name = "wgotp-dird",
		.connect_timeout_ms = 2000, .reply_timeout_ms = 5000,
		.version = 1, .max_msg = 4096,
	};
	json_object *v;
	int ret;

	code[0] = '\0';
	ret = wgotp_line_call(&pe, req, reply, err);
	if (ret < 0)
		return ret;
	if (json_object_object_get_ex(*reply, "error", &v)) {
		snprintf(code, code_len, "%s", json_object_get_string(v));
		return -EINVAL;
	}
	return 0;
}

int wgotp_dir_lock(const char *path, struct wgotp_error *err)
{
	char *parent, *slash;
	int fd = -1, ret;

	parent = strdup(path);
	if (!parent)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	slash = strrchr(parent, '/');
	if (!slash)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		ret = wgotp_error_set(err, errno, "%s: cannot lock: %s", parent, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = ret;
	}
	free(parent);
	return fd;
}
