// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl: the admin command of wgotp. See wgotpctl(8).
 *
 *   wgotpctl [-c FILE] [--json] COMMAND [ARGS]
 *
 * Exit status: 0 success, 1 usage error, 2 any other failure.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static const struct ctl_cmd commands[] = {
	{ "init", cmd_init, "[--prefix DIR] [--interface IF] [--group GROUP]" },
	{ "user", cmd_user, "add|del|list|show|set|enable|disable ..." },
	{ "device", cmd_device, "add|del|show|set|rename ..." },
	{ "totp", cmd_totp, "enroll|confirm|reset ..." },
	{ "invite", cmd_invite, "EMAIL [--print]" },
	{ "sessions", cmd_sessions, "[--json]" },
	{ "activate", cmd_activate, "EMAIL --code CODE [--device NAME] [--duration DURATION]" },
	{ "deactivate", cmd_deactivate, "EMAIL [--device NAME]" },
	{ "mail-test", cmd_mail_test, "ADDRESS" },
	{ "check-config", cmd_check_config, "" },
	{ "sync", cmd_sync, "entra --group GROUP-ID [--dry-run] [--method email|totp]" },
	{ NULL, NULL, NULL },
};

/* [Session] Durations as --duration takes them ("4h|8h|12h|24h"), from
 * the configuration when it can be read (*from: its path), else the
 * defaults (*from: NULL). */
static void help_durations(const char *conf_arg, char *buf, size_t len, const char **from)
{
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err = { "" };
	const char *path = wgotp_config_path(conf_arg);
	char one[24];
	size_t n = 0;

	*from = path;
	if (wgotp_config_load(path, &cfg, &err) < 0) {
		*from = NULL;
		if (wgotp_config_defaults(&cfg) < 0)
			cfg = NULL;
	}
	buf[0] = '\0';
	for (int i = 0; cfg && i < cfg->n_session_durations; i++) {
		ctl_fmt_duration(cfg->session_durations[i], one, sizeof(one));
		if (n + strlen(one) + 2 > len)
			break;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "|" : "", one);
	}
	if (!buf[0])
		snprintf(buf, len, "DURATION");
	wgotp_config_free(cfg);
}

static void help(FILE *f, const char *conf_arg)
{
	char durations[160];
	const char *from;

	help_durations(conf_arg, durations, sizeof(durations), &from);
	fprintf(f,
		"usage: wgotpctl [-c FILE] [--json] COMMAND [ARGS]\n"
		"\n"
		"  init [--prefix DIR] [--interface IF] [--group GROUP]\n"
		"  user add EMAIL --method totp|email [--name NAME] [--no-otp] [--invite [--print]]\n"
		"  user del EMAIL [--force] | list | show EMAIL | enable EMAIL | disable EMAIL [--force]\n"
		"  user set EMAIL [--method totp|email] [--otp required|none] [--name NAME] [--group NAME]\n"
		"  device add EMAIL NAME --generate [--png FILE] [--svg FILE] [--conf FILE] [--no-qr]\n"
		"  device add EMAIL NAME --public-key KEY [--address CIDR[,CIDR]]\n"
		"      (both: [--otp required|none]; no --address: the next free one of AddressPool)\n"
		"  device show EMAIL NAME [--config [--qr]] [--json]\n"
		"  device set EMAIL NAME --otp required|none|default\n"
		"  device rename EMAIL OLD NEW [--force]\n"
		"  device del EMAIL NAME [--force]\n"
		"  totp enroll EMAIL [--png FILE] [--svg FILE] [--no-qr]\n"
		"  totp confirm EMAIL CODE\n"
		"  totp reset EMAIL --force\n"
		"  invite EMAIL [--print]\n"
		"  sessions [--json]\n"
		"  activate EMAIL [--code CODE] [--device NAME] [--duration %s [--shorten]]\n"
		"  deactivate EMAIL [--device NAME]\n"
		"  mail-test ADDRESS\n"
		"  check-config\n"
		"  sync entra --group GROUP-ID [--dry-run] [--method email|totp]\n"
		"\n"
		"-c FILE: the configuration (else $WGOTP_CONF, else " WGOTP_DEFAULT_CONF ").\n",
		durations);
	if (from)
		fprintf(f, "--duration: one of [Session] Durations in %s.\n", from);
	else
		fprintf(f, "--duration: one of the default [Session] Durations (no configuration could be read).\n");
	fprintf(f, "Exit status: 0 success, 1 usage error, 2 failure. See wgotpctl(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { 0 };
	int c, status;

	ctl_log_init();
	opterr = 0;
	/* '+': stop at the command; its own options are its business. */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': ctl.conf_arg = optarg; break;
		case 'j': ctl.json = true; break;
		case 'h': help(stdout, ctl.conf_arg); return CTL_OK;
		case 'V': printf("wgotpctl %s\n", PACKAGE_VERSION); return CTL_OK;
		default:
			if (optopt && optopt != 'c')
				return ctl_fail(CTL_USAGE, "unknown option -%c (see wgotpctl --help)", optopt);
			return ctl_fail(CTL_USAGE, "unknown option or missing value: %s (see wgotpctl --help)",
					argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return ctl_fail(CTL_USAGE, "no command given (see wgotpctl --help)");
	if (!strcmp(argv[optind], "help")) {
		help(stdout, ctl.conf_arg);
		return CTL_OK;
	}
	status = ctl_dispatch(&ctl, NULL, commands, argc - optind, argv + optind);
	wgotp_config_free(ctl.cfg);
	return status;
}
