/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pam_wgotp: the one-time code of wgotp as a PAM module.
 *
 *   auth     required  pam_wgotp.so config=/etc/wgotp/wgotp.conf domain=example.com activate
 *   session  required  pam_wgotp.so config=/etc/wgotp/wgotp.conf domain=example.com deactivate_on_close
 *
 * With `activate`, a right code does not activate anything yet: PAM runs
 * the modules of a stack after an earlier one failed, so the auth phase
 * cannot know whether the password before it was right. It records a
 * grant (grant.h), and the session phase, which the application reaches
 * only when the whole transaction succeeded, activates the devices.
 *
 * Glue only: the decision is lib/'s login flow, shared with rlm_wgotp
 * (the same store, so a code used over one is a replay over the other).
 * Configuration and store are opened per call: sshd forks per
 * connection, and the flow keeps nothing a later call would need.
 *
 * Return codes of the auth phase, chosen on purpose:
 *   PAM_SUCCESS           the code was right (activate: the grant recorded)
 *   PAM_AUTH_ERR          wrong, malformed, replayed or expired code;
 *                         disabled user
 *   PAM_USER_UNKNOWN      not in the directory (after the same prompt a
 *                         known user gets, unless UnknownUser = reject)
 *   PAM_IGNORE            nullok, and the user has no usable enrolment
 *   PAM_MAXTRIES          rate limit, tries or mail limit reached
 *   PAM_AUTHINFO_UNAVAIL  store or mail transport unreachable
 *   PAM_CONV_ERR          the conversation failed or gave no answer
 *   PAM_SERVICE_ERR       a bad argument, configuration, server key or
 *                         users.json: an administrator must act
 *   PAM_BUF_ERR           out of memory (a module never aborts)
 * Of the session phase: PAM_SUCCESS (a grant activated, or none to
 * redeem), PAM_SESSION_ERR (a grant unknown, expired, used or not this
 * user's; store or wg-activator unreachable), PAM_BUF_ERR.
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
#include "grant.h"
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
static int64_t now_s(void)
{
	return test_clock(NULL);
}
#else
#define CLOCK NULL
static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}
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
	cfg->dir_index = true;	/* one login, then the process ends */
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

/* The session phase: activate what the grant allows. */
static int activate(struct call *c, const struct wgotp_config *cfg, const struct pam_wgotp_grant *g)
{
	struct wgotp_error err = { "" };
	char msg[128], when[40];
	int64_t expires = 0;
	struct tm tm;
	time_t t;
	int ret;

	ret = wgotp_activator_activate(cfg, g->user, NULL, g->device[0] ? g->device : NULL,
				       g->duration, "pam", &expires, &err);
	if (ret == -ENODEV) {
		pam_syslog(c->pamh, LOG_NOTICE, "%s has no WireGuard device to activate", g->user);
		return PAM_SUCCESS;
	}
	if (ret == -ENOMEM)
		return PAM_BUF_ERR;
	if (ret < 0) {
		pam_syslog(c->pamh, LOG_ERR, "activating %s: %s", g->user,
			   err.msg[0] ? err.msg : strerror(-ret));
		return PAM_SESSION_ERR;
	}
	pam_syslog(c->pamh, LOG_INFO, "activated the devices of %s", g->user);
	if (expires > 0) {
		t = (time_t)expires;
		if (gmtime_r(&t, &tm) && strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm)) {
			snprintf(msg, sizeof(msg), "VPN access granted until %s", when);
			pam_wgotp_info(c->pamh, c->flags, msg);
		}
	}
	return PAM_SUCCESS;
}

static void grant_data_free(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	wgotp_free_str(data);
}

static const char *pam_service(pam_handle_t *pamh)
{
	const void *item = NULL;

	if (pam_get_item(pamh, PAM_SERVICE, &item) != PAM_SUCCESS || !item)
		return "";
	return item;
}

/*
 * The auth phase with `activate`: record what the accepted code allows
 * and hand its id to the session phase, through the module data and the
 * PAM environment (grant.h says why both). Nothing is activated here.
 */
static int grant(struct call *c, const struct wgotp_result *res)
{
	struct pam_wgotp_grant g = { .duration = res->duration };
	char id[PAM_WGOTP_GRANT_ID_LEN + 1], env[sizeof(PAM_WGOTP_GRANT_ENV) + sizeof(id)];
	const void *old = NULL;
	char *data = NULL;
	int ret;

	snprintf(g.user, sizeof(g.user), "%s", res->user);
	snprintf(g.device, sizeof(g.device), "%s", res->device);
	snprintf(g.service, sizeof(g.service), "%s", pam_service(c->pamh));
	/* a second authentication on this handle replaces the first grant */
	if (pam_get_data(c->pamh, PAM_WGOTP_GRANT_DATA, &old) == PAM_SUCCESS && old)
		pam_wgotp_grant_drop(c->fe->store, old);
	ret = pam_wgotp_grant_put(c->fe->store, &g, wgotp_flow_now(c->fe->flow), id);
	if (ret == -ENOMEM)
		return PAM_BUF_ERR;
	if (ret < 0) {
		pam_syslog(c->pamh, LOG_ERR, "recording the VPN grant of %s: %s", g.user,
			   strerror(-ret));
		return PAM_AUTHINFO_UNAVAIL;
	}
	snprintf(env, sizeof(env), PAM_WGOTP_GRANT_ENV "=%s", id);
	data = strdup(id);
	if (!data) {
		ret = PAM_BUF_ERR;
		goto cleanup;
	}
	ret = pam_set_data(c->pamh, PAM_WGOTP_GRANT_DATA, data, grant_data_free);
	if (ret != PAM_SUCCESS) {
		wgotp_free_str(data);
		goto cleanup;
	}
	ret = pam_putenv(c->pamh, env);
	if (ret != PAM_SUCCESS)
		goto cleanup;
	pam_syslog(c->pamh, LOG_INFO,
		   "code accepted for %s: the devices are activated when the session opens", g.user);
cleanup:
	if (ret != PAM_SUCCESS) {
		pam_syslog(c->pamh, LOG_ERR, "handing the VPN grant of %s to the session: %s", g.user,
			   pam_strerror(c->pamh, ret));
		pam_wgotp_grant_drop(c->fe->store, id);
		pam_set_data(c->pamh, PAM_WGOTP_GRANT_DATA, NULL, NULL);
		if (ret != PAM_BUF_ERR)
			ret = PAM_SERVICE_ERR;
	}
	wgotp_wipe(id, sizeof(id));
	wgotp_wipe(env, sizeof(env));
	return ret;
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
	if (c->args.activate)
		return grant(c, &res);
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

/* Too long is malformed ("-"), not cut down to something that may parse. */
static void copy_id(char id[PAM_WGOTP_GRANT_ID_LEN + 1], const char *src)
{
	snprintf(id, PAM_WGOTP_GRANT_ID_LEN + 1, "%s",
		 strlen(src) > PAM_WGOTP_GRANT_ID_LEN ? "-" : src);
}

/*
 * The grant id the auth phase handed over, copied to id ("" if none).
 * The module data and the variable are removed whatever follows: the id
 * never reaches the user's environment, and it is redeemed at most once.
 */
static void grant_id(struct call *c, char id[PAM_WGOTP_GRANT_ID_LEN + 1])
{
	const void *data = NULL;
	const char *env;

	id[0] = '\0';
	if (pam_get_data(c->pamh, PAM_WGOTP_GRANT_DATA, &data) == PAM_SUCCESS && data)
		copy_id(id, data);
	env = pam_getenv(c->pamh, PAM_WGOTP_GRANT_ENV);
	if (env) {
		if (!id[0])
			copy_id(id, *env ? env : "-");
		pam_putenv(c->pamh, PAM_WGOTP_GRANT_ENV);	/* the bare name removes it */
	}
	if (data)
		pam_set_data(c->pamh, PAM_WGOTP_GRANT_DATA, NULL, NULL);
}

static void ascii_lower(char *s)
{
	for (; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
	}
}

/* Redeem the grant of this transaction's auth phase, if there is one. */
static int open_session(struct call *c)
{
	char id[PAM_WGOTP_GRANT_ID_LEN + 1];
	struct wgotp_config *cfg = NULL;
	struct wgotp_store *st = NULL;
	struct wgotp_error err = { "" };
	struct pam_wgotp_grant g;
	int ret;

	grant_id(c, id);
	if (!id[0])
		return PAM_SUCCESS;	/* no code was accepted with activate */
	ret = get_user(c);
	if (ret != PAM_SUCCESS) {
		ret = ret == PAM_BUF_ERR ? ret : PAM_SESSION_ERR;
		goto cleanup;
	}
	ret = load_config(c, &cfg);
	if (ret != PAM_SUCCESS) {
		ret = ret == PAM_BUF_ERR ? ret : PAM_SESSION_ERR;
		goto cleanup;
	}
	ret = wgotp_store_open(cfg, &st, &err);
	if (ret < 0) {
		pam_syslog(c->pamh, LOG_ERR, "%s: %s", c->args.config,
			   err.msg[0] ? err.msg : strerror(-ret));
		ret = ret == -ENOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
		goto cleanup;
	}
	ret = pam_wgotp_grant_take(st, id, now_s(), &g);
	if (ret < 0) {
		pam_syslog(c->pamh, ret == -EIO || ret == -EBUSY ? LOG_ERR : LOG_NOTICE,
			   "no VPN activation for %s: %s", c->user,
			   ret == -ENOENT ? "the grant expired, was used, or never existed" :
			   ret == -EINVAL ? "a malformed grant id" : strerror(-ret));
		ret = ret == -ENOMEM ? PAM_BUF_ERR : PAM_SESSION_ERR;
		goto cleanup;
	}
	ascii_lower(c->user);
	if (strcmp(g.user, c->user) || strcmp(g.service, pam_service(c->pamh))) {
		pam_syslog(c->pamh, LOG_ERR,
			   "no VPN activation for %s: the grant was given to %s in service %s",
			   c->user, g.user, g.service);
		ret = PAM_SESSION_ERR;
		goto cleanup;
	}
	ret = activate(c, cfg, &g);
cleanup:
	wgotp_store_close(st);
	wgotp_config_free(cfg);
	wgotp_wipe(id, sizeof(id));
	return ret;
}

PAM_WGOTP_EXPORT
int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct call c;
	int ret;

	ret = call_begin(&c, pamh, flags, argc, argv);
	if (ret == PAM_SUCCESS)
		ret = open_session(&c);
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
