// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl user add|set|del|list|show|enable|disable: the users of
 * users.json. A user who is deleted or disabled loses their live sessions
 * first, so that no peer stays behind that nothing would remove.
 */
#include "config.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "ctl.h"
#include "invite.h"
#include "session_policy.h"

static int user_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "method", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ "no-otp", no_argument, NULL, 'N' },
		{ "invite", no_argument, NULL, 'i' },
		{ "print", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	bool invite = false, print = false;
	const char *method = NULL, *name = NULL;
	struct wgotp_error err = { "" };
	enum wgotp_method m = WGOTP_METHOD_EMAIL;
	struct ctl_dir d;
	bool no_otp = false;
	int c, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': method = optarg; break;
		case 'n': name = optarg; break;
		case 'N': no_otp = true; break;
		case 'i': invite = true; break;
		case 'p': print = true; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	if (!method && !no_otp)
		return ctl_usage("--method totp|email is required");
	if (method && !strcmp(method, "totp"))
		m = WGOTP_METHOD_TOTP;
	else if (method && strcmp(method, "email"))
		return ctl_usage("--method: \"%s\" is neither totp nor email", method);
	if (invite && m != WGOTP_METHOD_TOTP)
		return ctl_usage("--invite is for --method totp");
	if (print && !invite)
		return ctl_usage("--print goes with --invite");

	status = ctl_dir_open_for_add(ctl, &d);
	if (status != CTL_OK)
		return status;
	if (wgotp_dir_user_add(d.dir, argv[optind], m, name, !no_otp, &err) < 0) {
		status = ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	status = ctl_dir_commit(ctl, &d);
	if (status == CTL_OK)	/* through the index, the new user is not in it yet */
		printf("added %s (%s%s)\n", (d.dir->index ? &d.dir->users[0] :
		       wgotp_dir_find(d.dir, argv[optind]))->email,
		       ctl_method_str(m), no_otp ? ", no OTP needed" : "");
cleanup:
	ctl_dir_close(&d);
	if (status == CTL_OK && invite)
		status = ctl_invite(ctl, argv[optind], print);
	return status;
}

/* del, enable, disable: EMAIL [--force] */
static int user_change(struct ctl *ctl, int argc, char **argv)
{
	const char *what = argv[0];
	char email[WGOTP_EMAIL_MAX + 1];
	struct wgotp_error err = { "" };
	struct wgotp_user *u;
	struct ctl_dir d;
	bool force;
	int status;

	status = ctl_force_opt(argc, argv, &force);
	if (status != CTL_OK)
		return status;
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	u = ctl_find_user(&d, argv[optind]);
	if (!u) {
		status = CTL_FAIL;
		goto cleanup;
	}
	if (strcmp(what, "enable")) {
		status = ctl_retire(ctl, &d, u, NULL, force);
		if (status != CTL_OK)
			goto cleanup;
	}
	snprintf(email, sizeof(email), "%s", u->email);
	if (!strcmp(what, "del")) {
		if (wgotp_dir_user_del(d.dir, email, &err) < 0) {
			status = ctl_fail(CTL_FAIL, "%s", err.msg);
			goto cleanup;
		}
	} else {
		u->enabled = !strcmp(what, "enable");
	}
	status = ctl_dir_commit(ctl, &d);
	if (status == CTL_OK)
		printf("%s %s\n", !strcmp(what, "del") ? "deleted" : !strcmp(what, "enable") ?
		       "enabled" : "disabled", email);
	/* Enabled again: its devices that need no code are back at once. */
	for (size_t i = 0; status == CTL_OK && !strcmp(what, "enable") && i < u->n_devices; i++)
		ctl_apply_device_otp(ctl, u, &u->devices[i], true);
cleanup:
	ctl_dir_close(&d);
	return status;
}

/* set EMAIL [--method totp|email] [--otp required|none] [--name NAME]
 *   [--group NAME|""]: the [Group NAME] whose session limits apply */
static int user_set(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "method", required_argument, NULL, 'm' },
		{ "otp", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "group", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const char *method = NULL, *otp = NULL, *name = NULL, *group = NULL;
	struct wgotp_policy pol;
	struct wgotp_audit au = { .event = "user_set", .origin = "admin", .client = "wgotpctl",
				  .result = "accept" };
	enum wgotp_method m = WGOTP_METHOD_EMAIL;
	bool require = true, *was = NULL;
	/* One audit line per change, each reason one token (doc/audit-log.md). */
	char reasons[4][24], *copy = NULL;
	int n_reasons = 0;
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	int c, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': method = optarg; break;
		case 'o': otp = optarg; break;
		case 'n': name = optarg; break;
		case 'g': group = optarg; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	if (!method && !otp && !name && !group)
		return ctl_usage("nothing to set (--method, --otp, --name or --group)");
	if (group && *group) {
		/* an unknown group would refuse every login of the user: say so now */
		status = ctl_config(ctl);
		if (status != CTL_OK)
			return status;
		if (wgotp_policy_get(ctl->cfg, group, &pol) < 0)
			return ctl_fail(CTL_FAIL, "--group: %s has no [Group %s] section", ctl->cfg->path, group);
	}
	if (method && !strcmp(method, "totp"))
		m = WGOTP_METHOD_TOTP;
	else if (method && strcmp(method, "email"))
		return ctl_usage("--method: \"%s\" is neither totp nor email", method);
	if (otp && !strcmp(otp, "none"))
		require = false;
	else if (otp && strcmp(otp, "required"))
		return ctl_usage("--otp: \"%s\" is neither required nor none", otp);

	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	u = ctl_find_user(&d, argv[optind]);
	if (!u)
		goto cleanup;
	if (name) {
		/* validated by the save, like every field */
		copy = strdup(name);
		if (!copy) {
			ctl_fail(CTL_FAIL, "out of memory");
			goto cleanup;
		}
		free(u->name);
		u->name = *copy ? copy : NULL;
		if (!*copy)
			free(copy);
		copy = NULL;
		snprintf(reasons[n_reasons++], sizeof(reasons[0]), "name");
	}
	if (group) {
		copy = *group ? strdup(group) : NULL;
		if (*group && !copy) {
			ctl_fail(CTL_FAIL, "out of memory");
			goto cleanup;
		}
		free(u->group);
		u->group = copy;
		copy = NULL;
		snprintf(reasons[n_reasons++], sizeof(reasons[0]), "group");
	}
	if (method && m != u->method) {
		/* To email: the authenticator secret is no longer used, it goes.
		 * To TOTP: the user enrols (wgotpctl totp enroll). */
		if (m == WGOTP_METHOD_EMAIL)
			wgotp_user_set_totp(u, NULL, WGOTP_TOTP_NONE);
		u->method = m;
	}
	if (method)
		snprintf(reasons[n_reasons++], sizeof(reasons[0]), "method_%s", method);
	if (otp) {
		was = calloc(u->n_devices + 1, sizeof(*was));
		if (!was) {
			ctl_fail(CTL_FAIL, "out of memory");
			goto cleanup;
		}
		for (size_t i = 0; i < u->n_devices; i++)
			was[i] = wgotp_device_needs_otp(u, &u->devices[i]);
		u->require_otp = require;
		snprintf(reasons[n_reasons++], sizeof(reasons[0]), "otp_%s", otp);
	}
	status = ctl_dir_commit(ctl, &d);
	if (status != CTL_OK)
		goto cleanup;
	au.user = u->email;
	au.method = ctl_method_str(u->method);
	for (int i = 0; i < n_reasons; i++) {
		au.reason = reasons[i];
		wgotp_audit(&au);
	}
	printf("%s: method %s, devices need a code by default: %s\n", u->email, ctl_method_str(u->method),
	       u->require_otp ? "yes" : "no");
	if (method && m == WGOTP_METHOD_TOTP && u->totp_state == WGOTP_TOTP_NONE)
		printf("not enrolled yet: wgotpctl totp enroll %s\n", u->email);
	for (size_t i = 0; otp && i < u->n_devices; i++) {
		if (u->devices[i].otp != WGOTP_DEV_OTP_INHERIT)
			printf("device %s keeps its own setting: %s\n", u->devices[i].name,
			       u->devices[i].otp == WGOTP_DEV_OTP_NONE ? "no 2FA" : "a code is needed");
		ctl_apply_device_otp(ctl, u, &u->devices[i], was[i]);
	}
cleanup:
	free(was);
	ctl_dir_close(&d);
	return status;
}

static struct json_object *user_json(const struct wgotp_user *u)
{
	struct json_object *o = json_object_new_object(), *devs = json_object_new_array();

	json_object_object_add(o, "email", json_object_new_string(u->email));
	json_object_object_add(o, "name", u->name ? json_object_new_string(u->name) : NULL);
	json_object_object_add(o, "method", json_object_new_string(ctl_method_str(u->method)));
	json_object_object_add(o, "group", u->group ? json_object_new_string(u->group) : NULL);
	json_object_object_add(o, "totp_state", json_object_new_string(ctl_totp_state_str(u->totp_state)));
	json_object_object_add(o, "enabled", json_object_new_boolean(u->enabled));
	json_object_object_add(o, "require_otp", json_object_new_boolean(u->require_otp));
	if (u->invite.mac[0]) {
		struct json_object *inv = json_object_new_object();

		json_object_object_add(inv, "state", json_object_new_string(
			!wgotp_invite_pending(&u->invite, time(NULL)) ? "expired" :
			u->invite.opened ? "opened" : "pending"));
		json_object_object_add(inv, "expires", json_object_new_int64(u->invite.expires));
		json_object_object_add(o, "invite", inv);
	} else {
		json_object_object_add(o, "invite", NULL);
	}
	for (size_t i = 0; i < u->n_devices; i++) {
		const struct wgotp_device *dv = &u->devices[i];
		struct json_object *jd = json_object_new_object(), *ips = json_object_new_array();
		char buf[64];

		json_object_object_add(jd, "name", json_object_new_string(dv->name));
		json_object_object_add(jd, "public_key", json_object_new_string(dv->public_key));
		for (size_t k = 0; k < dv->n_allowed_ips; k++) {
			wgotp_cidr_format(&dv->allowed_ips[k], buf, sizeof(buf));
			json_object_array_add(ips, json_object_new_string(buf));
		}
		json_object_object_add(jd, "allowed_ips", ips);
		json_object_object_add(jd, "otp", json_object_new_string(
			wgotp_device_needs_otp(u, dv) ? "required" : "none"));
		json_object_array_add(devs, jd);
	}
	json_object_object_add(o, "devices", devs);
	json_object_object_add(o, "synced", u->sync == WGOTP_SYNC_NONE ? NULL :
			       json_object_new_string(u->sync == WGOTP_SYNC_LEFT ? "left" : "member"));
	return o;
}

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static int parse_json_opt(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return ctl_bad_option(argv);
		ctl->json = true;
	}
	return CTL_OK;
}

static int user_list(struct ctl *ctl, int argc, char **argv)
{
	struct json_object *arr;
	struct ctl_dir d;
	int status;

	status = parse_json_opt(ctl, argc, argv);
	if (status != CTL_OK)
		return status;
	if (optind != argc)
		return ctl_usage("unexpected argument \"%s\"", argv[optind]);
	status = ctl_dir_open(ctl, false, &d);
	if (status != CTL_OK)
		return status;
	if (ctl->json) {
		arr = json_object_new_array();
		for (size_t i = 0; i < d.dir->n_users; i++)
			json_object_array_add(arr, user_json(&d.dir->users[i]));
		print_json(arr);
	} else {
		printf("%-32s %-6s %-8s %-8s %-4s %7s  %s\n", "EMAIL", "METHOD", "TOTP", "ENABLED",
		       "OTP", "DEVICES", "NAME");
		for (size_t i = 0; i < d.dir->n_users; i++) {
			const struct wgotp_user *u = &d.dir->users[i];

			printf("%-32s %-6s %-8s %-8s %-4s %7zu  %s\n", u->email, ctl_method_str(u->method),
			       u->method == WGOTP_METHOD_TOTP ? ctl_totp_state_str(u->totp_state) : "-",
			       u->enabled ? "yes" : "no", u->require_otp ? "yes" : "no", u->n_devices,
			       u->name ? u->name : "");
		}
	}
	ctl_dir_close(&d);
	return CTL_OK;
}

static int user_show(struct ctl *ctl, int argc, char **argv)
{
	const struct wgotp_user *u;
	struct ctl_dir d;
	char buf[64];
	int status;

	status = parse_json_opt(ctl, argc, argv);
	if (status != CTL_OK)
		return status;
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	status = ctl_dir_open(ctl, false, &d);
	if (status != CTL_OK)
		return status;
	u = ctl_find_user(&d, argv[optind]);
	if (!u) {
		status = CTL_FAIL;
		goto cleanup;
	}
	if (ctl->json) {
		print_json(user_json(u));
		goto cleanup;
	}
	printf("email:       %s\n", u->email);
	printf("name:        %s\n", u->name ? u->name : "");
	printf("method:      %s\n", ctl_method_str(u->method));
	if (u->group)
		printf("group:       %s\n", u->group);
	if (u->method == WGOTP_METHOD_TOTP)
		printf("totp:        %s\n", ctl_totp_state_str(u->totp_state));
	if (u->invite.mac[0])
		printf("invite:      %s until %s", !wgotp_invite_pending(&u->invite, time(NULL)) ?
		       "expired" : u->invite.opened ? "opened, not confirmed" : "pending",
		       ctime(&(time_t){ (time_t)u->invite.expires }));
	printf("enabled:     %s\n", u->enabled ? "yes" : "no");
	printf("require otp: %s\n", u->require_otp ? "yes" : "no");
	if (u->sync != WGOTP_SYNC_NONE)
		printf("synced:      %s\n", u->sync == WGOTP_SYNC_LEFT ? "left the group (disabled by the sync)" :
		       "member of the Entra ID group");
	for (size_t i = 0; i < u->n_devices; i++) {
		const struct wgotp_device *dv = &u->devices[i];

		printf("device:      %s %s ", dv->name, dv->public_key);
		for (size_t k = 0; k < dv->n_allowed_ips; k++) {
			wgotp_cidr_format(&dv->allowed_ips[k], buf, sizeof(buf));
			printf("%s%s", k ? "," : "", buf);
		}
		printf(" %s\n", wgotp_device_needs_otp(u, dv) ? "2fa=required" : "2fa=none");
	}
cleanup:
	ctl_dir_close(&d);
	return status;
}

static const struct ctl_cmd user_cmds[] = {
	{ "add", user_add, "EMAIL --method totp|email [--name NAME] [--no-otp] [--invite [--print]]" },
	{ "del", user_change, "EMAIL [--force]" },
	{ "list", user_list, "[--json]" },
	{ "show", user_show, "EMAIL [--json]" },
	{ "set", user_set, "EMAIL [--method totp|email] [--otp required|none] [--name NAME] [--group NAME]" },
	{ "enable", user_change, "EMAIL" },
	{ "disable", user_change, "EMAIL [--force]" },
	{ NULL, NULL, NULL },
};

int cmd_user(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "user", user_cmds, argc - 1, argv + 1);
}
