// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl device add|del|show|set|rename: a user's WireGuard devices.
 * The library validates the key and the prefixes and refuses a key or an
 * address that another device already has.
 *
 * add --generate makes the device's key pair here (X25519, as wg genkey),
 * takes the next free address of [Network] AddressPool under the lock on
 * users.json (two wgotpctl at once never get the same one), and prints
 * the client's wg-quick configuration and its QR code, once: the private
 * key is never stored, only wiped. users.json keeps the public key.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activator_client.h"
#include "audit.h"
#include "ctl.h"
#include "qr.h"
#include "secret.h"
#include "wgclient.h"

#define PNG_SCALE 6
#define IPS_MAX 256

/* stdout's buffer: it holds the private key for a moment, so it is ours
 * to wipe. */
static char out_buf[8192];

static void audit_device(const char *event, const char *user, const char *device, const char *reason)
{
	struct wgotp_audit a = {
		.event = event, .origin = "admin", .user = user, .device = device,
		.client = "wgotpctl", .result = "accept", .reason = reason,
	};

	wgotp_audit(&a);
}

static int parse_otp(const char *s, enum wgotp_dev_otp *out)
{
	if (!strcmp(s, "required"))
		*out = WGOTP_DEV_OTP_REQUIRED;
	else if (!strcmp(s, "none"))
		*out = WGOTP_DEV_OTP_NONE;
	else if (!strcmp(s, "default"))
		*out = WGOTP_DEV_OTP_INHERIT;
	else
		return -EINVAL;
	return 0;
}

/* write(2) the whole text, past stdio (a secret stays out of its buffer). */
static int write_out(int fd, const char *s)
{
	fflush(stdout);
	return qr_write_all(fd, s, strlen(s));
}

/* The config, its QR code in the terminal and in the files asked for. */
static int show_config(const char *text, bool terminal_qr, const char *conf, const char *png,
		       const char *svg)
{
	struct qr q = { 0 };
	int ret, fd;

	ret = write_out(STDOUT_FILENO, text);
	if (ret < 0)
		return ctl_fail(CTL_FAIL, "stdout: %s", strerror(-ret));
	if (conf) {
		fd = qr_create_file(conf);
		ret = fd < 0 ? fd : qr_write_all(fd, text, strlen(text));
		if (fd >= 0 && (close(fd) < 0) && ret == 0)
			ret = -errno;
		if (ret < 0)
			return ctl_fail(CTL_FAIL, "%s: %s", conf, strerror(-ret));
	}
	if (!terminal_qr && !png && !svg)
		return CTL_OK;
	ret = qr_encode(text, &q);
	if (ret < 0)
		return ctl_fail(CTL_FAIL, "cannot make the QR code: %s", strerror(-ret));
	if (terminal_qr) {
		putchar('\n');
		qr_print_terminal(&q, stdout, isatty(STDOUT_FILENO));
	}
	if (png && (ret = qr_write_png(&q, png, PNG_SCALE)) < 0) {
		qr_free(&q);
		return ctl_fail(CTL_FAIL, "%s: %s", png, strerror(-ret));
	}
	if (svg && (ret = qr_write_svg(&q, svg)) < 0) {
		qr_free(&q);
		return ctl_fail(CTL_FAIL, "%s: %s", svg, strerror(-ret));
	}
	qr_free(&q);
	return CTL_OK;
}

/* [Network] ServerPublicKey, else the interface's key from wg-activator. */
static int server_key(struct ctl *ctl, char out[WGOTP_KEY_B64_LEN + 1])
{
	struct wgotp_activator_status st;
	struct wgotp_error err = { "" };

	if (ctl->cfg->net_server_key) {
		snprintf(out, WGOTP_KEY_B64_LEN + 1, "%s", ctl->cfg->net_server_key);
		return CTL_OK;
	}
	memset(&st, 0, sizeof(st));
	if (wgotp_activator_ping(ctl->cfg, &st, &err) < 0)
		return ctl_fail(CTL_FAIL,
				"the server's public key: [Network] ServerPublicKey is not set and wg-activator does not answer (%s)",
				err.msg);
	if (strlen(st.public_key) != WGOTP_KEY_B64_LEN)
		return ctl_fail(CTL_FAIL,
				"the server's public key: [Network] ServerPublicKey is not set and wg-activator could not read it from %s",
				st.interface[0] ? st.interface : "the interface");
	memcpy(out, st.public_key, WGOTP_KEY_B64_LEN + 1);
	return CTL_OK;
}

static int device_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "public-key", required_argument, NULL, 'k' },
		{ "allowed-ips", required_argument, NULL, 'a' },
		{ "address", required_argument, NULL, 'a' },
		{ "generate", no_argument, NULL, 'g' },
		{ "otp", required_argument, NULL, 'o' },
		{ "png", required_argument, NULL, 'p' },
		{ "svg", required_argument, NULL, 's' },
		{ "conf", required_argument, NULL, 'C' },
		{ "no-qr", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *ips = NULL, *png = NULL, *svg = NULL, *conf = NULL, *otp = NULL;
	char pub_b64[WGOTP_KEY_B64_LEN + 1] = "", priv_b64[WGOTP_KEY_B64_LEN + 1] = "";
	char srv[WGOTP_KEY_B64_LEN + 1] = "", pool_ips[IPS_MAX], shown[IPS_MAX] = "";
	uint8_t priv[WGOTP_KEY_LEN], pub[WGOTP_KEY_LEN];
	enum wgotp_dev_otp dev_otp = WGOTP_DEV_OTP_INHERIT;
	struct wgotp_error err = { "" };
	struct wgotp_device *dv;
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	char *text = NULL;
	bool generate = false, show_qr = true;
	int c, status;

	setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'a': ips = optarg; break;
		case 'g': generate = true; break;
		case 'o': otp = optarg; break;
		case 'p': png = optarg; break;
		case 's': svg = optarg; break;
		case 'C': conf = optarg; break;
		case 'n': show_qr = false; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 2)
		return ctl_usage("needs EMAIL and NAME");
	if (!!key == generate)
		return ctl_usage("either --generate or --public-key KEY");
	if (!generate && (png || svg || conf))
		return ctl_usage("--png, --svg and --conf go with --generate (see device show --config)");
	if (otp && parse_otp(otp, &dev_otp) < 0)
		return ctl_usage("--otp: \"%s\" is neither required nor none", otp);
	status = ctl_config(ctl);
	if (status != CTL_OK)
		return status;
	if (!ips && !ctl->cfg->net_pool)
		return ctl_fail(CTL_FAIL, "no --address given and [Network] AddressPool is not set in %s",
				ctl->cfg->path);
	/* Everything the config needs is checked before anything changes. */
	if (generate) {
		status = server_key(ctl, srv);
		if (status != CTL_OK)
			return status;
		if (!ctl->cfg->net_endpoint)
			return ctl_fail(CTL_FAIL, "%s: [Network] Endpoint is not set (host:port the clients dial)",
					ctl->cfg->path);
		if (wgotp_wg_keypair(priv, pub, &err) < 0)
			return ctl_fail(CTL_FAIL, "%s", err.msg);
		wgotp_key_to_base64(pub_b64, pub);
		key = pub_b64;
	}

	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		goto cleanup;
	status = CTL_FAIL;
	if (!ips) {
		/* Under the lock, up to the save: no one else picks it. */
		if (wgotp_pool_next(ctl->cfg->net_pool, d.dir, pool_ips, sizeof(pool_ips), &err) < 0) {
			ctl_fail(CTL_FAIL, "%s", err.msg);
			goto cleanup;
		}
		ips = pool_ips;
	}
	if (wgotp_dir_device_add(d.dir, argv[optind], argv[optind + 1], key, ips, &err) < 0) {
		ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	u = wgotp_dir_find(d.dir, argv[optind]);
	dv = wgotp_user_find_device(u, argv[optind + 1]);
	dv->otp = dev_otp;
	for (size_t i = 0; i < dv->n_allowed_ips; i++) {
		char t[64];

		wgotp_cidr_format(&dv->allowed_ips[i], t, sizeof(t));
		snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown), "%s%s", i ? "," : "", t);
	}
	if (generate) {
		wgotp_key_to_base64(priv_b64, priv);
		if (wgotp_client_config(ctl->cfg, srv, dv, priv_b64, &text, &err) < 0) {
			ctl_fail(CTL_FAIL, "%s", err.msg);
			goto cleanup;
		}
	}
	status = ctl_dir_commit(ctl, &d);
	if (status != CTL_OK)
		goto cleanup;
	audit_device("device_add", u->email, dv->name, generate ? "generated" : "public_key");
	if (generate) {
		/* stdout is the config alone: it may go to a file or a pipe */
		fprintf(stderr, "added device %s of %s: %s, %s\n", dv->name, u->email, shown,
			wgotp_device_needs_otp(u, dv) ? "a code is needed" : "no 2FA (always on)");
		fflush(stderr);
		status = show_config(text, show_qr, conf, png, svg);
		fflush(stdout);
		if (status == CTL_OK)
			fprintf(stderr, "this private key is shown once: wgotp does not keep it\n");
	} else {
		printf("added device %s of %s (%s, %s)\n", dv->name, u->email, shown,
		       wgotp_device_needs_otp(u, dv) ? "a code is needed" : "no 2FA, always on");
	}
	ctl_apply_device_otp(ctl, u, dv, true);
cleanup:
	fflush(stdout);
	wgotp_wipe(out_buf, sizeof(out_buf));
	if (text)
		wgotp_freezero(text, strlen(text) + 1);
	wgotp_wipe(priv, sizeof(priv));
	wgotp_wipe(priv_b64, sizeof(priv_b64));
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
	status = ctl_retire(ctl, &d, u, argv[optind + 1], force);
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

/* show EMAIL NAME [--config] [--json] */
static int device_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", no_argument, NULL, 'C' },
		{ "json", no_argument, NULL, 'j' },
		{ "qr", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	char srv[WGOTP_KEY_B64_LEN + 1], t[64];
	struct wgotp_error err = { "" };
	const struct wgotp_device *dv;
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	bool config = false, show_qr = false;
	char *text = NULL;
	int c, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'C': config = true; break;
		case 'j': ctl->json = true; break;
		case 'q': show_qr = true; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 2)
		return ctl_usage("needs EMAIL and NAME");
	status = ctl_dir_open(ctl, false, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	u = ctl_find_user(&d, argv[optind]);
	if (!u)
		goto cleanup;
	dv = wgotp_user_find_device(u, argv[optind + 1]);
	if (!dv) {
		ctl_fail(CTL_FAIL, "%s has no device \"%s\"", u->email, argv[optind + 1]);
		goto cleanup;
	}
	if (config) {
		status = server_key(ctl, srv);
		if (status != CTL_OK)
			goto cleanup;
		status = CTL_FAIL;
		if (wgotp_client_config(ctl->cfg, srv, dv, NULL, &text, &err) < 0) {
			ctl_fail(CTL_FAIL, "%s", err.msg);
			goto cleanup;
		}
		status = show_config(text, show_qr, NULL, NULL, NULL);
		goto cleanup;
	}
	if (ctl->json) {
		struct json_object *o = json_object_new_object(), *ips = json_object_new_array();

		json_object_object_add(o, "user", json_object_new_string(u->email));
		json_object_object_add(o, "name", json_object_new_string(dv->name));
		json_object_object_add(o, "public_key", json_object_new_string(dv->public_key));
		for (size_t k = 0; k < dv->n_allowed_ips; k++) {
			wgotp_cidr_format(&dv->allowed_ips[k], t, sizeof(t));
			json_object_array_add(ips, json_object_new_string(t));
		}
		json_object_object_add(o, "allowed_ips", ips);
		json_object_object_add(o, "otp", json_object_new_string(
			wgotp_device_needs_otp(u, dv) ? "required" : "none"));
		json_object_object_add(o, "otp_inherited", json_object_new_boolean(dv->otp == WGOTP_DEV_OTP_INHERIT));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("user:        %s\n", u->email);
		printf("device:      %s\n", dv->name);
		printf("public key:  %s\n", dv->public_key);
		printf("allowed ips: ");
		for (size_t k = 0; k < dv->n_allowed_ips; k++) {
			wgotp_cidr_format(&dv->allowed_ips[k], t, sizeof(t));
			printf("%s%s", k ? "," : "", t);
		}
		printf("\n2fa:         %s%s\n", wgotp_device_needs_otp(u, dv) ? "required" : "none",
		       dv->otp == WGOTP_DEV_OTP_INHERIT ? " (the user's default)" : "");
	}
	status = CTL_OK;
cleanup:
	free(text);
	ctl_dir_close(&d);
	return status;
}

/* set EMAIL NAME --otp required|none|default */
static int device_set(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "otp", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	enum wgotp_dev_otp otp = WGOTP_DEV_OTP_INHERIT;
	struct wgotp_device *dv;
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	const char *otp_arg = NULL;
	char reason[32];
	bool was;
	int c, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o': otp_arg = optarg; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (argc - optind != 2)
		return ctl_usage("needs EMAIL and NAME");
	if (!otp_arg)
		return ctl_usage("nothing to set (--otp required|none|default)");
	if (parse_otp(otp_arg, &otp) < 0)
		return ctl_usage("--otp: \"%s\" is not required, none or default", otp_arg);
	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	u = ctl_find_user(&d, argv[optind]);
	if (!u)
		goto cleanup;
	dv = wgotp_user_find_device(u, argv[optind + 1]);
	if (!dv) {
		ctl_fail(CTL_FAIL, "%s has no device \"%s\"", u->email, argv[optind + 1]);
		goto cleanup;
	}
	was = wgotp_device_needs_otp(u, dv);
	dv->otp = otp;
	status = ctl_dir_commit(ctl, &d);
	if (status != CTL_OK)
		goto cleanup;
	snprintf(reason, sizeof(reason), "otp=%s", otp_arg);
	audit_device("device_set", u->email, dv->name, reason);
	printf("device %s of %s: %s\n", dv->name, u->email,
	       wgotp_device_needs_otp(u, dv) ? "a code is needed" : "no 2FA (always on)");
	ctl_apply_device_otp(ctl, u, dv, was);
cleanup:
	ctl_dir_close(&d);
	return status;
}

/* rename EMAIL OLD NEW [--force]: a live session of OLD ends first. */
static int device_rename(struct ctl *ctl, int argc, char **argv)
{
	struct wgotp_error err = { "" };
	struct wgotp_user *u;
	struct ctl_dir d = { .lock_fd = -1 };
	char email[WGOTP_EMAIL_MAX + 1];
	bool force;
	int status;

	status = ctl_force_opt(argc, argv, &force);
	if (status != CTL_OK)
		return status;
	if (argc - optind != 3)
		return ctl_usage("needs EMAIL, OLD and NEW");
	status = ctl_dir_open(ctl, true, &d);
	if (status != CTL_OK)
		return status;
	status = CTL_FAIL;
	u = ctl_find_user(&d, argv[optind]);
	if (!u)
		goto cleanup;
	snprintf(email, sizeof(email), "%s", u->email);
	/* Dry run first: a refused rename ends no session. */
	if (!wgotp_user_find_device(u, argv[optind + 1])) {
		ctl_fail(CTL_FAIL, "%s has no device \"%s\"", email, argv[optind + 1]);
		goto cleanup;
	}
	if (!wgotp_device_name_valid(argv[optind + 2]) || wgotp_user_find_device(u, argv[optind + 2])) {
		wgotp_dir_device_rename(d.dir, email, argv[optind + 1], argv[optind + 2], &err);
		ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	/* Sessions are kept by device name: the old one ends. */
	status = ctl_end_sessions(ctl, email, argv[optind + 1], force);
	if (status != CTL_OK)
		goto cleanup;
	status = CTL_FAIL;
	if (wgotp_dir_device_rename(d.dir, email, argv[optind + 1], argv[optind + 2], &err) < 0) {
		ctl_fail(CTL_FAIL, "%s", err.msg);
		goto cleanup;
	}
	status = ctl_dir_commit(ctl, &d);
	if (status != CTL_OK)
		goto cleanup;
	audit_device("device_rename", email, argv[optind + 2], "renamed");
	printf("renamed device %s of %s to %s\n", argv[optind + 1], email, argv[optind + 2]);
cleanup:
	ctl_dir_close(&d);
	return status;
}

static const struct ctl_cmd device_cmds[] = {
	{ "add", device_add,
	  "EMAIL NAME --generate|--public-key KEY [--address CIDR[,CIDR]] [--otp required|none] "
	  "[--png FILE] [--svg FILE] [--conf FILE] [--no-qr]" },
	{ "del", device_del, "EMAIL NAME [--force]" },
	{ "show", device_show, "EMAIL NAME [--config [--qr]] [--json]" },
	{ "set", device_set, "EMAIL NAME --otp required|none|default" },
	{ "rename", device_rename, "EMAIL OLD NEW [--force]" },
	{ NULL, NULL, NULL },
};

int cmd_device(struct ctl *ctl, int argc, char **argv)
{
	return ctl_dispatch(ctl, "device", device_cmds, argc - 1, argv + 1);
}
