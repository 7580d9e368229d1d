// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl invite EMAIL [--print]: a one-time link to enrol an
 * authenticator in the portal ([Portal] PublicURL/enrol#TOKEN), mailed to
 * the user (or printed with --print). users.json keeps only the token's
 * HMAC and its expiry ([Dird] InviteLifetime); wgotp-dird spends it.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "ctl.h"
#include "flow.h"
#include "invite.h"
#include "mail.h"
#include "mail_msg.h"
#include "secret.h"

static void audit_invite(const char *user, const char *result, const char *reason)
{
	struct wgotp_audit a = {
		.event = "invite", .origin = "admin", .user = user, .client = "wgotpctl",
		.method = "totp", .result = result, .reason = reason,
	};

	wgotp_audit(&a);
}

int ctl_invite(struct ctl *ctl, const char *email, bool print)
{
	char token[WGOTP_INVITE_TOKEN_LEN + 1] = "", link[1024] = "", body[2048] = "", words[64];
	struct wgotp_error err = { "" };
	struct wgotp_store *store = NULL;
	struct wgotp_flow *flow = NULL;
	struct wgotp_mailer m = { 0 };
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	const char *url;
	size_t n;
	int ret, status;

	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	url = ctl->cfg->portal_public_url;
	if (!url || !*url) {
		ctl_fail(CTL_FAIL, "%s: [Portal] PublicURL is not set: the link needs it", ctl->cfg->path);
		goto cleanup;
	}
	u = ctl_find_user(&d, email);
	if (!u)
		goto cleanup;
	if (u->method != WGOTP_METHOD_TOTP) {
		ctl_fail(CTL_FAIL, "%s gets codes by email: an invitation is for an authenticator app", u->email);
		goto cleanup;
	}
	if (u->totp_state == WGOTP_TOTP_ACTIVE) {
		ctl_fail(CTL_FAIL, "%s already has an active TOTP secret (wgotpctl totp reset --force %s first)",
			 u->email, u->email);
		goto cleanup;
	}
	if (!print && ctl->cfg->mail_transport == WGOTP_MAIL_NONE) {
		ctl_fail(CTL_FAIL, "%s: [Mail] Transport = none: no mail can be sent (--print shows the link)",
			 ctl->cfg->path);
		goto cleanup;
	}
	if (ctl_store(ctl, &store) != CTL_OK)
		goto cleanup;
	if (wgotp_flow_new(ctl->cfg, store, NULL, NULL, NULL, &flow, &err) < 0) {
		ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	if (!print && wgotp_mailer_from_config(ctl->cfg, store, &m, &err) < 0) {
		ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	if (wgotp_invite_new(flow, u, ctl->cfg->invite_lifetime, token) < 0) {
		ctl_fail(CTL_FAIL, "cannot make an invitation");
		goto cleanup;
	}
	n = strlen(url);
	/* the token in the fragment: it never reaches a server log or a Referer */
	snprintf(link, sizeof(link), "%s%senrol#%s", url, n && url[n - 1] == '/' ? "" : "/", token);
	status = ctl_dir_commit(ctl, &d);
	if (status != CTL_OK)
		goto cleanup;
	status = CTL_FAIL;
	if (print) {
		printf("%s\n", link);
	} else {
		wgotp_mail_lifetime_words(ctl->cfg->invite_lifetime, words, sizeof(words));
		snprintf(body, sizeof(body),
			 "Hello,\n\nTo set up the authenticator app for your VPN sign-in, open this link\n"
			 "on a computer, scan the QR code with the app and type the code it shows:\n\n"
			 "%s\n\nThe link works once and for %s. If you did not expect it, tell your\n"
			 "administrator.\n", link, words);
		ret = wgotp_mailer_send_text(&m, u->email, "Set up your VPN sign-in", body, time(NULL), &err);
		if (ret < 0) {
			audit_invite(u->email, "error", "mail");
			ctl_fail(CTL_FAIL, "invitation made but not mailed to %s: %s (run wgotpctl invite again)",
				 u->email, err.msg);
			goto cleanup;
		}
		printf("invitation mailed to %s\n", u->email);
	}
	audit_invite(u->email, "accept", "ok");
	status = CTL_OK;
cleanup:
	wgotp_wipe(token, sizeof(token));
	wgotp_wipe(link, sizeof(link));
	wgotp_wipe(body, sizeof(body));
	if (m.free)
		m.free(m.arg);
	wgotp_flow_free(flow);
	wgotp_store_close(store);
	ctl_dir_close(&d);
	return status;
}

int cmd_invite(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "print", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	bool print = false;
	int c;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': print = true; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	return ctl_invite(ctl, argv[optind], print);
}
