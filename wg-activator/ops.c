// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's operations (see activator.h): a fixed table of request
 * handlers (activate, deactivate, list, ping), session expiry and
 * reconcile. The daemon aborts on out-of-memory (oom()).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activator.h"
#include "audit.h"
#include "identity.h"
#include "log.h"
#include "exporter.h"
#include "proto.h"
#include "reconcile.h"
#include "session_ips.h"
#include "session_policy.h"

#define MAX_BATCH_DEVICES 64	/* devices of one user in one activation */
#define EXPIRY_RETRY_SEC 1	/* WireGuard failed: try again this soon */

__attribute__((noreturn)) static void oom(void)
{
	log_err("out of memory");
	abort();
}

static void *must(void *p)
{
	if (!p)
		oom();
	return p;
}

int64_t act_now(void)
{
	return loop_now() / NSEC_PER_SEC;
}

static void arm_expiry(struct activator *a)
{
	int64_t next = table_next_expiry(&a->table);

	act_metrics_live(a->table.n);
	if (next == SCHED_NONE) {
		loop_timer_disarm(a->loop, &a->expiry_timer);
		return;
	}
	if (loop_timer_arm(a->loop, &a->expiry_timer,
			   next > INT64_MAX / NSEC_PER_SEC ? INT64_MAX - 1 : next * NSEC_PER_SEC) < 0)
		oom();
}

static void audit_dl(const char *event, const char *origin, const struct wgotp_session *s,
		     const char *user, const char *result, const char *reason, const char *client,
		     int64_t duration, int64_t old_expires)
{
	struct wgotp_audit au = {
		.event = event,
		.origin = origin && *origin ? origin : NULL,
		.user = s ? s->user : user,
		.device = s ? s->device : NULL,
		.client = client,
		.result = result,
		.reason = reason,
		.duration = duration,
		.old_expires = old_expires,
		.expires = s && old_expires ? s->expires : 0,
	};

	wgotp_audit(&au);
}

static void audit(const char *event, const char *origin, const struct wgotp_session *s,
		  const char *user, const char *result, const char *reason, const char *client,
		  int64_t duration)
{
	audit_dl(event, origin, s, user, result, reason, client, duration, 0);
}

/* ------------------------------------------------------------------ */
/* Expiry                                                             */

/* Would removing this key take away a permanent device's peer? */
static bool key_is_permanent(const struct wgotp_directory *dir, const char *b64)
{
	struct wgotp_user *owner = NULL;
	const struct wgotp_device *d = wgotp_dir_find_key(dir, b64, &owner);

	return d && owner && !rc_managed(owner, d);
}

static void on_expiry(struct loop *l, struct loop_timer *t)
{
	struct activator *a = sched_container_of(t, struct activator, expiry_timer);
	const struct wgotp_directory *dir = wgotp_dir_cache_get(a->dir);
	int64_t now = act_now();
	struct live **due = NULL, *x;
	struct wg_peer *ch = NULL;
	size_t n = 0, cap = 0, n_ch = 0;
	struct wgotp_error err = { "" };
	int ret;

	while ((x = table_pop_expired(&a->table, now))) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			due = must(reallocarray(due, cap, sizeof(*due)));
		}
		due[n++] = x;
	}
	if (!n)
		goto cleanup;
	ch = must(calloc(n, sizeof(*ch)));
	for (size_t i = 0; i < n; i++) {
		if (key_is_permanent(dir, due[i]->s.public_key))
			continue;
		memcpy(ch[n_ch].key, due[i]->key, WGOTP_KEY_LEN);
		ch[n_ch++].remove = true;
	}
	/* peers first ... */
	ret = wg_apply(a->wg, ch, n_ch, &err);
	if (ret < 0) {
		log_err("expiry: removing %zu peer(s) failed, retrying in %d s: %s", n_ch,
			EXPIRY_RETRY_SEC, err.msg);
		for (size_t i = 0; i < n; i++)
			if (table_requeue(&a->table, due[i], now + EXPIRY_RETRY_SEC) < 0)
				oom();
		goto cleanup;
	}
	/* ... then the sessions */
	for (size_t i = 0; i < n; i++) {
		act_metrics_expiry(loop_now() - due[i]->s.expires * NSEC_PER_SEC);
		ret = a->store->ops->session_del(a->store->state, due[i]->s.user, due[i]->s.device);
		if (ret < 0 && ret != -ENOENT) {
			act_metrics_store_error();
			log_warn("expiry: deleting the session of %s/%s: %s (the next reconcile retries)",
				 due[i]->s.user, due[i]->s.device, strerror(-ret));
		}
		audit("expire", due[i]->s.origin, &due[i]->s, NULL, "accept", "expired", NULL, 0);
		table_del(&a->table, due[i]);
	}
	log_debug("expiry: %zu session(s) ended, %zu peer(s) removed", n, n_ch);
cleanup:
	wgotp_dir_cache_put(a->dir, dir);
	free(due);
	free(ch);
	arm_expiry(a);
}

/* ------------------------------------------------------------------ */
/* The warning before the end ([Session] WarnBefore)                  */
/*
 * One timer (the same absolute CLOCK_REALTIME timerfd machinery as
 * expiry) at the earliest warning. When it is due the mail is handed to
 * the worker thread (warn.c); the loop never waits on it. The store
 * remembers, per session, the deadline a warning went out for
 * (kv "warn:USER\nDEVICE" = the deadline), written once the transport
 * accepted the mail, and read before a send: a restart (kill -9 included)
 * before the send sends it then, once; one after it sends nothing.
 */

#define WARN_MAX_TRIES 5	/* sends of one warning */
#define WARN_RETRY_SEC 5	/* first retry after, doubling */

static void warn_key(const char *user, const char *device, char *key, size_t len)
{
	snprintf(key, len, "warn:%s\n%s", user, device);
}

static void arm_warn(struct activator *a)
{
	int64_t next = table_next_warn(&a->table);

	if (next == SCHED_NONE) {
		loop_timer_disarm(a->loop, &a->warn_timer);
		return;
	}
	if (loop_timer_arm(a->loop, &a->warn_timer,
			   next > INT64_MAX / NSEC_PER_SEC ? INT64_MAX - 1 : next * NSEC_PER_SEC) < 0)
		oom();
}

/* Arm l's warning for its current deadline (or cancel it). */
static void schedule_warn(struct activator *a, const struct wgotp_directory *dir, struct live *l,
			  int64_t now)
{
	const struct wgotp_user *u = wgotp_dir_find(dir, l->s.user);
	struct wgotp_policy pol;
	int64_t at = 0;

	if (a->warner && !l->warn_busy && l->warned != l->s.expires &&
	    wgotp_policy_get(a->cfg, u ? u->group : NULL, &pol) == 0)
		at = wgotp_policy_warn_time(&pol, l->s.created, l->s.expires, now);
	if (table_warn_set(&a->table, l, at) < 0)
		oom();
}

static void on_warn(struct loop *lp, struct loop_timer *t)
{
	struct activator *a = sched_container_of(t, struct activator, warn_timer);
	int64_t now = act_now();
	struct live *x;

	while ((x = table_pop_warn(&a->table, now))) {
		char key[WGOTP_EMAIL_MAX + WGOTP_DEVICE_NAME_MAX + 8], *val = NULL;
		struct warn_job *j;

		if (x->warned == x->s.expires || x->warn_busy || x->s.expires <= now)
			continue;
		warn_key(x->s.user, x->s.device, key, sizeof(key));
		if (a->store->ops->kv_get(a->store->state, key, now, &val) == 0) {
			long long v = strtoll(val, NULL, 10);

			free(val);
			if (v == x->s.expires) {
				log_debug("warning: %s/%s was already warned of %lld", x->s.user,
					  x->s.device, v);
				x->warned = x->s.expires;
				continue;
			}
		}
		if (!wgotp_identity_mailable(x->s.user)) {
			log_info("warning: %s is not a mail address: no warning for %s", x->s.user,
				 x->s.device);
			x->warned = x->s.expires;
			continue;
		}
		j = must(calloc(1, sizeof(*j)));
		snprintf(j->user, sizeof(j->user), "%s", x->s.user);
		snprintf(j->device, sizeof(j->device), "%s", x->s.device);
		j->expires = x->s.expires;
		wgotp_session_local_time(a->cfg, j->expires, j->end, sizeof(j->end), j->date,
					 sizeof(j->date));
		x->warn_busy = x->s.expires;
		log_debug("warning: %s/%s ends at %s: handed to the mail worker", j->user, j->device,
			  j->end);
		warner_submit(a->warner, j);
	}
	arm_warn(a);
}

/* The worker's answer (in the loop). */
static void on_warn_done(void *arg, struct warn_job *j)
{
	struct activator *a = arg;
	const struct wgotp_directory *dir = wgotp_dir_cache_get(a->dir);
	struct live *l = table_get(&a->table, j->user, j->device);
	int64_t now = act_now();
	char key[WGOTP_EMAIL_MAX + WGOTP_DEVICE_NAME_MAX + 8], val[32];
	int ret;

	if (l && l->warn_busy == j->expires)
		l->warn_busy = 0;
	if (j->ret == 0) {
		warn_key(j->user, j->device, key, sizeof(key));
		snprintf(val, sizeof(val), "%lld", (long long)j->expires);
		ret = a->store->ops->kv_put(a->store->state, key, val, j->expires + 86400);
		if (ret < 0)
			log_warn("warning: recording the warning of %s/%s: %s (a restart may send it again)",
				 j->user, j->device, strerror(-ret));
		log_info("warning: mailed %s: %s ends at %s %s", j->user, j->device, j->date, j->end);
		{
			struct wgotp_audit au = {
				.event = "warn", .origin = l ? l->s.origin : NULL, .user = j->user,
				.device = j->device, .result = "accept", .reason = "mailed",
				.expires = j->expires,
			};

			wgotp_audit(&au);
		}
		if (l && l->s.expires == j->expires) {
			l->warned = j->expires;
			l->warn_tries = 0;
		}
	} else if (l && l->s.expires == j->expires) {
		int64_t at = now + ((int64_t)WARN_RETRY_SEC << (l->warn_tries < 8 ? l->warn_tries : 8));

		l->warn_tries++;
		if (l->warn_tries < WARN_MAX_TRIES && at < l->s.expires) {
			log_warn("warning: mailing %s (%s ends at %s) failed, try %d of %d, again in %lld s: %s",
				 j->user, j->device, j->end, l->warn_tries, WARN_MAX_TRIES,
				 (long long)(at - now), j->err);
			if (table_warn_set(&a->table, l, at) < 0)
				oom();
		} else {
			log_err("warning: mailing %s (%s ends at %s) failed %d times, giving up: %s",
				j->user, j->device, j->end, l->warn_tries, j->err);
			l->warned = l->s.expires;
		}
	} else {
		log_warn("warning: mailing %s (%s) failed: %s (the session has changed since)",
			 j->user, j->device, j->err);
	}
	/* extended while the mail was on its way: warn of the new end */
	if (l && l->s.expires != j->expires)
		schedule_warn(a, dir, l, now);
	wgotp_dir_cache_put(a->dir, dir);
	arm_warn(a);
}

static bool warn_configured(const struct wgotp_config *cfg)
{
	if (cfg->session_warn_before > 0)
		return true;
	for (int i = 0; i < cfg->n_groups; i++)
		if ((cfg->groups[i].set & WGOTP_GROUP_WARN) && cfg->groups[i].session_warn_before > 0)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* Reconcile                                                          */

struct sess_vec {
	struct wgotp_session *v;
	size_t n, cap;
};

static int collect_session(void *arg, const struct wgotp_session *s)
{
	struct sess_vec *sv = arg;

	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? 2 * sv->cap : 256;
		sv->v = must(reallocarray(sv->v, sv->cap, sizeof(*sv->v)));
	}
	sv->v[sv->n++] = *s;
	return 0;
}

/* Plan and apply; mark in ended[] the sessions deleted from the store. */
static int reconcile_apply(struct activator *a, const struct wgotp_directory *dir,
			   const struct sess_vec *sv, int64_t now, bool *ended)
{
	struct wg_peer_list peers = { 0 };
	struct rc_plan plan = { 0 };
	struct wgotp_error err = { "" };
	int64_t t0 = loop_now();
	int ret;

	ret = wg_list(a->wg, &peers, &err);
	if (ret < 0) {
		log_err("reconcile: listing the peers of %s: %s", a->cfg->interface, err.msg);
		goto cleanup;
	}
	ret = rc_plan(dir, sv->v, sv->n, &peers, now, &plan);
	if (ret == -ENOMEM)
		oom();
	if (ret < 0) {
		log_err("reconcile: %s", strerror(-ret));
		goto cleanup;
	}
	for (size_t i = 0; i < plan.n_refused; i++) {
		char canon[sizeof(sv->v[0].allowed_ips)];

		/* err names only what users.json and the parser vouch for */
		wgotp_session_ips(dir, &sv->v[plan.refused[i]], canon, sizeof(canon), &err);
		log_warn("reconcile: a stored session is not applied and ends: %s", err.msg);
	}
	/* peers first ... */
	ret = wg_apply(a->wg, plan.changes, plan.n_changes, &err);
	if (ret < 0) {
		log_err("reconcile: changing %zu peer(s) of %s: %s", plan.n_changes,
			a->cfg->interface, err.msg);
		goto cleanup;
	}
	act_metrics_reconcile(plan.added + plan.permanent_added, plan.removed);
	/* ... then the sessions that ended */
	for (size_t i = 0; i < plan.n_ended; i++) {
		const struct wgotp_session *s = &sv->v[plan.ended[i]];
		int r = a->store->ops->session_del(a->store->state, s->user, s->device);

		if (r < 0 && r != -ENOENT)
			log_warn("reconcile: deleting the session of %s/%s: %s", s->user, s->device,
				 strerror(-r));
		else
			ended[plan.ended[i]] = true;
		audit("expire", s->origin, s, NULL, "accept", s->expires <= now ? "expired" :
		      rc_refused(&plan, plan.ended[i]) ? "refused" : "reconcile", NULL, 0);
	}
	log_info("reconcile: %zu session(s), %zu peer(s) on %s: added %zu, removed %zu, "
		 "%zu expired, %zu stale, %zu permanent added; %.1f ms",
		 sv->n - plan.n_ended, peers.n, a->cfg->interface, plan.added, plan.removed,
		 plan.expired, plan.stale, plan.permanent_added,
		 (double)(loop_now() - t0) / NSEC_PER_MSEC);
	ret = 0;
cleanup:
	rc_plan_free(&plan);
	wg_peer_list_free(&peers);
	return ret;
}

int act_reconcile(struct activator *a)
{
	const struct wgotp_directory *dir = wgotp_dir_cache_get(a->dir);
	struct sess_vec sv = { 0 };
	bool *ended = NULL;
	struct warn_state {
		int64_t warned, warn_busy;
		int warn_tries;
	} *warned = NULL;		/* what each session's warning has done */
	int ret;

	ret = a->store->ops->session_list(a->store->state, collect_session, &sv);
	if (ret < 0) {
		act_metrics_store_error();
		log_err("reconcile: reading the sessions: %s", strerror(-ret));
		goto cleanup;
	}
	ended = must(calloc(sv.n + 1, sizeof(*ended)));
	ret = reconcile_apply(a, dir, &sv, act_now(), ended);
	/* The table mirrors what the store now holds. If WireGuard could not
	 * be changed, expired sessions stay and the expiry timer retries.
	 * What the warnings have done so far is kept. */
	warned = must(calloc(sv.n + 1, sizeof(*warned)));
	for (size_t i = 0; i < sv.n; i++) {
		struct live *old = table_get(&a->table, sv.v[i].user, sv.v[i].device);

		if (old) {
			warned[i].warned = old->warned;
			warned[i].warn_busy = old->warn_busy;
			warned[i].warn_tries = old->warn_tries;
		}
	}
	table_fini(&a->table);
	for (size_t i = 0; i < sv.n; i++) {
		struct live *l = NULL;

		if (ended[i])
			continue;
		if (table_put(&a->table, &sv.v[i], &l) == -ENOMEM)
			oom();
		if (!l)
			continue;
		l->warned = warned[i].warned;
		l->warn_busy = warned[i].warn_busy;
		l->warn_tries = warned[i].warn_tries;
		schedule_warn(a, dir, l, act_now());
	}
cleanup:
	wgotp_dir_cache_put(a->dir, dir);
	free(sv.v);
	free(ended);
	free(warned);
	arm_expiry(a);
	if (a->loop)
		arm_warn(a);
	/* Parsing users.json and the UAPI dump of every peer leave megabytes
	 * of freed heap behind: give them back. */
	malloc_trim(0);
	return ret;
}

/* The wall clock was set: expiry and warnings are instants and stay; the
 * periodic reconcile is "ReconcileInterval from now", so it re-arms from
 * the new now (a step back must not postpone it by the size of the step). */
static void on_clock_set(struct loop *l, void *arg)
{
	struct activator *a = arg;

	if (loop_timer_arm(l, &a->reconcile_timer, loop_now() + a->cfg->reconcile_interval * NSEC_PER_SEC) < 0)
		oom();
}

static void on_reconcile(struct loop *l, struct loop_timer *t)
{
	struct activator *a = sched_container_of(t, struct activator, reconcile_timer);

	act_reconcile(a);
	if (loop_timer_arm(l, t, loop_now() + a->cfg->reconcile_interval * NSEC_PER_SEC) < 0)
		oom();
}

/* ------------------------------------------------------------------ */
/* Requests                                                           */

struct ctx {
	struct activator *a;
	const struct proto_request *req;
	const char *client;		/* "uid=N" for the audit log */
	const struct wgotp_directory *dir;
	char user[WGOTP_EMAIL_MAX + 1];	/* lower case */
	json_object *reply;
};

static json_object *fail(struct ctx *c, enum proto_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static json_object *fail(struct ctx *c, enum proto_status st, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_put(c->reply);
	c->reply = NULL;
	return must(proto_error_reply(c->req, st, msg));
}

/* The devices a request names: one (device or public_key) or all. */
static json_object *pick_devices(struct ctx *c, const struct wgotp_user *u,
				 const struct wgotp_device **devs, size_t *n)
{
	const struct proto_request *req = c->req;

	*n = 0;
	for (size_t i = 0; i < u->n_devices; i++) {
		const struct wgotp_device *d = &u->devices[i];

		if (req->device[0] && strcmp(d->name, req->device) != 0)
			continue;
		if (req->public_key[0] && strcmp(d->public_key, req->public_key) != 0)
			continue;
		if (*n == MAX_BATCH_DEVICES)
			return fail(c, PROTO_E_REQUEST, "more than %d devices", MAX_BATCH_DEVICES);
		devs[(*n)++] = d;
	}
	if (*n == 0) {
		if (req->device[0])
			return fail(c, PROTO_E_DEVICE, "%s has no device \"%s\"", c->user, req->device);
		if (req->public_key[0])
			return fail(c, PROTO_E_DEVICE, "%s has no device with this public key", c->user);
		return fail(c, PROTO_E_DEVICE, "%s has no device", c->user);
	}
	return NULL;
}

/* The allowed IPs of session s of device d: all the device's, or the
 * subset asked for, as wgotp_session_ips() lets them reach WireGuard. */
static json_object *session_ips(struct ctx *c, const struct wgotp_device *d, struct wgotp_session *s)
{
	const struct proto_request *req = c->req;
	struct wgotp_error err = { "" };
	char canon[sizeof(s->allowed_ips)];

	if (ips_format(req->has_ips ? req->ips : d->allowed_ips,
		       req->has_ips ? req->n_ips : d->n_allowed_ips, s->allowed_ips,
		       sizeof(s->allowed_ips)) < 0)
		return fail(c, PROTO_E_CIDR, "device \"%s\": too many allowed IPs", d->name);
	if (wgotp_session_ips(c->dir, s, canon, sizeof(canon), &err) < 0)
		return fail(c, PROTO_E_CIDR, "%s", err.msg);
	memcpy(s->allowed_ips, canon, sizeof(canon));
	return NULL;
}

static json_object *op_activate(struct ctx *c)
{
	struct activator *a = c->a;
	const struct proto_request *req = c->req;
	const struct wgotp_user *u = wgotp_dir_find(c->dir, c->user);
	const struct wgotp_device *devs[MAX_BATCH_DEVICES], *perm[MAX_BATCH_DEVICES];
	struct wgotp_session news[MAX_BATCH_DEVICES], olds[MAX_BATCH_DEVICES], perms[MAX_BATCH_DEVICES];
	bool had[MAX_BATCH_DEVICES] = { false };
	struct wg_peer ch[2 * MAX_BATCH_DEVICES];
	struct wgotp_error err = { "" };
	size_t n = 0, n_ch = 0, n_stored = 0, n_perm = 0, n_all;
	int64_t now = act_now(), duration, expires;
	const char *origin = req->origin[0] ? req->origin : "admin";
	struct wgotp_policy pol;
	struct wgotp_deadline_info di;
	json_object *r, *arr;
	bool managed = false;
	int ret;

	if (!u || !u->enabled)
		return fail(c, PROTO_E_USER, "unknown or disabled user %s", c->user);
	/* Only an explicit choice made by an admin (wgotpctl) or by the user
	 * on the portal may set an earlier deadline; a login never does. */
	if (req->shorten && !wgotp_shorten_allowed(origin))
		return fail(c, PROTO_E_FORBIDDEN, "\"shorten\" is for origins admin and portal only");
	r = pick_devices(c, u, devs, &n);
	if (r)
		return r;
	/* Does any device asked for need a session (and so the policy)? */
	for (size_t i = 0; i < n; i++)
		managed = managed || rc_managed(u, devs[i]);
	/* The policy of every front end (lib/session_policy.c): the user's
	 * group's limits, then NotAfter. */
	if (wgotp_policy_get(a->cfg, u->group, &pol) < 0 && managed)
		return fail(c, PROTO_E_DURATION, "%s is in group \"%s\", which has no [Group] section in %s",
			    c->user, u->group, a->cfg->path ? a->cfg->path : "wgotp.conf");
	if (req->duration > pol.session_max)
		return fail(c, PROTO_E_DURATION, "duration %" PRId64 " s is over MaxDuration (%" PRId64 " s)",
			    req->duration, pol.session_max);
	ret = wgotp_session_deadline(a->cfg, u->group, now, req->duration, &di);
	if (ret == -ETIME && managed) {
		char hhmm[8];

		wgotp_session_local_time(a->cfg, di.cutoff, hhmm, sizeof(hhmm), NULL, 0);
		return fail(c, PROTO_E_DURATION, "sessions end at %s (NotAfter%s%s): no new session before midnight",
			    hhmm, a->cfg->session_time_zone ? ", " : "",
			    a->cfg->session_time_zone ? a->cfg->session_time_zone : "");
	}
	duration = di.duration;
	expires = ret == 0 ? di.expires : now + duration;

	/* Permanent devices (no code needed) only get their peer: no session. */
	n_all = n;
	n = 0;
	for (size_t i = 0; i < n_all; i++) {
		if (rc_managed(u, devs[i]))
			devs[n++] = devs[i];
		else
			perm[n_perm++] = devs[i];
	}
	for (size_t i = 0; i < n_perm; i++) {
		memset(&perms[i], 0, sizeof(perms[i]));
		snprintf(perms[i].user, sizeof(perms[i].user), "%s", c->user);
		snprintf(perms[i].device, sizeof(perms[i].device), "%s", perm[i]->name);
		memcpy(perms[i].public_key, perm[i]->public_key, sizeof(perms[i].public_key));
		r = session_ips(c, perm[i], &perms[i]);
		if (r)
			return r;
		memcpy(ch[n_ch].key, perm[i]->key, WGOTP_KEY_LEN);
		ch[n_ch].remove = false;
		ch[n_ch++].allowed_ips = perms[i].allowed_ips;
	}

	for (size_t i = 0; i < n; i++) {
		struct live *old = table_get(&a->table, c->user, devs[i]->name);
		struct wgotp_session *s = &news[i];

		memset(s, 0, sizeof(*s));
		snprintf(s->user, sizeof(s->user), "%s", c->user);
		snprintf(s->device, sizeof(s->device), "%s", devs[i]->name);
		memcpy(s->public_key, devs[i]->public_key, sizeof(s->public_key));
		r = session_ips(c, devs[i], s);
		if (r)
			return r;
		s->created = now;
		s->expires = expires;
		snprintf(s->origin, sizeof(s->origin), "%s", origin);
		if (old) {
			had[i] = true;
			olds[i] = old->s;
			s->created = old->s.created;
			/* a new login extends; it never shortens (but see shorten) */
			s->expires = wgotp_session_extend(old->s.expires, s->expires, req->shorten);
			/* Extend in place: the same key with the same prefixes
			 * leaves the peer alone (no replace_allowed_ips, whose
			 * remove-then-insert could drop a packet in between; no
			 * handshake is touched either way). */
			if (strcmp(old->s.public_key, s->public_key) == 0 &&
			    strcmp(old->s.allowed_ips, s->allowed_ips) == 0)
				continue;
			/* the device got a new key since: the old peer goes */
			if (strcmp(old->s.public_key, s->public_key) != 0) {
				memcpy(ch[n_ch].key, old->key, WGOTP_KEY_LEN);
				ch[n_ch++].remove = true;
			}
		}
		memcpy(ch[n_ch].key, devs[i]->key, WGOTP_KEY_LEN);
		ch[n_ch].remove = false;
		ch[n_ch++].allowed_ips = s->allowed_ips;
	}

	if (!n) {
		/* only permanent devices: always configured, nothing to store */
		ret = wg_apply(a->wg, ch, n_ch, &err);
		if (ret < 0)
			return fail(c, PROTO_E_WIREGUARD, "%s", err.msg);
		r = must(proto_reply_new(req));
		json_object_object_add(r, "expires", json_object_new_int64(0));
		json_object_object_add(r, "permanent", json_object_new_boolean(1));
		json_object_object_add(r, "sessions", json_object_new_array());
		return r;
	}

	/* the sessions first ... */
	for (n_stored = 0; n_stored < n; n_stored++) {
		ret = a->store->ops->session_put(a->store->state, &news[n_stored]);
		if (ret < 0) {
			act_metrics_store_error();
			snprintf(err.msg, sizeof(err.msg), "storing the session: %s", strerror(-ret));
			goto undo;
		}
	}
	/* ... then the peers, all in one operation */
	ret = wg_apply(a->wg, ch, n_ch, &err);
	if (ret < 0)
		goto undo;

	r = must(proto_reply_new(req));
	arr = must(json_object_new_array());
	for (size_t i = 0; i < n; i++) {
		struct live *l = NULL;

		if (table_put(&a->table, &news[i], &l) < 0)
			oom();
		if (had[i] && news[i].expires != olds[i].expires)
			l->warn_tries = 0;
		schedule_warn(a, c->dir, l, now);
		json_object_array_add(arr, must(proto_session_json(&news[i])));
		if (!had[i])
			audit("activate", origin, &news[i], NULL, "accept", "new", c->client,
			      news[i].expires - now);
		else
			audit_dl("extend", origin, &news[i], NULL, "accept",
				 news[i].expires > olds[i].expires ? "extended" :
				 news[i].expires < olds[i].expires ? "shortened" : "unchanged",
				 c->client, news[i].expires - now, olds[i].expires);
		act_metrics_event(had[i] ? ACT_EV_EXTEND : ACT_EV_ACTIVATE, req->origin, 1);
	}
	json_object_object_add(r, "expires", json_object_new_int64(news[0].expires));
	json_object_object_add(r, "permanent", json_object_new_boolean(0));
	json_object_object_add(r, "sessions", arr);
	arm_expiry(a);
	arm_warn(a);
	return r;

undo:
	/* Put the store back as it was: nothing changed for the caller. */
	for (size_t i = 0; i < n_stored; i++) {
		if (had[i])
			a->store->ops->session_put(a->store->state, &olds[i]);
		else
			a->store->ops->session_del(a->store->state, news[i].user, news[i].device);
	}
	audit("activate", req->origin, NULL, c->user, "error", n_stored < n ? "store" : "wireguard",
	      c->client, 0);
	return fail(c, n_stored < n ? PROTO_E_STORE : PROTO_E_WIREGUARD, "%s", err.msg);
}

static json_object *op_deactivate(struct ctx *c)
{
	struct activator *a = c->a;
	const struct proto_request *req = c->req;
	struct table_iter it;
	struct live **hit = NULL;
	struct wg_peer *ch = NULL;
	size_t n = 0, n_ch = 0;
	struct wgotp_error err = { "" };
	json_object *r = NULL, *arr;
	int ret;

	for (struct live *l = table_first(&a->table, &it); l; l = table_next(&a->table, &it)) {
		if (strcmp(l->s.user, c->user) != 0)
			continue;
		if (req->device[0] && strcmp(l->s.device, req->device) != 0)
			continue;
		if (req->public_key[0] && strcmp(l->s.public_key, req->public_key) != 0)
			continue;
		hit = must(reallocarray(hit, n + 1, sizeof(*hit)));
		hit[n++] = l;
	}
	ch = must(calloc(n + MAX_BATCH_DEVICES + 1, sizeof(*ch)));
	n_ch = 0;
	{
		const struct wgotp_user *u = wgotp_dir_find(c->dir, c->user);
		const struct wgotp_device *devs[MAX_BATCH_DEVICES];
		size_t n_dev = 0;

		/* Nothing live: fine if the user and device exist (idempotent). */
		if (!u && n == 0) {
			r = fail(c, PROTO_E_USER, "unknown user %s", c->user);
			goto cleanup;
		}
		r = u ? pick_devices(c, u, devs, &n_dev) : NULL;
		if (r && n == 0)
			goto cleanup;
		if (r) {	/* live sessions of a device that is gone: they end */
			json_object_put(r);
			r = NULL;
			n_dev = 0;
		}
		/* A device that needs a code has no peer without a session,
		 * even one that needed none until just now (device set, or
		 * wgotpctl about to delete it). */
		for (size_t i = 0; i < n_dev; i++) {
			bool live = false;

			for (size_t k = 0; k < n && !live; k++)
				live = !memcmp(hit[k]->key, devs[i]->key, WGOTP_KEY_LEN);
			if (live || !rc_managed(u, devs[i]))
				continue;
			memcpy(ch[n_ch].key, devs[i]->key, WGOTP_KEY_LEN);
			ch[n_ch++].remove = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct wgotp_directory *dir = c->dir;

		if (key_is_permanent(dir, hit[i]->s.public_key))
			continue;
		memcpy(ch[n_ch].key, hit[i]->key, WGOTP_KEY_LEN);
		ch[n_ch++].remove = true;
	}
	/* the peers first ... */
	ret = wg_apply(a->wg, ch, n_ch, &err);
	if (ret < 0) {
		audit("deactivate", req->origin, NULL, c->user, "error", "wireguard", c->client, 0);
		r = fail(c, PROTO_E_WIREGUARD, "%s", err.msg);
		goto cleanup;
	}
	/* ... then the sessions */
	r = must(proto_reply_new(req));
	arr = must(json_object_new_array());
	for (size_t i = 0; i < n; i++) {
		ret = a->store->ops->session_del(a->store->state, hit[i]->s.user, hit[i]->s.device);
		if (ret < 0 && ret != -ENOENT)
			log_warn("deactivate: deleting the session of %s/%s: %s (the next reconcile retries)",
				 hit[i]->s.user, hit[i]->s.device, strerror(-ret));
		audit("deactivate", req->origin, &hit[i]->s, NULL, "accept", "deactivated", c->client, 0);
		act_metrics_event(ACT_EV_DEACTIVATE, req->origin, 1);
		json_object_array_add(arr, must(proto_session_json(&hit[i]->s)));
		table_del(&a->table, hit[i]);
	}
	json_object_object_add(r, "ended", json_object_new_int64((int64_t)n));
	json_object_object_add(r, "sessions", arr);
	arm_expiry(a);
cleanup:
	free(hit);
	free(ch);
	return r;
}

static json_object *op_list(struct ctx *c)
{
	struct table_iter it;
	json_object *r = must(proto_reply_new(c->req)), *arr = must(json_object_new_array());

	for (struct live *l = table_first(&c->a->table, &it); l; l = table_next(&c->a->table, &it)) {
		if (c->user[0] && strcmp(l->s.user, c->user) != 0)
			continue;
		json_object_array_add(arr, must(proto_session_json(&l->s)));
	}
	json_object_object_add(r, "sessions", arr);
	return r;
}

static json_object *op_ping(struct ctx *c)
{
	struct activator *a = c->a;
	json_object *r = must(proto_reply_new(c->req));
	struct wgotp_error err = { "" };
	uint8_t key[WGOTP_KEY_LEN];
	char b64[WGOTP_KEY_B64_LEN + 1];

	json_object_object_add(r, "interface", json_object_new_string(a->cfg->interface));
	json_object_object_add(r, "backend", json_object_new_string(wg_backend_name(a->wg)));
	json_object_object_add(r, "sessions", json_object_new_int64((int64_t)a->table.n));
	json_object_object_add(r, "uptime", json_object_new_int64(act_now() - a->started));
	json_object_object_add(r, "pid", json_object_new_int64(getpid()));
	/* for client configs (wgotpctl device add); absent when unreadable */
	if (wg_pubkey(a->wg, key, &err) == 0) {
		wgotp_key_to_base64(b64, key);
		json_object_object_add(r, "public_key", json_object_new_string(b64));
	}
	return r;
}

static json_object *(*const handlers[])(struct ctx *) = {
	[PROTO_OP_ACTIVATE] = op_activate,
	[PROTO_OP_DEACTIVATE] = op_deactivate,
	[PROTO_OP_LIST] = op_list,
	[PROTO_OP_PING] = op_ping,
};

char *act_handle(struct activator *a, const char *msg, size_t len, const struct ucred *cred,
		 size_t *reply_len)
{
	struct proto_request req;
	struct proto_error perr;
	struct ctx c = { .a = a, .req = &req };
	char client[32];
	json_object *reply;
	char *out;

	snprintf(client, sizeof(client), "uid=%u", cred ? (unsigned int)cred->uid : 0u);
	c.client = client;
	if (proto_parse_request(msg, len, &req, &perr) < 0) {
		log_info("control: %s: refused %s: %s", client, proto_status_name(perr.status), perr.msg);
		reply = must(proto_error_reply(&req, perr.status, perr.msg));
		goto send;
	}
	for (size_t i = 0; req.user[i] && i < sizeof(c.user) - 1; i++)
		c.user[i] = (char)tolower((unsigned char)req.user[i]);
	c.dir = wgotp_dir_cache_get(a->dir);
	reply = handlers[req.op](&c);
	wgotp_dir_cache_put(a->dir, c.dir);
send:
	out = proto_reply_finish(reply, reply_len);
	proto_request_release(&req);
	return must(out);
}

/* ------------------------------------------------------------------ */

int act_init(struct activator *a, const struct wgotp_config *cfg, struct loop *loop,
	     struct wgotp_error *err)
{
	int ret;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->loop = loop;
	a->started = act_now();
	table_init(&a->table);
	loop_timer_init(&a->expiry_timer, on_expiry);
	loop_timer_init(&a->reconcile_timer, on_reconcile);
	loop_timer_init(&a->warn_timer, on_warn);

	/* Without the directory we could not tell managed peers from others:
	 * refuse to start rather than guess. */
	ret = wgotp_dir_cache_new(cfg->directory, &a->dir, err);
	if (ret < 0)
		goto cleanup;
	wgotp_dir_cache_set_interval_ms(a->dir, 0);
	ret = wgotp_store_open(cfg, &a->store, err);
	if (ret < 0)
		goto cleanup;
	ret = wg_open(cfg, &a->wg, err);
	if (ret < 0)
		goto cleanup;
	if (loop && warn_configured(cfg)) {
		ret = warner_open(cfg, loop, on_warn_done, a, &a->warner, err);
		if (ret < 0)
			goto cleanup;
	}
	if (loop) {
		loop_on_clock_set(loop, on_clock_set, a);
		ret = loop_timer_arm(loop, &a->reconcile_timer,
				     loop_now() + cfg->reconcile_interval * NSEC_PER_SEC);
		if (ret < 0)
			goto cleanup;
	}
	ret = 0;
cleanup:
	if (ret < 0)
		act_fini(a);
	return ret;
}

int act_start(struct activator *a, struct wgotp_error *err)
{
	return a->warner ? warner_start(a->warner, err) : 0;
}

void act_fini(struct activator *a)
{
	warner_close(a->warner);
	a->warner = NULL;
	if (a->loop) {
		loop_timer_disarm(a->loop, &a->expiry_timer);
		loop_timer_disarm(a->loop, &a->reconcile_timer);
		loop_timer_disarm(a->loop, &a->warn_timer);
	}
	table_fini(&a->table);
	wg_close(a->wg);
	a->wg = NULL;
	if (a->store)
		wgotp_store_close(a->store);
	a->store = NULL;
	if (a->dir)
		wgotp_dir_cache_free(a->dir);
	a->dir = NULL;
}
