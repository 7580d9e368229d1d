// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl check-config: read everything a front end reads at start
 * (wgotp.conf, the server key, users.json, the store, the mail settings)
 * and ask wg-activator whether it runs. One line per part; exit 2 when a
 * part the logins need is broken. wg-activator not running is a warning.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "activator_client.h"
#include "ctl.h"
#include "flow.h"
#include "mail.h"

static void line(bool good, const char *what, const char *detail)
{
	printf("%-8s %-14s %s\n", good ? "ok" : "FAILED", what, detail);
}

int cmd_check_config(struct ctl *ctl, int argc, char **argv)
{
	struct wgotp_error err = { "" };
	struct wgotp_store *store = NULL;
	struct wgotp_mailer m = { 0 };
	struct wgotp_flow *flow = NULL;
	struct wgotp_activator_status st;
	struct wgotp_directory *dir = NULL;
	char detail[600];
	int failures = 0, status;

	ctl_getopt_reset();
	if (getopt_long(argc, argv, "", (const struct option[]){ { NULL, 0, NULL, 0 } }, NULL) != -1)
		return ctl_bad_option(argv);
	if (optind != argc)
		return ctl_usage("unexpected argument \"%s\"", argv[optind]);
	status = ctl_config(ctl);
	if (status != CTL_OK)
		return status;
	line(true, "config", ctl->cfg->path);

	if (wgotp_dir_load(ctl->cfg->directory, &dir, &err) < 0) {
		line(false, "users", err.msg[0] ? err.msg : ctl->cfg->directory);
		failures++;
	} else {
		snprintf(detail, sizeof(detail), "%s (%zu user%s)", ctl->cfg->directory, dir->n_users,
			 dir->n_users == 1 ? "" : "s");
		line(true, "users", detail);
	}
	wgotp_dir_free(dir);

	err.msg[0] = '\0';
	if (wgotp_store_open(ctl->cfg, &store, &err) < 0) {
		line(false, "store", err.msg);
		failures++;
	} else {
		line(true, "store", ctl->cfg->store_path);
		/* The flow reads and checks the server key (and users.json). */
		err.msg[0] = '\0';
		if (wgotp_flow_new(ctl->cfg, store, NULL, NULL, NULL, &flow, &err) < 0) {
			line(false, "server key", err.msg);
			failures++;
		} else {
			line(true, "server key", ctl->cfg->server_key_file);
		}
	}

	err.msg[0] = '\0';
	if (ctl->cfg->mail_transport == WGOTP_MAIL_NONE) {
		line(true, "mail", "none (email users cannot get codes)");
	} else if (wgotp_mailer_from_config(ctl->cfg, store, &m, &err) < 0 ||
		   wgotp_mail_preload(ctl->cfg, &err) < 0) {
		line(false, "mail", err.msg);
		failures++;
	} else {
		line(true, "mail", wgotp_mailer_transport(&m));
	}

	err.msg[0] = '\0';
	if (wgotp_activator_ping(ctl->cfg, &st, &err) < 0) {
		snprintf(detail, sizeof(detail), "%s (warning)", err.msg);
		line(false, "wg-activator", detail);
	} else {
		snprintf(detail, sizeof(detail), "running: interface %s, backend %s, %" PRId64 " session%s",
			 st.interface, st.backend, st.sessions, st.sessions == 1 ? "" : "s");
		line(true, "wg-activator", detail);
	}

	if (m.free)
		m.free(m.arg);
	wgotp_flow_free(flow);
	wgotp_store_close(store);
	if (failures)
		return ctl_fail(CTL_FAIL, "%s: %d problem%s", ctl->cfg->path, failures, failures == 1 ? "" : "s");
	return CTL_OK;
}
