/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one login flow shared by every front end (RADIUS, PAM, wgotpctl).
 *
 *   begin(request)          -> ACCEPT | CHALLENGE (prompt, id) | REJECT
 *   answer(id, code, ...)   -> ACCEPT | REJECT
 *
 * An unknown, disabled or unenrolled user gets the same kind of challenge
 * as a known one and never a mail, so the replies do not tell who exists.
 * The reject reason is for the audit log, never for the user.
 *
 * Thread-safe: one wgotp_flow may serve many threads at once.
 */
#ifndef WGOTP_FLOW_H
#define WGOTP_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "error.h"
#include "mailer.h"
#include "store.h"

enum wgotp_verdict {
	WGOTP_ACCEPT,
	WGOTP_CHALLENGE,
	WGOTP_REJECT,
};

enum wgotp_reason {
	WGOTP_R_OK,
	WGOTP_R_CHALLENGE_SENT,		/* email code mailed */
	WGOTP_R_CHALLENGE_RESENT_LIMIT,	/* a code was mailed < ResendInterval ago: reject */
	WGOTP_R_CHALLENGE_TOTP,		/* asked for the authenticator code */
	WGOTP_R_BAD_CODE,
	WGOTP_R_BAD_FORMAT,		/* not `digits` digits */
	WGOTP_R_REPLAY,
	WGOTP_R_EXPIRED,
	WGOTP_R_TOO_MANY_TRIES,
	WGOTP_R_RATE_LIMITED,
	WGOTP_R_MAIL_LIMIT,		/* hourly mail cap reached */
	WGOTP_R_UNKNOWN_USER,
	WGOTP_R_DISABLED,
	WGOTP_R_NOT_ENROLLED,
	WGOTP_R_UNKNOWN_CHALLENGE,
	WGOTP_R_UNKNOWN_DEVICE,		/* asked for a device the user has not */
	WGOTP_R_AFTER_CUTOFF,		/* at or after [Session] NotAfter: no session today */
	WGOTP_R_UNKNOWN_GROUP,		/* users.json names a group wgotp.conf has not */
};
#define WGOTP_N_REASONS (WGOTP_R_UNKNOWN_GROUP + 1)	/* keep with the last reason */

const char *wgotp_reason_str(enum wgotp_reason r);

/*
 * What a front end may tell the user about a reject, in one sentence.
 * It says only what a decoy's reply would say too (never "unknown user"
 * or "disabled"): every front end shows the same words.
 */
const char *wgotp_reason_message(enum wgotp_reason r);

struct wgotp_request {
	const char *user;		/* as typed; matched case-insensitively */
	const char *code;		/* single pass (may be NULL or "") */
	const char *origin;		/* "radius", "pam", "admin" */
	const char *client;		/* NAS address, rhost, tty: audit only */
	const char *device;		/* public key asked for, or NULL: all */
	int64_t duration;		/* seconds asked for; 0 = default */
	/* Directory data supplied by the front end (RADIUS control attributes
	 * from ldap/sql): used instead of users.json when non-NULL. */
	const struct wgotp_user *user_override;
};

#define WGOTP_PROMPT_MAX 320

struct wgotp_result {
	enum wgotp_verdict verdict;
	enum wgotp_reason reason;
	/* CHALLENGE */
	char challenge_id[WGOTP_CHALLENGE_ID_LEN + 1];
	char prompt[WGOTP_PROMPT_MAX];	/* for the user: no secret */
	enum wgotp_method method;
	/* ACCEPT */
	char user[WGOTP_EMAIL_MAX + 1];	/* canonical (lower-case) */
	int64_t duration;		/* seconds, after policy */
	int64_t expires;		/* now + duration, or NotAfter if earlier */
	char device[WGOTP_KEY_B64_LEN + 1];	/* "" = all the user's devices */
};

typedef int64_t (*wgotp_clock_fn)(void *arg);

struct wgotp_flow;

/*
 * Create a flow over an open store. The directory cache is opened from
 * cfg->directory; the server key is read from cfg->server_key_file. The
 * flow takes ownership of the mailer (mailer may be NULL: email users
 * then fail with -ENOSYS). clock may be NULL for time(2).
 */
int wgotp_flow_new(const struct wgotp_config *cfg, struct wgotp_store *store,
		   struct wgotp_mailer *mailer, wgotp_clock_fn clock, void *clock_arg,
		   struct wgotp_flow **out, struct wgotp_error *err);
void wgotp_flow_free(struct wgotp_flow *f);

/* Returns 0 with res filled, or a negative errno when the store or mailer
 * failed (the front end fails closed: RLM_MODULE_FAIL, PAM_AUTHINFO_UNAVAIL). */
int wgotp_begin(struct wgotp_flow *f, const struct wgotp_request *req, struct wgotp_result *res);
int wgotp_answer(struct wgotp_flow *f, const char *challenge_id, const char *code,
		 const struct wgotp_request *req, struct wgotp_result *res);

/* The user as the directory has it (a reference held until the next call
 * on this thread would be unsafe: use the snapshot API below instead). */
const struct wgotp_directory *wgotp_flow_dir_get(struct wgotp_flow *f);
void wgotp_flow_dir_put(struct wgotp_flow *f, const struct wgotp_directory *d);

int64_t wgotp_flow_now(const struct wgotp_flow *f);

/* HMAC-SHA256 under the server key of label || 0 || data: how a front end
 * keeps a token it must recognise without storing it (portal cookies). */
int wgotp_flow_mac(const struct wgotp_flow *f, const char *label, const char *data,
		   uint8_t mac[32]);
const struct wgotp_config *wgotp_flow_config(const struct wgotp_flow *f);

#endif
