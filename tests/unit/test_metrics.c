/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The login flow's counters (lib/metrics.c): the file and its modes, a
 * file of another shape refused, exact sums from many processes at once,
 * the flow counting each decision and each mail, and a flow that cannot
 * open the file still deciding.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flow.h"
#include "metrics.h"
#include "tap.h"
#include "testutil.h"

#define N_PROC 6
#define N_ADDS 20000

static char *tmp;

static char *path_in(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", tmp, name) < 0)
		abort();
	return p;
}

static uint64_t decisions(const struct wgotp_metrics *m, enum wgotp_metrics_origin o, int method,
			  enum wgotp_metrics_result r, int reason)
{
	struct wgotp_metrics_data d;

	wgotp_metrics_read(m, &d);
	return d.decisions[o][method][r][reason];
}

static void test_file(void)
{
	struct wgotp_error err = { "" };
	struct wgotp_metrics *m = NULL;
	char *p = path_in("metrics");
	struct stat st;
	int fd;

	umask(022);
	is_int(wgotp_metrics_open(p, &m, &err), 0, "create the file");
	if (stat(p, &st) < 0)
		memset(&st, 0, sizeof(st));
	is_int(st.st_mode & 07777, 0660, "mode 0660 whatever the umask");
	wgotp_metrics_decision(m, "radius", WGOTP_METHOD_TOTP, WGOTP_MR_ACCEPT, WGOTP_R_OK);
	wgotp_metrics_decision(m, "radius", WGOTP_METHOD_TOTP, WGOTP_MR_ACCEPT, WGOTP_R_OK);
	wgotp_metrics_decision(m, "portal", WGOTP_METHOD_EMAIL, WGOTP_MR_REJECT, WGOTP_R_BAD_CODE);
	wgotp_metrics_decision(m, "someone", WGOTP_METHOD_EMAIL, WGOTP_MR_ERROR, -1);
	wgotp_metrics_decision(m, "pam", 7, WGOTP_MR_ACCEPT, WGOTP_R_OK);	/* no such method */
	wgotp_metrics_decision(m, "pam", WGOTP_METHOD_TOTP, WGOTP_MR_ACCEPT, 999);	/* "error" */
	is_int(decisions(m, WGOTP_MO_RADIUS, WGOTP_METHOD_TOTP, WGOTP_MR_ACCEPT, WGOTP_R_OK), 2,
	       "two accepts counted");
	is_int(decisions(m, WGOTP_MO_PORTAL, WGOTP_METHOD_EMAIL, WGOTP_MR_REJECT, WGOTP_R_BAD_CODE), 1,
	       "a reject, by front end, method and reason");
	is_int(decisions(m, WGOTP_MO_OTHER, WGOTP_METHOD_EMAIL, WGOTP_MR_ERROR,
			 WGOTP_METRICS_REASONS - 1), 1, "an unknown front end counts as other");
	is_int(decisions(m, WGOTP_MO_PAM, WGOTP_METHOD_TOTP, WGOTP_MR_ACCEPT,
			 WGOTP_METRICS_REASONS - 1), 1, "a reason out of range counts as error");
	{
		struct wgotp_metrics_data d;
		uint64_t sum = 0;

		wgotp_metrics_read(m, &d);
		for (size_t i = 0; i < sizeof(d.decisions) / sizeof(uint64_t); i++)
			sum += ((uint64_t *)d.decisions)[i];
		is_int(sum, 5, "a method out of range is not counted anywhere");
	}
	wgotp_metrics_mail(m, WGOTP_MAIL_SMTP, true, 30 * 1000);
	wgotp_metrics_mail(m, WGOTP_MAIL_SMTP, false, 3 * 1000 * 1000);
	wgotp_metrics_mail(m, WGOTP_MAIL_SMTP, true, 99 * 1000 * 1000);
	{
		struct wgotp_metrics_data d;

		wgotp_metrics_read(m, &d);
		ok(d.mail_sent[WGOTP_MAIL_SMTP] == 2 && d.mail_failed[WGOTP_MAIL_SMTP] == 1,
		   "mails: 2 sent, 1 failed");
		ok(d.mail_bucket[WGOTP_MAIL_SMTP][0] == 1 && d.mail_bucket[WGOTP_MAIL_SMTP][6] == 1 &&
		   d.mail_bucket[WGOTP_MAIL_SMTP][WGOTP_METRICS_MAIL_BUCKETS - 1] == 1,
		   "latency: <= 50 ms, <= 5 s and over 10 s, each in its bucket");
		is_int(d.mail_sum_us[WGOTP_MAIL_SMTP], 30000 + 3000000 + 99000000, "latency sum in us");
	}
	wgotp_metrics_close(m);

	/* A second open sees the same counters. */
	is_int(wgotp_metrics_open(p, &m, &err), 0, "open it again");
	is_int(decisions(m, WGOTP_MO_RADIUS, WGOTP_METHOD_TOTP, WGOTP_MR_ACCEPT, WGOTP_R_OK), 2,
	       "the counts are in the file");
	wgotp_metrics_close(m);

	chmod(p, 0664);
	is_int(wgotp_metrics_open(p, &m, &err), -EPERM, "readable by others: -EPERM");
	ok(strstr(err.msg, "0664") != NULL, "... saying so: %s", err.msg);
	chmod(p, 0660);
	fd = open(p, O_WRONLY);
	if (fd < 0 || pwrite(fd, "XXXX", 4, 0) != 4)
		abort();
	close(fd);
	is_int(wgotp_metrics_open(p, &m, &err), -EINVAL, "another magic: refused");
	ok(strstr(err.msg, "remove it") != NULL, "... saying what to do: %s", err.msg);
	fd = open(p, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, "WGOTPMT1", 8) != 8)
		abort();
	close(fd);
	is_int(wgotp_metrics_open(p, &m, &err), -EINVAL, "a file of another size: refused");
	ok(m == NULL, "... and no handle");
	free(p);
}

static void test_processes(void)
{
	struct wgotp_error err = { "" };
	struct wgotp_metrics *m = NULL;
	char *p = path_in("shared");
	int status, bad = 0;

	for (int i = 0; i < N_PROC; i++) {
		if (fork() == 0) {
			struct wgotp_metrics *c = NULL;
			int ret = wgotp_metrics_open(p, &c, &err);

			for (int k = 0; ret == 0 && k < N_ADDS; k++)
				wgotp_metrics_decision(c, "radius", WGOTP_METHOD_TOTP, WGOTP_MR_REJECT,
						       WGOTP_R_REPLAY);
			wgotp_metrics_close(c);
			free(p);	/* (valgrind follows the children) */
			free(tmp);
			_exit(ret == 0 ? 0 : 1);
		}
	}
	while (wait(&status) > 0)
		bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	is_int(bad, 0, "%d processes opened (or created) the file at once and counted", N_PROC);
	is_int(wgotp_metrics_open(p, &m, &err), 0, "open it");
	is_int(m ? decisions(m, WGOTP_MO_RADIUS, WGOTP_METHOD_TOTP, WGOTP_MR_REJECT, WGOTP_R_REPLAY) : 0,
	       N_PROC * N_ADDS, "every one of %d x %d adds counted", N_PROC, N_ADDS);
	wgotp_metrics_close(m);
	free(p);
}

static int64_t fixed_now(void *arg)
{
	(void)arg;
	return 1700000010;
}

static int record_send(void *arg, const struct wgotp_mail_code *mc, struct wgotp_error *err)
{
	(void)arg;
	(void)mc;
	(void)err;
	return 0;
}

static void test_flow(void)
{
	static const char users[] =
		"{ \"version\": 1, \"users\": { \"bob@example.com\": { \"method\": \"email\", "
		"\"enabled\": true, \"devices\": [] } } }\n";
	struct wgotp_error err = { "" };
	struct wgotp_config *cfg = NULL;
	struct wgotp_store *store = NULL;
	struct wgotp_flow *f = NULL;
	struct wgotp_metrics *m = NULL;
	struct wgotp_mailer mailer = { .send_code = record_send };
	struct wgotp_request req = { .user = "bob@example.com", .origin = "pam" };
	struct wgotp_result r, a;
	char *dir = path_in("flow"), *mpath;

	mkdir(dir, 0770);
	if (wgotp_config_defaults(&cfg) < 0)
		abort();
	free(cfg->directory);
	cfg->directory = tu_write(dir, "users.json", users, 0640);
	free(cfg->server_key_file);
	cfg->server_key_file = tu_write(dir, "server.key",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
	free(cfg->store_path);
	if (asprintf(&cfg->store_path, "%s/state.db", dir) < 0)
		abort();
	cfg->mail_transport = WGOTP_MAIL_SMTP;
	if (wgotp_store_open(cfg, &store, &err) < 0 ||
	    wgotp_flow_new(cfg, store, &mailer, fixed_now, NULL, &f, &err) < 0)
		{ diag("flow: %s", err.msg); abort(); }
	wgotp_begin(f, &req, &r);
	wgotp_answer(f, r.challenge_id, "000000", &req, &a);
	mpath = path_in("flow/metrics");
	is_int(wgotp_metrics_open(mpath, &m, &err), 0, "the flow made the file beside the store");
	if (m) {
		struct wgotp_metrics_data d;

		is_int(decisions(m, WGOTP_MO_PAM, WGOTP_METHOD_EMAIL, WGOTP_MR_CHALLENGE,
				 WGOTP_R_CHALLENGE_SENT), 1, "begin: a challenge, code sent, through PAM");
		is_int(decisions(m, WGOTP_MO_PAM, WGOTP_METHOD_EMAIL, WGOTP_MR_REJECT, a.reason), 1,
		       "answer: a reject (%s)", wgotp_reason_str(a.reason));
		wgotp_metrics_read(m, &d);
		is_int(d.mail_sent[WGOTP_MAIL_SMTP], 1, "the mail counted for its transport");
	}
	wgotp_metrics_close(m);
	wgotp_flow_free(f);
	f = NULL;

	/* A file the flow may not use: it still decides, counting nothing. */
	chmod(mpath, 0666);
	is_int(wgotp_flow_new(cfg, store, NULL, fixed_now, NULL, &f, &err), 0,
	       "a metrics file open to others: the flow opens all the same, counting nothing");
	req.user = "nobody@example.com";
	is_int(f ? wgotp_begin(f, &req, &r) : 0, -ENOSYS, "... and decides (no transport: an error)");
	wgotp_flow_free(f);
	wgotp_store_close(store);
	wgotp_config_free(cfg);
	free(mpath);
	free(dir);
}

int main(void)
{
	tmp = tu_tmpdir();
	test_file();
	test_processes();
	test_flow();
	tu_rmdir(tmp);
	return done_testing();
}
