// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotp-dird's table of requests (dird.h). Each one loads users.json
 * under the edit lock every writer takes (wgotp_dir_lock: wgotpctl too),
 * checks its own authority, changes one user and saves atomically, so an
 * edit by wgotpctl at the same moment is never lost.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "dird.h"
#include "log.h"
#include "otp.h"
#include "peercred.h"
#include "secret.h"

#define SECRET_BYTES 20
#define SECRET_B32_MAX 64
#define ORIGIN "portal"

struct edit {
	struct wgotp_directory *dir;
	int lock;
};

struct ctx {
	struct dird *d;
	const struct dird_request *rq;
	const struct ucred *cr;
	char client[32];
	json_object *out;		/* the reply's fields */
	char msg[256];
};

bool dird_peer_allowed(const struct wgotp_config *cfg, int fd, const struct ucred *cr)
{
	return wgotp_peer_allowed(fd, cr, cfg->dird_allowed_uids, cfg->n_dird_allowed_uids,
				  cfg->dird_allowed_gids, cfg->n_dird_allowed_gids);
}

static void audit(struct ctx *c, const char *event, const char *user, const char *result,
		  const char *reason)
{
	struct wgotp_audit a = {
		.event = event, .origin = ORIGIN, .user = user, .client = c->client,
		.method = "totp", .result = result, .reason = reason,
	};

	wgotp_audit(&a);
}

static enum dird_status edit_open(struct ctx *c, struct edit *e)
{
	struct wgotp_error err = { "" };
	const char *path = c->d->cfg->directory;
	int ret;

	e->dir = NULL;
	e->lock = wgotp_dir_lock(path, &err);
	if (e->lock < 0) {
		log_err("%s", err.msg);
		return DIRD_E_INTERNAL;
	}
	ret = wgotp_dir_load(path, &e->dir, &err);
	if (ret < 0) {
		log_err("%s", err.msg[0] ? err.msg : strerror(-ret));
		close(e->lock);
		e->lock = -1;
		return DIRD_E_INTERNAL;
	}
	return DIRD_OK;
}

static enum dird_status edit_commit(struct edit *e, const char *path)
{
	struct wgotp_error err = { "" };
	int ret = wgotp_dir_save(e->dir, path, &err);

	if (ret < 0) {
		log_err("%s", err.msg[0] ? err.msg : strerror(-ret));
		return DIRD_E_INTERNAL;
	}
	return DIRD_OK;
}

static void edit_close(struct edit *e)
{
	wgotp_dir_free(e->dir);
	e->dir = NULL;
	if (e->lock >= 0)
		close(e->lock);
	e->lock = -1;
}

/* The code against secret, with the replay step and the failure counter
 * in the store (a second use of a code, or too many wrong ones, fail). */
static enum dird_status check_code(struct ctx *c, const char *user, const char *secret)
{
	char key[WGOTP_EMAIL_MAX + 32];
	uint64_t steps[WGOTP_TOTP_MAX_STEPS], used = 0;
	struct wgotp_totp_params p;
	size_t n = 0;
	struct wgotp_totp_attempt a = {
		.user = user, .fail_key = key, .steps = steps,
		.now = wgotp_flow_now(c->d->flow),
		.window = c->d->cfg->ratelimit_window,
		.max_failures = c->d->cfg->ratelimit_max_failures,
	};
	int ret;

	snprintf(key, sizeof(key), "fail:%s", user);	/* the login flow's counter */
	if (wgotp_totp_params_of(c->d->cfg, &p) < 0)
		return DIRD_E_INTERNAL;
	if (wgotp_code_check_format(c->rq->code, p.digits) < 0)
		return DIRD_E_CODE;
	ret = wgotp_totp_match_b32(secret, &p, a.now, c->rq->code, steps, WGOTP_TOTP_MAX_STEPS, &n);
	if (ret < 0)
		n = 0;
	a.n_steps = n;
	ret = wgotp_store_totp_attempt(c->d->store, &a, &used);
	wgotp_wipe(steps, sizeof(steps));
	switch (ret) {
	case 0:
		return DIRD_OK;
	case -EDQUOT:
		return DIRD_E_LIMITED;
	case -EALREADY:
		return DIRD_E_REPLAY;
	case -EACCES:
		return DIRD_E_CODE;
	default:
		log_err("store: %s", strerror(-ret));
		return DIRD_E_STORE;
	}
}

static enum dird_status find_invite(struct ctx *c, struct edit *e, struct wgotp_user **u)
{
	int ret = wgotp_invite_find(c->d->flow, e->dir, c->rq->token, wgotp_flow_now(c->d->flow), u);

	if (ret == -ETIME)
		return DIRD_E_EXPIRED;
	/* a user who is disabled or no TOTP user (any more) has no invitation */
	if (ret == -ENOENT || ret == -EINVAL ||
	    (ret == 0 && ((*u)->method != WGOTP_METHOD_TOTP || !(*u)->enabled)))
		return DIRD_E_TOKEN;
	return ret < 0 ? DIRD_E_INTERNAL : DIRD_OK;
}

static enum dird_status new_secret_into(struct ctx *c, struct wgotp_user *u)
{
	char secret[SECRET_B32_MAX + 1] = "", uri[WGOTP_TOTP_URI_MAX] = "";
	enum dird_status st = DIRD_E_INTERNAL;

	if (wgotp_totp_new_secret(SECRET_BYTES, secret, sizeof(secret)) < 0 ||
	    wgotp_totp_uri(c->d->cfg, u->email, secret, uri, sizeof(uri)) < 0 ||
	    wgotp_user_set_totp(u, secret, WGOTP_TOTP_PENDING) < 0)
		goto cleanup;
	json_object_object_add(c->out, "user", json_object_new_string(u->email));
	json_object_object_add(c->out, "secret", json_object_new_string(secret));
	json_object_object_add(c->out, "uri", json_object_new_string(uri));
	st = DIRD_OK;
cleanup:
	wgotp_wipe(secret, sizeof(secret));
	wgotp_wipe(uri, sizeof(uri));
	return st;
}

/* An invitation token gives a new pending secret to its one user, once. */
static enum dird_status op_invite_open(struct ctx *c)
{
	struct edit e = { .lock = -1 };
	struct wgotp_user *u = NULL;
	enum dird_status st;

	st = edit_open(c, &e);
	if (st != DIRD_OK)
		return st;
	st = find_invite(c, &e, &u);
	/* opened once; or the admin enrolled the user meanwhile: an old link
	 * must not replace an active secret */
	if (st == DIRD_OK && (u->invite.opened || u->totp_state == WGOTP_TOTP_ACTIVE))
		st = DIRD_E_USED;
	if (st != DIRD_OK) {
		audit(c, "invite_open", u ? u->email : NULL, "reject", dird_status_name(st));
		goto cleanup;
	}
	st = new_secret_into(c, u);
	if (st != DIRD_OK)
		goto cleanup;
	u->invite.opened = true;
	u->invite.tries = 0;
	st = edit_commit(&e, c->d->cfg->directory);
	if (st == DIRD_OK)
		audit(c, "invite_open", u->email, "accept", "ok");
cleanup:
	edit_close(&e);
	return st;
}

/* The code from the app proves it has the pending secret: active. */
static enum dird_status op_totp_confirm(struct ctx *c)
{
	struct edit e = { .lock = -1 };
	struct wgotp_user *u = NULL;
	enum dird_status st;

	st = edit_open(c, &e);
	if (st != DIRD_OK)
		return st;
	st = find_invite(c, &e, &u);
	if (st == DIRD_OK && (!u->invite.opened || u->totp_state != WGOTP_TOTP_PENDING || !u->totp_secret))
		st = DIRD_E_NOT_OPENED;
	if (st != DIRD_OK) {
		audit(c, "totp_confirm", u ? u->email : NULL, "reject", dird_status_name(st));
		goto cleanup;
	}
	st = check_code(c, u->email, u->totp_secret);
	if (st == DIRD_E_CODE || st == DIRD_E_REPLAY || st == DIRD_E_LIMITED) {
		audit(c, "totp_confirm", u->email, "reject", dird_status_name(st));
		/* a wrong code counts against the invitation: it dies at the fifth */
		if (st == DIRD_E_CODE && ++u->invite.tries >= WGOTP_INVITE_MAX_TRIES) {
			memset(&u->invite, 0, sizeof(u->invite));
			wgotp_user_set_totp(u, NULL, WGOTP_TOTP_NONE);
		}
		if (edit_commit(&e, c->d->cfg->directory) != DIRD_OK)
			st = DIRD_E_INTERNAL;
		goto cleanup;
	}
	if (st != DIRD_OK)
		goto cleanup;
	u->totp_state = WGOTP_TOTP_ACTIVE;
	memset(&u->invite, 0, sizeof(u->invite));
	st = edit_commit(&e, c->d->cfg->directory);
	if (st == DIRD_OK) {
		audit(c, "totp_confirm", u->email, "accept", "ok");
		json_object_object_add(c->out, "user", json_object_new_string(u->email));
	}
cleanup:
	edit_close(&e);
	return st;
}

/* A current code from the active secret: the secret goes (disable), or a
 * new pending one comes with a new invitation to confirm it (reset). */
static enum dird_status op_totp_off(struct ctx *c, bool reset)
{
	const char *event = reset ? "totp_reset" : "totp_disable";
	char token[WGOTP_INVITE_TOKEN_LEN + 1] = "";
	struct edit e = { .lock = -1 };
	struct wgotp_user *u;
	enum dird_status st;

	st = edit_open(c, &e);
	if (st != DIRD_OK)
		return st;
	u = wgotp_dir_find(e.dir, c->rq->user);
	if (!u || !u->enabled) {
		st = DIRD_E_USER;
	} else if (u->method != WGOTP_METHOD_TOTP || u->totp_state != WGOTP_TOTP_ACTIVE ||
		   !u->totp_secret) {
		st = DIRD_E_STATE;
	} else {
		st = check_code(c, u->email, u->totp_secret);
	}
	if (st != DIRD_OK) {
		audit(c, event, u ? u->email : c->rq->user, "reject", dird_status_name(st));
		goto cleanup;
	}
	if (reset) {
		if (wgotp_invite_new(c->d->flow, u, c->d->cfg->invite_lifetime, token) < 0) {
			st = DIRD_E_INTERNAL;
			goto cleanup;
		}
		st = new_secret_into(c, u);
		if (st != DIRD_OK)
			goto cleanup;
		u->invite.opened = true;
		json_object_object_add(c->out, "token", json_object_new_string(token));
	} else {
		wgotp_user_set_totp(u, NULL, WGOTP_TOTP_NONE);
		memset(&u->invite, 0, sizeof(u->invite));
	}
	st = edit_commit(&e, c->d->cfg->directory);
	if (st == DIRD_OK)
		audit(c, event, u->email, "accept", "ok");
cleanup:
	wgotp_wipe(token, sizeof(token));
	edit_close(&e);
	return st;
}

char *dird_handle(struct dird *d, const struct ucred *cr, int fd, const char *msg, size_t len,
		  size_t *reply_len)
{
	struct dird_request rq;
	struct ctx c = { .d = d, .rq = &rq, .cr = cr };
	enum dird_status st;
	char *line;

	snprintf(c.client, sizeof(c.client), "uid=%u", (unsigned int)cr->uid);
	c.out = json_object_new_object();
	if (!dird_peer_allowed(d->cfg, fd, cr)) {
		memset(&rq, 0, sizeof(rq));
		st = DIRD_E_FORBIDDEN;
		snprintf(c.msg, sizeof(c.msg), "this uid/gid may not use wgotp-dird");
		goto reply;
	}
	st = dird_parse(msg, len, &rq, c.msg, sizeof(c.msg));
	if (st != DIRD_OK || !c.out)
		goto reply;
	switch (rq.op) {
	case DIRD_OP_PING:
		st = DIRD_OK;
		break;
	case DIRD_OP_INVITE_OPEN:
		st = op_invite_open(&c);
		break;
	case DIRD_OP_TOTP_CONFIRM:
		st = op_totp_confirm(&c);
		break;
	case DIRD_OP_TOTP_DISABLE:
		st = op_totp_off(&c, false);
		break;
	case DIRD_OP_TOTP_RESET:
		st = op_totp_off(&c, true);
		break;
	}
	if (st != DIRD_OK)
		snprintf(c.msg, sizeof(c.msg), "%s", dird_status_name(st));
reply:
	if (st != DIRD_OK) {
		/* an error carries no field of a half-done request */
		json_object_put(c.out);
		c.out = NULL;
	}
	line = dird_reply(c.out, st, c.msg, reply_len);
	wgotp_wipe(&rq, sizeof(rq));
	return line;
}
