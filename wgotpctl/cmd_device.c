// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl device add|del: a user's WireGuard devices. The library
 * validates the key and the prefixes and refuses a key or an address that
 * another device already has.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int device_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "public-key", required_argument, NULL, 'k' },
		{ "allowed-ips", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *ips = NULL;
	struct wgotp_error err = { "" };
	struct ctl_dir d;
	int c, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'a': ips = optarg; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 2)
		return ctl_usage("needs EMAIL and NAME");
	if (!key || !ips)
		return ctl_usage("--public-key and --allowed-ips are required");
	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	if (wgotp_dir_device_add(d.dir, argv[optind], argv[optind + 1], key, ips, &err) < 0) {
		status = ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	status = ctl_dir_commit(ctl, &d);
	if (status == CTL_OK)
		printf("added device %s of %s\n", argv[optind + 1], argv[optind]);
cleanup:
	ctl_dir_close(&d);
	return status;
}

static int device_del(struct ctl *ctl, int argc, char **argv)
{
	struct wgotp_error err = { "" };
	struct wgotp_user *u;
	struct ctl_dir d;
	bool force;
	int status;

	status = ctl_force_opt(argc, argv, &force);
	if (status != CTL_OK)
		return status;
	if (argc - optind != 2)
		return ctl_usage("needs EMAIL and NAME");
	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	u = ctl_find_user(&d, argv[optind]);
	if (!u) {
		status = CTL_FAIL;
		goto cleanup;
	}
	if (!wgotp_user_find_device(u, argv[optind + 1])) {
		status = ctl_fail(CTL_FAIL, "%s has no device \"%s\"", u->email, argv[optind + 1]);
		goto cleanup;
	}
	/* The peer goes before the device does: reconcile never touches a
	 * key that no device has. */
	status = ctl_end_sessions(ctl, u->email, argv[optind + 1], force);
	if (status != CTL_OK)
		goto cleanup;
	if (wgotp_dir_device_del(d.dir, u->email, argv[optind + 1], &err) < 0) {
		status = ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	status = ctl_dir_commit(ctl, &d);
	if (status == CTL_OK)
		printf("deleted device %s of %s\n", argv[optind + 1], argv[optind]);
cleanup:
	ctl_dir_close(&d);
	return status;
}

static const struct ctl_cmd device_cmds[] = {
	{ "add", device_add, "EMAIL NAME --public-key KEY --allowed-ips CIDR[,CIDR]" },
	{ "del", device_del, "EMAIL NAME [--force]" },
	{ NULL, NULL, NULL },
};

int cmd_device(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "device", device_cmds, argc - 1, argv + 1);
}
