/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pam_wgotp: the one-time code of wgotp as a PAM module.
 *
 *   auth     required  pam_wgotp.so config=/etc/wgotp/wgotp.conf domain=example.com
 *   session  optional  pam_wgotp.so config=/etc/wgotp/wgotp.conf domain=example.com deactivate_on_close
 *
 * Glue only: the decision is lib/'s login flow, shared with rlm_wgotp
 * (the same store, so a code used over one is a replay over the other).
 * Configuration and store are opened per call: sshd forks per
 * connection, and the flow keeps nothing a later call would need.
 *
 * Return codes, chosen on purpose:
 *   PAM_SUCCESS           the code was right (and the devices activated)
 *   PAM_AUTH_ERR          wrong, malformed, replayed or expired code;
 *                         disabled user
 *   PAM_USER_UNKNOWN      not in the directory (after the same prompt a
 *                         known user gets, unless UnknownUser = reject)
 *   PAM_IGNORE            nullok, and the user has no usable enrolment
 *   PAM_MAXTRIES          rate limit, tries or mail limit reached
 *   PAM_AUTHINFO_UNAVAIL  store, mail transport or wg-activator unreachable
 *   PAM_CONV_ERR          the conversation failed or gave no answer
 *   PAM_SERVICE_ERR       a bad argument, configuration, server key or
 *                         users.json: an administrator must act
 *   PAM_BUF_ERR           out of memory (a module never aborts)
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>

#include "activator_client.h"
#include "args.h"
#include "conv.h"
#include "frontend.h"
#include "pam_wgotp.h"
#include "secret.h"

#define PAM_WGOTP_EXPORT __attribute__((visibility("default")))

struct call {
	pam_handle_t *pamh;
	int flags;
	struct pam_wgotp_args args;
	char user[WGOTP_EMAIL_MAX + 1];		/* the directory user */
	const char *client;			/* rhost or tty: audit only */
	struct wgotp_frontend *fe;
};

#ifdef PAM_WGOTP_TESTING
/* The test build reads the time from WGOTP_PAM_TEST_NOW, so that tests
 * and the benchmark run at exact instants. Never in the installed module. */
static int64_t test_clock(void *arg)
{
	const char *s = getenv("WGOTP_PAM_TEST_NOW");

	return s && *s ? strtoll(s, NULL, 10) : (int64_t)time(NULL);
}
#define CLOCK test_clock
#else
#define CLOCK NULL
#endif

static int call_begin(struct call *c, pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	char why[160];

	memset(c, 0, sizeof(*c));
	c->pamh = pamh;
	c->flags = flags;
	if (pam_wgotp_args_parse(argc, argv, &c->args, why, sizeof(why)) < 0) {
		pam_wgotp_log_begin(pamh, false);
		pam_syslog(pamh, LOG_ERR, "%s: refusing to run", why);
		return PAM_SERVICE_ERR;
	}
	pam_wgotp_log_begin(pamh, c->args.debug);
	return PAM_SUCCESS;
}

static void call_end(struct call *c)
{
	wgotp_frontend_close(c->fe);
	c->fe = NULL;
	pam_wgotp_log_end();
}

static int get_user(struct call *c)
{
	const char *pam_user = NULL;
	int ret;

	ret = pam_get_user(c->pamh, &pam_user, NULL);
	if (ret != PAM_SUCCESS)
		return ret == PAM_CONV_AGAIN ? PAM_INCOMPLETE : ret;
	if (pam_wgotp_map_user(&c->args, pam_user, c->user, sizeof(c->user)) < 0) {
		pam_syslog(c->pamh, LOG_NOTICE, "user name unusable (empty or too long)");
		return PAM_USER_UNKNOWN;
	}
	return PAM_SUCCESS;
}

static int load_config(struct call *c, struct wgotp_config **cfg)
{
	struct wgotp_error err = { "" };
	int ret;

	ret = wgotp_config_load(c->args.config, cfg, &err);
	if (ret == -ENOMEM)
		return PAM_BUF_ERR;
	if (ret < 0) {
		pam_syslog(c->pamh, LOG_ERR, "%s", err.msg[0] ? err.msg : strerror(-ret));
		return PAM_SERVICE_ERR;
	}
	return PAM_SUCCESS;
}

static int open_frontend(struct call *c)
{
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err = { "" };
	enum wgotp_frontend_stage stage;
	int ret;

	ret = load_config(c, &cfg);
	if (ret != PAM_SUCCESS)
		return ret;
	ret = wgotp_frontend_open(cfg, CLOCK, NULL, &c->fe, &stage, &err);
	if (ret == 0)
		return PAM_SUCCESS;
	pam_syslog(c->pamh, LOG_ERR, "%s: %s", c->args.config, err.msg[0] ? err.msg : strerror(-ret));
	if (ret == -ENOMEM)
		return PAM_BUF_ERR;
	return stage == WGOTP_FE_FLOW ? PAM_SERVICE_ERR : PAM_AUTHINFO_UNAVAIL;
}

/* What the directory says about the user, for nullok and use_first_pass. */
struct enrolment {
	bool usable;		/* would get a real challenge */
	bool nothing;		/* absent, or TOTP never confirmed (not: disabled) */
	bool email;
};

static void look_up(struct call *c, struct enrolment *e)
{
	const struct wgotp_directory *dir = wgotp_flow_dir_get(c->fe->flow);
	const struct wgotp_user *u = dir ? wgotp_dir_find(dir, c->user) : NULL;

	memset(e, 0, sizeof(*e));
	if (!u) {
		e->nothing = true;
	} else if (u->method == WGOTP_METHOD_EMAIL) {
		e->email = true;
		e->usable = u->enabled;
	} else if (u->totp_state != WGOTP_TOTP_ACTIVE || !u->totp_secret) {
		e->nothing = u->enabled;
	} else {
		e->usable = u->enabled;
	}
	if (dir)
		wgotp_flow_dir_put(c->fe->flow, dir);
}

static int reject_code(enum wgotp_reason r)
{
	switch (r) {
	case WGOTP_R_UNKNOWN_USER:
		return PAM_USER_UNKNOWN;
	case WGOTP_R_RATE_LIMITED:
	case WGOTP_R_TOO_MANY_TRIES:
	case WGOTP_R_MAIL_LIMIT:
		return PAM_MAXTRIES;
	default:
		return PAM_AUTH_ERR;
	}
}

/* A PAM_AUTHTOK worth trying as a TOTP code: digits only, the right count. */
static bool looks_like_code(const char *tok, int digits)
{
	size_t n = 0;

	for (; tok && *tok; tok++, n++) {
		if (*tok < '0' || *tok > '9')
			return false;
	}
	return n == (size_t)digits;
}

static int activate(struct call *c, const struct wgotp_result *res)
{
	const struct wgotp_config *cfg = c->fe->cfg;
	struct wgotp_error err = { "" };
	char msg[128], when[40];
	int64_t expires = 0;
	struct tm tm;
	time_t t;
	int ret;

	ret = wgotp_activator_activate(cfg, res->user, NULL, NULL, res->duration, "pam",
				       &expires, &err);
	if (ret == -ENODEV) {
		pam_syslog(c->pamh, LOG_NOTICE, "%s has no WireGuard device to activate", res->user);
		return PAM_SUCCESS;
	}
	if (ret == -ENOMEM)
		return PAM_BUF_ERR;
	if (ret < 0) {
		pam_syslog(c->pamh, LOG_ERR, "activating %s: %s", res->user,
			   err.msg[0] ? err.msg : strerror(-ret));
		return PAM_AUTHINFO_UNAVAIL;
	}
	pam_syslog(c->pamh, LOG_INFO, "activated the devices of %s", res->user);
	if (expires > 0) {
		t = (time_t)expires;
		if (gmtime_r(&t, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm)) {
			snprintf(msg, sizeof(msg), "VPN access granted until %s", when);
			pam_wgotp_info(c->pamh, c->flags, msg);
		}
	}
	return PAM_SUCCESS;
}

/* Prompt for the code of a challenge and answer it; res is overwritten. */
static int prompt_and_answer(struct call *c, const struct wgotp_request *req, struct wgotp_result *res)
{
	char id[sizeof(res->challenge_id)];
	char *answer = NULL;
	int ret;

	if (res->method == WGOTP_METHOD_EMAIL) {
		/* "Enter the code sent to a***e@example.com": no secret. */
		ret = pam_wgotp_info(c->pamh, c->flags, res->prompt);
		if (ret != PAM_SUCCESS)
			goto cleanup;
	}
	ret = pam_wgotp_ask(c->pamh, c->args.prompt, &answer);
	if (ret != PAM_SUCCESS) {
		pam_syslog(c->pamh, LOG_NOTICE, "no answer to the code prompt for %s", c->user);
		goto cleanup;
	}
	memcpy(id, res->challenge_id, sizeof(id));
	ret = wgotp_answer(c->fe->flow, id, answer, req, res) < 0 ? PAM_AUTHINFO_UNAVAIL : PAM_SUCCESS;
cleanup:
	wgotp_free_str(answer);
	return ret;
}

static int authenticate(struct call *c)
{
	struct wgotp_request req = { 0 };
	struct wgotp_result res;
	struct enrolment e;
	const void *item = NULL;
	const char *tok = NULL;
	int ret;

	ret = get_user(c);
	if (ret != PAM_SUCCESS)
		return ret;
	ret = open_frontend(c);
	if (ret != PAM_SUCCESS)
		return ret;
	look_up(c, &e);
	if (c->args.nullok && e.nothing) {
		pam_syslog(c->pamh, LOG_INFO, "%s has no one-time code enrolment: ignored (nullok)",
			   c->user);
		return PAM_IGNORE;
	}
	if (pam_get_item(c->pamh, PAM_RHOST, &item) == PAM_SUCCESS && item && *(const char *)item)
		c->client = item;
	else if (pam_get_item(c->pamh, PAM_TTY, &item) == PAM_SUCCESS && item)
		c->client = item;

	if (c->args.first_pass != PAM_WGOTP_PROMPT) {
		item = NULL;
		if (pam_get_item(c->pamh, PAM_AUTHTOK, &item) != PAM_SUCCESS)
			item = NULL;
		tok = item;
		if (c->args.first_pass == PAM_WGOTP_USE_FIRST_PASS) {
			if (!tok || !*tok) {
				pam_syslog(c->pamh, LOG_NOTICE, "use_first_pass: no code in PAM_AUTHTOK");
				return PAM_AUTHTOK_RECOVERY_ERR;
			}
			if (e.email) {
				/* The code is mailed after this: it cannot be in PAM_AUTHTOK. */
				pam_syslog(c->pamh, LOG_NOTICE,
					   "use_first_pass: %s receives codes by email and must be prompted",
					   c->user);
				return PAM_AUTH_ERR;
			}
		} else if (!looks_like_code(tok, c->fe->cfg->totp_digits)) {
			tok = NULL;
		}
	}

	req = (struct wgotp_request) {
		.user = c->user,
		.code = tok,
		.origin = "pam",
		.client = c->client,
		.duration = c->args.duration,
	};
	if (wgotp_begin(c->fe->flow, &req, &res) < 0)
		return PAM_AUTHINFO_UNAVAIL;
	if (tok && res.verdict == WGOTP_REJECT && c->args.first_pass == PAM_WGOTP_TRY_FIRST_PASS &&
	    reject_code(res.reason) != PAM_MAXTRIES) {
		/* The first password was not the code: ask (every user alike). */
		req.code = NULL;
		if (wgotp_begin(c->fe->flow, &req, &res) < 0)
			return PAM_AUTHINFO_UNAVAIL;
	}
	if (res.verdict == WGOTP_CHALLENGE) {
		if (c->args.first_pass == PAM_WGOTP_USE_FIRST_PASS)
			return PAM_AUTH_ERR;
		req.code = NULL;
		ret = prompt_and_answer(c, &req, &res);
		if (ret != PAM_SUCCESS)
			return ret;
	}
	if (res.verdict != WGOTP_ACCEPT) {
		pam_syslog(c->pamh, LOG_NOTICE, "code refused for %s (%s)", c->user,
			   wgotp_reason_str(res.reason));
		return reject_code(res.reason);
	}
	if (c->args.activate) {
		ret = activate(c, &res);
		if (ret != PAM_SUCCESS)
			return ret;
	}
	return PAM_SUCCESS;
}

PAM_WGOTP_EXPORT
int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct call c;
	int ret;

	ret = call_begin(&c, pamh, flags, argc, argv);
	if (ret == PAM_SUCCESS)
		ret = authenticate(&c);
	call_end(&c);
	return ret;
}

PAM_WGOTP_EXPORT
int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct call c;
	int ret;

	ret = call_begin(&c, pamh, flags, argc, argv);
	call_end(&c);
	return ret;
}

PAM_WGOTP_EXPORT
int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct call c;
	int ret;

	ret = call_begin(&c, pamh, flags, argc, argv);
	call_end(&c);
	return ret;
}

/* deactivate_on_close: the user's devices leave when the session ends
 * (all of them: a second session of the same user loses the VPN too). */
static int close_session(struct call *c)
{
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err = { "" };
	int n = 0, ret;

	if (!c->args.deactivate_on_close)
		return PAM_SUCCESS;
	ret = get_user(c);
	if (ret != PAM_SUCCESS)
		return PAM_SESSION_ERR;
	ret = load_config(c, &cfg);
	if (ret != PAM_SUCCESS)
		return ret == PAM_BUF_ERR ? ret : PAM_SESSION_ERR;
	ret = wgotp_activator_deactivate(cfg, c->user, NULL, &n, &err);
	if (ret < 0 && ret != -ESRCH && ret != -ENODEV) {
		pam_syslog(c->pamh, LOG_ERR, "deactivating %s: %s", c->user,
			   err.msg[0] ? err.msg : strerror(-ret));
		ret = PAM_SESSION_ERR;
		goto cleanup;
	}
	pam_syslog(c->pamh, LOG_INFO, "session closed: %d WireGuard session(s) of %s ended", n,
		   c->user);
	ret = PAM_SUCCESS;
cleanup:
	wgotp_config_free(cfg);
	return ret;
}

PAM_WGOTP_EXPORT
int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct call c;
	int ret;

	ret = call_begin(&c, pamh, flags, argc, argv);
	if (ret == PAM_SUCCESS)
		ret = close_session(&c);
	call_end(&c);
	return ret;
}
