/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pam_wgotp through Linux-PAM, under pam_wrapper (no /etc/pam.d is
 * touched) and libpamtest: every argument, every return code, bad input
 * (no such user, codes of the wrong length, a failing conversation), the
 * email flow through a fake sendmail, activation and deactivation
 * against a fake wg-activator, and a scan of the module's log for the
 * codes that were typed.
 *
 * The module under test is pam_wgotp_test.so: the installed module with
 * its clock read from WGOTP_PAM_TEST_NOW, so every case runs at an
 * exact instant.
 *
 * The program runs twice: the first run writes the fixture into a
 * temporary directory and runs itself again with pam_wrapper preloaded
 * (it must be there at exec time), then removes the directory whatever
 * happened.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpamtest.h>
#include <security/pam_appl.h>

#include "encoding.h"
#include "otp.h"
#include "tap.h"
#include "testutil.h"

#define T0 1700000010LL		/* 10 s into a 30 s step */
#define STEP 30
#define MAX_FAILURES 8
#define ALICE_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"	/* "12345678901234567890" */
#define ERIN_SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
#define KEY_A "YBo1Xd4UqfZH0kT6tM4qPzJl3hWZHfZ9xWmXn1ob1lI="

static const char *dir;		/* the fixture directory */
static char wrapper_modules[512];	/* pam_wrapper's own modules */
static char module[4096];
static int64_t now = T0;

/* --- codes ---------------------------------------------------------------- */
static char used_codes[64][16];
static int n_used;
static char grant_ids[16][40];		/* every grant id seen: never logged */
static int n_grants;

static const char *totp_at(const char *b32, int64_t t)
{
	static char out[12];
	uint8_t key[64];
	struct wgotp_totp_params p = { .digits = 6, .period = STEP, .window = 1, .alg = WGOTP_TOTP_SHA1 };
	int n = wgotp_base32_decode(b32, key, sizeof(key));

	if (n <= 0 || wgotp_totp_generate(key, (size_t)n, &p, (uint64_t)(t / STEP), out) < 0)
		abort();
	if (n_used < 64)
		snprintf(used_codes[n_used++], sizeof(used_codes[0]), "%s", out);
	return out;
}

static void set_now(int64_t t)
{
	char buf[32];

	now = t;
	snprintf(buf, sizeof(buf), "%lld", (long long)t);
	setenv("WGOTP_PAM_TEST_NOW", buf, 1);
}

/* --- a scripted conversation ---------------------------------------------- */
struct script {
	const char *answers[4];		/* for PAM_PROMPT_ECHO_OFF, in order */
	int n_asked;
	int echo_on;			/* PAM_PROMPT_ECHO_ON seen */
	char prompts[4][256];
	char info[4][256];
	int n_info;
	bool fail;			/* the conversation fails */
	bool null_answer;		/* ... or gives no answer */
	const char *mail_file;		/* answer with the code found in this mail */
};

static void code_from_mail(const char *path, char *out, size_t outlen)
{
	char line[512];
	FILE *f = fopen(path, "r");

	out[0] = '\0';
	if (!f)
		return;
	/* The default body says the code on a line of its own. */
	while (fgets(line, sizeof(line), f)) {
		const char *l = line + strspn(line, " \t");
		size_t n = strspn(l, "0123456789");

		if (n >= 6 && n <= 10 && (l[n] == '\n' || l[n] == '\r' || l[n] == '\0')) {
			snprintf(out, outlen, "%.*s", (int)n, l);
			break;
		}
	}
	fclose(f);
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *arg)
{
	struct script *s = arg;
	struct pam_response *r;
	char mailed[16];
	int i;

	if (s->fail)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof(*r));
	if (!r)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		switch (msg[i]->msg_style) {
		case PAM_PROMPT_ECHO_OFF:
			if (s->n_asked < 4)
				snprintf(s->prompts[s->n_asked], 256, "%s", msg[i]->msg);
			if (s->null_answer) {
				s->n_asked++;
				break;
			}
			if (s->mail_file) {
				code_from_mail(s->mail_file, mailed, sizeof(mailed));
				if (n_used < 64)
					snprintf(used_codes[n_used++], sizeof(used_codes[0]), "%s", mailed);
				r[i].resp = strdup(mailed);
			} else {
				r[i].resp = strdup(s->n_asked < 4 && s->answers[s->n_asked] ?
						   s->answers[s->n_asked] : "");
			}
			s->n_asked++;
			break;
		case PAM_PROMPT_ECHO_ON:
			s->echo_on++;
			r[i].resp = strdup("");
			break;
		case PAM_TEXT_INFO:
		case PAM_ERROR_MSG:
			if (s->n_info < 4)
				snprintf(s->info[s->n_info], 256, "%s", msg[i]->msg);
			s->n_info++;
			break;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* --- fixture -------------------------------------------------------------- */
static char *path(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

static const char users_json[] =
	"{ \"version\": 1, \"users\": {\n"
	"  \"alice@example.com\": { \"method\": \"totp\", \"totp_secret\": \"" ALICE_SECRET "\",\n"
	"     \"totp_state\": \"active\", \"enabled\": true,\n"
	"     \"devices\": [ { \"name\": \"laptop\", \"public_key\": \"" KEY_A "\",\n"
	"                      \"allowed_ips\": [\"10.8.0.2/32\"] } ] },\n"
	"  \"bob@example.com\": { \"method\": \"email\", \"enabled\": true },\n"
	"  \"carol@example.com\": { \"method\": \"totp\", \"totp_state\": \"pending\",\n"
	"     \"totp_secret\": \"" ERIN_SECRET "\", \"enabled\": true },\n"
	"  \"dave@example.com\": { \"method\": \"totp\", \"totp_secret\": \"" ERIN_SECRET "\",\n"
	"     \"totp_state\": \"active\", \"enabled\": false },\n"
	"  \"erin@example.com\": { \"method\": \"totp\", \"totp_secret\": \"" ERIN_SECRET "\",\n"
	"     \"totp_state\": \"active\", \"enabled\": true },\n"
	"  \"frank@example.com\": { \"method\": \"totp\", \"totp_secret\": \"" ERIN_SECRET "\",\n"
	"     \"totp_state\": \"active\", \"enabled\": true }\n"
	"} }\n";

/* name.conf: a configuration; extra is appended (later sections win
 * nothing: each name gets only what it needs). */
static void write_conf(const char *name, const char *unknown, const char *store, const char *mail,
		       const char *extra)
{
	char *text, *file;

	if (asprintf(&file, "%s.conf", name) < 0 ||
	    asprintf(&text,
		     "[General]\nDirectory = %s/users.json\nServerKeyFile = %s/server.key\n"
		     "AuditLog = stderr\nUnknownUser = %s\n\n"
		     "[Store]\nPath = %s\n\n"
		     "[RateLimit]\nMaxFailures = %d\n\n"
		     "[Email]\nResendInterval = 0\n\n"
		     "[Activator]\nSocket = %s/activator.sock\nConnectTimeout = 500\nReplyTimeout = 2000\n\n"
		     "%s\n%s\n",
		     dir, dir, unknown, store, MAX_FAILURES, dir, mail, extra) < 0)
		abort();
	free(tu_write(dir, file, text, 0600));
	free(file);
	free(text);
}

/* A service file for pam_wrapper: auth and session lines with args,
 * after the lines in `before` and before those in `after`. */
static void service_stack(const char *name, const char *before, const char *args, const char *after)
{
	char *text;

	if (asprintf(&text, "%sauth required %s %s\n%ssession required %s %s\n",
		     before, module, args, after, module, args) < 0)
		abort();
	free(tu_write(dir, name, text, 0644));
	free(text);
}

static void service(const char *name, const char *args)
{
	service_stack(name, "", args, "");
}

/* Every service the tests use: pam_wrapper reads PAM_WRAPPER_SERVICE_DIR
 * once, so they are all written before it starts. */
static void write_services(void)
{
	char args[512], set_items[1024];

	snprintf(set_items, sizeof(set_items), "auth optional %s/pam_set_items.so\n", wrapper_modules);

	service("typo", "config=/x/good.conf nullokk");
	service("relconf", "config=good.conf");
	snprintf(args, sizeof(args), "config=%s/good.conf duration=8h", dir);
	service("durnoact", args);
	snprintf(args, sizeof(args), "config=%s/good.conf activate duration=eight", dir);
	service("baddur", args);
	snprintf(args, sizeof(args), "config=%s/good.conf use_first_pass try_first_pass", dir);
	service("bothpass", args);
	snprintf(args, sizeof(args), "config=%s/good.conf domain=exa_mple.com", dir);
	service("baddomain", args);
	snprintf(args, sizeof(args), "config=%s/good.conf prompt=", dir);
	service("emptyprompt", args);
	snprintf(args, sizeof(args), "config=%s/broken.conf", dir);
	service("brokenconf", args);
	snprintf(args, sizeof(args), "config=%s/missing.conf", dir);
	service("missingconf", args);
	snprintf(args, sizeof(args), "config=%s/good.conf", dir);
	service("plain", args);
	snprintf(args, sizeof(args), "config=%s/good.conf nullok", dir);
	service("nullok", args);
	snprintf(args, sizeof(args), "config=%s/good.conf domain=example.com", dir);
	service("domain", args);
	snprintf(args, sizeof(args), "config=%s/reject.conf", dir);
	service("rejectunknown", args);
	snprintf(args, sizeof(args), "config=%s/good.conf use_first_pass", dir);
	service_stack("usefirst", set_items, args, "");
	snprintf(args, sizeof(args), "config=%s/good.conf try_first_pass", dir);
	service_stack("tryfirst", set_items, args, "");
	snprintf(args, sizeof(args), "config=%s/good.conf nullok", dir);
	service_stack("nullokstack", "", args, "auth required pam_permit.so\n");
	snprintf(args, sizeof(args), "config=%s/mailfail.conf", dir);
	service("mailfail", args);
	snprintf(args, sizeof(args), "config=%s/nocurl.conf", dir);
	service("nocurl", args);
	snprintf(args, sizeof(args), "config=%s/good.conf [prompt=Code from the mail: ]", dir);
	service("prompt", args);
	snprintf(args, sizeof(args), "config=%s/nostore.conf", dir);
	service("nostore", args);
	snprintf(args, sizeof(args), "config=%s/good.conf activate duration=4h deactivate_on_close", dir);
	service("act", args);
	/* an earlier module fails: the login fails, nothing may be activated */
	service_stack("actdeny", "auth required pam_deny.so\n", args, "");
	service_stack("actdeny2", "auth requisite pam_permit.so\nauth required pam_deny.so\n", args, "");
}

static void write_fixture(void)
{
	char *store, *mail, *text;

	free(tu_write(dir, "users.json", users_json, 0640));
	free(tu_write(dir, "server.key",
		      "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600));
	if (asprintf(&text, "#!/bin/sh\ncat > %s/mail.out\n", dir) < 0)
		abort();
	free(tu_write(dir, "sendmail", text, 0755));
	free(text);
	free(tu_write(dir, "sendmail-broken", "#!/bin/sh\ncat >/dev/null\nexit 75\n", 0755));
	free(tu_write(dir, "not-a-dir", "", 0644));

	store = path("state.db");
	if (asprintf(&mail, "[Mail]\nTransport = sendmail\nFrom = vpn@example.com\n\n"
		     "[Sendmail]\nPath = %s/sendmail\n", dir) < 0)
		abort();
	write_conf("good", "totp", store, mail, "");
	free(mail);
	if (asprintf(&mail, "[Mail]\nTransport = sendmail\nFrom = vpn@example.com\n\n"
		     "[Sendmail]\nPath = %s/sendmail-broken\n", dir) < 0)
		abort();
	write_conf("mailfail", "totp", store, mail, "");
	free(mail);
	/* SMTP needs libcurl, and the libcurl.so.4 found first (main() puts
	 * nocurl-lib/ first in LD_LIBRARY_PATH) is not a library: a module
	 * that had libcurl in DT_NEEDED again would fail every test here. */
	write_conf("nocurl", "totp", store,
		   "[Mail]\nTransport = smtp\nFrom = vpn@example.com\n\n"
		   "[SMTP]\nURL = smtp://127.0.0.1:1\n", "");
	text = path("nocurl-lib");
	if (mkdir(text, 0755) < 0)
		abort();
	free(tu_write(text, WGOTP_LIBCURL_SONAME, "not a library\n", 0644));
	free(text);
	write_conf("reject", "reject", store, "", "");
	free(store);
	/* a store that cannot be opened: its directory is a file */
	store = path("not-a-dir/state.db");
	write_conf("nostore", "totp", store, "", "");
	free(store);
	free(tu_write(dir, "broken.conf", "[General]\nNoSuchKey = 1\n", 0600));
}

/* --- running PAM ---------------------------------------------------------- */
struct run {
	const char *service;
	const char *user;
	const char *authtok;	/* PAM_AUTHTOK set before authenticating */
	int flags;
	enum pamtest_ops op;	/* PAMTEST_AUTHENTICATE by default (0) */
};

static int run(const struct run *r, struct script *s)
{
	struct pam_conv c = { conv, s };
	struct pam_testcase tc[] = {
		pam_test_flags(r->op, PAM_SUCCESS, r->flags),
	};
	pam_handle_t *ph = NULL;
	enum pamtest_err perr;
	int ret;

	ret = pam_start(r->service, r->user, &c, &ph);
	if (ret != PAM_SUCCESS) {
		diag("pam_start(%s): %s", r->service, pam_strerror(NULL, ret));
		return -1;
	}
	pam_set_item(ph, PAM_RHOST, "192.0.2.7");
	if (r->authtok) {
		/* An application cannot set PAM_AUTHTOK: pam_wrapper's
		 * pam_set_items.so, stacked first, copies it from the
		 * environment. */
		setenv("PAM_AUTHTOK", r->authtok, 1);
	}
	perr = _pamtest_conv(r->service, r->user, conv, s, tc, 1, ph);
	if (perr != PAMTEST_ERR_OK && perr != PAMTEST_ERR_CASE)
		diag("pamtest: %s", pamtest_strerror(perr));
	unsetenv("PAM_AUTHTOK");
	/* _pamtest_conv has called pam_end */
	return tc[0].op_rv;
}

static int auth(const char *svc, const char *user, struct script *s)
{
	struct run r = { .service = svc, .user = user };

	return run(&r, s);
}

/* Several operations on one handle, as an application runs them (auth,
 * then open_session). want[i]: what op i must return; libpamtest stops at
 * the first that does not, and got[i] is -1 for those not run. After a
 * PAMTEST_GETENVLIST, grant[i] is the WGOTP_GRANT in the PAM environment
 * ("" if none, "(not run)"). putenv, if set, goes into the PAM environment first. */
struct ops {
	const char *service;
	const char *user;
	const char *putenv;
	int n;
	enum pamtest_ops op[4];
	int want[4];
	int got[4];
	char grant[4][64];
};

static void run_ops(struct ops *o, struct script *s)
{
	struct pam_testcase tc[4];
	struct pam_conv c = { conv, s };
	pam_handle_t *ph = NULL;
	enum pamtest_err perr;
	int i, j, ret;

	for (i = 0; i < o->n && i < 4; i++) {
		tc[i] = (struct pam_testcase) pam_test(o->op[i], o->want[i]);
		/* libpamtest leaves op_rv of PAMTEST_GETENVLIST as it is */
		tc[i].op_rv = o->op[i] == PAMTEST_GETENVLIST ? o->want[i] : -1;
		o->got[i] = -1;
		snprintf(o->grant[i], sizeof(o->grant[i]), "(not run)");
	}
	ret = pam_start(o->service, o->user, &c, &ph);
	if (ret != PAM_SUCCESS) {
		diag("pam_start(%s): %s", o->service, pam_strerror(NULL, ret));
		return;
	}
	pam_set_item(ph, PAM_RHOST, "192.0.2.7");
	if (o->putenv && pam_putenv(ph, o->putenv) != PAM_SUCCESS)
		diag("pam_putenv(%s) failed", o->putenv);
	perr = _pamtest_conv(o->service, o->user, conv, s, tc, o->n, ph);
	if (perr != PAMTEST_ERR_OK && perr != PAMTEST_ERR_CASE)
		diag("pamtest: %s", pamtest_strerror(perr));
	for (i = 0; i < o->n && i < 4; i++) {
		o->got[i] = tc[i].op_rv;
		if (o->op[i] != PAMTEST_GETENVLIST || !tc[i].case_out.envlist)
			continue;
		o->grant[i][0] = '\0';
		for (j = 0; tc[i].case_out.envlist[j]; j++) {
			if (strncmp(tc[i].case_out.envlist[j], "WGOTP_GRANT=", 12))
				continue;
			snprintf(o->grant[i], sizeof(o->grant[i]), "%s", tc[i].case_out.envlist[j] + 12);
			if (n_grants < 16)
				snprintf(grant_ids[n_grants++], sizeof(grant_ids[0]), "%s", o->grant[i]);
		}
		pamtest_free_env(tc[i].case_out.envlist);
	}
}

static bool is_grant_id(const char *g)
{
	return strlen(g) == 32 && strspn(g, "0123456789abcdef") == 32;
}

#define is_pam(got, want, ...) do { \
	int _g = (got), _w = (want); \
	if (!tap_ok(_g == _w, __FILE__, __LINE__, __VA_ARGS__)) \
		printf("#   got %s (%d), want %s (%d)\n", pam_strerror(NULL, _g), _g, \
		       pam_strerror(NULL, _w), _w); \
} while (0)

/* --- a fake wg-activator: answers `replies` requests, records them --------- */
struct fake_act {
	int fd;
	int replies;
	bool refuse;			/* reply with an internal error */
	char requests[4][1024];
	int n;
	pthread_t thread;
};

static void *fake_act_main(void *arg)
{
	struct fake_act *a = arg;
	char buf[1024], reply[256];
	int i;

	for (i = 0; i < a->replies; i++) {
		int c = accept(a->fd, NULL, NULL);
		ssize_t got = 0, k;
		long id = 0;
		const char *p;

		if (c < 0)
			break;
		while (got < (ssize_t)sizeof(buf) - 1 && (k = read(c, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0) {
			got += k;
			if (memchr(buf, '\n', (size_t)got))
				break;
		}
		buf[got > 0 ? got : 0] = '\0';
		if (a->n < 4)
			snprintf(a->requests[a->n++], sizeof(a->requests[0]), "%s", buf);
		p = strstr(buf, "\"id\":");
		if (p)
			id = strtol(p + 5, NULL, 10);
		if (a->refuse)
			snprintf(reply, sizeof(reply),
				 "{\"version\":1,\"ok\":false,\"id\":%ld,\"error\":\"internal\",\"message\":\"wg failed\"}\n", id);
		else if (strstr(buf, "\"deactivate\""))
			snprintf(reply, sizeof(reply), "{\"version\":1,\"ok\":true,\"id\":%ld,\"ended\":1,\"sessions\":[]}\n", id);
		else
			snprintf(reply, sizeof(reply),
				 "{\"version\":1,\"ok\":true,\"id\":%ld,\"expires\":%lld,\"permanent\":false,\"sessions\":[]}\n",
				 id, (long long)(now + 3600));
		if (write(c, reply, strlen(reply)) < 0)
			diag("fake activator: write: %s", strerror(errno));
		close(c);
	}
	return NULL;
}

static void fake_act_start(struct fake_act *a, int replies, bool refuse)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *p = path("activator.sock");

	memset(a, 0, sizeof(*a));
	a->replies = replies;
	a->refuse = refuse;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", p);
	unlink(p);
	a->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (a->fd < 0 || bind(a->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(a->fd, 4) < 0)
		abort();
	free(p);
	if (pthread_create(&a->thread, NULL, fake_act_main, a) != 0)
		abort();
}

static void fake_act_stop(struct fake_act *a)
{
	char *p = path("activator.sock");

	shutdown(a->fd, SHUT_RDWR);
	pthread_join(a->thread, NULL);
	close(a->fd);
	unlink(p);
	free(p);
}

/* --- the tests ------------------------------------------------------------ */
static void test_arguments(void)
{
	struct script s = { .answers = { "000000" } };

	is_pam(auth("typo", "alice@example.com", &s), PAM_SERVICE_ERR,
	       "an unknown argument fails closed (PAM_SERVICE_ERR)");
	is_int(s.n_asked, 0, "... before anything is asked");
	is_pam(auth("relconf", "alice@example.com", &s), PAM_SERVICE_ERR, "config= must be absolute");
	is_pam(auth("durnoact", "alice@example.com", &s), PAM_SERVICE_ERR, "duration= without activate is refused");
	is_pam(auth("baddur", "alice@example.com", &s), PAM_SERVICE_ERR, "a bad duration= is refused");
	is_pam(auth("bothpass", "alice@example.com", &s), PAM_SERVICE_ERR,
	       "use_first_pass with try_first_pass is refused");
	is_pam(auth("baddomain", "alice", &s), PAM_SERVICE_ERR, "a bad domain= is refused");
	is_pam(auth("emptyprompt", "alice@example.com", &s), PAM_SERVICE_ERR, "an empty prompt= is refused");
	is_pam(auth("brokenconf", "alice@example.com", &s), PAM_SERVICE_ERR,
	       "a configuration with an unknown key: PAM_SERVICE_ERR");
	is_pam(auth("missingconf", "alice@example.com", &s), PAM_SERVICE_ERR,
	       "a missing configuration: PAM_SERVICE_ERR");
	is_int(s.n_asked, 0, "no bad setup ever prompts");
}

static void test_totp(void)
{
	char code[12];
	struct script s;


	set_now(T0);
	snprintf(code, sizeof(code), "%s", totp_at(ALICE_SECRET, now));
	s = (struct script) { .answers = { code } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_SUCCESS, "TOTP: the right code logs in");
	is_int(s.n_asked, 1, "TOTP: one prompt");
	is_str(s.prompts[0], "Verification code: ", "TOTP: the default prompt, with echo off");
	is_int(s.echo_on + s.n_info, 0, "TOTP: no echo-on prompt, no info message");

	s = (struct script) { .answers = { code } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_AUTH_ERR, "TOTP: the same code again is a replay");
	set_now(T0 + STEP);
	s = (struct script) { .answers = { code } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_AUTH_ERR,
	       "TOTP: the used code is still refused in the next step (window)");
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	is_pam(auth("plain", "ALICE@Example.COM", &s), PAM_SUCCESS,
	       "TOTP: the next step's code, user name in another case");

	set_now(T0 + 4 * STEP);
	snprintf(code, sizeof(code), "%06d", (atoi(totp_at(ALICE_SECRET, now)) + 1) % 1000000);
	s = (struct script) { .answers = { code } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_AUTH_ERR, "TOTP: a wrong code is refused");
	snprintf(code, sizeof(code), "%s", totp_at(ALICE_SECRET, now));
	code[5] = '\0';
	s = (struct script) { .answers = { code } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_AUTH_ERR, "TOTP: five digits are refused");
	snprintf(code, sizeof(code), "%s0", totp_at(ALICE_SECRET, now));
	s = (struct script) { .answers = { code } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_AUTH_ERR, "TOTP: seven digits are refused");
	s = (struct script) { .answers = { "12a456" } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_AUTH_ERR, "TOTP: a non-digit is refused");
	s = (struct script) { .answers = { "" } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_AUTH_ERR, "TOTP: an empty answer is refused");

	s = (struct script) { .fail = true };
	is_pam(auth("plain", "alice@example.com", &s), PAM_CONV_ERR, "the conversation fails: PAM_CONV_ERR");
	s = (struct script) { .null_answer = true };
	is_pam(auth("plain", "alice@example.com", &s), PAM_CONV_ERR, "no answer at all: PAM_CONV_ERR");
	set_now(T0 + 6 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	is_pam(auth("plain", "alice@example.com", &s), PAM_SUCCESS,
	       "TOTP: after seven refusals (MaxFailures 8) the right code still logs in");
}

static void test_users(void)
{
	char long_user[400];
	struct script s, k;


	set_now(T0 + 10 * STEP);
	k = (struct script) { .answers = { "123456" } };
	auth("plain", "erin@example.com", &k);
	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("plain", "nobody@example.com", &s), PAM_USER_UNKNOWN,
	       "unknown user: PAM_USER_UNKNOWN ...");
	ok(s.n_asked == 1 && k.n_asked == 1 && !strcmp(s.prompts[0], k.prompts[0]) && s.n_info == k.n_info,
	   "... after the same prompt a known user gets");
	s = (struct script) { .answers = { "123456" } };
	/* Alone in its stack, a module that returns PAM_IGNORE makes
	 * Linux-PAM answer PAM_PERM_DENIED, which pam_wgotp never returns. */
	is_pam(auth("nullok", "nobody@example.com", &s), PAM_PERM_DENIED,
	       "nullok: unknown user is PAM_IGNORE (alone: PAM_PERM_DENIED)");
	is_int(s.n_asked, 0, "nullok: ... without a prompt");
	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("nullokstack", "nobody@example.com", &s), PAM_SUCCESS,
	       "nullok: unknown user, the next module decides (pam_permit)");
	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("nullok", "carol@example.com", &s), PAM_PERM_DENIED,
	       "nullok: TOTP enrolled but never confirmed is PAM_IGNORE");
	is_int(s.n_asked, 0, "nullok: ... without a prompt");
	s = (struct script) { .answers = { "000000" } };
	is_pam(auth("nullokstack", "erin@example.com", &s), PAM_AUTH_ERR,
	       "nullok: an enrolled user with a wrong code fails the stack");
	s = (struct script) { .answers = { totp_at(ERIN_SECRET, now) } };
	is_pam(auth("plain", "carol@example.com", &s), PAM_AUTH_ERR,
	       "without nullok: an unconfirmed TOTP user cannot log in, even with the right code");
	s = (struct script) { .answers = { totp_at(ERIN_SECRET, now) } };
	is_pam(auth("nullok", "dave@example.com", &s), PAM_AUTH_ERR,
	       "nullok: a disabled user is not ignored, and the right code does not help");
	set_now(T0 + 11 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	is_pam(auth("nullok", "alice@example.com", &s), PAM_SUCCESS, "nullok: an enrolled user still needs the code");
	set_now(T0 + 12 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	is_pam(auth("domain", "alice", &s), PAM_SUCCESS, "domain=: PAM user alice is alice@example.com");
	set_now(T0 + 13 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	is_pam(auth("domain", "alice@example.com", &s), PAM_SUCCESS, "domain=: a name with @ is used as is");
	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("domain", "alice@other.org", &s), PAM_USER_UNKNOWN, "domain=: another domain is not ours");

	memset(long_user, 'a', 300);
	long_user[300] = '\0';
	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("plain", long_user, &s), PAM_USER_UNKNOWN, "a 300-byte user name: PAM_USER_UNKNOWN");
	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("plain", "bad\001user", &s), PAM_USER_UNKNOWN, "a control character in the name: PAM_USER_UNKNOWN");
	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("rejectunknown", "nobody@example.com", &s), PAM_USER_UNKNOWN,
	       "UnknownUser = reject: PAM_USER_UNKNOWN ...");
	is_int(s.n_asked, 0, "... at once");
}

static void test_first_pass(void)
{
	char code[12];
	struct script s;
	struct run r = { .user = "alice@example.com" };


	set_now(T0 + 20 * STEP);
	snprintf(code, sizeof(code), "%s", totp_at(ALICE_SECRET, now));
	r.service = "usefirst";
	r.authtok = code;
	s = (struct script) { 0 };
	is_pam(run(&r, &s), PAM_SUCCESS, "use_first_pass: the code in PAM_AUTHTOK logs in ...");
	is_int(s.n_asked, 0, "... without a prompt");
	s = (struct script) { 0 };
	is_pam(run(&r, &s), PAM_AUTH_ERR, "use_first_pass: the same code again is a replay");
	r.authtok = NULL;
	is_pam(run(&r, &s), PAM_AUTHTOK_RECOVERY_ERR, "use_first_pass without PAM_AUTHTOK");
	is_int(s.n_asked, 0, "... never prompts");
	r.user = "bob@example.com";
	r.authtok = "123456";
	unlink(path("mail.out"));
	is_pam(run(&r, &s), PAM_AUTH_ERR, "use_first_pass: an email user cannot use it ...");
	ok(access(path("mail.out"), F_OK) != 0, "... and is sent no mail");

	set_now(T0 + 21 * STEP);
	r.service = "tryfirst";
	r.user = "alice@example.com";
	snprintf(code, sizeof(code), "%s", totp_at(ALICE_SECRET, now));
	r.authtok = code;
	s = (struct script) { 0 };
	is_pam(run(&r, &s), PAM_SUCCESS, "try_first_pass: a code in PAM_AUTHTOK logs in ...");
	is_int(s.n_asked, 0, "... without a prompt");
	set_now(T0 + 22 * STEP);
	r.authtok = "correct horse battery staple";
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	is_pam(run(&r, &s), PAM_SUCCESS, "try_first_pass: a password in PAM_AUTHTOK: prompted, code accepted");
	is_int(s.n_asked, 1, "... one prompt");
	set_now(T0 + 23 * STEP);
	r.authtok = "000000";
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	if (!strcmp(s.answers[0], "000000"))
		r.authtok = "999999";
	is_pam(run(&r, &s), PAM_SUCCESS, "try_first_pass: a wrong 6-digit PAM_AUTHTOK: prompted, code accepted");
}

static void test_email(void)
{
	char *mail = path("mail.out");
	struct script s;


	set_now(T0 + 30 * STEP);
	unlink(mail);
	s = (struct script) { .mail_file = mail };
	is_pam(auth("plain", "bob@example.com", &s), PAM_SUCCESS, "email: the mailed code logs in");
	is_int(s.n_info, 1, "email: one info message ...");
	is_str(s.info[0], "Enter the code sent to b***b@example.com", "... naming the masked address");
	is_int(s.n_asked, 1, "email: then one prompt");

	unlink(mail);
	s = (struct script) { .answers = { "00000" } };
	is_pam(auth("plain", "bob@example.com", &s), PAM_AUTH_ERR, "email: a malformed code is refused");
	ok(access(mail, F_OK) == 0, "email: a code was mailed");

	s = (struct script) { .mail_file = mail };
	unlink(mail);
	is_pam(run(&(struct run) { .service = "prompt", .user = "bob@example.com", .flags = PAM_SILENT }, &s),
	       PAM_SUCCESS, "email with PAM_SILENT: logs in ...");
	is_int(s.n_info, 0, "... without the info message");
	is_str(s.prompts[0], "Code from the mail: ", "prompt=: the prompt is ours");

	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("mailfail", "bob@example.com", &s), PAM_AUTHINFO_UNAVAIL,
	       "the mail transport fails: PAM_AUTHINFO_UNAVAIL ...");
	is_int(s.n_asked, 0, "... and no prompt for a code that never left");

	/* libcurl is loaded at the first send, not with the module. */
	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("nocurl", "bob@example.com", &s), PAM_AUTHINFO_UNAVAIL,
	       "libcurl cannot be loaded: an email login is refused (PAM_AUTHINFO_UNAVAIL) ...");
	is_int(s.n_asked, 0, "... with no prompt");
	set_now(T0 + 31 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	is_pam(auth("nocurl", "alice@example.com", &s), PAM_SUCCESS,
	       "... while a TOTP user of the same configuration logs in");
	free(mail);
}

static void test_limits_and_store(void)
{
	struct script s;
	int i;


	set_now(T0 + 40 * STEP);
	for (i = 0; i < MAX_FAILURES; i++) {
		s = (struct script) { .answers = { "000001" } };
		auth("plain", "frank@example.com", &s);
	}
	s = (struct script) { .answers = { totp_at(ERIN_SECRET, now) } };
	is_pam(auth("plain", "frank@example.com", &s), PAM_MAXTRIES,
	       "after MaxFailures wrong codes: PAM_MAXTRIES, even with the right code");

	s = (struct script) { .answers = { "123456" } };
	is_pam(auth("nostore", "alice@example.com", &s), PAM_AUTHINFO_UNAVAIL,
	       "the store cannot be opened: PAM_AUTHINFO_UNAVAIL");
	is_int(s.n_asked, 0, "... before any prompt");
}

static void test_activator(void)
{
	struct fake_act a;
	struct script s;
	struct run r = { .user = "alice@example.com" };
	struct ops o;
	char id[64], env[96];


	/* Authentication alone activates nothing: it records a grant. */
	set_now(T0 + 50 * STEP);
	fake_act_start(&a, 1, false);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .n = 2,
			   .op = { PAMTEST_AUTHENTICATE, PAMTEST_GETENVLIST },
			   .want = { PAM_SUCCESS, PAM_SUCCESS } };
	run_ops(&o, &s);
	is_pam(o.got[0], PAM_SUCCESS, "activate: the right code authenticates ...");
	fake_act_stop(&a);
	is_int(a.n, 0, "... and wg-activator hears nothing yet");
	ok(is_grant_id(o.grant[1]), "... the PAM environment carries a grant id for the session phase");
	snprintf(id, sizeof(id), "%s", o.grant[1]);
	ok(!strstr(s.info[0], "VPN access granted"), "... and the user is not told of a VPN yet");

	/* auth, then open_session: the devices are activated at the session. */
	set_now(T0 + 51 * STEP);
	fake_act_start(&a, 1, false);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .n = 4,
			   .op = { PAMTEST_AUTHENTICATE, PAMTEST_GETENVLIST, PAMTEST_OPEN_SESSION,
				   PAMTEST_GETENVLIST },
			   .want = { PAM_SUCCESS, PAM_SUCCESS, PAM_SUCCESS, PAM_SUCCESS } };
	run_ops(&o, &s);
	fake_act_stop(&a);
	is_pam(o.got[0], PAM_SUCCESS, "activate: auth then open_session: authenticated ...");
	is_pam(o.got[2], PAM_SUCCESS, "... the session opens ...");
	ok(a.n == 1 && strstr(a.requests[0], "\"op\":\"activate\"") &&
	   strstr(a.requests[0], "\"user\":\"alice@example.com\"") &&
	   strstr(a.requests[0], "\"duration\":14400") && strstr(a.requests[0], "\"origin\":\"pam\""),
	   "... after asking wg-activator to activate alice's devices for 4h");
	if (a.n)
		diag("request: %s", a.requests[0]);
	ok(s.n_info == 1 && !strncmp(s.info[0], "VPN access granted until ", 25),
	   "... and says until when");
	ok(is_grant_id(o.grant[1]) && strcmp(o.grant[1], id), "a new grant id for each authentication");
	is_str(o.grant[3], "", "open_session removes WGOTP_GRANT from the PAM environment (never in the user's)");

	/* The session phase of another handle redeems an id from the PAM
	 * environment (how sshd hands it over), once. */
	fake_act_start(&a, 1, false);
	snprintf(env, sizeof(env), "WGOTP_GRANT=%s", id);
	s = (struct script) { 0 };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .putenv = env, .n = 1,
			   .op = { PAMTEST_OPEN_SESSION }, .want = { PAM_SUCCESS } };
	run_ops(&o, &s);
	fake_act_stop(&a);
	is_pam(o.got[0], PAM_SUCCESS, "a grant in the PAM environment: open_session activates ...");
	ok(a.n == 1 && strstr(a.requests[0], "\"op\":\"activate\""), "... (wg-activator asked once)");
	fake_act_start(&a, 1, false);
	s = (struct script) { 0 };
	o.want[0] = PAM_SESSION_ERR;
	run_ops(&o, &s);
	fake_act_stop(&a);
	is_pam(o.got[0], PAM_SESSION_ERR, "the same grant again: PAM_SESSION_ERR ...");
	is_int(a.n, 0, "... and no activation (a grant is single-use)");

	/* An earlier module of the stack fails: the right code activates nothing. */
	set_now(T0 + 52 * STEP);
	fake_act_start(&a, 1, false);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	o = (struct ops) { .service = "actdeny", .user = "alice@example.com", .n = 2,
			   .op = { PAMTEST_AUTHENTICATE, PAMTEST_GETENVLIST },
			   .want = { PAM_AUTH_ERR, PAM_SUCCESS } };
	run_ops(&o, &s);
	fake_act_stop(&a);
	is_pam(o.got[0], PAM_AUTH_ERR, "pam_deny before pam_wgotp activate: the login fails ...");
	is_int(s.n_asked, 1, "... although pam_wgotp asked for the code and got the right one ...");
	is_int(a.n, 0, "... and wg-activator is never asked to activate");
	if (a.n)
		diag("request: %s", a.requests[0]);
	set_now(T0 + 53 * STEP);
	fake_act_start(&a, 1, false);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	o.service = "actdeny2";
	run_ops(&o, &s);
	fake_act_stop(&a);
	is_pam(o.got[0], PAM_AUTH_ERR, "pam_permit, then pam_deny, then pam_wgotp: the login fails ...");
	is_int(a.n, 0, "... and nothing is activated");

	/* A grant is this user's, and lives PAM_WGOTP_GRANT_TTL (120 s). */
	set_now(T0 + 54 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .n = 2,
			   .op = { PAMTEST_AUTHENTICATE, PAMTEST_GETENVLIST },
			   .want = { PAM_SUCCESS, PAM_SUCCESS } };
	run_ops(&o, &s);
	snprintf(env, sizeof(env), "WGOTP_GRANT=%s", o.grant[1]);
	fake_act_start(&a, 1, false);
	s = (struct script) { 0 };
	o = (struct ops) { .service = "act", .user = "erin@example.com", .putenv = env, .n = 1,
			   .op = { PAMTEST_OPEN_SESSION }, .want = { PAM_SESSION_ERR } };
	run_ops(&o, &s);
	is_pam(o.got[0], PAM_SESSION_ERR, "alice's grant in erin's session: PAM_SESSION_ERR ...");
	o.user = "alice@example.com";
	run_ops(&o, &s);
	is_pam(o.got[0], PAM_SESSION_ERR, "... and it is spent, for alice too");
	o.putenv = "WGOTP_GRANT=0123456789abcdef0123456789abcdef";
	run_ops(&o, &s);
	is_pam(o.got[0], PAM_SESSION_ERR, "a made-up grant id: PAM_SESSION_ERR");
	o.putenv = "WGOTP_GRANT=../../etc";
	run_ops(&o, &s);
	is_pam(o.got[0], PAM_SESSION_ERR, "a malformed grant id: PAM_SESSION_ERR");
	o.putenv = "WGOTP_GRANT=";
	run_ops(&o, &s);
	is_pam(o.got[0], PAM_SESSION_ERR, "an empty grant id: PAM_SESSION_ERR");
	fake_act_stop(&a);
	is_int(a.n, 0, "... none of them activates anything");

	/* a live grant's id with something after it is not that id */
	set_now(T0 + 56 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .n = 2,
			   .op = { PAMTEST_AUTHENTICATE, PAMTEST_GETENVLIST },
			   .want = { PAM_SUCCESS, PAM_SUCCESS } };
	run_ops(&o, &s);
	snprintf(env, sizeof(env), "WGOTP_GRANT=%sff", o.grant[1]);
	fake_act_start(&a, 2, false);
	s = (struct script) { 0 };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .putenv = env, .n = 1,
			   .op = { PAMTEST_OPEN_SESSION }, .want = { PAM_SESSION_ERR } };
	run_ops(&o, &s);
	is_pam(o.got[0], PAM_SESSION_ERR, "a grant id with two more characters: PAM_SESSION_ERR ...");
	env[strlen(env) - 2] = '\0';
	o.want[0] = PAM_SUCCESS;
	run_ops(&o, &s);
	fake_act_stop(&a);
	is_pam(o.got[0], PAM_SUCCESS, "... while the id itself still activates");
	is_int(a.n, 1, "... once");

	set_now(T0 + 57 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .n = 2,
			   .op = { PAMTEST_AUTHENTICATE, PAMTEST_GETENVLIST },
			   .want = { PAM_SUCCESS, PAM_SUCCESS } };
	run_ops(&o, &s);
	snprintf(env, sizeof(env), "WGOTP_GRANT=%s", o.grant[1]);
	set_now(T0 + 57 * STEP + 120);
	fake_act_start(&a, 1, false);
	s = (struct script) { 0 };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .putenv = env, .n = 1,
			   .op = { PAMTEST_OPEN_SESSION }, .want = { PAM_SESSION_ERR } };
	run_ops(&o, &s);
	fake_act_stop(&a);
	is_pam(o.got[0], PAM_SESSION_ERR, "a grant 120 s old has expired: PAM_SESSION_ERR ...");
	is_int(a.n, 0, "... and activates nothing");

	set_now(T0 + 60 * STEP);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	o = (struct ops) { .service = "act", .user = "alice@example.com", .n = 2,
			   .op = { PAMTEST_AUTHENTICATE, PAMTEST_OPEN_SESSION },
			   .want = { PAM_SUCCESS, PAM_SESSION_ERR } };
	run_ops(&o, &s);
	is_pam(o.got[1], PAM_SESSION_ERR, "activate, wg-activator not running: open_session fails (PAM_SESSION_ERR)");

	set_now(T0 + 61 * STEP);
	fake_act_start(&a, 1, true);
	s = (struct script) { .answers = { totp_at(ALICE_SECRET, now) } };
	run_ops(&o, &s);
	fake_act_stop(&a);
	is_pam(o.got[1], PAM_SESSION_ERR, "activate, wg-activator cannot do it: PAM_SESSION_ERR");

	fake_act_start(&a, 1, false);
	r.service = "act";
	r.op = PAMTEST_CLOSE_SESSION;
	s = (struct script) { 0 };
	is_pam(run(&r, &s), PAM_SUCCESS, "deactivate_on_close: close_session ...");
	fake_act_stop(&a);
	ok(a.n == 1 && strstr(a.requests[0], "\"op\":\"deactivate\"") &&
	   strstr(a.requests[0], "\"user\":\"alice@example.com\""),
	   "... asks wg-activator to deactivate alice's devices");
	is_pam(run(&r, &s), PAM_SESSION_ERR, "deactivate_on_close, wg-activator down: PAM_SESSION_ERR");
	r.service = "plain";
	is_pam(run(&r, &s), PAM_SUCCESS, "close_session without deactivate_on_close: PAM_SUCCESS");
	r.op = PAMTEST_OPEN_SESSION;
	is_pam(run(&r, &s), PAM_SUCCESS, "open_session: PAM_SUCCESS");
	r.op = PAMTEST_SETCRED;
	is_pam(run(&r, &s), PAM_SUCCESS, "setcred: PAM_SUCCESS");
	r.service = "typo";
	is_pam(run(&r, &s), PAM_SERVICE_ERR, "setcred with an unknown argument: PAM_SERVICE_ERR");
	r.op = PAMTEST_CLOSE_SESSION;
	is_pam(run(&r, &s), PAM_SERVICE_ERR, "close_session with an unknown argument: PAM_SERVICE_ERR");
}

static void test_log(const char *logpath)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(logpath, "r");
	int i, leaked = 0;

	fflush(stderr);
	if (f) {
		text = malloc(1 << 22);
		if (text)
			len = fread(text, 1, (1 << 22) - 1, f);
		fclose(f);
	}
	if (!text) {
		ok(0, "the module's log can be read");
		return;
	}
	text[len] = '\0';
	ok(strstr(text, "wgotp-audit event=answer origin=pam") != NULL, "decisions are in the audit log");
	ok(strstr(text, "refusing to run") && strstr(text, "nullokk"), "the unknown argument is named in the log");
	ok(strstr(text, "cannot load " WGOTP_LIBCURL_SONAME ": ") != NULL,
	   "a libcurl that cannot be loaded is named in the log");
	for (i = 0; i < n_used; i++) {
		if (used_codes[i][0] && strstr(text, used_codes[i])) {
			diag("code %s is in the log", used_codes[i]);
			leaked++;
		}
	}
	ok(n_used > 10 && leaked == 0, "none of the %d codes typed is in the module's log", n_used);
	ok(!strstr(text, ALICE_SECRET) && !strstr(text, ERIN_SECRET), "no TOTP secret in the log");
	for (i = leaked = 0; i < n_grants; i++)
		leaked += strstr(text, grant_ids[i]) != NULL;
	ok(n_grants >= 4 && leaked == 0, "none of the %d grant ids is in the module's log", n_grants);
	ok(strstr(text, "the grant was given to alice@example.com") != NULL,
	   "a grant presented in another user's session is named in the log");
	free(text);
}

static int child(void)
{
	char *logpath = path("module.log");

	/* The module's log (the test build copies it to stderr). */
	if (!freopen(logpath, "w", stderr))
		abort();
	setvbuf(stderr, NULL, _IOLBF, 0);
	test_arguments();
	test_totp();
	test_users();
	test_first_pass();
	test_email();
	test_limits_and_store();
	test_activator();
	test_log(logpath);
	free(logpath);
	return done_testing();
}

static const char *find_wrapper(void)
{
	static const char *const cands[] = {
		"/usr/lib/x86_64-linux-gnu/libpam_wrapper.so",
		"/usr/lib/aarch64-linux-gnu/libpam_wrapper.so",
		"/usr/lib64/libpam_wrapper.so",
		"/usr/lib/libpam_wrapper.so",
	};
	size_t i;

	for (i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		if (access(cands[i], R_OK) == 0)
			return cands[i];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_builddir");
	const char *wrapper;
	char *tmp, *libpath;
	pid_t pid;
	int status = 0;

	if (getenv("WGOTP_PAM_TEST_DIR")) {
		dir = getenv("WGOTP_PAM_TEST_DIR");
		snprintf(module, sizeof(module), "%s", getenv("WGOTP_PAM_TEST_MODULE"));
		return child();
	}
	if (!top)
		top = ".";
	snprintf(module, sizeof(module), "%s/pam_wgotp/.libs/pam_wgotp_test.so", top);
	if (access(module, R_OK) != 0)
		skip_all("pam_wgotp_test.so not built (make check builds it)");
	wrapper = find_wrapper();
	if (!wrapper)
		skip_all("libpam_wrapper.so not found (Debian: libpam-wrapper)");
	snprintf(wrapper_modules, sizeof(wrapper_modules), "%.*s/pam_wrapper",
		 (int)(strrchr(wrapper, '/') - wrapper), wrapper);
	tmp = tu_tmpdir();
	dir = tmp;
	write_fixture();
	write_services();
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		setenv("WGOTP_PAM_TEST_DIR", tmp, 1);
		setenv("WGOTP_PAM_TEST_MODULE", module, 1);
		setenv("PAM_WRAPPER", "1", 1);
		setenv("PAM_WRAPPER_SERVICE_DIR", tmp, 1);
		setenv("LD_PRELOAD", wrapper, 1);
		/* read by the dynamic linker at exec: see test_email() */
		if (asprintf(&libpath, "%s/nocurl-lib%s%s", tmp, getenv("LD_LIBRARY_PATH") ? ":" : "",
			     getenv("LD_LIBRARY_PATH") ? getenv("LD_LIBRARY_PATH") : "") < 0)
			abort();
		setenv("LD_LIBRARY_PATH", libpath, 1);
		execv("/proc/self/exe", argv);
		printf("Bail out! exec: %s\n", strerror(errno));
		_exit(1);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (getenv("WGOTP_PAM_TEST_KEEP"))
		fprintf(stderr, "kept %s\n", tmp);
	else
		tu_rmdir(tmp);
	if (WIFSIGNALED(status)) {
		printf("Bail out! the test died of signal %d\n", WTERMSIG(status));
		return 1;
	}
	(void)argc;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
