/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mail-send: send one code through the configured mail transport and print
 * the outcome (what `wgotpctl mail-test ADDRESS` will do).
 *
 *   mail-send -c wgotp.conf [--code CODE] [--now EPOCH] [--no-store] ADDRESS
 *
 * Prints "sent to ADDRESS via TRANSPORT in N ms" and exits 0, or
 * "error: MESSAGE (errno NAME after N ms)" and exits 1; exits 2 on a usage
 * or configuration error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "mail.h"
#include "otp.h"
#include "secret.h"
#include "store.h"

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)((t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "code", required_argument, NULL, 'C' },
		{ "now", required_argument, NULL, 'n' },
		{ "no-store", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *code_arg = NULL;
	struct wgotp_config *cfg = NULL;
	struct wgotp_store *store = NULL;
	struct wgotp_mailer m = { 0 };
	struct wgotp_error err = { "" };
	struct wgotp_mail_code mc;
	struct timespec t0;
	char code[16];
	int64_t now = (int64_t)time(NULL);
	bool use_store = true;
	int c, ret, status = 2;

	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'C': code_arg = optarg; break;
		case 'n': now = strtoll(optarg, NULL, 10); break;
		case 'S': use_store = false; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;

	ret = wgotp_config_load(wgotp_config_path(conf), &cfg, &err);
	if (ret < 0) {
		fprintf(stderr, "mail-send: %s\n", err.msg);
		goto cleanup;
	}
	if (use_store && wgotp_store_open(cfg, &store, &err) < 0) {
		fprintf(stderr, "mail-send: %s (no token cache)\n", err.msg);
		store = NULL;
	}
	ret = wgotp_mailer_from_config(cfg, store, &m, &err);
	if (ret < 0) {
		fprintf(stderr, "mail-send: %s\n", err.msg);
		goto cleanup;
	}
	if (code_arg) {
		snprintf(code, sizeof(code), "%s", code_arg);
	} else if (wgotp_email_code_new(cfg->email_code_length, code) < 0) {
		fprintf(stderr, "mail-send: cannot make a code\n");
		goto cleanup;
	}
	mc = (struct wgotp_mail_code){
		.to = argv[optind], .code = code, .lifetime = cfg->email_code_lifetime, .now = now,
	};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = m.send_code(m.arg, &mc, &err);
	wgotp_wipe(code, sizeof(code));
	if (ret < 0) {
		printf("error: %s (%s after %ld ms)\n", err.msg, strerrorname_np(-ret), ms_since(&t0));
		status = 1;
	} else {
		printf("sent to %s via %s in %ld ms\n", argv[optind], wgotp_mailer_transport(&m),
		       ms_since(&t0));
		status = 0;
	}
	goto cleanup;
usage:
	fprintf(stderr, "usage: mail-send -c wgotp.conf [--code CODE] [--now EPOCH] [--no-store] ADDRESS\n");
cleanup:
	if (m.free)
		m.free(m.arg);
	wgotp_store_close(store);
	wgotp_config_free(cfg);
	return status;
}
