/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotp-dird: the one process that edits users.json on behalf of the
 * unprivileged wgotp-portal (OpenSSH's monitor in spirit). It runs as
 * root, listens on a unix socket whose callers are checked with
 * SO_PEERCRED against [Dird] AllowedUsers / AllowedGroups, and answers a
 * FIXED table of requests (doc/dird-protocol.md). Each request proves its
 * own authority: an invitation token checked against its HMAC in
 * users.json, or a TOTP code the daemon verifies itself. The caller's
 * word ("I am alice") is never enough.
 *
 * proto.c parses and formats messages (no sockets: the fuzz target);
 * ops.c holds the table of requests; main.c the socket and its loop.
 */
#ifndef WGOTP_DIRD_H
#define WGOTP_DIRD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "conf.h"
#include "directory.h"
#include "flow.h"
#include "invite.h"
#include "store.h"

#define DIRD_VERSION 1
#define DIRD_MAX_MSG 4096		/* bytes, one message, newline included */
#define DIRD_CODE_MAX 10

enum dird_op {
	DIRD_OP_PING,
	DIRD_OP_INVITE_OPEN,
	DIRD_OP_TOTP_CONFIRM,
	DIRD_OP_TOTP_DISABLE,
	DIRD_OP_TOTP_RESET,
};

enum dird_status {
	DIRD_OK,
	DIRD_E_JSON,		/* "bad_json" */
	DIRD_E_TOO_LARGE,	/* "too_large" */
	DIRD_E_VERSION,		/* "bad_version" */
	DIRD_E_OP,		/* "unknown_op" */
	DIRD_E_REQUEST,		/* "bad_request" */
	DIRD_E_FORBIDDEN,	/* "forbidden" */
	DIRD_E_TOKEN,		/* "bad_token": no such invitation */
	DIRD_E_EXPIRED,		/* "expired" */
	DIRD_E_USED,		/* "used": opened already (invite_open) */
	DIRD_E_NOT_OPENED,	/* "not_opened" (totp_confirm before invite_open) */
	DIRD_E_CODE,		/* "wrong_code" */
	DIRD_E_REPLAY,		/* "replay" */
	DIRD_E_LIMITED,		/* "rate_limited" */
	DIRD_E_STATE,		/* "bad_state": no active TOTP (disable, reset) */
	DIRD_E_USER,		/* "unknown_user" */
	DIRD_E_STORE,		/* "store" */
	DIRD_E_INTERNAL,	/* "internal" */
};

struct dird_request {
	enum dird_op op;
	char token[WGOTP_INVITE_TOKEN_LEN + 1];	/* "" when absent */
	char user[WGOTP_EMAIL_MAX + 1];
	char code[DIRD_CODE_MAX + 1];
};

const char *dird_status_name(enum dird_status st);

/* proto.c: one message (no newline; need not be NUL-terminated) into req.
 * DIRD_OK, or a status with msg set. Wipes nothing: the caller wipes req. */
enum dird_status dird_parse(const char *msg, size_t len, struct dird_request *req,
			    char *msg_out, size_t msg_len);
/* One reply line (with its newline, NUL-terminated) from o (consumed,
 * may be NULL: {}) and st; "version" and, for an error, "error" and
 * "message" are added. NULL on out of memory. The text is wiped by
 * dird_reply_free. */
char *dird_reply(json_object *o, enum dird_status st, const char *message, size_t *len);
void dird_reply_free(char *line, size_t len);

struct dird {
	const struct wgotp_config *cfg;
	struct wgotp_flow *flow;		/* server key, clock */
	struct wgotp_store *store;		/* replay steps, failure counters */
};

/* Is this caller allowed by [Dird] AllowedUsers / AllowedGroups? fd:
 * the connection, for its groups (-1: the primary gid only). */
bool dird_peer_allowed(const struct wgotp_config *cfg, int fd, const struct ucred *cr);

/* ops.c: one message from a caller (fd as above), one reply line
 * (dird_reply). */
char *dird_handle(struct dird *d, const struct ucred *cr, int fd, const char *msg, size_t len,
		  size_t *reply_len);

#endif
