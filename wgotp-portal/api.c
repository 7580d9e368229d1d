/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The portal's JSON API (doc/portal-api.md), one handler per path:
 *
 *   GET  /api/v1/status      who is signed in, the devices and their badges
 *   POST /api/v1/login       {"email"[, "code", "duration"]}   -> wgotp_begin
 *   POST /api/v1/answer      {"code"[, "duration"]}            -> wgotp_answer
 *   POST /api/v1/activate    {"device"}   the device a right code opens
 *   POST /api/v1/extend      {["device"]} a new code for a live session
 *   POST /api/v1/deactivate  {["device"]} ends sessions and the sign-in
 *   POST /api/v1/logout      {}
 *   GET  /api/v1/2fa/status  the signed-in user's TOTP state
 *   POST /api/v1/2fa/setup   {"token"} (an invitation) or {"code"} (signed in)
 *   POST /api/v1/2fa/verify  {"token", "code"}   verify to enable
 *   POST /api/v1/2fa/disable {"code"}            a current code (signed in)
 *
 * The challenge id never leaves the server: the browser holds only an
 * HttpOnly cookie whose token names a record in the store (websession.h).
 * Every POST carries the session's CSRF token in X-CSRF-Token.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activator_client.h"
#include "audit.h"
#include "body.h"
#include "invite.h"
#include "log.h"
#include "portal.h"
#include "qr.h"
#include "secret.h"
#include "stats.h"

struct call {
	struct portal *p;
	const struct portal_request *rq;
	struct portal_reply *rp;
	const struct wgotp_config *cfg;
	struct wgotp_flow *flow;
	struct wgotp_store *store;
	int64_t now;
	char token[WGOTP_WEB_TOKEN_LEN + 1];	/* the cookie's, "" if none */
	bool have_session;
	struct wgotp_websession s;
	struct pj_value v[PJ_MAX_FIELDS];
};

/* ---- replies ---------------------------------------------------------- */

static void reply_json(struct call *c, int status, json_object *o)
{
	const char *txt = o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : NULL;

	c->rp->api = true;
	c->rp->content_type = "application/json";
	free(c->rp->body);
	c->rp->body = txt ? strdup(txt) : NULL;
	if (!c->rp->body) {
		/* out of memory: a fixed reply */
		c->rp->status = 500;
		c->rp->body_static = true;
		c->rp->body = (char *)"{\"error\":\"internal\",\"message\":\"out of memory\"}";
	} else {
		c->rp->status = status;
	}
	c->rp->body_len = strlen(c->rp->body);
	json_object_put(o);
}

/* The one shape of every error: {"error":"code","message":"..."}. */
static void reply_error(struct call *c, int status, const char *code, const char *message)
{
	json_object *o = json_object_new_object();

	portal_stats_error(code);
	if (o) {
		json_object_object_add(o, "error", json_object_new_string(code));
		json_object_object_add(o, "message", json_object_new_string(message));
	}
	reply_json(c, status, o);
}

static void reply_unavailable(struct call *c, const char *what, int err)
{
	log_err("%s: %s", what, strerror(-err));
	reply_error(c, 503, "unavailable", "The service is not available right now. Try again in a minute.");
}

static void set_cookie(struct call *c, const char *token, int64_t max_age)
{
	struct portal_reply *rp = c->rp;

	if (rp->n_cookies >= PORTAL_MAX_COOKIES)
		return;
	/* __Host-: Secure, Path=/, no Domain, so no sibling host can set it */
	snprintf(rp->set_cookie[rp->n_cookies++], sizeof(rp->set_cookie[0]),
		 "%s=%s; Max-Age=%" PRId64 "; Path=/; Secure; HttpOnly; SameSite=Strict",
		 PORTAL_COOKIE, token, max_age);
}

static void audit(struct call *c, const char *event, const char *user, const char *result,
		  const char *reason, const char *device, int64_t duration)
{
	struct wgotp_audit a = {
		.event = event, .origin = PORTAL_ORIGIN, .user = user, .client = c->rq->client,
		.result = result, .reason = reason, .device = device, .duration = duration,
	};

	wgotp_audit(&a);
}

/* ---- helpers ---------------------------------------------------------- */

static bool duration_allowed(const struct wgotp_config *cfg, int64_t d)
{
	for (int i = 0; i < cfg->n_session_durations; i++) {
		if (cfg->session_durations[i] == d && d <= cfg->session_max)
			return true;
	}
	return false;
}

static int code_digits(const struct wgotp_config *cfg, enum wgotp_method m)
{
	return m == WGOTP_METHOD_EMAIL ? cfg->email_code_length : cfg->totp_digits;
}

static const char *method_name(enum wgotp_method m)
{
	return m == WGOTP_METHOD_EMAIL ? "email" : "totp";
}

/* The devices of a user, from users.json, and which a code opens. */
struct devlist {
	int n;
	int n_otp;			/* how many need a code */
	bool permanent[16];		/* needs no code: no session (No 2FA) */
	char name[16][WGOTP_DEVICE_NAME_MAX + 1];
	char key[16][WGOTP_KEY_B64_LEN + 1];
};

static void user_devices(struct call *c, const char *user, struct devlist *dl)
{
	const struct wgotp_directory *dir = wgotp_flow_dir_get(c->flow);
	const struct wgotp_user *u = dir ? wgotp_dir_find(dir, user) : NULL;

	memset(dl, 0, sizeof(*dl));
	if (u && u->enabled) {
		for (size_t i = 0; i < u->n_devices && dl->n < 16; i++) {
			dl->permanent[dl->n] = !wgotp_device_needs_otp(u, &u->devices[i]);
			dl->n_otp += !dl->permanent[dl->n];
			snprintf(dl->name[dl->n], sizeof(dl->name[0]), "%s", u->devices[i].name);
			memcpy(dl->key[dl->n], u->devices[i].public_key, sizeof(dl->key[0]));
			dl->n++;
		}
	}
	if (dir)
		wgotp_flow_dir_put(c->flow, dir);
}

static int devlist_find(const struct devlist *dl, const char *name)
{
	for (int i = 0; i < dl->n; i++) {
		if (!strcmp(dl->name[i], name))
			return i;
	}
	return -1;
}

static int do_activate(struct call *c, const char *user, const char *device, const char *key,
		       int64_t duration)
{
	struct wgotp_error err = { "" };
	int64_t expires = 0;
	int ret;

	ret = (c->p->activate ? c->p->activate : wgotp_activator_activate)(
		c->cfg, user, device, key, duration, PORTAL_ORIGIN, &expires, &err);
	audit(c, "portal_activate", user, ret == 0 ? "accept" : "error",
	      ret == 0 ? "ok" : strerror(-ret), device ? device : key, ret == 0 ? duration : 0);
	if (ret < 0 && ret != -ENODEV)
		log_err("activating %s: %s", user, err.msg[0] ? err.msg : strerror(-ret));
	return ret == -ENODEV ? 0 : ret;
}

/*
 * After a right code: open what it may open. The device the challenge was
 * for; else the user's one device; else a grant to pick one (one use,
 * PORTAL_GRANT_LIFETIME, bound to this sign-in's token).
 */
static int open_devices(struct call *c, const char *user, const char *key, int64_t duration)
{
	struct devlist dl;
	int ret;

	if (key && *key)
		return do_activate(c, user, NULL, key, duration);
	user_devices(c, user, &dl);
	if (dl.n_otp == 0)
		return 0;
	if (dl.n_otp == 1) {
		for (int i = 0; i < dl.n; i++)
			if (!dl.permanent[i])
				return do_activate(c, user, dl.name[i], NULL, duration);
	}
	ret = wgotp_websession_grant_put(c->flow, c->store, c->token, duration,
					 c->now + PORTAL_GRANT_LIFETIME);
	return ret;
}

/* ---- the status object ------------------------------------------------- */

static json_object *device_json(struct call *c, const struct devlist *dl, int i)
{
	json_object *d = json_object_new_object();
	struct wgotp_session s;
	int ret;

	json_object_object_add(d, "name", json_object_new_string(dl->name[i]));
	if (dl->permanent[i]) {
		json_object_object_add(d, "state", json_object_new_string("no_2fa"));
		return d;
	}
	ret = c->store->ops->session_get(c->store->state, c->s.user, dl->name[i], &s);
	if (ret == 0 && s.expires > c->now) {
		json_object_object_add(d, "state", json_object_new_string("active"));
		json_object_object_add(d, "expires", json_object_new_int64(s.expires));
		json_object_object_add(d, "left", json_object_new_int64(s.expires - c->now));
	} else {
		json_object_object_add(d, "state", json_object_new_string(ret == 0 || ret == -ENOENT ?
									   "inactive" : "unknown"));
	}
	return d;
}

static json_object *status_json(struct call *c, const char *anon_csrf)
{
	json_object *o = json_object_new_object(), *durs = json_object_new_array();
	const char *state = "anonymous";

	if (!o || !durs) {
		json_object_put(o);
		json_object_put(durs);
		return NULL;
	}
	if (c->have_session)
		state = c->s.kind == WGOTP_WEB_SIGNED_IN ? "signed_in" : "pending";
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "csrf", json_object_new_string(c->have_session ? c->s.csrf : anon_csrf));
	json_object_object_add(o, "company", json_object_new_string(c->p->company));
	for (int i = 0; i < c->cfg->n_session_durations; i++) {
		if (c->cfg->session_durations[i] <= c->cfg->session_max)
			json_object_array_add(durs, json_object_new_int64(c->cfg->session_durations[i]));
	}
	json_object_object_add(o, "durations", durs);
	json_object_object_add(o, "default_duration",
			       json_object_new_int64(wgotp_config_session_duration(c->cfg, 0)));
	json_object_object_add(o, "now", json_object_new_int64(c->now));
	if (!c->have_session)
		return o;
	if (c->s.challenge_id[0] && c->s.challenge_expires > c->now) {
		json_object *ch = json_object_new_object();

		json_object_object_add(ch, "method", json_object_new_string(method_name(c->s.method)));
		json_object_object_add(ch, "digits", json_object_new_int(code_digits(c->cfg, c->s.method)));
		if (c->s.device[0])
			json_object_object_add(ch, "device", json_object_new_string(c->s.device));
		json_object_object_add(o, "challenge", ch);
	}
	if (c->s.kind == WGOTP_WEB_SIGNED_IN) {
		json_object *arr = json_object_new_array();
		struct devlist dl;

		user_devices(c, c->s.user, &dl);
		json_object_object_add(o, "user", json_object_new_string(c->s.user));
		json_object_object_add(o, "session_expires", json_object_new_int64(c->s.expires));
		for (int i = 0; i < dl.n; i++)
			json_object_array_add(arr, device_json(c, &dl, i));
		json_object_object_add(o, "devices", arr);
		json_object_object_add(o, "choose_device", json_object_new_boolean(
			dl.n_otp > 1 &&
			wgotp_websession_grant_pending(c->flow, c->store, c->token)));
	}
	return o;
}

static void reply_status(struct call *c, int status)
{
	reply_json(c, status, status_json(c, ""));
}

/* ---- sessions ---------------------------------------------------------- */

static void drop_session(struct call *c)
{
	if (c->have_session)
		wgotp_websession_del(c->flow, c->store, c->token);
	c->have_session = false;
	memset(&c->s, 0, sizeof(c->s));
}

/* A new record under a new token (the old one is revoked: a sign-in
 * never keeps the token it had before it). */
static int new_session(struct call *c, struct wgotp_websession *s)
{
	int ret;

	drop_session(c);
	snprintf(s->origin, sizeof(s->origin), "%s", PORTAL_ORIGIN);
	ret = wgotp_websession_new(c->flow, c->store, s, c->token);
	if (ret < 0)
		return ret;
	c->s = *s;
	c->have_session = true;
	set_cookie(c, c->token, s->expires - c->now);
	return 0;
}

static int sign_in(struct call *c, const struct wgotp_result *res)
{
	struct wgotp_websession s = { .kind = WGOTP_WEB_SIGNED_IN };
	int ret;

	snprintf(s.user, sizeof(s.user), "%s", res->user);
	s.expires = c->now + c->cfg->portal_cookie_lifetime;
	ret = new_session(c, &s);
	if (ret < 0)
		return ret;
	audit(c, "portal_session", s.user, "accept", "signed_in", NULL, 0);
	return 0;
}

/* ---- handlers ---------------------------------------------------------- */

static void h_status(struct call *c)
{
	char csrf[WGOTP_WEB_TOKEN_LEN + 1] = "";
	int ret;

	if (!c->have_session) {
		if (!wgotp_web_token_valid(c->token)) {
			ret = wgotp_web_token_new(c->token);
			if (ret < 0)
				return reply_unavailable(c, "random", ret);
			set_cookie(c, c->token, c->cfg->portal_cookie_lifetime);
		}
		ret = wgotp_web_anon_csrf(c->flow, c->token, csrf);
		if (ret < 0)
			return reply_unavailable(c, "csrf", ret);
	}
	reply_json(c, 200, status_json(c, csrf));
}

static bool limited_reason(enum wgotp_reason r)
{
	return r == WGOTP_R_RATE_LIMITED || r == WGOTP_R_MAIL_LIMIT ||
	       r == WGOTP_R_CHALLENGE_RESENT_LIMIT || r == WGOTP_R_TOO_MANY_TRIES;
}

static void reply_limited(struct call *c, int seconds)
{
	c->rp->retry_after = seconds;
	reply_error(c, 429, "rate_limited", "Too many attempts. Wait a minute and try again.");
}

/* Per user, in the store (so every portal process counts together), for
 * every name typed: known or not, the same limit. */
static bool user_limited(struct call *c, const char *email)
{
	char key[WGOTP_EMAIL_MAX + 32];
	int64_t count = 0;
	int ret;

	if (c->cfg->portal_max_logins_per_user <= 0)
		return false;
	snprintf(key, sizeof(key), "portal:login:%s", email);
	for (char *k = key; *k; k++)
		*k = (char)tolower((unsigned char)*k);
	ret = c->store->ops->counter_take(c->store->state, key, c->now, 3600,
					  c->cfg->portal_max_logins_per_user, &count);
	if (ret == -EDQUOT) {
		audit(c, "portal_limit", email, "reject", "user_rate", NULL, 0);
		return true;
	}
	return false;
}

/* A challenge for the browser: its id goes into the session record only. */
static void challenge_into(struct call *c, struct wgotp_websession *s, const struct wgotp_result *res)
{
	int64_t life = c->cfg->email_code_lifetime > c->cfg->challenge_lifetime ?
		       c->cfg->email_code_lifetime : c->cfg->challenge_lifetime;

	memcpy(s->challenge_id, res->challenge_id, sizeof(s->challenge_id));
	s->method = res->method;
	s->challenge_expires = c->now + life;
}

static void reply_challenge(struct call *c, const struct wgotp_result *res)
{
	json_object *o = status_json(c, "");

	if (o)
		json_object_object_add(o, "prompt", json_object_new_string(res->prompt));
	reply_json(c, 200, o);
}

enum { L_EMAIL, L_CODE, L_DURATION };
static const struct pj_field login_schema[] = {
	[L_EMAIL] = { "email", PJ_STRING, true, WGOTP_EMAIL_MAX },
	[L_CODE] = { "code", PJ_STRING, false, 16 },
	[L_DURATION] = { "duration", PJ_INT, false, 0 },
};

static void h_login(struct call *c)
{
	struct wgotp_request req = {
		.user = c->v[L_EMAIL].str, .origin = PORTAL_ORIGIN, .client = c->rq->client,
	};
	struct wgotp_result res;
	int ret;

	if (!*req.user)
		return reply_error(c, 400, "bad_request", "Type your email address.");
	if (c->v[L_DURATION].present && !duration_allowed(c->cfg, c->v[L_DURATION].num))
		return reply_error(c, 400, "bad_duration", "Choose one of the offered session lengths.");
	if (user_limited(c, req.user))
		return reply_limited(c, 60);
	if (c->v[L_CODE].present) {
		/* one request with the code (an app, a script): as single-pass RADIUS */
		req.code = c->v[L_CODE].str;
		req.duration = c->v[L_DURATION].present ? c->v[L_DURATION].num : 0;
	}
	ret = wgotp_begin(c->flow, &req, &res);
	if (ret < 0)
		return reply_unavailable(c, "login", ret);
	if (res.verdict == WGOTP_CHALLENGE) {
		struct wgotp_websession s = { .kind = WGOTP_WEB_PENDING };

		snprintf(s.user, sizeof(s.user), "%s", req.user);
		challenge_into(c, &s, &res);
		s.expires = s.challenge_expires;
		ret = new_session(c, &s);
		if (ret < 0)
			return reply_unavailable(c, "session", ret);
		return reply_challenge(c, &res);
	}
	if (res.verdict == WGOTP_REJECT) {
		if (limited_reason(res.reason))
			return reply_limited(c, 60);
		return reply_error(c, 401, req.code ? "bad_code" : "rejected",
				   req.code ? "That code is not right." : "Sign-in is not possible.");
	}
	ret = sign_in(c, &res);
	if (ret < 0)
		return reply_unavailable(c, "session", ret);
	ret = open_devices(c, res.user, res.device, res.duration);
	if (ret < 0)
		return reply_unavailable(c, "activation", ret);
	reply_status(c, 200);
}

enum { A_CODE, A_DURATION };
static const struct pj_field answer_schema[] = {
	[A_CODE] = { "code", PJ_STRING, true, 16 },
	[A_DURATION] = { "duration", PJ_INT, false, 0 },
};

static void h_answer(struct call *c)
{
	struct wgotp_request req = { .origin = PORTAL_ORIGIN, .client = c->rq->client };
	char id[WGOTP_CHALLENGE_ID_LEN + 1];
	struct wgotp_result res;
	bool extend;
	int ret;

	if (!c->have_session || !c->s.challenge_id[0] || c->s.challenge_expires <= c->now)
		return reply_error(c, 409, "no_challenge", "Start again: type your email address.");
	if (c->v[A_DURATION].present && !duration_allowed(c->cfg, c->v[A_DURATION].num))
		return reply_error(c, 400, "bad_duration", "Choose one of the offered session lengths.");
	extend = c->s.kind == WGOTP_WEB_SIGNED_IN;
	req.user = c->s.user;
	req.duration = c->v[A_DURATION].present ? c->v[A_DURATION].num : 0;
	memcpy(id, c->s.challenge_id, sizeof(id));
	ret = wgotp_answer(c->flow, id, c->v[A_CODE].str, &req, &res);
	if (ret < 0)
		return reply_unavailable(c, "answer", ret);
	if (res.verdict != WGOTP_ACCEPT) {
		if (res.reason == WGOTP_R_EXPIRED || res.reason == WGOTP_R_UNKNOWN_CHALLENGE ||
		    res.reason == WGOTP_R_TOO_MANY_TRIES) {
			if (extend) {
				c->s.challenge_id[0] = '\0';
				c->s.device[0] = '\0';
				wgotp_websession_put(c->flow, c->store, c->token, &c->s);
			} else {
				drop_session(c);
				set_cookie(c, "", 0);
			}
			return reply_error(c, 409, "no_challenge", "That code has expired. Start again.");
		}
		if (res.reason == WGOTP_R_RATE_LIMITED)
			return reply_limited(c, 60);
		/* bad, malformed, replayed, or a decoy's: one reply for all */
		return reply_error(c, 401, "bad_code", "That code is not right.");
	}
	if (extend) {
		c->s.challenge_id[0] = '\0';
		c->s.device[0] = '\0';
		ret = wgotp_websession_put(c->flow, c->store, c->token, &c->s);
	} else {
		ret = sign_in(c, &res);
	}
	if (ret < 0)
		return reply_unavailable(c, "session", ret);
	if (extend && !res.device[0])
		/* an Extend of all the user's devices: that is what it asked for */
		ret = do_activate(c, res.user, NULL, NULL, res.duration);
	else
		ret = open_devices(c, res.user, res.device, res.duration);
	if (ret < 0)
		return reply_unavailable(c, "activation", ret);
	reply_status(c, 200);
}

enum { D_DEVICE };
static const struct pj_field device_schema[] = {
	[D_DEVICE] = { "device", PJ_STRING, true, WGOTP_DEVICE_NAME_MAX },
};
static const struct pj_field device_opt_schema[] = {
	[D_DEVICE] = { "device", PJ_STRING, false, WGOTP_DEVICE_NAME_MAX },
};

/* The named device of the signed-in user that a code opens: index or -1. */
static int own_device(struct call *c, struct devlist *dl, const char *name)
{
	int i;

	user_devices(c, c->s.user, dl);
	i = devlist_find(dl, name);
	return i >= 0 && !dl->permanent[i] ? i : -1;
}

static void h_activate(struct call *c)
{
	struct devlist dl;
	int64_t duration = 0;
	int i, ret;

	i = own_device(c, &dl, c->v[D_DEVICE].str);
	if (i < 0)
		return reply_error(c, 404, "unknown_device", "You have no such device that needs a code.");
	ret = wgotp_websession_grant_take(c->flow, c->store, c->token, &duration);
	if (ret == -ENOENT) {
		audit(c, "portal_activate", c->s.user, "reject", "no_grant", dl.name[i], 0);
		return reply_error(c, 409, "no_grant", "Type a new code to open a device.");
	}
	if (ret < 0)
		return reply_unavailable(c, "grant", ret);
	ret = do_activate(c, c->s.user, dl.name[i], NULL, duration);
	if (ret < 0)
		return reply_unavailable(c, "activation", ret);
	reply_status(c, 200);
}

static void h_extend(struct call *c)
{
	struct wgotp_request req = { .origin = PORTAL_ORIGIN, .client = c->rq->client };
	struct wgotp_result res;
	struct devlist dl;
	int i = -1, ret;

	if (c->v[D_DEVICE].present) {
		i = own_device(c, &dl, c->v[D_DEVICE].str);
		if (i < 0)
			return reply_error(c, 404, "unknown_device", "You have no such device that needs a code.");
		req.device = dl.key[i];
	}
	if (user_limited(c, c->s.user))
		return reply_limited(c, 60);
	req.user = c->s.user;
	ret = wgotp_begin(c->flow, &req, &res);
	if (ret < 0)
		return reply_unavailable(c, "extend", ret);
	if (res.verdict != WGOTP_CHALLENGE) {
		if (limited_reason(res.reason))
			return reply_limited(c, 60);
		return reply_error(c, 401, "rejected", "A new code cannot be sent now.");
	}
	challenge_into(c, &c->s, &res);
	snprintf(c->s.device, sizeof(c->s.device), "%s", i >= 0 ? dl.name[i] : "");
	ret = wgotp_websession_put(c->flow, c->store, c->token, &c->s);
	if (ret < 0)
		return reply_unavailable(c, "session", ret);
	reply_challenge(c, &res);
}

static void h_deactivate(struct call *c)
{
	struct wgotp_error err = { "" };
	struct devlist dl;
	const char *dev = NULL;
	json_object *o;
	int n = 0, i, ret;

	if (c->v[D_DEVICE].present) {
		i = own_device(c, &dl, c->v[D_DEVICE].str);
		if (i < 0)
			return reply_error(c, 404, "unknown_device", "You have no such device that needs a code.");
		dev = dl.name[i];
	}
	ret = (c->p->deactivate ? c->p->deactivate : wgotp_activator_deactivate)(
		c->cfg, c->s.user, dev, &n, &err);
	audit(c, "portal_deactivate", c->s.user, ret == 0 ? "accept" : "error",
	      ret == 0 ? "ok" : strerror(-ret), dev, 0);
	if (ret < 0 && ret != -ENODEV) {
		log_err("deactivating %s: %s", c->s.user, err.msg[0] ? err.msg : strerror(-ret));
		return reply_unavailable(c, "deactivation", ret);
	}
	/* the sign-in ends with the session it opened */
	audit(c, "portal_session", c->s.user, "accept", "revoked", NULL, 0);
	drop_session(c);
	set_cookie(c, "", 0);
	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string("anonymous"));
	json_object_object_add(o, "ended", json_object_new_int(n));
	reply_json(c, 200, o);
}

static void h_logout(struct call *c)
{
	json_object *o;

	if (c->have_session)
		audit(c, "portal_session", c->s.user, "accept", "logout", NULL, 0);
	drop_session(c);
	set_cookie(c, "", 0);
	o = json_object_new_object();
	json_object_object_add(o, "state", json_object_new_string("anonymous"));
	reply_json(c, 200, o);
}

/* ---- 2FA: enrolment by invitation, status, disable ---------------------- */

/* wgotp-dird does every change to users.json: the portal cannot write it. */
static int dird(struct call *c, json_object *req, json_object **reply, char *code, size_t len)
{
	struct wgotp_error err = { "" };
	int ret;

	*reply = NULL;
	ret = (c->p->dird ? c->p->dird : wgotp_dird_call)(c->cfg, req, reply, code, len, &err);
	if (ret < 0 && ret != -EINVAL)
		log_err("wgotp-dird: %s", err.msg);
	return ret;
}

static json_object *dird_req(const char *op, const char *k1, const char *v1, const char *k2,
			     const char *v2)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "op", json_object_new_string(op));
	if (k1)
		json_object_object_add(o, k1, json_object_new_string(v1));
	if (k2)
		json_object_object_add(o, k2, json_object_new_string(v2));
	return o;
}

/* A refusal of wgotp-dird as the page shows it. A bad, expired or used
 * link gets one neutral reply: the page does not say which. */
static void reply_dird_error(struct call *c, int ret, const char *code)
{
	if (ret != -EINVAL)
		return reply_unavailable(c, "wgotp-dird", ret);
	if (!strcmp(code, "bad_token") || !strcmp(code, "expired") || !strcmp(code, "used") ||
	    !strcmp(code, "not_opened"))
		return reply_error(c, 404, "invalid_invite",
				   "This link is not valid any more. Ask your administrator for a new one.");
	if (!strcmp(code, "wrong_code") || !strcmp(code, "replay"))
		return reply_error(c, 401, "bad_code", "That code is not right. Wait for the next one.");
	if (!strcmp(code, "rate_limited"))
		return reply_limited(c, 60);
	if (!strcmp(code, "bad_state"))
		return reply_error(c, 409, "not_enrolled", "No authenticator app is set up for this account.");
	return reply_unavailable(c, "wgotp-dird", -EIO);
}

/* {"user","secret","uri","qr": data: URL of an SVG} */
static json_object *setup_json(json_object *r)
{
	json_object *o = json_object_new_object(), *v;
	const char *uri = json_object_object_get_ex(r, "uri", &v) ? json_object_get_string(v) : "";
	char *svg = NULL, *b64 = NULL, *url = NULL;
	struct qr q = { 0 };
	size_t len = 0;

	if (!o)
		return NULL;
	if (json_object_object_get_ex(r, "user", &v))
		json_object_object_add(o, "user", json_object_get(v));
	if (json_object_object_get_ex(r, "secret", &v))
		json_object_object_add(o, "secret", json_object_get(v));
	json_object_object_add(o, "uri", json_object_new_string(uri));
	if (qr_encode(uri, &q) == 0 && qr_svg_text(&q, &svg, &len) == 0 &&
	    (b64 = malloc(4 * ((len + 2) / 3) + 1)) &&
	    EVP_EncodeBlock((unsigned char *)b64, (unsigned char *)svg, (int)len) >= 0 &&
	    asprintf(&url, "data:image/svg+xml;base64,%s", b64) >= 0) {
		json_object_object_add(o, "qr", json_object_new_string(url));
		wgotp_free_str(url);
	}
	qr_free(&q);
	wgotp_freezero(svg, len);
	wgotp_free_str(b64);
	return o;
}

static void h_2fa_status(struct call *c)
{
	const struct wgotp_directory *d;
	const struct wgotp_user *u;
	json_object *o;

	if (!c->have_session || c->s.kind != WGOTP_WEB_SIGNED_IN)
		return reply_error(c, 401, "not_signed_in", "Sign in first.");
	o = json_object_new_object();
	d = wgotp_flow_dir_get(c->flow);
	u = d ? wgotp_dir_find(d, c->s.user) : NULL;
	json_object_object_add(o, "user", json_object_new_string(c->s.user));
	json_object_object_add(o, "method", json_object_new_string(u ? method_name(u->method) : "email"));
	json_object_object_add(o, "totp", json_object_new_string(
		!u || u->method != WGOTP_METHOD_TOTP ? "none" :
		u->totp_state == WGOTP_TOTP_ACTIVE ? "active" :
		u->totp_state == WGOTP_TOTP_PENDING ? "pending" : "none"));
	json_object_object_add(o, "invite", json_object_new_boolean(u && wgotp_invite_pending(&u->invite, c->now)));
	wgotp_flow_dir_put(c->flow, d);
	reply_json(c, 200, o);
}

enum { S_TOKEN, S_CODE };
static const struct pj_field setup_schema[] = {
	[S_TOKEN] = { "token", PJ_STRING, false, WGOTP_INVITE_TOKEN_LEN },
	[S_CODE] = { "code", PJ_STRING, false, 16 },
};

/* With an invitation's token: its pending secret. Signed in, with a
 * current code instead: a new secret replacing the old (to confirm). */
static void h_2fa_setup(struct call *c)
{
	json_object *r = NULL, *o;
	char code[32];
	bool with_token = c->v[S_TOKEN].present;
	int ret;

	if (with_token == c->v[S_CODE].present)
		return reply_error(c, 400, "bad_request", "Send either the invitation's token or a current code.");
	if (with_token) {
		ret = dird(c, dird_req("invite_open", "token", c->v[S_TOKEN].str, NULL, NULL), &r, code,
			   sizeof(code));
	} else {
		if (!c->have_session || c->s.kind != WGOTP_WEB_SIGNED_IN)
			return reply_error(c, 401, "not_signed_in", "Sign in first.");
		ret = dird(c, dird_req("totp_reset", "user", c->s.user, "code", c->v[S_CODE].str), &r, code,
			   sizeof(code));
	}
	if (ret < 0) {
		audit(c, "portal_2fa_setup", NULL, "reject", code[0] ? code : "unavailable", NULL, 0);
		json_object_put(r);
		return reply_dird_error(c, ret, code);
	}
	o = setup_json(r);
	if (o && !with_token) {
		json_object *v;

		if (json_object_object_get_ex(r, "token", &v))
			json_object_object_add(o, "token", json_object_get(v));
	}
	reply_json(c, 200, o);
	wgotp_json_wipe_strings(r);	/* the secret, the token: shared with o */
	json_object_put(r);
}

enum { V_TOKEN, V_CODE };
static const struct pj_field verify_schema[] = {
	[V_TOKEN] = { "token", PJ_STRING, true, WGOTP_INVITE_TOKEN_LEN },
	[V_CODE] = { "code", PJ_STRING, true, 16 },
};

static void h_2fa_verify(struct call *c)
{
	json_object *r = NULL, *o;
	char code[32];
	int ret;

	ret = dird(c, dird_req("totp_confirm", "token", c->v[V_TOKEN].str, "code", c->v[V_CODE].str), &r,
		   code, sizeof(code));
	json_object_put(r);
	if (ret < 0)
		return reply_dird_error(c, ret, code);
	o = json_object_new_object();
	json_object_object_add(o, "totp", json_object_new_string("active"));
	reply_json(c, 200, o);
}

enum { D_CODE };
static const struct pj_field disable_schema[] = {
	[D_CODE] = { "code", PJ_STRING, true, 16 },
};

static void h_2fa_disable(struct call *c)
{
	json_object *r = NULL, *o;
	char code[32];
	int ret;

	ret = dird(c, dird_req("totp_disable", "user", c->s.user, "code", c->v[D_CODE].str), &r, code,
		   sizeof(code));
	json_object_put(r);
	if (ret < 0)
		return reply_dird_error(c, ret, code);
	o = json_object_new_object();
	json_object_object_add(o, "totp", json_object_new_string("none"));
	reply_json(c, 200, o);
}

/* ---- dispatch ---------------------------------------------------------- */

enum need { ANYONE, SIGNED_IN };

struct route {
	const char *method;
	const char *path;
	void (*fn)(struct call *c);
	enum need need;
	const struct pj_field *schema;
	size_t n_fields;
};

#define SCHEMA(s) s, sizeof(s) / sizeof(s[0])
static const struct route routes[] = {
	{ "GET", "/api/v1/status", h_status, ANYONE, NULL, 0 },
	{ "POST", "/api/v1/login", h_login, ANYONE, SCHEMA(login_schema) },
	{ "POST", "/api/v1/answer", h_answer, ANYONE, SCHEMA(answer_schema) },
	{ "POST", "/api/v1/activate", h_activate, SIGNED_IN, SCHEMA(device_schema) },
	{ "POST", "/api/v1/extend", h_extend, SIGNED_IN, SCHEMA(device_opt_schema) },
	{ "POST", "/api/v1/deactivate", h_deactivate, SIGNED_IN, SCHEMA(device_opt_schema) },
	{ "POST", "/api/v1/logout", h_logout, ANYONE, NULL, 0 },
	{ "GET", "/api/v1/2fa/status", h_2fa_status, ANYONE, NULL, 0 },
	{ "POST", "/api/v1/2fa/setup", h_2fa_setup, ANYONE, SCHEMA(setup_schema) },
	{ "POST", "/api/v1/2fa/verify", h_2fa_verify, ANYONE, SCHEMA(verify_schema) },
	{ "POST", "/api/v1/2fa/disable", h_2fa_disable, SIGNED_IN, SCHEMA(disable_schema) },
};

static bool is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (!ct || strncasecmp(ct, want, n))
		return false;
	ct += n;
	while (*ct == ' ')
		ct++;
	return !*ct || (*ct == ';' && (!strncasecmp(ct + 1, " charset=utf-8", 14) ||
				       !strncasecmp(ct + 1, "charset=utf-8", 13)));
}

static bool csrf_ok(struct call *c)
{
	char anon[WGOTP_WEB_TOKEN_LEN + 1];

	if (c->have_session)
		return wgotp_web_csrf_equal(c->s.csrf, c->rq->csrf);
	if (!wgotp_web_token_valid(c->token) || wgotp_web_anon_csrf(c->flow, c->token, anon) < 0)
		return false;
	return wgotp_web_csrf_equal(anon, c->rq->csrf);
}

static void api(struct call *c)
{
	const struct route *r = NULL;
	bool path_known = false;
	char why[160];
	int wait, ret;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, c->rq->path))
			continue;
		path_known = true;
		if (!strcmp(routes[i].method, c->rq->method))
			r = &routes[i];
	}
	if (!r && path_known) {
		c->rp->allow = strcmp(c->rq->path, "/api/v1/status") &&
			       strcmp(c->rq->path, "/api/v1/2fa/status") ? "POST" : "GET";
		return reply_error(c, 405, "method_not_allowed", "This method is not allowed here.");
	}
	if (!r)
		return reply_error(c, 404, "not_found", "No such API endpoint.");
	wait = portal_limits_hit(c->p->limits, c->rq->client, c->now, c->cfg->portal_max_requests_per_ip);
	if (wait > 0) {
		audit(c, "portal_limit", NULL, "reject", "ip_rate", NULL, 0);
		return reply_limited(c, wait);
	}

	ret = cookie_get(c->rq->cookie, PORTAL_COOKIE, c->token, sizeof(c->token));
	if (ret < 0 || !wgotp_web_token_valid(c->token))
		c->token[0] = '\0';
	if (c->token[0]) {
		ret = wgotp_websession_get(c->flow, c->store, c->token, PORTAL_ORIGIN, &c->s);
		if (ret == 0)
			c->have_session = true;
		else if (ret != -ENOENT)
			return reply_unavailable(c, "session", ret);
	}

	if (!strcmp(r->method, "POST")) {
		if (c->rq->body_too_large)
			return reply_error(c, 413, "payload_too_large", "The request body is too large.");
		if (!is_json_type(c->rq->content_type))
			return reply_error(c, 415, "unsupported_media_type",
					   "The body must be application/json.");
		ret = pj_parse(c->rq->body, c->rq->body_len, r->schema, r->n_fields, c->v, why, sizeof(why));
		if (ret == -ENOMEM)
			return reply_error(c, 500, "internal", "out of memory");
		if (ret < 0)
			return reply_error(c, 400, "bad_request", why);
		if (r->need == SIGNED_IN && (!c->have_session || c->s.kind != WGOTP_WEB_SIGNED_IN))
			return reply_error(c, 401, "not_signed_in", "Sign in first.");
		if (!csrf_ok(c)) {
			audit(c, "portal_csrf", c->have_session ? c->s.user : NULL, "reject", "bad_csrf",
			      NULL, 0);
			return reply_error(c, 403, "csrf", "The page is out of date: reload it.");
		}
	}
	r->fn(c);
}

static void reply_asset(struct call *c)
{
	const struct portal_asset *a;

	if (strcmp(c->rq->method, "GET") && strcmp(c->rq->method, "HEAD")) {
		c->rp->allow = "GET, HEAD";
		return reply_error(c, 405, "method_not_allowed", "This method is not allowed here.");
	}
	a = portal_asset_find(c->p, c->rq->path);
	if (!a) {
		c->rp->status = 404;
		c->rp->content_type = "text/plain; charset=utf-8";
		c->rp->body = (char *)"Not found\n";
		c->rp->body_len = strlen(c->rp->body);
		c->rp->body_static = true;
		return;
	}
	c->rp->status = 200;
	c->rp->content_type = a->type;
	c->rp->body = a->data;
	c->rp->body_len = a->len;
	c->rp->body_static = true;
}

void portal_handle(struct portal *p, const struct portal_request *rq, struct portal_reply *rp)
{
	struct call c = {
		.p = p, .rq = rq, .rp = rp, .cfg = p->fe->cfg, .flow = p->fe->flow,
		.store = p->fe->store, .now = wgotp_flow_now(p->fe->flow),
	};

	memset(rp, 0, sizeof(*rp));
	if (!strncmp(rq->path, "/api/", 5))
		api(&c);
	else
		reply_asset(&c);
	pj_values_free(c.v, PJ_MAX_FIELDS);
	wgotp_wipe(&c.s, sizeof(c.s));
	wgotp_wipe(c.token, sizeof(c.token));
}

void portal_reply_free(struct portal_reply *rp)
{
	if (!rp->body_static)
		free(rp->body);
	rp->body = NULL;
}

int portal_housekeeping(struct portal *p)
{
	struct wgotp_store *st = p->fe->store;

	return st->ops->expire(st->state, wgotp_flow_now(p->fe->flow));
}

int portal_new(struct wgotp_config *cfg, wgotp_clock_fn clock, void *clock_arg,
	       struct portal **out, struct wgotp_error *err)
{
	enum wgotp_frontend_stage stage;
	struct portal *p;
	int ret;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		wgotp_config_free(cfg);
		return wgotp_error_set(err, ENOMEM, "out of memory");
	}
	snprintf(p->company, sizeof(p->company), "%s",
		 cfg->portal_company ? cfg->portal_company : cfg->issuer ? cfg->issuer : "VPN");
	p->tls = cfg->portal_cert_file != NULL;
	ret = portal_assets_load(p, cfg->portal_assets_dir ? cfg->portal_assets_dir : ".", err);
	if (ret < 0) {
		wgotp_config_free(cfg);
		goto cleanup;
	}
	ret = portal_limits_new(&p->limits);
	if (ret < 0) {
		wgotp_config_free(cfg);
		wgotp_error_set(err, -ret, "out of memory");
		goto cleanup;
	}
	ret = wgotp_frontend_open(cfg, clock, clock_arg, &p->fe, &stage, err);
	if (ret < 0)
		goto cleanup;
	*out = p;
	p = NULL;
	ret = 0;
cleanup:
	portal_free(p);
	return ret;
}

void portal_free(struct portal *p)
{
	if (!p)
		return;
	wgotp_frontend_close(p->fe);
	portal_assets_free(p);
	portal_limits_free(p->limits);
	free(p);
}
