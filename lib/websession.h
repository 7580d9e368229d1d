/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Browser sessions of the web front ends (wgotp-portal, later its admin
 * console): a random token in an HttpOnly cookie, and in the store a
 * record under an HMAC of that token made with the server key, never the
 * token itself. Any process with the same store and key recognises the
 * cookie (several portals share them, a restart keeps them); a copy of
 * the store alone opens nothing.
 *
 * A record is either pending (a login whose code has not been typed yet:
 * it holds the challenge id, which never leaves the server) or signed in.
 * Each carries its own CSRF token (a synchroniser token: random, stored
 * with the session, compared in constant time). A browser without a
 * session gets a CSRF token derived from its anonymous cookie, so that the
 * login itself is protected too.
 */
#ifndef WGOTP_WEBSESSION_H
#define WGOTP_WEBSESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "directory.h"
#include "flow.h"
#include "store.h"

#define WGOTP_WEB_TOKEN_LEN 64		/* hex of 32 random bytes */

enum wgotp_web_kind {
	WGOTP_WEB_PENDING = 1,		/* between login and a right code */
	WGOTP_WEB_SIGNED_IN = 2,
};

struct wgotp_websession {
	enum wgotp_web_kind kind;
	char origin[WGOTP_ORIGIN_MAX];	/* "portal", "console": a cookie never crosses */
	char user[WGOTP_EMAIL_MAX + 1];	/* pending: as typed; signed in: canonical */
	char csrf[WGOTP_WEB_TOKEN_LEN + 1];
	/* a challenge in progress (pending, or an Extend of a signed-in session) */
	char challenge_id[WGOTP_CHALLENGE_ID_LEN + 1];
	enum wgotp_method method;
	char device[WGOTP_DEVICE_NAME_MAX + 1];	/* Extend: the device, or "" */
	int64_t challenge_expires;
	int64_t created;
	int64_t expires;
};

/* Is this a well-formed token (64 lower-case hex digits)? */
bool wgotp_web_token_valid(const char *token);

/* A fresh random token. */
int wgotp_web_token_new(char token[WGOTP_WEB_TOKEN_LEN + 1]);

/* Store s under a new token (s->csrf is made here, s->created set to now;
 * s->expires must be set). */
int wgotp_websession_new(struct wgotp_flow *f, struct wgotp_store *st, struct wgotp_websession *s,
			 char token[WGOTP_WEB_TOKEN_LEN + 1]);
/* Replace the record of token (same expiry rules). */
int wgotp_websession_put(struct wgotp_flow *f, struct wgotp_store *st, const char *token,
			 const struct wgotp_websession *s);
/* -ENOENT: unknown, expired, revoked or from another origin; -EINVAL: not a token. */
int wgotp_websession_get(struct wgotp_flow *f, struct wgotp_store *st, const char *token,
			 const char *origin, struct wgotp_websession *out);
/* Revoke: 0 or -ENOENT. */
int wgotp_websession_del(struct wgotp_flow *f, struct wgotp_store *st, const char *token);

/* The CSRF token of a browser that has only an anonymous token. */
int wgotp_web_anon_csrf(struct wgotp_flow *f, const char *token, char out[WGOTP_WEB_TOKEN_LEN + 1]);
/* Constant-time comparison of a CSRF header with the expected token. */
bool wgotp_web_csrf_equal(const char *expected, const char *got);

/*
 * A grant: one activation of one device, left by a right code when the
 * user has several devices and must pick one. Bound to the session token,
 * short-lived, and used at most once: take deletes it, and of two takes
 * only one gets it.
 */
int wgotp_websession_grant_put(struct wgotp_flow *f, struct wgotp_store *st, const char *token,
			       int64_t duration, int64_t expires);
int wgotp_websession_grant_take(struct wgotp_flow *f, struct wgotp_store *st, const char *token,
				int64_t *duration);
/* Whether a grant is waiting (for the status page). */
bool wgotp_websession_grant_pending(struct wgotp_flow *f, struct wgotp_store *st, const char *token);

#endif
