// SPDX-License-Identifier: GPL-2.0-or-later
/* Control protocol: parse requests, format replies (see proto.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define PROTO_MAX_DEPTH 8

static const char *const status_names[] = {
	[PROTO_OK] = "ok",
	[PROTO_E_JSON] = "bad_json",
	[PROTO_E_TOO_LARGE] = "too_large",
	[PROTO_E_VERSION] = "bad_version",
	[PROTO_E_OP] = "unknown_op",
	[PROTO_E_REQUEST] = "bad_request",
	[PROTO_E_KEY] = "bad_key",
	[PROTO_E_CIDR] = "bad_cidr",
	[PROTO_E_DURATION] = "bad_duration",
	[PROTO_E_USER] = "unknown_user",
	[PROTO_E_DEVICE] = "unknown_device",
	[PROTO_E_FORBIDDEN] = "forbidden",
	[PROTO_E_WIREGUARD] = "wireguard",
	[PROTO_E_STORE] = "store",
	[PROTO_E_INTERNAL] = "internal",
};

const char *proto_status_name(enum proto_status st)
{
	if ((size_t)st >= sizeof(status_names) / sizeof(status_names[0]) || !status_names[st])
		return "internal";
	return status_names[st];
}

/* Which fields each operation takes (OpenSSH monitor style: a fixed table,
 * anything else is refused). */
enum {
	F_USER = 1 << 0,
	F_DEVICE = 1 << 1,
	F_KEY = 1 << 2,
	F_IPS = 1 << 3,
	F_DURATION = 1 << 4,
	F_ORIGIN = 1 << 5,
	F_SHORTEN = 1 << 6,
};

static const struct {
	const char *name;
	enum proto_op op;
	unsigned int allowed;
	unsigned int required;
} ops[] = {
	{ "activate", PROTO_OP_ACTIVATE, F_USER | F_DEVICE | F_KEY | F_IPS | F_DURATION | F_ORIGIN | F_SHORTEN,
	  F_USER },
	{ "deactivate", PROTO_OP_DEACTIVATE, F_USER | F_DEVICE | F_KEY | F_ORIGIN, F_USER },
	{ "list", PROTO_OP_LIST, F_USER, 0 },
	{ "ping", PROTO_OP_PING, 0, 0 },
};

static const struct {
	const char *name;
	unsigned int flag;
} fields[] = {
	{ "user", F_USER },
	{ "device", F_DEVICE },
	{ "public_key", F_KEY },
	{ "allowed_ips", F_IPS },
	{ "duration", F_DURATION },
	{ "origin", F_ORIGIN },
	{ "shorten", F_SHORTEN },
};

const char *proto_op_name(enum proto_op op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

__attribute__((format(printf, 3, 4)))
static int perr_set(struct proto_error *perr, enum proto_status st, const char *fmt, ...)
{
	va_list ap;

	perr->status = st;
	va_start(ap, fmt);
	vsnprintf(perr->msg, sizeof(perr->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A string field: no NUL inside, at most max-1 bytes, printable ASCII
 * only (names, emails, keys and origins are all ASCII). */
static int get_str(json_object *v, const char *name, char *out, size_t max,
		   struct proto_error *perr)
{
	const char *s;
	int len;

	if (!json_object_is_type(v, json_type_string))
		return perr_set(perr, PROTO_E_REQUEST, "\"%s\" must be a string", name);
	s = json_object_get_string(v);
	len = json_object_get_string_len(v);
	if (len <= 0)
		return perr_set(perr, PROTO_E_REQUEST, "\"%s\" is empty", name);
	if ((size_t)len >= max)
		return perr_set(perr, PROTO_E_REQUEST, "\"%s\" is longer than %zu characters",
				name, max - 1);
	for (int i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return perr_set(perr, PROTO_E_REQUEST,
					"\"%s\" may only hold printable ASCII without spaces", name);
	memcpy(out, s, (size_t)len);
	out[len] = '\0';
	return 0;
}

static int parse_ips(json_object *v, struct proto_request *req, struct proto_error *perr)
{
	size_t n;
	char buf[64];
	int ret;

	if (!json_object_is_type(v, json_type_array))
		return perr_set(perr, PROTO_E_REQUEST, "\"allowed_ips\" must be an array of strings");
	n = json_object_array_length(v);
	if (n == 0 || n > PROTO_MAX_IPS)
		return perr_set(perr, PROTO_E_REQUEST, "\"allowed_ips\" must hold 1 to %d prefixes",
				PROTO_MAX_IPS);
	for (size_t i = 0; i < n; i++) {
		ret = get_str(json_object_array_get_idx(v, i), "allowed_ips", buf, sizeof(buf), perr);
		if (ret < 0)
			return ret;
		if (wgotp_cidr_parse(buf, &req->ips[i]) < 0)
			return perr_set(perr, PROTO_E_CIDR, "invalid prefix \"%s\" in \"allowed_ips\"", buf);
	}
	req->n_ips = n;
	req->has_ips = true;
	return 0;
}

static int parse_field(const char *name, json_object *v, unsigned int flag,
		       struct proto_request *req, struct proto_error *perr)
{
	int ret;

	switch (flag) {
	case F_USER:
		return get_str(v, name, req->user, sizeof(req->user), perr);
	case F_DEVICE:
		return get_str(v, name, req->device, sizeof(req->device), perr);
	case F_ORIGIN:
		return get_str(v, name, req->origin, sizeof(req->origin), perr);
	case F_KEY:
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) != WGOTP_KEY_B64_LEN ||
		    wgotp_key_from_base64(req->key, json_object_get_string(v)) < 0)
			return perr_set(perr, PROTO_E_KEY,
					"\"public_key\" is not a WireGuard key (44 characters of base64)");
		memcpy(req->public_key, json_object_get_string(v), WGOTP_KEY_B64_LEN);
		req->public_key[WGOTP_KEY_B64_LEN] = '\0';
		return 0;
	case F_IPS:
		return parse_ips(v, req, perr);
	case F_DURATION:
		if (!json_object_is_type(v, json_type_int))
			return perr_set(perr, PROTO_E_DURATION, "\"duration\" must be an integer (seconds)");
		errno = 0;
		req->duration = json_object_get_int64(v);
		if (errno || req->duration < 0)
			return perr_set(perr, PROTO_E_DURATION, "\"duration\" must be 0 or more seconds");
		return 0;
	case F_SHORTEN:
		if (!json_object_is_type(v, json_type_boolean))
			return perr_set(perr, PROTO_E_REQUEST, "\"shorten\" must be true or false");
		req->shorten = json_object_get_boolean(v);
		return 0;
	}
	ret = perr_set(perr, PROTO_E_INTERNAL, "field table");
	return ret;
}

int proto_parse_request(const char *buf, size_t len, struct proto_request *req,
			struct proto_error *perr)
{
	json_tokener *tok = NULL;
	json_object *root = NULL, *v;
	enum json_tokener_error jerr;
	const char *opname;
	unsigned int seen = 0;
	size_t k = 0;
	int64_t version;
	int ret = -EINVAL;

	memset(req, 0, sizeof(*req));
	perr->status = PROTO_OK;
	perr->msg[0] = '\0';

	if (len >= PROTO_MAX_MSG) {
		ret = perr_set(perr, PROTO_E_TOO_LARGE, "message longer than %d bytes", PROTO_MAX_MSG);
		goto cleanup;
	}
	if (memchr(buf, '\0', len)) {
		ret = perr_set(perr, PROTO_E_JSON, "NUL byte in message");
		goto cleanup;
	}
	tok = json_tokener_new_ex(PROTO_MAX_DEPTH);
	if (!tok) {
		ret = perr_set(perr, PROTO_E_INTERNAL, "out of memory");
		goto cleanup;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		ret = perr_set(perr, PROTO_E_JSON, "incomplete JSON");
		goto cleanup;
	}
	if (!root || jerr != json_tokener_success) {
		ret = perr_set(perr, PROTO_E_JSON, "invalid JSON: %s", json_tokener_error_desc(jerr));
		goto cleanup;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r') {
			ret = perr_set(perr, PROTO_E_JSON, "text after the JSON object");
			goto cleanup;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		ret = perr_set(perr, PROTO_E_JSON, "the message must be a JSON object");
		goto cleanup;
	}

	/* The id first, so every later error can echo it. */
	if (json_object_object_get_ex(root, "id", &v)) {
		if (!(json_object_is_type(v, json_type_int) ||
		      (json_object_is_type(v, json_type_string) &&
		       json_object_get_string_len(v) <= PROTO_ID_MAX))) {
			ret = perr_set(perr, PROTO_E_REQUEST,
				       "\"id\" must be an integer or a string of at most %d characters",
				       PROTO_ID_MAX);
			goto cleanup;
		}
		req->id = json_object_get(v);
	}

	if (!json_object_object_get_ex(root, "version", &v)) {
		ret = perr_set(perr, PROTO_E_VERSION, "\"version\" is missing (this daemon speaks %d)",
			       PROTO_VERSION);
		goto cleanup;
	}
	version = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
	if (version != PROTO_VERSION) {
		ret = perr_set(perr, PROTO_E_VERSION, "unsupported \"version\" (this daemon speaks %d)",
			       PROTO_VERSION);
		goto cleanup;
	}

	if (!json_object_object_get_ex(root, "op", &v) || !json_object_is_type(v, json_type_string)) {
		ret = perr_set(perr, PROTO_E_OP, "\"op\" is missing or not a string");
		goto cleanup;
	}
	opname = json_object_get_string(v);
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (strcmp(ops[k].name, opname) == 0)
			break;
	if (k == sizeof(ops) / sizeof(ops[0])) {
		ret = perr_set(perr, PROTO_E_OP,
			       "unknown \"op\" (activate, deactivate, list or ping)");
		goto cleanup;
	}
	req->op = ops[k].op;

	json_object_object_foreach(root, name, val) {
		unsigned int flag = 0;

		if (!strcmp(name, "version") || !strcmp(name, "op") || !strcmp(name, "id"))
			continue;
		for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
			if (strcmp(fields[f].name, name) == 0)
				flag = fields[f].flag;
		if (!(flag & ops[k].allowed)) {
			char q[48];

			snprintf(q, sizeof(q), "%s", name);
			for (char *p = q; *p; p++)
				if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '"')
					*p = '?';
			ret = perr_set(perr, PROTO_E_REQUEST, "\"%s\" takes no field \"%s\"",
				       ops[k].name, q);
			goto cleanup;
		}
		ret = parse_field(name, val, flag, req, perr);
		if (ret < 0)
			goto cleanup;
		seen |= flag;
	}
	if ((seen & ops[k].required) != ops[k].required) {
		ret = perr_set(perr, PROTO_E_REQUEST, "\"%s\" needs \"user\"", ops[k].name);
		goto cleanup;
	}
	if ((seen & F_DEVICE) && (seen & F_KEY)) {
		ret = perr_set(perr, PROTO_E_REQUEST, "give \"device\" or \"public_key\", not both");
		goto cleanup;
	}
	if ((seen & F_IPS) && !(seen & (F_DEVICE | F_KEY))) {
		ret = perr_set(perr, PROTO_E_REQUEST,
			       "\"allowed_ips\" needs one device (\"device\" or \"public_key\")");
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (ret < 0) {
		/* keep the id for the error reply; drop everything else */
		json_object *id = req->id;

		memset(req, 0, sizeof(*req));
		req->id = id;
	}
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return ret;
}

void proto_request_release(struct proto_request *req)
{
	if (!req)
		return;
	json_object_put(req->id);
	req->id = NULL;
}

json_object *proto_reply_new(const struct proto_request *req)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "version", json_object_new_int(PROTO_VERSION));
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	if (req && req->id)
		json_object_object_add(o, "id", json_object_get(req->id));
	return o;
}

json_object *proto_error_reply(const struct proto_request *req, enum proto_status st,
			       const char *msg)
{
	json_object *o = proto_reply_new(req);

	if (!o)
		return NULL;
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(proto_status_name(st)));
	json_object_object_add(o, "message", json_object_new_string(msg ? msg : ""));
	return o;
}

json_object *proto_session_json(const struct wgotp_session *s)
{
	json_object *o = json_object_new_object(), *ips;
	char buf[sizeof(s->allowed_ips)], *save = NULL, *p;

	if (!o)
		return NULL;
	json_object_object_add(o, "user", json_object_new_string(s->user));
	json_object_object_add(o, "device", json_object_new_string(s->device));
	json_object_object_add(o, "public_key", json_object_new_string(s->public_key));
	ips = json_object_new_array();
	snprintf(buf, sizeof(buf), "%s", s->allowed_ips);
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
		json_object_array_add(ips, json_object_new_string(p));
	json_object_object_add(o, "allowed_ips", ips);
	json_object_object_add(o, "created", json_object_new_int64(s->created));
	json_object_object_add(o, "expires", json_object_new_int64(s->expires));
	json_object_object_add(o, "origin", json_object_new_string(s->origin));
	return o;
}

char *proto_reply_finish(json_object *reply, size_t *len)
{
	const char *s;
	size_t n;
	char *out = NULL;

	if (!reply)
		return NULL;
	s = json_object_to_json_string_length(reply, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s) {
		out = malloc(n + 2);
		if (out) {
			memcpy(out, s, n);
			out[n] = '\n';
			out[n + 1] = '\0';
			*len = n + 1;
		}
	}
	json_object_put(reply);
	return out;
}
