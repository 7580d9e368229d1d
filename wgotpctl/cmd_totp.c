// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl totp enroll|confirm|reset: a TOTP secret is made pending by
 * enroll (the otpauth:// URI and its QR code are shown once), becomes
 * active when confirm proves the app has it, and is removed by reset.
 * The confirm code's time step is recorded in the store, as any login's,
 * so the same code cannot be used again.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "ctl.h"
#include "invite.h"
#include "otp.h"
#include "qr.h"
#include "secret.h"

#define SECRET_BYTES 20		/* 160 bits, RFC 4226's recommendation */
#define SECRET_B32_MAX 64
#define URI_MAX WGOTP_TOTP_URI_MAX
#define PNG_SCALE 8

static int totp_enroll(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "png", required_argument, NULL, 'p' },
		{ "svg", required_argument, NULL, 's' },
		{ "no-qr", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *png = NULL, *svg = NULL;
	char secret[SECRET_B32_MAX + 1] = "", uri[URI_MAX] = "";
	struct qr q = { 0 };
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	bool show_qr = true;
	int c, ret, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': png = optarg; break;
		case 's': svg = optarg; break;
		case 'n': show_qr = false; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	u = ctl_find_user(&d, argv[optind]);
	if (!u)
		goto cleanup;
	if (u->method != WGOTP_METHOD_TOTP) {
		ctl_fail(CTL_FAIL, "%s gets codes by email, not from an authenticator app", u->email);
		goto cleanup;
	}
	if (u->totp_state == WGOTP_TOTP_ACTIVE) {
		ctl_fail(CTL_FAIL, "%s already has an active TOTP secret (wgotpctl totp reset %s first)",
			 u->email, u->email);
		goto cleanup;
	}
	if (wgotp_totp_new_secret(SECRET_BYTES, secret, sizeof(secret)) < 0) {
		ctl_fail(CTL_FAIL, "cannot make a TOTP secret");
		goto cleanup;
	}
	if (wgotp_totp_uri(ctl->cfg, u->email, secret, uri, sizeof(uri)) < 0) {
		ctl_fail(CTL_FAIL, "the otpauth URI is too long (Issuer?)");
		goto cleanup;
	}
	ret = qr_encode(uri, &q);
	if (ret < 0) {
		ctl_fail(CTL_FAIL, "cannot make the QR code: %s", strerror(-ret));
		goto cleanup;
	}
	ret = wgotp_user_set_totp(u, secret, WGOTP_TOTP_PENDING);
	if (ret < 0) {
		ctl_fail(CTL_FAIL, "cannot set the TOTP secret: %s", strerror(-ret));
		goto cleanup;
	}
	status = ctl_dir_commit(ctl, &d);
	if (status != CTL_OK)
		goto cleanup;
	status = CTL_FAIL;
	printf("%s\n", uri);
	if (show_qr) {
		fflush(stdout);
		qr_print_terminal(&q, stdout, isatty(STDOUT_FILENO));
	}
	if (png && (ret = qr_write_png(&q, png, PNG_SCALE)) < 0) {
		ctl_fail(CTL_FAIL, "%s: %s", png, strerror(-ret));
		goto cleanup;
	}
	if (svg && (ret = qr_write_svg(&q, svg)) < 0) {
		ctl_fail(CTL_FAIL, "%s: %s", svg, strerror(-ret));
		goto cleanup;
	}
	printf("pending until confirmed: wgotpctl totp confirm %s CODE\n", u->email);
	status = CTL_OK;
cleanup:
	fflush(stdout);
	qr_free(&q);
	wgotp_wipe(secret, sizeof(secret));
	wgotp_wipe(uri, sizeof(uri));
	ctl_dir_close(&d);
	return status;
}

static void audit_confirm(const char *user, const char *result, const char *reason)
{
	struct wgotp_audit a = {
		.event = "totp_confirm", .origin = "admin", .user = user, .client = "wgotpctl",
		.method = "totp", .result = result, .reason = reason,
	};

	wgotp_audit(&a);
}

static int totp_confirm(struct ctl *ctl, int argc, char **argv)
{
	struct wgotp_totp_params p;
	struct wgotp_store *store = NULL;
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	uint64_t last = 0, step = 0;
	const char *code;
	int ret, status;

	ctl_getopt_reset();
	if (getopt_long(argc, argv, "", (const struct option[]){ { NULL, 0, NULL, 0 } }, NULL) != -1)
		return ctl_bad_option(argv);
	if (argc - optind != 2)
		return ctl_usage("needs EMAIL and CODE");
	code = argv[optind + 1];
	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	u = ctl_find_user(&d, argv[optind]);
	if (!u)
		goto cleanup;
	if (u->method != WGOTP_METHOD_TOTP || u->totp_state != WGOTP_TOTP_PENDING || !u->totp_secret) {
		ctl_fail(CTL_FAIL, "%s has no pending TOTP secret (%s)", u->email,
			 u->totp_state == WGOTP_TOTP_ACTIVE ? "already confirmed" :
			 "wgotpctl totp enroll first");
		goto cleanup;
	}
	if (wgotp_totp_params_of(ctl->cfg, &p) < 0) {
		ctl_fail(CTL_FAIL, "unknown TOTP algorithm %s", ctl->cfg->totp_algorithm);
		goto cleanup;
	}
	if (wgotp_code_check_format(code, p.digits) < 0) {
		ctl_fail(CTL_FAIL, "the code must be %d digits", p.digits);
		goto cleanup;
	}
	if (ctl_store(ctl, &store) != CTL_OK)
		goto cleanup;
	ret = store->ops->totp_last_step(store->state, u->email, &last);
	if (ret < 0) {
		ctl_fail(CTL_FAIL, "store: %s", strerror(-ret));
		goto cleanup;
	}
	ret = wgotp_totp_verify_b32(u->totp_secret, &p, (int64_t)time(NULL), code, last, &step);
	if (ret == 0) {
		ret = store->ops->totp_use_step(store->state, u->email, step);
		if (ret < 0 && ret != -EALREADY) {
			ctl_fail(CTL_FAIL, "store: %s", strerror(-ret));
			goto cleanup;
		}
	}
	if (ret == -EALREADY) {
		audit_confirm(u->email, "reject", "replay");
		ctl_fail(CTL_FAIL, "this code was already used: wait for the next one");
		goto cleanup;
	}
	if (ret < 0) {
		audit_confirm(u->email, "reject", "bad_code");
		ctl_fail(CTL_FAIL, "wrong code for %s (is the phone's clock right?)", u->email);
		goto cleanup;
	}
	u->totp_state = WGOTP_TOTP_ACTIVE;
	status = ctl_dir_commit(ctl, &d);
	if (status != CTL_OK)
		goto cleanup;
	audit_confirm(u->email, "accept", "ok");
	printf("TOTP active for %s\n", u->email);
cleanup:
	wgotp_store_close(store);
	ctl_dir_close(&d);
	return status;
}

/* The admin's way out (a lost phone): --force, since the user can no
 * longer sign in until they enrol again; audited. */
static int totp_reset(struct ctl *ctl, int argc, char **argv)
{
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	bool force = false;
	int status;

	status = ctl_force_opt(argc, argv, &force);
	if (status != CTL_OK)
		return status;
	if (argc - optind != 1)
		return ctl_usage("needs one EMAIL");
	if (!force)
		return ctl_usage("--force is required: the user cannot sign in until they enrol again");
	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	u = ctl_find_user(&d, argv[optind]);
	if (!u)
		goto cleanup;
	if (wgotp_user_set_totp(u, NULL, WGOTP_TOTP_NONE) < 0) {
		ctl_fail(CTL_FAIL, "cannot reset the TOTP secret");
		goto cleanup;
	}
	memset(&u->invite, 0, sizeof(u->invite));
	status = ctl_dir_commit(ctl, &d);
	if (status == CTL_OK) {
		struct wgotp_audit a = {
			.event = "totp_reset", .origin = "admin", .user = u->email, .client = "wgotpctl",
			.method = "totp", .result = "accept", .reason = "forced",
		};

		wgotp_audit(&a);
		printf("TOTP secret of %s removed (wgotpctl invite %s)\n", u->email, u->email);
	}
cleanup:
	ctl_dir_close(&d);
	return status;
}

static const struct ctl_cmd totp_cmds[] = {
	{ "enroll", totp_enroll, "EMAIL [--png FILE] [--svg FILE] [--no-qr]" },
	{ "confirm", totp_confirm, "EMAIL CODE" },
	{ "reset", totp_reset, "EMAIL --force" },
	{ NULL, NULL, NULL },
};

int cmd_totp(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "totp", totp_cmds, argc - 1, argv + 1);
}
