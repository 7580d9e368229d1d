// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What every command shares: messages and exit status, dispatch, the
 * configuration, users.json under a lock, the store, ending sessions.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "activator_client.h"
#include "ctl.h"
#include "dirindex.h"
#include "invite.h"

static char cur_name[64] = "";		/* "user add" */
static const char *cur_usage = "";

int ctl_fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs("wgotpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

int ctl_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wgotpctl: %s: ", cur_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; usage: wgotpctl %s%s%s\n", cur_name, *cur_usage ? " " : "", cur_usage);
	return CTL_USAGE;
}

int ctl_bad_option(char **argv)
{
	const char *opt = optind > 0 ? argv[optind - 1] : "?";

	if (optopt && opt[0] == '-' && opt[1] != '-')
		return ctl_usage("unknown option or missing value: -%c", optopt);
	return ctl_usage("unknown option or missing value: %s", opt);
}

void ctl_getopt_reset(void)
{
	optind = 0;
	opterr = 0;
}

int ctl_force_opt(int argc, char **argv, bool *force)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*force = false;
	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': *force = true; break;
		default: return ctl_bad_option(argv);
		}
	}
	return CTL_OK;
}

int ctl_dispatch(struct ctl *ctl, const char *group, const struct ctl_cmd *cmds, int argc, char **argv)
{
	const struct ctl_cmd *c;

	if (argc < 1) {
		snprintf(cur_name, sizeof(cur_name), "%s", group);
		cur_usage = "";
		for (c = cmds; c->name; c++)
			;
		fprintf(stderr, "wgotpctl: %s: which one?", group);
		for (c = cmds; c->name; c++)
			fprintf(stderr, "%s%s", c == cmds ? " " : ", ", c->name);
		fputc('\n', stderr);
		return CTL_USAGE;
	}
	for (c = cmds; c->name; c++) {
		if (strcmp(c->name, argv[0]))
			continue;
		if (group)
			snprintf(cur_name, sizeof(cur_name), "%s %s", group, c->name);
		else
			snprintf(cur_name, sizeof(cur_name), "%s", c->name);
		cur_usage = c->usage;
		return c->run(ctl, argc, argv);
	}
	if (group)
		return ctl_fail(CTL_USAGE, "%s: unknown command \"%s\" (see wgotpctl --help)", group, argv[0]);
	return ctl_fail(CTL_USAGE, "unknown command \"%s\" (see wgotpctl --help)", argv[0]);
}

int ctl_config(struct ctl *ctl)
{
	struct wgotp_error err = { "" };

	if (ctl->cfg)
		return CTL_OK;
	if (wgotp_config_load(wgotp_config_path(ctl->conf_arg), &ctl->cfg, &err) < 0)
		return ctl_fail(CTL_FAIL, "%s", err.msg);
	ctl_log_config(ctl->cfg);
	return CTL_OK;
}

static int dir_open(struct ctl *ctl, bool for_write, bool for_add, struct ctl_dir *d)
{
	struct wgotp_error err = { "" };
	int ret, status = CTL_FAIL;

	d->dir = NULL;
	d->lock_fd = -1;
	status = ctl_config(ctl);
	if (status != CTL_OK)
		goto cleanup;
	status = CTL_FAIL;
	if (for_write) {
		/* the lock every writer of users.json takes (wgotp-dird too) */
		d->lock_fd = wgotp_dir_lock(ctl->cfg->directory, &err);
		if (d->lock_fd < 0) {
			d->lock_fd = -1;
			ctl_fail(CTL_FAIL, "%s", err.msg);
			goto cleanup;
		}
	}
	ret = for_add ? wgotp_dirindex_load(ctl->cfg->directory, &d->dir, &err) :
			wgotp_dir_load(ctl->cfg->directory, &d->dir, &err);
	if (ret == -ENOENT) {
		ctl_fail(CTL_FAIL, "%s: no such file (wgotpctl init writes one)", ctl->cfg->directory);
		goto cleanup;
	}
	if (ret < 0) {
		ctl_fail(CTL_FAIL, "%s", err.msg[0] ? err.msg : strerror(-ret));
		goto cleanup;
	}
	status = CTL_OK;
cleanup:
	if (status != CTL_OK)
		ctl_dir_close(d);
	return status;
}

int ctl_dir_open(struct ctl *ctl, bool for_write, struct ctl_dir *d)
{
	return dir_open(ctl, for_write, false, d);
}

int ctl_dir_open_for_add(struct ctl *ctl, struct ctl_dir *d)
{
	return dir_open(ctl, true, true, d);
}

int ctl_dir_commit(struct ctl *ctl, struct ctl_dir *d)
{
	struct wgotp_error err = { "" };
	int ret;

	if (d->dir && d->dir->index)	/* one user added (ctl_dir_open_for_add) */
		ret = wgotp_dirindex_commit_add(d->dir, ctl->cfg->directory, &err);
	else
		ret = wgotp_dir_save(d->dir, ctl->cfg->directory, &err);
	if (ret < 0)
		return ctl_fail(CTL_FAIL, "%s", err.msg[0] ? err.msg : strerror(-ret));
	return CTL_OK;
}

void ctl_dir_close(struct ctl_dir *d)
{
	wgotp_dir_free(d->dir);
	d->dir = NULL;
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = -1;
}

struct wgotp_user *ctl_find_user(struct ctl_dir *d, const char *email)
{
	struct wgotp_user *u = wgotp_dir_find(d->dir, email);

	if (!u)
		ctl_fail(CTL_FAIL, "no such user: %s", email);
	return u;
}

int ctl_store(struct ctl *ctl, struct wgotp_store **out)
{
	struct wgotp_error err = { "" };
	int status;

	*out = NULL;
	status = ctl_config(ctl);
	if (status != CTL_OK)
		return status;
	if (wgotp_store_open(ctl->cfg, out, &err) < 0)
		return ctl_fail(CTL_FAIL, "%s", err.msg);
	return CTL_OK;
}

struct live_walk {
	const char *user;
	const char *device;
	int64_t now;
	int n;
};

static int count_live(void *arg, const struct wgotp_session *s)
{
	struct live_walk *w = arg;

	if (strcasecmp(s->user, w->user) || (w->device && strcmp(s->device, w->device)))
		return 0;
	if (s->expires > w->now)
		w->n++;
	return 0;
}

int ctl_end_sessions(struct ctl *ctl, const char *user, const char *device, bool force)
{
	struct wgotp_error err = { "" };
	struct wgotp_store *store = NULL;
	struct live_walk w = { .user = user, .device = device, .now = (int64_t)time(NULL) };
	int ret, n = 0, status;

	status = ctl_config(ctl);
	if (status != CTL_OK)
		return status;
	ret = wgotp_activator_deactivate(ctl->cfg, user, device, &n, &err);
	if (ret == 0) {
		if (n > 0)
			printf("ended %d session%s of %s\n", n, n == 1 ? "" : "s", user);
		return CTL_OK;
	}
	/* The daemon does not know the user or device: nothing of it is live. */
	if (ret == -ESRCH || ret == -ENODEV)
		return CTL_OK;
	if (force) {
		fprintf(stderr, "wgotpctl: warning: sessions of %s not ended: %s\n", user, err.msg);
		return CTL_OK;
	}
	if (ret != -ENOENT && ret != -ECONNREFUSED)
		return ctl_fail(CTL_FAIL, "cannot end the sessions of %s: %s (--force to go on)", user,
				err.msg);
	/* Not running: only a live session in the store stands in the way. */
	status = ctl_store(ctl, &store);
	if (status != CTL_OK)
		goto cleanup;
	ret = store->ops->session_list(store->state, count_live, &w);
	if (ret < 0) {
		status = ctl_fail(CTL_FAIL, "store: cannot list sessions: %s", strerror(-ret));
		goto cleanup;
	}
	if (w.n > 0) {
		status = ctl_fail(CTL_FAIL,
				  "wg-activator is not running and %s has %d live session%s: start it, or use --force",
				  user, w.n, w.n == 1 ? "" : "s");
		goto cleanup;
	}
	status = CTL_OK;
cleanup:
	wgotp_store_close(store);
	return status;
}

int ctl_retire(struct ctl *ctl, struct ctl_dir *d, struct wgotp_user *u, const char *device, bool force)
{
	enum wgotp_dev_otp *saved;
	char email[WGOTP_EMAIL_MAX + 1];
	bool flipped = false;
	int status;

	snprintf(email, sizeof(email), "%s", u->email);
	saved = calloc(u->n_devices + 1, sizeof(*saved));
	if (!saved)
		return ctl_fail(CTL_FAIL, "out of memory");
	for (size_t i = 0; i < u->n_devices; i++) {
		struct wgotp_device *dv = &u->devices[i];

		saved[i] = dv->otp;
		if (u->enabled && (!device || !strcmp(dv->name, device)) && !wgotp_device_needs_otp(u, dv)) {
			dv->otp = WGOTP_DEV_OTP_REQUIRED;
			flipped = true;
		}
	}
	status = flipped ? ctl_dir_commit(ctl, d) : CTL_OK;
	if (status == CTL_OK)
		status = ctl_end_sessions(ctl, email, device, force);
	for (size_t i = 0; i < u->n_devices; i++)
		u->devices[i].otp = saved[i];
	if (status != CTL_OK && flipped)
		ctl_dir_commit(ctl, d);	/* as it was: the refusal changes nothing */
	free(saved);
	return status;
}

void ctl_apply_device_otp(struct ctl *ctl, const struct wgotp_user *u, const struct wgotp_device *d,
			  bool was)
{
	struct wgotp_error err = { "" };
	bool now = wgotp_device_needs_otp(u, d);
	int64_t expires = 0;
	int ret, n = 0;

	if (!u->enabled || now == was)
		return;
	if (!now)
		ret = wgotp_activator_activate(ctl->cfg, u->email, d->name, NULL, 0, "admin", &expires, &err);
	else
		ret = wgotp_activator_deactivate(ctl->cfg, u->email, d->name, &n, &err);
	if (ret < 0)
		fprintf(stderr, "wgotpctl: warning: device %s of %s: the interface follows at wg-activator's next reconcile (%s)\n",
			d->name, u->email, err.msg);
}

void ctl_fmt_left(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(buf, len, "%llds", (long long)s);
}

void ctl_fmt_duration(int64_t s, char *buf, size_t len)
{
	/* 24h as the defaults spell it, 2d rather than 48h */
	if (s > 86400 && s % 86400 == 0)
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
	else if (s && s % 3600 == 0)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else if (s && s % 60 == 0)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else
		snprintf(buf, len, "%llds", (long long)s);
}

void ctl_fmt_time(int64_t t, bool utc, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (utc ? !gmtime_r(&tt, &tm) : !localtime_r(&tt, &tm)) {
		snprintf(buf, len, "%lld", (long long)t);
		return;
	}
	strftime(buf, len, utc ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S", &tm);
}

const char *ctl_method_str(enum wgotp_method m)
{
	return m == WGOTP_METHOD_TOTP ? "totp" : "email";
}

const char *ctl_totp_state_str(enum wgotp_totp_state s)
{
	switch (s) {
	case WGOTP_TOTP_NONE: return "none";
	case WGOTP_TOTP_PENDING: return "pending";
	case WGOTP_TOTP_ACTIVE: return "active";
	}
	return "?";
}
