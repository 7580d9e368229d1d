/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control protocol (doc/activator-protocol.md): one JSON object per
 * line, at most PROTO_MAX_MSG bytes. This file only parses requests and
 * formats replies; it knows nothing of sockets, so a fuzzer can drive
 * proto_parse_request() with any buffer.
 */
#ifndef WGA_PROTO_H
#define WGA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "activator_client.h"
#include "cidr.h"
#include "directory.h"
#include "encoding.h"
#include "store.h"

#define PROTO_VERSION WGOTP_ACTIVATOR_PROTO_VERSION
#define PROTO_MAX_MSG WGOTP_ACTIVATOR_MAX_MSG
#define PROTO_MAX_IPS 32
#define PROTO_ID_MAX 128

enum proto_op {
	PROTO_OP_ACTIVATE,
	PROTO_OP_DEACTIVATE,
	PROTO_OP_LIST,
	PROTO_OP_PING,
};

/* Error codes on the wire; proto_status_name() gives the text. */
enum proto_status {
	PROTO_OK,
	PROTO_E_JSON,		/* "bad_json" */
	PROTO_E_TOO_LARGE,	/* "too_large" */
	PROTO_E_VERSION,	/* "bad_version" */
	PROTO_E_OP,		/* "unknown_op" */
	PROTO_E_REQUEST,	/* "bad_request": missing, extra or mistyped field */
	PROTO_E_KEY,		/* "bad_key" */
	PROTO_E_CIDR,		/* "bad_cidr" */
	PROTO_E_DURATION,	/* "bad_duration" */
	PROTO_E_USER,		/* "unknown_user" */
	PROTO_E_DEVICE,		/* "unknown_device" */
	PROTO_E_FORBIDDEN,	/* "forbidden" */
	PROTO_E_WIREGUARD,	/* "wireguard" */
	PROTO_E_STORE,		/* "store" */
	PROTO_E_INTERNAL,	/* "internal" */
};

struct proto_request {
	enum proto_op op;
	json_object *id;		/* echoed as is, or NULL (a reference) */
	char user[WGOTP_EMAIL_MAX + 1];	/* "" when absent */
	char device[WGOTP_DEVICE_NAME_MAX + 1];	/* "" when absent */
	char public_key[WGOTP_KEY_B64_LEN + 1];	/* "" when absent */
	uint8_t key[WGOTP_KEY_LEN];	/* decoded public_key */
	struct wgotp_cidr ips[PROTO_MAX_IPS];
	size_t n_ips;
	bool has_ips;			/* allowed_ips was given */
	int64_t duration;		/* 0 = default */
	char origin[WGOTP_ORIGIN_MAX];	/* "" when absent */
	bool shorten;			/* may set an earlier deadline (admin, portal) */
};

struct proto_error {
	enum proto_status status;
	char msg[256];
};

const char *proto_status_name(enum proto_status st);
const char *proto_op_name(enum proto_op op);

/*
 * Parse one message (without its newline; need not be NUL-terminated).
 * 0 and *req filled, or -EINVAL with perr set. On success the caller
 * releases req with proto_request_release().
 */
int proto_parse_request(const char *buf, size_t len, struct proto_request *req,
			struct proto_error *perr);
void proto_request_release(struct proto_request *req);

/* Replies: a JSON object begun with version, ok and the request id. The
 * caller adds fields and serialises with proto_reply_finish(), which
 * returns a malloc'ed line ending in '\n' (NULL on out-of-memory). */
json_object *proto_reply_new(const struct proto_request *req /* may be NULL */);
json_object *proto_error_reply(const struct proto_request *req, enum proto_status st,
			       const char *msg);
json_object *proto_session_json(const struct wgotp_session *s);
char *proto_reply_finish(json_object *reply, size_t *len);

#endif
