// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl mail-test ADDRESS: send one code (random, valid nowhere)
 * through the configured transport, as a login would, and say how it
 * went. The code is not printed.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "mail.h"
#include "otp.h"
#include "secret.h"

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

int cmd_mail_test(struct ctl *ctl, int argc, char **argv)
{
	struct wgotp_error err = { "" };
	struct wgotp_store *store = NULL;
	struct wgotp_mailer m = { 0 };
	struct wgotp_mail_code mc;
	struct timespec t0;
	char code[WGOTP_CODE_MAX + 1] = "";
	int ret, status;

	ctl_getopt_reset();
	if (getopt_long(argc, argv, "", (const struct option[]){ { NULL, 0, NULL, 0 } }, NULL) != -1)
		return ctl_bad_option(argv);
	if (argc - optind != 1)
		return ctl_usage("needs one ADDRESS");
	status = ctl_config(ctl);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	if (ctl->cfg->mail_transport == WGOTP_MAIL_NONE) {
		ctl_fail(CTL_FAIL, "%s: [Mail] Transport = none: no mail can be sent", ctl->cfg->path);
		goto cleanup;
	}
	/* The store holds the OAuth token cache; without it every send asks
	 * for a new token, which is fine for a test. */
	if (wgotp_store_open(ctl->cfg, &store, &err) < 0) {
		fprintf(stderr, "wgotpctl: warning: %s (no token cache)\n", err.msg);
		store = NULL;
	}
	ret = wgotp_mailer_from_config(ctl->cfg, store, &m, &err);
	if (ret < 0) {
		ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	if (wgotp_email_code_new(ctl->cfg->email_code_length, code) < 0) {
		ctl_fail(CTL_FAIL, "cannot make a code");
		goto cleanup;
	}
	mc = (struct wgotp_mail_code){
		.to = argv[optind], .code = code, .lifetime = ctl->cfg->email_code_lifetime,
		.now = (int64_t)time(NULL),
	};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = m.send_code(m.arg, &mc, &err);
	if (ret < 0) {
		ctl_fail(CTL_FAIL, "mail to %s not sent via %s after %ld ms: %s", argv[optind],
			 wgotp_mailer_transport(&m), ms_since(&t0), err.msg[0] ? err.msg : strerror(-ret));
		goto cleanup;
	}
	printf("sent a test code to %s via %s in %ld ms\n", argv[optind], wgotp_mailer_transport(&m),
	       ms_since(&t0));
	status = CTL_OK;
cleanup:
	wgotp_wipe(code, sizeof(code));
	if (m.free)
		m.free(m.arg);
	wgotp_store_close(store);
	return status;
}
