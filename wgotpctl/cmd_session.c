// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl sessions | activate | deactivate.
 *
 * activate checks the code through the same login flow as RADIUS and PAM
 * (origin "admin": replay protection, rate limits and the audit log
 * apply), then asks wg-activator for the session. deactivate ends
 * sessions at once. sessions shows every device of every user with its
 * state, from wg-activator when it answers, else from the store.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "activator_client.h"
#include "ctl.h"
#include "session_policy.h"
#include "flow.h"
#include "mail.h"
#include "secret.h"

/* ---- sessions ---------------------------------------------------------- */

struct session_vec {
	struct wgotp_session *v;
	size_t n, cap;
};

static int collect(void *arg, const struct wgotp_session *s)
{
	struct session_vec *sv = arg;
	struct wgotp_session *grown;

	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? 2 * sv->cap : 16;

		grown = realloc(sv->v, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		sv->v = grown;
		sv->cap = cap;
	}
	sv->v[sv->n++] = *s;
	return 0;
}

static const struct wgotp_session *find_session(const struct session_vec *sv, const char *user,
						const struct wgotp_device *d, int64_t now)
{
	for (size_t i = 0; i < sv->n; i++) {
		const struct wgotp_session *s = &sv->v[i];

		if (strcasecmp(s->user, user) || s->expires <= now)
			continue;
		if (!strcmp(s->device, d->name) || !strcmp(s->public_key, d->public_key))
			return s;
	}
	return NULL;
}

int cmd_sessions(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct session_vec sv = { 0 };
	struct wgotp_error err = { "" };
	struct wgotp_store *store = NULL;
	struct json_object *root = NULL, *devs = NULL;
	struct ctl_dir d = { .lock_fd = -1 };
	int64_t now = (int64_t)time(NULL);
	bool from_daemon = false;
	int c, ret, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return ctl_bad_option(argv);
		ctl->json = true;
	}
	if (optind != argc)
		return ctl_usage("unexpected argument \"%s\"", argv[optind]);
	status = ctl_dir_open(ctl, false, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	ret = wgotp_activator_list(ctl->cfg, NULL, collect, &sv, &err);
	if (ret == 0) {
		from_daemon = true;
	} else {
		if (ret == -ENOMEM)
			goto oom;
		/* Not running or not allowed: the store still knows. */
		fprintf(stderr, "wgotpctl: warning: %s; showing the sessions in the store\n", err.msg);
		sv.n = 0;
		if (ctl_store(ctl, &store) != CTL_OK)
			goto cleanup;
		ret = store->ops->session_list(store->state, collect, &sv);
		if (ret == -ENOMEM)
			goto oom;
		if (ret < 0) {
			ctl_fail(CTL_FAIL, "store: cannot list sessions: %s", strerror(-ret));
			goto cleanup;
		}
	}

	if (ctl->json) {
		root = json_object_new_object();
		devs = json_object_new_array();
		json_object_object_add(root, "source", json_object_new_string(from_daemon ? "wg-activator" : "store"));
		json_object_object_add(root, "now", json_object_new_int64(now));
		json_object_object_add(root, "devices", devs);
	} else {
		printf("%-32s %-16s %-14s %-10s %-19s %-8s %s\n", "USER", "DEVICE", "STATE", "LEFT", "EXPIRES",
		       "ORIGIN", "BADGE");
	}
	for (size_t i = 0; i < d.dir->n_users; i++) {
		const struct wgotp_user *u = &d.dir->users[i];

		for (size_t k = 0; k < u->n_devices; k++) {
			const struct wgotp_device *dv = &u->devices[k];
			bool otp = wgotp_device_needs_otp(u, dv);
			const struct wgotp_session *s = otp ? find_session(&sv, u->email, dv, now) : NULL;
			const char *state = !otp ? "no OTP needed" : s ? "active" : "inactive";
			char left[32] = "-", exp[40] = "-", badge[48];

			if (s) {
				ctl_fmt_left(s->expires - now, left, sizeof(left));
				ctl_fmt_time(s->expires, ctl->json, exp, sizeof(exp));
			}
			/* as the specification's device list shows it */
			if (!otp)
				snprintf(badge, sizeof(badge), "No 2FA");
			else if (s)
				snprintf(badge, sizeof(badge), "Active %s", left);
			else
				snprintf(badge, sizeof(badge), "Inactive");
			if (ctl->json) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "user", json_object_new_string(u->email));
				json_object_object_add(o, "device", json_object_new_string(dv->name));
				json_object_object_add(o, "public_key", json_object_new_string(dv->public_key));
				json_object_object_add(o, "state", json_object_new_string(
					!otp ? "no_otp" : s ? "active" : "inactive"));
				json_object_object_add(o, "badge", json_object_new_string(badge));
				json_object_object_add(o, "enabled", json_object_new_boolean(u->enabled));
				json_object_object_add(o, "expires", s ? json_object_new_int64(s->expires) : NULL);
				json_object_object_add(o, "expires_utc", s ? json_object_new_string(exp) : NULL);
				json_object_object_add(o, "left", s ? json_object_new_int64(s->expires - now) : NULL);
				json_object_object_add(o, "origin", s && *s->origin ? json_object_new_string(s->origin) : NULL);
				json_object_array_add(devs, o);
			} else {
				printf("%-32s %-16s %-14s %-10s %-19s %-8s %s\n", u->email, dv->name, state, left, exp,
				       s && *s->origin ? s->origin : "-", badge);
			}
		}
	}
	if (root)
		puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
	status = CTL_OK;
	goto cleanup;
oom:
	ctl_fail(CTL_FAIL, "out of memory");
cleanup:
	json_object_put(root);
	free(sv.v);
	wgotp_store_close(store);
	ctl_dir_close(&d);
	return status;
}

/* ---- activate ---------------------------------------------------------- */

static const char *reason_text(enum wgotp_reason r)
{
	switch (r) {
	case WGOTP_R_BAD_CODE: return "wrong code";
	case WGOTP_R_BAD_FORMAT: return "not a code of the configured length";
	case WGOTP_R_REPLAY: return "the code was already used (replay): wait for the next one";
	case WGOTP_R_EXPIRED: return "the emailed code has expired";
	case WGOTP_R_TOO_MANY_TRIES: return "too many tries for this emailed code";
	case WGOTP_R_RATE_LIMITED: return "too many failed codes: try again later (rate limit)";
	case WGOTP_R_MAIL_LIMIT: return "too many codes mailed: try again later";
	case WGOTP_R_CHALLENGE_RESENT_LIMIT:
		return "a code was mailed less than [Email] ResendInterval ago: answer it with --code, or wait";
	case WGOTP_R_DISABLED: return "the user is disabled";
	case WGOTP_R_NOT_ENROLLED: return "the user has no confirmed TOTP secret";
	case WGOTP_R_UNKNOWN_DEVICE: return "no such device";
	case WGOTP_R_AFTER_CUTOFF:
		return "it is past [Session] NotAfter (the user's group's): no session until midnight";
	case WGOTP_R_UNKNOWN_GROUP: return "the user's group has no [Group] section in wgotp.conf";
	case WGOTP_R_UNKNOWN_CHALLENGE: return "no code is pending";
	default: return wgotp_reason_str(r);
	}
}

/* One of the Durations of the user's group (or of [Session]). */
static int check_duration(const struct wgotp_config *cfg, const char *group, const char *arg,
			  int64_t *out)
{
	char list[128] = "", one[24];
	struct wgotp_policy pol;

	if (wgotp_parse_duration(arg, out) < 0)
		return ctl_usage("--duration: \"%s\" is not a duration (4h, 8h ...)", arg);
	if (wgotp_policy_get(cfg, group, &pol) < 0)
		return ctl_fail(CTL_FAIL, "the user's group \"%s\" has no [Group] section in %s", group,
				cfg->path);
	for (int i = 0; i < pol.n_durations; i++) {
		if (pol.durations[i] == *out)
			return CTL_OK;
		ctl_fmt_duration(pol.durations[i], one, sizeof(one));
		if (strlen(list) + strlen(one) + 3 < sizeof(list))
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", one);
	}
	return ctl_usage("--duration: %s is not one of the allowed durations (%s)", arg, list);
}

/* An email user: answer the newest code mailed to them. */
static int answer_latest(struct wgotp_flow *f, struct wgotp_store *store, const struct wgotp_request *req,
			 const char *email, struct wgotp_result *res)
{
	struct wgotp_challenge c;
	int ret;

	ret = store->ops->challenge_latest(store->state, email, WGOTP_METHOD_EMAIL,
					   wgotp_flow_now(f), &c);
	if (ret == -ENOENT) {
		return ctl_fail(CTL_FAIL, "no code is pending for %s: run wgotpctl activate %s without --code to mail one",
				email, email);
	}
	if (ret < 0)
		return ctl_fail(CTL_FAIL, "store: %s", strerror(-ret));
	/* The flow refuses it too (a code opens only what its own request
	 * asked for); say why here. */
	if (strcmp(c.origin, req->origin) != 0)
		return ctl_fail(CTL_FAIL, "the newest code mailed to %s was asked for through %s, not wgotpctl: "
				"run wgotpctl activate %s without --code to mail one", email,
				c.origin[0] ? c.origin : "another front end", email);
	ret = wgotp_answer(f, c.id, req->code, req, res);
	if (ret < 0)
		return ctl_fail(CTL_FAIL, "the code could not be checked: %s", strerror(-ret));
	return CTL_OK;
}

int cmd_activate(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "code", required_argument, NULL, 'C' },
		{ "device", required_argument, NULL, 'd' },
		{ "duration", required_argument, NULL, 't' },
		{ "shorten", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *code = NULL, *device = NULL, *duration = NULL;
	struct wgotp_activation act = { .origin = "admin" };
	struct wgotp_error err = { "" };
	struct wgotp_store *store = NULL;
	struct wgotp_mailer mailer = { 0 }, *mp = NULL;
	struct wgotp_flow *flow = NULL;
	struct wgotp_request req = { 0 };
	struct wgotp_result res;
	const struct wgotp_user *u;
	const struct wgotp_device *dv = NULL;
	struct ctl_dir d = { .lock_fd = -1 };
	char email[WGOTP_EMAIL_MAX + 1], left[32], when[40];
	int64_t dur = 0, expires = 0;
	int c, ret, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'C': code = optarg; break;
		case 'd': device = optarg; break;
		case 't': duration = optarg; break;
		case 'S': act.shorten = true; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	if (act.shorten && !duration)
		return ctl_usage("--shorten needs --duration (the new, shorter length)");
	status = ctl_config(ctl);
	if (status != CTL_OK)
		return status;

	status = ctl_dir_open(ctl, false, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	u = ctl_find_user(&d, argv[optind]);
	if (!u)
		goto cleanup;
	snprintf(email, sizeof(email), "%s", u->email);
	if (duration && (status = check_duration(ctl->cfg, u->group, duration, &dur)) != CTL_OK)
		goto cleanup;
	status = CTL_FAIL;
	if (device && !(dv = wgotp_user_find_device(u, device))) {
		ctl_fail(CTL_FAIL, "%s has no device \"%s\"", email, device);
		goto cleanup;
	}
	if (!u->n_devices) {
		ctl_fail(CTL_FAIL, "%s has no device (wgotpctl device add)", email);
		goto cleanup;
	}
	{
		bool any = false;

		for (size_t i = 0; i < u->n_devices; i++)
			if ((!dv || dv == &u->devices[i]) && wgotp_device_needs_otp(u, &u->devices[i]))
				any = true;
		if (!any) {
			if (dv)
				printf("%s's device %s needs no OTP: it is always configured\n", email, dv->name);
			else
				printf("%s needs no OTP: their devices are always configured\n", email);
			status = CTL_OK;
			goto cleanup;
		}
	}
	if (u->method == WGOTP_METHOD_TOTP && (!code || !*code)) {
		status = ctl_usage("--code CODE is required for a TOTP user");
		goto cleanup;
	}

	if (ctl_store(ctl, &store) != CTL_OK)
		goto cleanup;
	if (u->method == WGOTP_METHOD_EMAIL && !code) {
		ret = wgotp_mailer_from_config(ctl->cfg, store, &mailer, &err);
		if (ret < 0) {
			ctl_fail(CTL_FAIL, "cannot mail a code: %s", err.msg);
			goto cleanup;
		}
		mp = &mailer;
	}
	if (wgotp_flow_new(ctl->cfg, store, mp, NULL, NULL, &flow, &err) < 0) {
		ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	req.user = email;
	req.code = code;
	req.origin = "admin";
	req.client = "wgotpctl";
	req.device = dv ? dv->public_key : NULL;
	req.duration = dur;
	if (u->method == WGOTP_METHOD_EMAIL && code) {
		if (answer_latest(flow, store, &req, email, &res) != CTL_OK)
			goto cleanup;
	} else {
		ret = wgotp_begin(flow, &req, &res);
		if (ret < 0) {
			ctl_fail(CTL_FAIL, "the code could not be checked: %s", strerror(-ret));
			goto cleanup;
		}
	}
	if (res.verdict == WGOTP_CHALLENGE) {
		printf("%s; then: wgotpctl activate %s --code CODE\n", res.prompt, email);
		status = CTL_OK;
		goto cleanup;
	}
	if (res.verdict != WGOTP_ACCEPT) {
		ctl_fail(CTL_FAIL, "code refused for %s: %s", email, reason_text(res.reason));
		goto cleanup;
	}

	act.user = res.user;
	act.public_key = res.device[0] ? res.device : NULL;
	act.duration = res.duration;
	ret = wgotp_activator_activate_ex(ctl->cfg, &act, &expires, &err);
	if (ret < 0) {
		ctl_fail(CTL_FAIL, "code accepted, but no session: %s", err.msg);
		goto cleanup;
	}
	if (expires) {
		ctl_fmt_left(expires - (int64_t)time(NULL), left, sizeof(left));
		ctl_fmt_time(expires, false, when, sizeof(when));
		printf("activated %s%s%s until %s (%s)\n", res.user, dv ? " device " : "",
		       dv ? dv->name : "", when, left);
	} else {
		printf("activated %s%s%s (permanent)\n", res.user, dv ? " device " : "", dv ? dv->name : "");
	}
	status = CTL_OK;
cleanup:
	wgotp_wipe(&res, sizeof(res));
	wgotp_flow_free(flow);
	if (mailer.free && mp)
		mailer.free(mailer.arg);
	wgotp_store_close(store);
	ctl_dir_close(&d);
	return status;
}

/* ---- deactivate -------------------------------------------------------- */

int cmd_deactivate(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *device = NULL;
	struct wgotp_error err = { "" };
	int c, n = 0, ret, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': device = optarg; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	status = ctl_config(ctl);
	if (status != CTL_OK)
		return status;
	ret = wgotp_activator_deactivate(ctl->cfg, argv[optind], device, &n, &err);
	if (ret == -ESRCH)
		return ctl_fail(CTL_FAIL, "no such user: %s", argv[optind]);
	if (ret == -ENODEV)
		return ctl_fail(CTL_FAIL, "%s has no device%s%s%s", argv[optind], device ? " \"" : "",
				device ? device : "", device ? "\"" : "");
	if (ret < 0)
		return ctl_fail(CTL_FAIL, "%s", err.msg);
	printf("ended %d session%s of %s\n", n, n == 1 ? "" : "s", argv[optind]);
	return CTL_OK;
}
