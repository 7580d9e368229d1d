// SPDX-License-Identifier: GPL-2.0-or-later
/* wgotp-dird's messages (dird.h, doc/dird-protocol.md): parsing only. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dird.h"
#include "secret.h"

static const char *const status_names[] = {
	[DIRD_OK] = "ok",
	[DIRD_E_JSON] = "bad_json",
	[DIRD_E_TOO_LARGE] = "too_large",
	[DIRD_E_VERSION] = "bad_version",
	[DIRD_E_OP] = "unknown_op",
	[DIRD_E_REQUEST] = "bad_request",
	[DIRD_E_FORBIDDEN] = "forbidden",
	[DIRD_E_TOKEN] = "bad_token",
	[DIRD_E_EXPIRED] = "expired",
	[DIRD_E_USED] = "used",
	[DIRD_E_NOT_OPENED] = "not_opened",
	[DIRD_E_CODE] = "wrong_code",
	[DIRD_E_REPLAY] = "replay",
	[DIRD_E_LIMITED] = "rate_limited",
	[DIRD_E_STATE] = "bad_state",
	[DIRD_E_USER] = "unknown_user",
	[DIRD_E_STORE] = "store",
	[DIRD_E_INTERNAL] = "internal",
};

const char *dird_status_name(enum dird_status st)
{
	if ((size_t)st >= sizeof(status_names) / sizeof(status_names[0]) || !status_names[st])
		return "internal";
	return status_names[st];
}

enum field { F_TOKEN = 1, F_USER = 2, F_CODE = 4 };

/* The fixed table: each op and the fields it takes (all required). The
 * requests for the admin console (issue 16) are not in it yet. */
static const struct {
	const char *name;
	enum dird_op op;
	unsigned int fields;
} ops[] = {
	{ "ping", DIRD_OP_PING, 0 },
	{ "invite_open", DIRD_OP_INVITE_OPEN, F_TOKEN },
	{ "totp_confirm", DIRD_OP_TOTP_CONFIRM, F_TOKEN | F_CODE },
	{ "totp_disable", DIRD_OP_TOTP_DISABLE, F_USER | F_CODE },
	{ "totp_reset", DIRD_OP_TOTP_RESET, F_USER | F_CODE },
};

static enum dird_status fail(char *out, size_t len, enum dird_status st, const char *msg)
{
	snprintf(out, len, "%s", msg);
	return st;
}

static bool copy_str(json_object *v, char *out, size_t size)
{
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n >= size || memchr(s, '\0', n))
		return false;
	memcpy(out, s, n + 1);
	return true;
}

enum dird_status dird_parse(const char *msg, size_t len, struct dird_request *req, char *out, size_t out_len)
{
	json_tokener *tok = NULL;
	json_object *o = NULL, *v;
	enum dird_status st;
	unsigned int want = 0, seen = 0;
	size_t i, n_keys = 0;
	bool op_found = false;

	memset(req, 0, sizeof(*req));
	if (len >= DIRD_MAX_MSG)
		return fail(out, out_len, DIRD_E_TOO_LARGE, "message too large");
	tok = json_tokener_new_ex(8);
	if (!tok)
		return fail(out, out_len, DIRD_E_INTERNAL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, msg, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object)) {
		st = fail(out, out_len, DIRD_E_JSON, "not one JSON object");
		goto cleanup;
	}
	if (!json_object_object_get_ex(o, "version", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) != DIRD_VERSION) {
		st = fail(out, out_len, DIRD_E_VERSION, "version must be 1");
		goto cleanup;
	}
	if (!json_object_object_get_ex(o, "op", &v) || !json_object_is_type(v, json_type_string)) {
		st = fail(out, out_len, DIRD_E_REQUEST, "no \"op\"");
		goto cleanup;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!strcmp(ops[i].name, json_object_get_string(v))) {
			req->op = ops[i].op;
			want = ops[i].fields;
			op_found = true;
		}
	}
	if (!op_found) {
		st = fail(out, out_len, DIRD_E_OP, "unknown op");
		goto cleanup;
	}
	json_object_object_foreach(o, k, val) {
		n_keys++;
		if (!strcmp(k, "version") || !strcmp(k, "op"))
			continue;
		if (!strcmp(k, "token") && (want & F_TOKEN) && copy_str(val, req->token, sizeof(req->token)))
			seen |= F_TOKEN;
		else if (!strcmp(k, "user") && (want & F_USER) && copy_str(val, req->user, sizeof(req->user)))
			seen |= F_USER;
		else if (!strcmp(k, "code") && (want & F_CODE) && copy_str(val, req->code, sizeof(req->code)))
			seen |= F_CODE;
		else {
			st = fail(out, out_len, DIRD_E_REQUEST, "unknown, mistyped or too long field");
			goto cleanup;
		}
	}
	if (seen != want || n_keys != 2 + (size_t)__builtin_popcount(want)) {
		st = fail(out, out_len, DIRD_E_REQUEST, "a field is missing");
		goto cleanup;
	}
	st = DIRD_OK;
cleanup:
	if (st != DIRD_OK)
		wgotp_wipe(req, sizeof(*req));
	json_object_put(o);
	json_tokener_free(tok);
	return st;
}

char *dird_reply(json_object *o, enum dird_status st, const char *message, size_t *len)
{
	const char *txt;
	char *line = NULL;
	size_t n = 0;

	*len = 0;
	if (!o)
		o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "version", json_object_new_int(DIRD_VERSION));
	if (st != DIRD_OK) {
		json_object_object_add(o, "error", json_object_new_string(dird_status_name(st)));
		json_object_object_add(o, "message", json_object_new_string(message ? message : ""));
	} else {
		json_object_object_add(o, "ok", json_object_new_boolean(1));
	}
	txt = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &n);
	if (txt && (line = malloc(n + 2))) {
		memcpy(line, txt, n);
		line[n] = '\n';
		line[n + 1] = '\0';
		*len = n + 1;
	}
	if (txt)
		wgotp_wipe((char *)txt, n);
	wgotp_json_wipe_strings(o);	/* a secret, a token */
	json_object_put(o);
	return line;
}

void dird_reply_free(char *line, size_t len)
{
	wgotp_freezero(line, len);
}
