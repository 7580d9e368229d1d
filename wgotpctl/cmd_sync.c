// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl sync entra --group GROUP-ID [--dry-run] [--method email|totp]:
 * the whitelist from an Entra ID group (doc/entra.md).
 *
 * The members are read first, all of them, without the users.json lock;
 * then, under the lock, users.json is read again and changed: a member
 * without a user becomes one (marked "synced": "member"), a synced user
 * who left the group is disabled ("left") and their sessions end at once,
 * a synced user back in the group is enabled again. Users not marked
 * synced are never touched. Any failure before the save changes nothing;
 * a group that does not exist (404) changes nothing. Safe from a timer:
 * the lock serialises it with every other wgotpctl.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activator_client.h"
#include "audit.h"
#include "ctl.h"
#include "entra.h"

struct members {
	char **emails;		/* sorted, unique after collect */
	size_t n, cap;
	size_t users, skipped, inactive;
};

static int collect(void *arg, const struct wgotp_entra_member *m)
{
	struct members *ms = arg;
	char **grown;

	ms->users++;
	if (!m->email) {
		ms->skipped++;
		return 0;
	}
	if (!m->enabled) {
		ms->inactive++;		/* accountEnabled false: as if not a member */
		return 0;
	}
	if (ms->n == ms->cap) {
		size_t cap = ms->cap ? 2 * ms->cap : 64;

		grown = realloc(ms->emails, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		ms->emails = grown;
		ms->cap = cap;
	}
	ms->emails[ms->n] = strdup(m->email);
	if (!ms->emails[ms->n])
		return -ENOMEM;
	ms->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_member(const struct members *ms, const char *email)
{
	return ms->n && bsearch(&email, ms->emails, ms->n, sizeof(*ms->emails), cmp_str);
}

static void audit_sync(const char *event, const char *user, const char *reason)
{
	struct wgotp_audit a = {
		.event = event, .origin = "sync", .user = user, .client = "wgotpctl",
		.result = "accept", .reason = reason,
	};

	wgotp_audit(&a);
}

static int sync_entra(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "group", required_argument, NULL, 'g' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "method", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	struct members ms = { 0 };
	struct wgotp_error err = { "" };
	struct wgotp_store *store = NULL;
	enum wgotp_method method = WGOTP_METHOD_EMAIL;
	struct ctl_dir d = { .lock_fd = -1 };
	const char *group = NULL, *tag;
	char **left = NULL, **back = NULL;
	bool *new_user = NULL;
	size_t added = 0, disabled = 0, enabled = 0, kept = 0, foreign = 0, n_left = 0, n_back = 0;
	bool dry = false;
	int c, ret, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'g': group = optarg; break;
		case 'n': dry = true; break;
		case 'm':
			if (!strcmp(optarg, "totp"))
				method = WGOTP_METHOD_TOTP;
			else if (strcmp(optarg, "email"))
				return ctl_usage("--method: \"%s\" is neither email nor totp", optarg);
			break;
		default: return ctl_bad_option(argv);
		}
	}
	if (optind != argc)
		return ctl_usage("unexpected argument \"%s\"", argv[optind]);
	if (!group)
		return ctl_usage("--group GROUP-ID is required");
	if (!wgotp_entra_group_id_ok(group))
		return ctl_usage("--group: \"%s\" is not a group object id (a GUID)", group);
	tag = dry ? "would " : "";
	status = ctl_config(ctl);
	if (status != CTL_OK)
		goto cleanup;
	status = CTL_FAIL;
	/* The store caches the access token, as for mail; none is fine too. */
	if (ctl_store(ctl, &store) != CTL_OK)
		fprintf(stderr, "wgotpctl: warning: the access token is not cached\n");

	ret = wgotp_entra_group_members(ctl->cfg, store, group, collect, &ms, &err);
	if (ret == -ENOMEM || (ret > 0)) {
		ctl_fail(CTL_FAIL, "out of memory");
		goto cleanup;
	}
	if (ret < 0) {
		ctl_fail(CTL_FAIL, "sync entra: %s; nothing changed", err.msg);
		goto cleanup;
	}
	if (ms.n)
		qsort(ms.emails, ms.n, sizeof(*ms.emails), cmp_str);
	for (size_t i = 1; i < ms.n; i++) {	/* transitive: a user may come twice */
		if (!strcmp(ms.emails[i - 1], ms.emails[i])) {
			free(ms.emails[i]);
			memmove(&ms.emails[i], &ms.emails[i + 1], (ms.n - i - 1) * sizeof(*ms.emails));
			ms.n--;
			i--;
		}
	}

	status = ctl_dir_open(ctl, !dry, &d);
	if (status != CTL_OK)
		goto cleanup;
	status = CTL_FAIL;
	left = calloc(d.dir->n_users + 1, sizeof(*left));
	back = calloc(d.dir->n_users + 1, sizeof(*back));
	new_user = calloc(ms.n + 1, sizeof(*new_user));
	if (!left || !back || !new_user) {
		ctl_fail(CTL_FAIL, "out of memory");
		goto cleanup;
	}
	/* Synced users: who left, who came back. */
	for (size_t i = 0; i < d.dir->n_users; i++) {
		struct wgotp_user *u = &d.dir->users[i];
		bool in = is_member(&ms, u->email);

		if (u->sync == WGOTP_SYNC_NONE) {
			foreign += in;
			continue;
		}
		if (u->sync == WGOTP_SYNC_MEMBER && !in) {
			printf("%sdisable %s (left the group)\n", tag, u->email);
			left[n_left++] = u->email;
			u->enabled = false;
			u->sync = WGOTP_SYNC_LEFT;
			disabled++;
		} else if (u->sync == WGOTP_SYNC_LEFT && in) {
			printf("%senable %s (back in the group)\n", tag, u->email);
			back[n_back++] = u->email;
			u->enabled = true;
			u->sync = WGOTP_SYNC_MEMBER;
			enabled++;
		} else {
			kept++;
		}
	}
	/* Members without a user. left[] and back[] stay valid: they point
	 * to the users' strings, which adding users does not move. */
	for (size_t i = 0; i < ms.n; i++) {
		struct wgotp_user *u;

		if (wgotp_dir_find(d.dir, ms.emails[i]))
			continue;
		if (wgotp_dir_user_add(d.dir, ms.emails[i], method, NULL, true, &err) < 0) {
			ctl_fail(CTL_FAIL, "sync entra: %s; nothing changed", err.msg);
			goto cleanup;
		}
		u = wgotp_dir_find(d.dir, ms.emails[i]);
		u->sync = WGOTP_SYNC_MEMBER;
		printf("%sadd %s (%s)\n", tag, u->email, ctl_method_str(method));
		new_user[i] = true;
		added++;
	}
	if (!dry && (added || disabled || enabled)) {
		status = ctl_dir_commit(ctl, &d);
		if (status != CTL_OK)
			goto cleanup;
		status = CTL_FAIL;
	}
	/* Once saved: the audit lines, and the sessions of who left end now. */
	for (size_t i = 0; !dry && i < ms.n; i++)
		if (new_user[i])
			audit_sync("sync_add", ms.emails[i], method == WGOTP_METHOD_TOTP ? "member_totp" : "member_email");
	for (size_t i = 0; !dry && i < n_back; i++)
		audit_sync("sync_enable", back[i], "back_in_group");
	for (size_t i = 0; !dry && i < n_left; i++) {
		int n = 0;

		audit_sync("sync_disable", left[i], "left_group");
		ret = wgotp_activator_deactivate(ctl->cfg, left[i], NULL, &n, &err);
		if (ret == 0 && n > 0)
			printf("ended %d session%s of %s\n", n, n == 1 ? "" : "s", left[i]);
		else if (ret < 0 && ret != -ESRCH && ret != -ENODEV)
			fprintf(stderr, "wgotpctl: warning: sessions of %s not ended now (%s): the user is disabled, wg-activator's reconcile ends them\n",
				left[i], err.msg);
	}
	printf("entra group %s: %zu member%s (%zu without an address, %zu disabled in Entra ID); "
	       "%sadded %zu, %sdisabled %zu, %sre-enabled %zu, unchanged %zu, not synced (left alone) %zu%s\n",
	       group, ms.n, ms.n == 1 ? "" : "s", ms.skipped, ms.inactive, tag, added, tag, disabled, tag,
	       enabled, kept, foreign, dry ? "; dry run: nothing changed" : "");
	if (method == WGOTP_METHOD_TOTP && added && !dry)
		printf("the new TOTP users enrol with: wgotpctl totp enroll EMAIL\n");
	status = CTL_OK;
cleanup:
	for (size_t i = 0; i < ms.n; i++)
		free(ms.emails[i]);
	free(ms.emails);
	free(left);
	free(back);
	free(new_user);
	wgotp_store_close(store);
	ctl_dir_close(&d);
	return status;
}

static const struct ctl_cmd sync_cmds[] = {
	{ "entra", sync_entra, "--group GROUP-ID [--dry-run] [--method email|totp]" },
	{ NULL, NULL, NULL },
};

int cmd_sync(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "sync", sync_cmds, argc - 1, argv + 1);
}
