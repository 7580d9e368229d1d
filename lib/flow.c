/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The login flow: the one place where wgotp decides. Both front ends call
 * wgotp_begin() and wgotp_answer(); neither holds a rule of its own.
 *
 * A user is "real" when the directory has it, enabled, with a usable
 * method (an email address, or a confirmed TOTP secret), owning the device
 * asked for. Anyone else is a decoy: the same kind of challenge (or the
 * same reject for a single-pass code), the same counters, never a mail,
 * and an answer that can never succeed.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "encoding.h"
#include "flow.h"
#include "session_policy.h"
#include "identity.h"
#include "log.h"
#include "metrics.h"
#include "otp.h"
#include "secret.h"

#define SERVER_KEY_MIN 32
#define SERVER_KEY_MAX 128
#define COUNTER_KEY_MAX (WGOTP_EMAIL_MAX + 16)
#define HOUR 3600

struct wgotp_flow {
	const struct wgotp_config *cfg;
	struct wgotp_store *store;
	struct wgotp_mailer mailer;
	bool have_mailer;
	struct wgotp_dir_cache *dir;
	uint8_t key[SERVER_KEY_MAX];
	size_t keylen;
	wgotp_clock_fn clock;
	void *clock_arg;
	struct wgotp_totp_params totp;
	struct wgotp_metrics *metrics;		/* NULL: nothing is counted */
};

/* Who the request is about, after looking in the directory. */
struct subject {
	char name[WGOTP_EMAIL_MAX + 1];		/* canonical identity: counters, store */
	char mask[WGOTP_EMAIL_MAX + 8];		/* for the prompt */
	const struct wgotp_user *user;		/* NULL: not in the directory */
	enum wgotp_method method;		/* as seen from outside */
	bool real;
	enum wgotp_reason why_not;		/* when !real */
};

static const char *const reason_names[WGOTP_N_REASONS] = {
	[WGOTP_R_OK] = "ok",
	[WGOTP_R_CHALLENGE_SENT] = "code_sent",
	[WGOTP_R_CHALLENGE_RESENT_LIMIT] = "code_sent_recently",
	[WGOTP_R_CHALLENGE_TOTP] = "totp_prompt",
	[WGOTP_R_BAD_CODE] = "bad_code",
	[WGOTP_R_BAD_FORMAT] = "bad_format",
	[WGOTP_R_REPLAY] = "replay",
	[WGOTP_R_EXPIRED] = "expired",
	[WGOTP_R_TOO_MANY_TRIES] = "too_many_tries",
	[WGOTP_R_RATE_LIMITED] = "rate_limited",
	[WGOTP_R_MAIL_LIMIT] = "mail_limit",
	[WGOTP_R_UNKNOWN_USER] = "unknown_user",
	[WGOTP_R_DISABLED] = "disabled",
	[WGOTP_R_NOT_ENROLLED] = "not_enrolled",
	[WGOTP_R_UNKNOWN_CHALLENGE] = "unknown_challenge",
	[WGOTP_R_UNKNOWN_DEVICE] = "unknown_device",
	[WGOTP_R_AFTER_CUTOFF] = "after_cutoff",
	[WGOTP_R_UNKNOWN_GROUP] = "unknown_group",
};

const char *wgotp_reason_str(enum wgotp_reason r)
{
	if ((size_t)r < sizeof(reason_names) / sizeof(reason_names[0]) && reason_names[r])
		return reason_names[r];
	return "unknown";
}

const char *wgotp_reason_message(enum wgotp_reason r)
{
	switch (r) {
	case WGOTP_R_EXPIRED:
	case WGOTP_R_TOO_MANY_TRIES:
	case WGOTP_R_UNKNOWN_CHALLENGE:
		return "The code has expired or was tried too often: please log in again";
	case WGOTP_R_RATE_LIMITED:
	case WGOTP_R_MAIL_LIMIT:
		return "Too many attempts: please wait and try again later";
	case WGOTP_R_CHALLENGE_RESENT_LIMIT:
		return "A code was sent moments ago: please wait a minute and log in again";
	case WGOTP_R_AFTER_CUTOFF:
		return "No new VPN session today: it is past the time sessions end";
	default:
		return "The code was not accepted";
	}
}

static const char *method_str(enum wgotp_method m)
{
	return m == WGOTP_METHOD_TOTP ? "totp" : "email";
}

static const char *verdict_str(enum wgotp_verdict v)
{
	switch (v) {
	case WGOTP_ACCEPT:	return "accept";
	case WGOTP_CHALLENGE:	return "challenge";
	case WGOTP_REJECT:	break;
	}
	return "reject";
}

/* For the mail latency: a monotonic clock, whatever the flow's clock. */
static int64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t wgotp_flow_now(const struct wgotp_flow *f)
{
	return f->clock ? f->clock(f->clock_arg) : (int64_t)time(NULL);
}

int wgotp_flow_mac(const struct wgotp_flow *f, const char *label, const char *data,
		   uint8_t mac[WGOTP_MAC_LEN])
{
	return wgotp_code_mac(f->key, f->keylen, label, data, mac);
}

const struct wgotp_config *wgotp_flow_config(const struct wgotp_flow *f)
{
	return f->cfg;
}

const struct wgotp_directory *wgotp_flow_dir_get(struct wgotp_flow *f)
{
	return wgotp_dir_cache_get(f->dir);
}

void wgotp_flow_dir_put(struct wgotp_flow *f, const struct wgotp_directory *d)
{
	wgotp_dir_cache_put(f->dir, d);
}

static int load_server_key(struct wgotp_flow *f, struct wgotp_error *err)
{
	const char *path = f->cfg->server_key_file;
	char *hex = NULL;
	size_t len = 0;
	int ret, n;

	ret = wgotp_secret_read(path, 2 * SERVER_KEY_MAX + 2, &hex, &len);
	if (ret == -EPERM)
		return wgotp_error_set(err, EPERM,
				       "%s: the server key must not be writable by group or others, nor readable by others",
				       path);
	if (ret < 0)
		return wgotp_error_set(err, -ret, "%s: %s", path, strerror(-ret));
	n = wgotp_hex_decode(hex, f->key, sizeof(f->key));
	if (n < SERVER_KEY_MIN) {
		ret = wgotp_error_set(err, EINVAL,
				      "%s: the server key must be at least %d random bytes in hex (openssl rand -hex 32)",
				      path, SERVER_KEY_MIN);
		goto cleanup;
	}
	f->keylen = (size_t)n;
	ret = 0;
cleanup:
	wgotp_freezero(hex, len);
	return ret;
}

/* users.json holds the TOTP secrets: like the server key, it must not be
 * readable by others or writable by group or others (0640 at most; the
 * group is the one FreeRADIUS and sshd read it as). */
static int check_directory_mode(const char *path, struct wgotp_error *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return 0;	/* the directory cache says what is wrong */
	if (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP))
		return wgotp_error_set(err, EPERM,
				       "%s: holds TOTP secrets and is mode %04o: it must not be readable by others nor writable by group or others (chmod 640)",
				       path, (unsigned int)(st.st_mode & 07777));
	return 0;
}

/* Counting is never a reason to refuse a login: without the file, the
 * flow counts nothing (a directory that does not exist, as on a Redis
 * front end without a state directory, is not worth a warning). */
static void open_metrics(struct wgotp_flow *f)
{
	struct wgotp_error merr = { "" };
	char path[PATH_MAX];
	int ret;

	if (wgotp_metrics_path(f->cfg, path, sizeof(path)) < 0)
		return;
	ret = wgotp_metrics_open(path, &f->metrics, &merr);
	if (ret == -ENOENT || ret == -EACCES)
		log_debug("%s: nothing is counted", merr.msg);
	else if (ret < 0)
		log_warn("%s: nothing is counted", merr.msg);
}

int wgotp_flow_new(const struct wgotp_config *cfg, struct wgotp_store *store,
		   struct wgotp_mailer *mailer, wgotp_clock_fn clock, void *clock_arg,
		   struct wgotp_flow **out, struct wgotp_error *err)
{
	struct wgotp_flow *f;
	int ret;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	f->cfg = cfg;
	f->store = store;
	f->clock = clock;
	f->clock_arg = clock_arg;
	if (mailer) {
		f->mailer = *mailer;
		f->have_mailer = true;
		memset(mailer, 0, sizeof(*mailer));
	}
	f->totp.digits = cfg->totp_digits;
	f->totp.period = cfg->totp_period;
	f->totp.window = cfg->totp_window;
	ret = wgotp_totp_alg_parse(cfg->totp_algorithm, &f->totp.alg);
	if (ret < 0) {
		ret = wgotp_error_set(err, EINVAL, "unknown TOTP algorithm");
		goto cleanup;
	}
	ret = load_server_key(f, err);
	if (ret < 0)
		goto cleanup;
	ret = wgotp_audit_configure(cfg->audit_log);
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "AuditLog %s: %s (syslog, stderr or an absolute path)",
				      cfg->audit_log, strerror(-ret));
		goto cleanup;
	}
	ret = check_directory_mode(cfg->directory, err);
	if (ret < 0)
		goto cleanup;
	ret = cfg->dir_index ? wgotp_dir_cache_new_indexed(cfg->directory, &f->dir, err) :
			       wgotp_dir_cache_new(cfg->directory, &f->dir, err);
	if (ret < 0)
		goto cleanup;
	open_metrics(f);
	*out = f;
	f = NULL;
	ret = 0;
cleanup:
	wgotp_flow_free(f);
	return ret;
}

void wgotp_flow_free(struct wgotp_flow *f)
{
	if (!f)
		return;
	if (f->have_mailer && f->mailer.free)
		f->mailer.free(f->mailer.arg);
	wgotp_dir_cache_free(f->dir);
	wgotp_metrics_close(f->metrics);
	wgotp_wipe(f->key, sizeof(f->key));
	free(f);
}

static void counter_key(char *buf, const char *what, const char *user)
{
	snprintf(buf, COUNTER_KEY_MAX, "%s:%s", what, user);
}

/* One audit line for a decision, or for an error (err < 0) that kept the
 * flow from reaching one. */
static void audit(struct wgotp_flow *f, const struct wgotp_request *req, const char *event,
		  const struct subject *s, const struct wgotp_result *res, int err)
{
	static const enum wgotp_metrics_result results[] = {
		[WGOTP_ACCEPT] = WGOTP_MR_ACCEPT,
		[WGOTP_CHALLENGE] = WGOTP_MR_CHALLENGE,
		[WGOTP_REJECT] = WGOTP_MR_REJECT,
	};

	struct wgotp_audit a = {
		.event = event,
		.origin = req && req->origin ? req->origin : NULL,
		.user = s->name,
		.client = req ? req->client : NULL,
		.method = method_str(s->method),
	};

	if (err < 0) {
		a.result = "error";
		a.reason = strerror(-err);
	} else {
		a.result = verdict_str(res->verdict);
		a.reason = wgotp_reason_str(res->reason);
		a.device = res->device[0] ? res->device : (req ? req->device : NULL);
		a.duration = res->verdict == WGOTP_ACCEPT ? res->duration : 0;
	}
	wgotp_audit(&a);
	wgotp_metrics_decision(f->metrics, a.origin, (int)s->method,
			       err < 0 ? WGOTP_MR_ERROR : results[res->verdict],
			       err < 0 ? -1 : (int)res->reason);
}

/* A user name as it came: a canonical name in any case (identity.h), or
 * it names no one. "alice " is refused, not trimmed: a directory that
 * ignores the space would make it a second spelling of alice. */
static bool name_plausible(const char *u)
{
	char canon[WGOTP_EMAIL_MAX + 1];

	return wgotp_identity_canon(u, canon, sizeof(canon)) == 0;
}

static void lower_copy(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < len && src[i]; i++)
		dst[i] = (char)tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

static enum wgotp_method decoy_method(const struct wgotp_flow *f)
{
	return f->cfg->unknown_user == WGOTP_UNKNOWN_TOTP ? WGOTP_METHOD_TOTP : WGOTP_METHOD_EMAIL;
}

static bool user_has_key(const struct wgotp_user *u, const char *key)
{
	for (size_t i = 0; i < u->n_devices; i++) {
		if (!strcmp(u->devices[i].public_key, key))
			return true;
	}
	return false;
}

/* A mail goes only to an identity that is an address: never to a bare
 * name, nor to a realm the front end's directory stripped. */
static bool mailable(const struct subject *s)
{
	if (wgotp_identity_mailable(s->name))
		return true;
	log_warn("email code for %s: the identity is not an email address (without "
		 "WGOTP-Email, a mail only goes to a name that is one): no mail", s->name);
	return false;
}

/*
 * Classify the user named `name` (already checked plausible). The
 * identity (s->name) is the directory's: the canonical form of the
 * entry's email, or of the override's (WGOTP-Email, else the name the
 * front end's directory matched), never the spelling from the wire. An
 * override whose identity is not canonical names no one; an email user
 * whose identity is not an address gets no mail (a decoy).
 */
static void identify(const struct wgotp_flow *f, const struct wgotp_directory *dir,
		     const struct wgotp_user *override, const char *name, const char *device,
		     struct subject *s)
{
	const struct wgotp_user *u = override ? override : wgotp_dir_find(dir, name);

	memset(s, 0, sizeof(*s));
	if (override && wgotp_identity_canon(override->email, s->name, sizeof(s->name)) < 0) {
		log_warn("user %s: the identity from the front end's directory (WGOTP-Email, or the "
			 "name it matched) is not a canonical name: refused", name);
		u = NULL;
	}
	if (!override || !u)
		lower_copy(s->name, sizeof(s->name), u ? u->email : name);
	wgotp_email_mask(s->name, s->mask, sizeof(s->mask));
	s->user = u;
	s->method = u ? u->method : decoy_method(f);
	if (!u)
		s->why_not = WGOTP_R_UNKNOWN_USER;
	else if (!u->enabled)
		s->why_not = WGOTP_R_DISABLED;
	else if (u->method == WGOTP_METHOD_TOTP &&
		 (u->totp_state != WGOTP_TOTP_ACTIVE || !u->totp_secret))
		s->why_not = WGOTP_R_NOT_ENROLLED;
	else if (u->method == WGOTP_METHOD_EMAIL && !mailable(s))
		s->why_not = WGOTP_R_NOT_ENROLLED;
	else if (device && *device && !user_has_key(u, device))
		s->why_not = WGOTP_R_UNKNOWN_DEVICE;
	else
		s->real = true;
}

/* A right code clears the user's failures, and with them the slot that
 * reserve_failure() took for it. */
static int clear_failures(struct wgotp_flow *f, const struct subject *s)
{
	char key[COUNTER_KEY_MAX];

	counter_key(key, "fail", s->name);
	return f->store->ops->counter_reset(f->store->state, key);
}

static void reject_result(struct wgotp_result *res, enum wgotp_reason why)
{
	res->verdict = WGOTP_REJECT;
	res->reason = why;
}

/* A right code: accept with the session policy's deadline (groups,
 * NotAfter), or reject when the policy allows no session now. */
static void accept_result(struct wgotp_flow *f, const struct subject *s, int64_t now,
			  int64_t duration, const char *device, struct wgotp_result *res)
{
	const char *group = s->user ? s->user->group : NULL;
	struct wgotp_deadline_info di;
	int ret = wgotp_session_deadline(f->cfg, group, now, duration, &di);

	if (ret < 0) {
		log_warn("%s: no session: %s", s->name, ret == -ETIME ?
			 "sessions end at [Session] NotAfter; no login after it until midnight" :
			 "users.json names a group with no [Group] section in wgotp.conf");
		reject_result(res, ret == -ETIME ? WGOTP_R_AFTER_CUTOFF : WGOTP_R_UNKNOWN_GROUP);
		return;
	}
	res->verdict = WGOTP_ACCEPT;
	res->reason = WGOTP_R_OK;
	res->method = s->method;
	snprintf(res->user, sizeof(res->user), "%s", s->name);
	res->duration = di.duration;
	res->expires = di.expires;
	snprintf(res->device, sizeof(res->device), "%s", device ? device : "");
}

/*
 * The per-user failure throttle, for a request that judges no code (one
 * that asks for a challenge). Returns 1 with res set to a reject when the
 * user is throttled, 0 when not, or a negative errno.
 */
static int throttle(struct wgotp_flow *f, const struct subject *s, int64_t now,
		    struct wgotp_result *res)
{
	char key[COUNTER_KEY_MAX];
	int64_t failures = 0;
	int ret;

	counter_key(key, "fail", s->name);
	ret = f->store->ops->counter_get(f->store->state, key, now, &failures);
	if (ret < 0)
		return ret;
	if (failures < f->cfg->ratelimit_max_failures)
		return 0;
	reject_result(res, WGOTP_R_RATE_LIMITED);
	return 1;
}

/*
 * Before a code is judged, its failure is counted: atomically, one slot of
 * the user's MaxFailures in the window is taken, or the attempt is refused
 * when none is left. Checking first and counting after the judgment would
 * let a burst of parallel guesses (FreeRADIUS threads, sshd children, two
 * servers) all pass the check before any was counted. A right code gives
 * the slot back (clear_failures). Returns 1 with res set to a reject when
 * the user is throttled, 0 when the slot is taken, or a negative errno.
 */
static int reserve_failure(struct wgotp_flow *f, const struct subject *s, int64_t now,
			   struct wgotp_result *res)
{
	char key[COUNTER_KEY_MAX];
	int64_t n = 0;
	int ret;

	counter_key(key, "fail", s->name);
	ret = f->store->ops->counter_take(f->store->state, key, now, f->cfg->ratelimit_window,
					  f->cfg->ratelimit_max_failures, &n);
	if (ret == -EDQUOT) {
		reject_result(res, WGOTP_R_RATE_LIMITED);
		return 1;
	}
	return ret;
}

/*
 * Judge a TOTP code for subject s and record the outcome in one store
 * operation (wgotp_store_totp_attempt): the failure throttle, the replay
 * step and the failure count move together, so a burst of guesses gets
 * MaxFailures judged and a code opens one session, whichever front end
 * or server it comes through. Every step of the window is offered that
 * the code matches: the same digits may be the code of a used step and of
 * a later one. A decoy computes the window's codes from a random secret,
 * so it takes the same path and time, and offers none: always a failure.
 */
static int check_totp(struct wgotp_flow *f, const struct subject *s, const char *code,
		      int64_t now, const char *challenge_id, enum wgotp_reason *why)
{
	char key[COUNTER_KEY_MAX], dummy[64];
	uint64_t steps[WGOTP_TOTP_MAX_STEPS], used = 0;
	size_t n = 0;
	bool formatted = wgotp_code_check_format(code, f->totp.digits) == 0;
	struct wgotp_totp_attempt a = {
		.user = s->name,
		.fail_key = key,
		.steps = steps,
		.now = now,
		.window = f->cfg->ratelimit_window,
		.max_failures = f->cfg->ratelimit_max_failures,
	};
	int ret;

	counter_key(key, "fail", s->name);
	if (formatted && s->real) {
		ret = wgotp_totp_match_b32(s->user->totp_secret, &f->totp, now, code, steps,
					   WGOTP_TOTP_MAX_STEPS, &n);
		if (ret == -EINVAL)
			n = 0;	/* a secret that does not decode matches nothing */
		else if (ret < 0)
			goto cleanup;
	} else if (formatted) {
		ret = wgotp_totp_new_secret(20, dummy, sizeof(dummy));
		if (ret == 0)
			ret = wgotp_totp_match_b32(dummy, &f->totp, now, code, steps,
						   WGOTP_TOTP_MAX_STEPS, &n);
		if (ret < 0)
			goto cleanup;
		n = 0;
	}
	/* Answering a challenge with a code that matches: the challenge is
	 * consumed before the step, so that a store that fails in between
	 * (locked, full) leaves the code unused and the user may type it
	 * again; a lost race for the challenge takes no step either. */
	if (challenge_id && n > 0) {
		uint64_t last = 0;

		/* Only for a step not used yet: a replayed code leaves the
		 * challenge to its owner (the store still judges the race). */
		ret = f->store->ops->totp_last_step(f->store->state, s->name, &last);
		if (ret < 0)
			goto cleanup;
		if (steps[n - 1] <= last)
			goto record;
		ret = f->store->ops->challenge_del(f->store->state, challenge_id);
		if (ret == -ENOENT) {
			*why = WGOTP_R_UNKNOWN_CHALLENGE;
			ret = 0;
			goto cleanup;
		}
		if (ret < 0)
			goto cleanup;
	}
record:
	a.n_steps = n;
	ret = wgotp_store_totp_attempt(f->store, &a, &used);
	switch (ret) {
	case 0:
		*why = WGOTP_R_OK;
		break;
	case -EDQUOT:
		*why = WGOTP_R_RATE_LIMITED;
		break;
	case -EALREADY:
		*why = WGOTP_R_REPLAY;
		break;
	case -EACCES:
		*why = !formatted ? WGOTP_R_BAD_FORMAT : s->real ? WGOTP_R_BAD_CODE : s->why_not;
		break;
	default:
		goto cleanup;
	}
	ret = 0;
cleanup:
	wgotp_wipe(dummy, sizeof(dummy));
	wgotp_wipe(steps, sizeof(steps));
	return ret;
}

static int new_challenge(struct wgotp_flow *f, const struct subject *s,
			 const struct wgotp_request *req, int64_t now, int64_t lifetime,
			 struct wgotp_challenge *c)
{
	uint8_t id[WGOTP_CHALLENGE_ID_LEN / 2];
	int ret;

	memset(c, 0, sizeof(*c));
	ret = wgotp_random(id, sizeof(id));
	if (ret < 0)
		return ret;
	wgotp_hex_encode(id, sizeof(id), c->id);
	snprintf(c->user, sizeof(c->user), "%s", s->name);
	c->method = s->method;
	c->decoy = !s->real;
	c->created = now;
	c->expires = now + lifetime;
	c->duration = req->duration > 0 ? req->duration : 0;
	snprintf(c->device, sizeof(c->device), "%s",
		 req->device && strlen(req->device) <= WGOTP_KEY_B64_LEN ? req->device : "");
	snprintf(c->origin, sizeof(c->origin), "%s", req->origin ? req->origin : "");
	return 0;
}

static void challenge_result(const struct wgotp_challenge *c, const struct subject *s,
			     enum wgotp_reason why, struct wgotp_result *res)
{
	res->verdict = WGOTP_CHALLENGE;
	res->reason = why;
	res->method = s->method;
	snprintf(res->challenge_id, sizeof(res->challenge_id), "%s", c->id);
	if (s->method == WGOTP_METHOD_EMAIL)
		snprintf(res->prompt, sizeof(res->prompt), "Enter the code sent to %s", s->mask);
	else
		snprintf(res->prompt, sizeof(res->prompt),
			 "Enter the code from your authenticator app");
}

static int begin_totp(struct wgotp_flow *f, const struct subject *s,
		      const struct wgotp_request *req, int64_t now, struct wgotp_result *res)
{
	struct wgotp_challenge c;
	enum wgotp_reason why;
	int ret;

	if (req->code && *req->code) {
		ret = check_totp(f, s, req->code, now, NULL, &why);
		if (ret < 0)
			return ret;
		if (why != WGOTP_R_OK) {
			reject_result(res, why);	/* the failure is counted */
			return 0;
		}
		accept_result(f, s, now, req->duration, req->device, res);
		return 0;	/* the failures were cleared with the step */
	}
	ret = throttle(f, s, now, res);
	if (ret != 0)
		return ret > 0 ? 0 : ret;
	ret = new_challenge(f, s, req, now, f->cfg->challenge_lifetime, &c);
	if (ret < 0)
		return ret;
	ret = f->store->ops->challenge_put(f->store->state, &c);
	if (ret < 0)
		return ret;
	challenge_result(&c, s, WGOTP_R_CHALLENGE_TOTP, res);
	return 0;
}

static int begin_email(struct wgotp_flow *f, const struct subject *s,
		       const struct wgotp_request *req, int64_t now, struct wgotp_result *res)
{
	const struct wgotp_store_ops *ops = f->store->ops;
	void *st = f->store->state;
	char key_min[COUNTER_KEY_MAX], key_hour[COUNTER_KEY_MAX];
	char code[WGOTP_CODE_MAX + 1] = "";
	struct wgotp_challenge c;
	struct wgotp_error merr = { "" };
	int64_t n = 0;
	int ret;

	ret = throttle(f, s, now, res);
	if (ret != 0)
		return ret > 0 ? 0 : ret;
	/* A decoy fails as a real user does: no transport, no challenge. */
	if (!f->have_mailer) {
		log_err("email code for %s: no mail transport is configured ([Mail] Transport)",
			s->name);
		return -ENOSYS;
	}
	counter_key(key_min, "mail1", s->name);
	counter_key(key_hour, "mailh", s->name);
	if (f->cfg->email_resend_interval > 0) {
		ret = ops->counter_get(st, key_min, now, &n);
		if (ret < 0)
			return ret;
		if (n > 0) {
			/* A code went out moments ago: no second mail, and no
			 * other request's State either. That State opens what
			 * its own request asked for (device, duration, front
			 * end), so handing it to this request would let
			 * whoever asked first choose what the owner's code
			 * opens, and let anyone burn its tries. */
			reject_result(res, WGOTP_R_CHALLENGE_RESENT_LIMIT);
			return 0;
		}
	}
	ret = ops->counter_get(st, key_hour, now, &n);
	if (ret < 0)
		return ret;
	if (n >= f->cfg->email_max_per_hour) {
		reject_result(res, WGOTP_R_MAIL_LIMIT);
		return 0;
	}

	ret = new_challenge(f, s, req, now, f->cfg->email_code_lifetime, &c);
	if (ret < 0)
		goto cleanup;
	if (s->real) {
		ret = wgotp_email_code_new(f->cfg->email_code_length, code);
		if (ret < 0)
			goto cleanup;
		ret = wgotp_code_mac(f->key, f->keylen, c.id, code, c.code_mac);
	} else {
		ret = wgotp_random(c.code_mac, sizeof(c.code_mac));
	}
	if (ret < 0)
		goto cleanup;
	if (f->cfg->email_resend_interval > 0) {
		ret = ops->counter_hit(st, key_min, now, f->cfg->email_resend_interval, &n);
		if (ret < 0)
			goto cleanup;
	}
	ret = ops->counter_hit(st, key_hour, now, HOUR, &n);
	if (ret < 0)
		goto cleanup;
	ret = ops->challenge_put(st, &c);
	if (ret < 0)
		goto cleanup;
	if (s->real) {
		struct wgotp_mail_code m = {
			.to = s->user->email,
			.code = code,
			.lifetime = f->cfg->email_code_lifetime,
			.now = now,
		};

		int64_t t0 = mono_usec();

		ret = f->mailer.send_code(f->mailer.arg, &m, &merr);
		wgotp_metrics_mail(f->metrics, (int)f->cfg->mail_transport, ret == 0,
				   mono_usec() - t0);
		if (ret < 0) {
			/* Never a challenge that cannot be answered. */
			log_err("email code for %s not sent: %s", s->name,
				merr.msg[0] ? merr.msg : strerror(-ret));
			ops->challenge_del(st, c.id);
			/* ... nor a wait for a mail that never left: the user
			 * may ask again at once (the hourly cap counts it). */
			if (f->cfg->email_resend_interval > 0)
				ops->counter_reset(st, key_min);
			goto cleanup;
		}
	}
	challenge_result(&c, s, WGOTP_R_CHALLENGE_SENT, res);
	ret = 0;
cleanup:
	wgotp_wipe(code, sizeof(code));
	return ret;
}

int wgotp_begin(struct wgotp_flow *f, const struct wgotp_request *req, struct wgotp_result *res)
{
	const struct wgotp_directory *dir = NULL;
	struct subject s;
	int64_t now = wgotp_flow_now(f);
	int ret;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	if (!name_plausible(req->user)) {
		snprintf(s.name, sizeof(s.name), "%s", "(invalid)");
		s.method = decoy_method(f);
		reject_result(res, WGOTP_R_UNKNOWN_USER);
		audit(f, req, "begin", &s, res, 0);
		return 0;
	}
	if (!req->user_override)
		dir = wgotp_dir_cache_get(f->dir);
	identify(f, dir, req->user_override, req->user, req->device, &s);

	if (!s.user && f->cfg->unknown_user == WGOTP_UNKNOWN_REJECT) {
		reject_result(res, WGOTP_R_UNKNOWN_USER);
		ret = 0;
		goto done;
	}
	if (s.method == WGOTP_METHOD_TOTP)
		ret = begin_totp(f, &s, req, now, res);
	else
		ret = begin_email(f, &s, req, now, res);
	/* The audit log tells the truth the reply hides. */
	if (ret == 0 && !s.real && res->verdict == WGOTP_REJECT &&
	    (res->reason == WGOTP_R_BAD_CODE || res->reason == WGOTP_R_REPLAY))
		res->reason = s.why_not;
done:
	audit(f, req, "begin", &s, res, ret);
	if (dir)
		wgotp_dir_cache_put(f->dir, dir);
	return ret;
}

static int answer_email(struct wgotp_flow *f, const struct subject *s,
			const struct wgotp_challenge *c, const char *code, enum wgotp_reason *why)
{
	uint8_t mac[WGOTP_MAC_LEN];
	int ret;

	if (wgotp_code_check_format(code, f->cfg->email_code_length) < 0) {
		*why = WGOTP_R_BAD_FORMAT;
		return 0;
	}
	ret = wgotp_code_mac(f->key, f->keylen, c->id, code, mac);
	if (ret < 0)
		goto cleanup;
	if (!wgotp_ct_equal(mac, c->code_mac, sizeof(mac)) || c->decoy || !s->real)
		*why = c->decoy || !s->real ? s->why_not : WGOTP_R_BAD_CODE;
	else
		*why = WGOTP_R_OK;
	ret = 0;
cleanup:
	wgotp_wipe(mac, sizeof(mac));
	return ret;
}

static bool challenge_id_valid(const char *id)
{
	size_t i;

	if (!id)
		return false;
	for (i = 0; id[i]; i++) {
		if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]) ||
		    i >= WGOTP_CHALLENGE_ID_LEN)
			return false;
	}
	return i == WGOTP_CHALLENGE_ID_LEN;
}

int wgotp_answer(struct wgotp_flow *f, const char *challenge_id, const char *code,
		 const struct wgotp_request *req, struct wgotp_result *res)
{
	const struct wgotp_store_ops *ops = f->store->ops;
	const struct wgotp_directory *dir = NULL;
	struct wgotp_challenge c;
	struct subject s;
	enum wgotp_reason why = WGOTP_R_BAD_CODE;
	int64_t now = wgotp_flow_now(f);
	int ret;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	memset(&c, 0, sizeof(c));
	snprintf(s.name, sizeof(s.name), "%s",
		 req && name_plausible(req->user) ? req->user : "(invalid)");
	s.method = decoy_method(f);
	if (!challenge_id_valid(challenge_id) || (req && req->user && !name_plausible(req->user))) {
		reject_result(res, WGOTP_R_UNKNOWN_CHALLENGE);
		ret = 0;
		goto done;
	}
	ret = ops->challenge_try(f->store->state, challenge_id, now, f->cfg->email_max_tries, &c);
	if (ret == -ENOENT || ret == -ETIME || ret == -EMLINK) {
		reject_result(res, ret == -ENOENT ? WGOTP_R_UNKNOWN_CHALLENGE :
				   ret == -ETIME ? WGOTP_R_EXPIRED : WGOTP_R_TOO_MANY_TRIES);
		ret = 0;
		goto done;
	}
	if (ret < 0)
		goto done;
	/* A State belongs to the user it was issued to. */
	if (req && req->user && strcasecmp(req->user, c.user) &&
	    !(req->user_override && !strcasecmp(req->user_override->email, c.user))) {
		reject_result(res, WGOTP_R_UNKNOWN_CHALLENGE);
		goto done;
	}
	/* ... and to the front end that asked for it. */
	if (strcmp(c.origin, req && req->origin ? req->origin : "") != 0) {
		reject_result(res, WGOTP_R_UNKNOWN_CHALLENGE);
		goto done;
	}
	if (!req || !req->user_override)
		dir = wgotp_dir_cache_get(f->dir);
	identify(f, dir, req ? req->user_override : NULL, c.user, c.device, &s);
	s.method = c.method;
	if (c.decoy && s.real) {
		/* Issued to a decoy: stays one, even if the user appeared since. */
		s.real = false;
		s.why_not = WGOTP_R_UNKNOWN_USER;
	}

	if (c.method == WGOTP_METHOD_TOTP) {
		ret = check_totp(f, &s, code ? code : "", now, c.id, &why);
	} else {
		ret = reserve_failure(f, &s, now, res);
		if (ret != 0) {
			ret = ret > 0 ? 0 : ret;
			goto done;
		}
		ret = answer_email(f, &s, &c, code ? code : "", &why);
	}
	if (ret < 0)
		goto done;
	if (why != WGOTP_R_OK) {
		reject_result(res, why);	/* the failure is counted */
		ret = 0;
		if (c.tries >= f->cfg->email_max_tries) {
			ret = ops->challenge_del(f->store->state, c.id);
			if (ret == -ENOENT)
				ret = 0;
		}
		goto done;
	}
	/* Deleting the challenge is what consumes the code: of two answers
	 * racing with the right code, only the one whose delete removed it
	 * opens a session (check_totp deleted a TOTP challenge already). */
	if (c.method != WGOTP_METHOD_TOTP) {
		ret = ops->challenge_del(f->store->state, c.id);
		if (ret == -ENOENT) {
			reject_result(res, WGOTP_R_UNKNOWN_CHALLENGE);
			ret = 0;
			goto done;
		}
		if (ret < 0)
			goto done;
	}
	/* What the request that received this challenge asked for. Only
	 * where it asked for nothing (the default length) may the answer
	 * choose: the State is the answerer's own (never handed to another
	 * request), and a length stays within Durations/MaxDuration. */
	accept_result(f, &s, now, c.duration ? c.duration : (req ? req->duration : 0), c.device, res);
	ret = c.method == WGOTP_METHOD_TOTP ? 0 : clear_failures(f, &s);
done:
	audit(f, req, "answer", &s, res, ret);
	if (dir)
		wgotp_dir_cache_put(f->dir, dir);
	return ret;
}
