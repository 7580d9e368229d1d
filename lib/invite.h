/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Invitations to enrol an authenticator (wgotpctl invite, wgotp-dird).
 * The token is 32 random bytes in hex, mailed once in a link's fragment;
 * users.json keeps only HMAC(server key, "wgotp-invite" || 0 || token),
 * its expiry and whether it was opened, in the user's "invite" field:
 *   "invite": { "mac": "<64 hex>", "expires": 1767225600, "opened": false }
 * users.json is written only by wgotpctl and wgotp-dird (as root), so a
 * process that can read it but not write it (wgotp-portal) can neither
 * make an invitation nor revive a used one.
 */
#ifndef WGOTP_INVITE_H
#define WGOTP_INVITE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "directory.h"
#include "error.h"
#include "flow.h"
#include "otp.h"

#define WGOTP_INVITE_TOKEN_LEN 64	/* hex of 32 random bytes */
#define WGOTP_INVITE_MAX_TRIES 5	/* wrong codes before the invitation dies */

#define WGOTP_TOTP_URI_MAX 2048

/* otpauth://totp/ISSUER:EMAIL?secret=...&issuer=...&algorithm=...&digits=...&period=...
 * (what an authenticator app scans): 0 or -ENOBUFS. */
int wgotp_totp_uri(const struct wgotp_config *cfg, const char *email, const char *secret,
		   char *uri, size_t len);
/* [TOTP] as verification parameters: 0 or -EINVAL (unknown algorithm). */
int wgotp_totp_params_of(const struct wgotp_config *cfg, struct wgotp_totp_params *p);

/* Parse / format the "invite" field of a user (directory.c). */
int wgotp_invite_from_json(struct json_object *v, struct wgotp_invite *inv);
struct json_object *wgotp_invite_to_json(const struct wgotp_invite *inv);

/* A new invitation for u (replacing any): token out (the only copy),
 * u->invite set to expire at now + lifetime. */
int wgotp_invite_new(const struct wgotp_flow *f, struct wgotp_user *u, int64_t lifetime,
		     char token[WGOTP_INVITE_TOKEN_LEN + 1]);

/*
 * The user whose invitation this token is. Every user's MAC is compared
 * (constant time), whatever matched. -EINVAL (malformed), -ENOENT (no
 * such invitation), -ETIME (expired). The caller checks opened.
 */
int wgotp_invite_find(const struct wgotp_flow *f, struct wgotp_directory *dir, const char *token,
		      int64_t now, struct wgotp_user **out);

/* Is there a live invitation (for wgotpctl user show)? */
bool wgotp_invite_pending(const struct wgotp_invite *inv, int64_t now);

/*
 * One request to wgotp-dird ([Dird] Socket): req (consumed) gets
 * "version"; 0 with *reply (an object, put by the caller) when the daemon
 * answered ok; -EINVAL with *reply and code set to its "error" when it
 * refused; another negative errno (err set) when it could not be reached.
 */
int wgotp_dird_call(const struct wgotp_config *cfg, json_object *req, json_object **reply,
		    char *code, size_t code_len, struct wgotp_error *err);

/* Overwrite every string member of a flat object in place (a reply that
 * carried a secret or a token), before it is put. Accepts NULL. */
void wgotp_json_wipe_strings(json_object *o);

/* Lock the directory holding users.json for an edit (flock on the
 * directory, LOCK_EX: the file itself is replaced by rename on every
 * save). Returns the lock's descriptor (close it to release) or a
 * negative errno with err set. Every writer of users.json takes it. */
int wgotp_dir_lock(const char *path, struct wgotp_error *err);

#endif
