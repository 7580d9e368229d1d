/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The login flow at exact instants: TOTP single pass and challenge,
 * replay, email codes (mail, expiry, tries, resend limits), decoys for
 * unknown users, rate limits, devices and durations, and a scan of every
 * log line for the codes used.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "flow.h"
#include "log.h"
#include "otp.h"
#include "tap.h"
#include "testutil.h"

#define T0 1700000010LL		/* 10 s into a 30 s step */
#define ALICE_SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
#define KEY_A "YBo1Xd4UqfZH0kT6tM4qPzJl3hWZHfZ9xWmXn1ob1lI="
#define KEY_B "hH6b2Bb0fEYk7dJ4eJ3bLqkFgVQBv4QyYqfAQDjV+1s="

/* --- a mailer that records what it would send ------------------------- */
struct outbox {
	int sent;
	char to[256];
	char code[16];
	int fail;		/* next sends fail with -EIO */
};

static int record_send(void *arg, const struct wgotp_mail_code *m, struct wgotp_error *err)
{
	struct outbox *o = arg;

	if (o->fail)
		return wgotp_error_set(err, EIO, "test transport is down");
	o->sent++;
	snprintf(o->to, sizeof(o->to), "%s", m->to);
	snprintf(o->code, sizeof(o->code), "%s", m->code);
	return 0;
}

/* --- every log line, to be scanned for codes ---------------------------- */
static char logbuf[1 << 20];
static size_t loglen;
static int audit_lines;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void capture(void *arg, enum wgotp_log_level lvl, const char *msg)
{
	size_t n = strlen(msg);

	pthread_mutex_lock(&log_mu);
	if (lvl == WGOTP_LOG_AUDIT)
		audit_lines++;
	if (loglen + n + 2 < sizeof(logbuf)) {
		memcpy(logbuf + loglen, msg, n);
		loglen += n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
	pthread_mutex_unlock(&log_mu);
}

static char used_codes[256][16];
static int n_used;

static void used(const char *code)
{
	if (n_used < 256)
		snprintf(used_codes[n_used++], 16, "%s", code);
}

/* --- fixture ------------------------------------------------------------ */
struct fx {
	char *dir;
	struct wgotp_config *cfg;
	struct wgotp_store *store;
	struct wgotp_flow *flow;
	struct tu_clock clock;
	struct outbox box;
};

static const char users_json[] =
	"{ \"version\": 1, \"users\": {\n"
	"  \"alice@example.com\": { \"method\": \"totp\", \"totp_secret\": \"" ALICE_SECRET "\",\n"
	"     \"totp_state\": \"active\", \"enabled\": true, \"require_otp\": true,\n"
	"     \"devices\": [ { \"name\": \"laptop\", \"public_key\": \"" KEY_A "\",\n"
	"                      \"allowed_ips\": [\"10.8.0.2/32\"] } ] },\n"
	"  \"bob@example.com\": { \"method\": \"email\", \"enabled\": true,\n"
	"     \"devices\": [ { \"name\": \"phone\", \"public_key\": \"" KEY_B "\",\n"
	"                      \"allowed_ips\": [\"10.8.0.3/32\"] } ] },\n"
	"  \"carol@example.com\": { \"method\": \"totp\", \"totp_secret\": \"" ALICE_SECRET "\",\n"
	"     \"totp_state\": \"active\", \"enabled\": false },\n"
	"  \"dave@example.com\": { \"method\": \"totp\", \"totp_secret\": \"" ALICE_SECRET "\",\n"
	"     \"totp_state\": \"pending\" },\n"
	"  \"erin@example.com\": { \"method\": \"email\", \"enabled\": false }\n"
	"} }\n";

static void fx_setup(struct fx *x, enum wgotp_unknown_user unknown)
{
	struct wgotp_error err = { "" };
	struct wgotp_mailer m = { .send_code = record_send };
	char *p;

	memset(x, 0, sizeof(*x));
	x->dir = tu_tmpdir();
	x->clock.now = T0;
	if (wgotp_config_defaults(&x->cfg) < 0)
		abort();
	free(x->cfg->directory);
	x->cfg->directory = tu_write(x->dir, "users.json", users_json, 0640);
	free(x->cfg->server_key_file);
	x->cfg->server_key_file = tu_write(x->dir, "server.key",
		"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600);
	free(x->cfg->store_path);
	if (asprintf(&p, "%s/state.db", x->dir) < 0)
		abort();
	x->cfg->store_path = p;
	x->cfg->unknown_user = unknown;
	if (wgotp_store_open(x->cfg, &x->store, &err) < 0) {
		diag("store: %s", err.msg);
		abort();
	}
	m.arg = &x->box;
	if (wgotp_flow_new(x->cfg, x->store, &m, tu_clock_now, &x->clock, &x->flow, &err) < 0) {
		diag("flow: %s", err.msg);
		abort();
	}
}

static void fx_teardown(struct fx *x)
{
	wgotp_flow_free(x->flow);
	wgotp_store_close(x->store);
	wgotp_config_free(x->cfg);
	tu_rmdir(x->dir);
}

static void totp_at(int64_t t, int offset_steps, char *out)
{
	struct wgotp_totp_params p = { 6, 30, 1, WGOTP_TOTP_SHA1 };
	uint8_t key[64];
	int n = wgotp_base32_decode(ALICE_SECRET, key, sizeof(key));

	wgotp_totp_generate(key, (size_t)n, &p, (uint64_t)(t / 30 + offset_steps), out);
	used(out);
}

static int begin(struct fx *x, const char *user, const char *code, struct wgotp_result *r)
{
	struct wgotp_request req = { .user = user, .code = code, .origin = "radius",
				     .client = "192.0.2.1" };

	return wgotp_begin(x->flow, &req, r);
}

static int answer(struct fx *x, const char *user, const char *id, const char *code,
		  struct wgotp_result *r)
{
	struct wgotp_request req = { .user = user, .origin = "radius", .client = "192.0.2.1" };

	return wgotp_answer(x->flow, id, code, &req, r);
}

/* --- TOTP ----------------------------------------------------------------- */
static void test_totp(void)
{
	struct fx x;
	struct wgotp_result r;
	char code[8], old[8], next[8];

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	totp_at(T0, 0, code);
	totp_at(T0, -1, old);
	totp_at(T0, 1, next);

	is_int(begin(&x, "Alice@Example.COM", code, &r), 0, "totp single pass: no error");
	is_int(r.verdict, WGOTP_ACCEPT, "totp single pass: accept");
	is_str(r.user, "alice@example.com", "canonical user name");
	is_int(r.duration, 8 * 3600, "default session of 8 h");
	is_int(r.expires, T0 + 8 * 3600, "expires at now + 8 h");

	begin(&x, "alice@example.com", code, &r);
	is_int(r.verdict, WGOTP_REJECT, "the same code again: reject");
	is_int(r.reason, WGOTP_R_REPLAY, "  as a replay");
	begin(&x, "alice@example.com", old, &r);
	is_int(r.reason, WGOTP_R_REPLAY, "an older step: replay");
	begin(&x, "alice@example.com", "000000", &r);
	is_int(r.verdict, WGOTP_REJECT, "a wrong code: reject");
	is_int(r.reason, strcmp(code, "000000") && strcmp(next, "000000") ? WGOTP_R_BAD_CODE : r.reason,
	       "  as a bad code");
	begin(&x, "alice@example.com", "12345", &r);
	is_int(r.reason, WGOTP_R_BAD_FORMAT, "5 digits: bad format");
	begin(&x, "alice@example.com", "12345a", &r);
	is_int(r.reason, WGOTP_R_BAD_FORMAT, "a letter: bad format");

	/* Challenge-response for TOTP: no code in the first round. */
	is_int(begin(&x, "alice@example.com", "", &r), 0, "totp without a code: no error");
	is_int(r.verdict, WGOTP_CHALLENGE, "  challenge");
	is_int(r.method, WGOTP_METHOD_TOTP, "  for the authenticator");
	ok(strstr(r.prompt, "authenticator") != NULL, "  prompt names the app: %s", r.prompt);
	is_int(strlen(r.challenge_id), WGOTP_CHALLENGE_ID_LEN, "  a 32-character id");
	{
		char id[64];
		struct wgotp_result r2;

		snprintf(id, sizeof(id), "%s", r.challenge_id);
		answer(&x, "alice@example.com", id, code, &r2);
		is_int(r2.reason, WGOTP_R_REPLAY, "answer with the used step: replay");
		answer(&x, "alice@example.com", id, next, &r2);
		is_int(r2.verdict, WGOTP_ACCEPT, "answer with the next step: accept");
		answer(&x, "alice@example.com", id, next, &r2);
		is_int(r2.reason, WGOTP_R_UNKNOWN_CHALLENGE, "an answered challenge is gone");
	}
	/* Pending enrolment and disabled users look like anyone else. */
	begin(&x, "dave@example.com", next, &r);
	is_int(r.verdict, WGOTP_REJECT, "pending enrolment: reject");
	is_int(r.reason, WGOTP_R_NOT_ENROLLED, "  reason not_enrolled (audit only)");
	begin(&x, "carol@example.com", next, &r);
	is_int(r.reason, WGOTP_R_DISABLED, "disabled user: reason disabled (audit only)");
	fx_teardown(&x);
}

/* --- session policy: the accept carries the capped deadline ----------------- */
static void test_cutoff(void)
{
	struct fx x;
	struct wgotp_result r;
	char code[8];
	const int64_t cut = T0 - 30 + 3600;	/* T0 is 22:13:30 UTC: NotAfter 23:13 */

	setenv("TZ", "UTC", 1);
	tzset();
	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	x.cfg->session_not_after = 23 * 60 + 13;
	totp_at(T0, 0, code);
	is_int(begin(&x, "alice@example.com", code, &r), 0, "NotAfter 23:13, a login at 22:13:30");
	is_int(r.verdict, WGOTP_ACCEPT, "  accept");
	is_int(r.expires, cut, "  expires at NotAfter, not after 8 h");
	x.clock.now = cut;
	totp_at(cut, 0, code);
	begin(&x, "alice@example.com", code, &r);
	is_int(r.verdict, WGOTP_REJECT, "a right code at NotAfter exactly: reject");
	is_int(r.reason, WGOTP_R_AFTER_CUTOFF, "  reason after_cutoff");
	is_str(wgotp_reason_str(r.reason), "after_cutoff", "  named in the audit log");
	fx_teardown(&x);
	unsetenv("TZ");
	tzset();
}

/* --- email ---------------------------------------------------------------- */
static void test_email(void)
{
	struct fx x;
	struct wgotp_result r, a;
	char id[64], code[16];

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	is_int(begin(&x, "bob@example.com", NULL, &r), 0, "email: no error");
	is_int(r.verdict, WGOTP_CHALLENGE, "email: challenge");
	is_int(x.box.sent, 1, "one mail sent");
	is_str(x.box.to, "bob@example.com", "to the user's address");
	is_str(r.prompt, "Enter the code sent to b***b@example.com", "prompt names the masked address");
	is_int(strlen(x.box.code), 6, "a 6-digit code");
	snprintf(id, sizeof(id), "%s", r.challenge_id);
	snprintf(code, sizeof(code), "%s", x.box.code);
	used(code);

	answer(&x, "bob@example.com", id, strcmp(code, "111111") ? "111111" : "222222", &a);
	is_int(a.verdict, WGOTP_REJECT, "a wrong code: reject");
	is_int(a.reason, WGOTP_R_BAD_CODE, "  bad code");
	answer(&x, "mallory@example.com", id, code, &a);
	is_int(a.reason, WGOTP_R_UNKNOWN_CHALLENGE, "another user's answer: unknown challenge");
	x.clock.now += 30;
	answer(&x, "bob@example.com", id, code, &a);
	is_int(a.verdict, WGOTP_ACCEPT, "the mailed code: accept");
	is_str(a.user, "bob@example.com", "  for bob");
	is_int(a.expires, x.clock.now + 8 * 3600, "  session from the answer's time");
	answer(&x, "bob@example.com", id, code, &a);
	is_int(a.reason, WGOTP_R_UNKNOWN_CHALLENGE, "the code cannot be used twice");

	/* Resend limit: a second request within the minute gets no mail and
	 * no State (not the live one: see test_resend_binds); a third after
	 * the minute mails a new code. */
	x.clock.now += 61;
	begin(&x, "bob@example.com", NULL, &r);
	snprintf(id, sizeof(id), "%s", r.challenge_id);
	is_int(x.box.sent, 2, "a new login mails again");
	x.clock.now += 10;
	begin(&x, "bob@example.com", NULL, &r);
	is_int(r.verdict, WGOTP_REJECT, "asked again within a minute: reject");
	is_str(r.challenge_id, "", "  with no State");
	is_int(r.reason, WGOTP_R_CHALLENGE_RESENT_LIMIT, "  because one was sent recently");
	is_int(x.box.sent, 2, "  and no new mail");

	/* Expiry: 5 minutes, exactly. */
	snprintf(code, sizeof(code), "%s", x.box.code);
	used(code);
	x.clock.now += 300 - 10;
	answer(&x, "bob@example.com", id, code, &a);
	is_int(a.reason, WGOTP_R_EXPIRED, "at 5 minutes the code has expired");

	/* Tries: 5 answers, then none. */
	x.clock.now += 61;
	begin(&x, "bob@example.com", NULL, &r);
	snprintf(id, sizeof(id), "%s", r.challenge_id);
	snprintf(code, sizeof(code), "%s", x.box.code);
	used(code);
	for (int i = 0; i < 5; i++) {
		answer(&x, "bob@example.com", id, strcmp(code, "999999") ? "999999" : "888888", &a);
		if (a.reason != WGOTP_R_BAD_CODE)
			break;
	}
	is_int(a.reason, WGOTP_R_BAD_CODE, "five wrong answers are each a bad code");
	answer(&x, "bob@example.com", id, code, &a);
	is_int(a.verdict, WGOTP_REJECT, "the right code after the last try: reject");
	ok(a.reason == WGOTP_R_TOO_MANY_TRIES || a.reason == WGOTP_R_UNKNOWN_CHALLENGE,
	   "  the challenge is spent (%s)", wgotp_reason_str(a.reason));

	/* Hourly cap: 5 mails an hour (3 so far, at 5-minute steps). */
	for (int i = 0; i < 3; i++) {
		x.clock.now += 61;
		begin(&x, "bob@example.com", NULL, &r);
		used(x.box.code);
	}
	is_int(x.box.sent, 5, "five mails sent in the hour");
	x.clock.now += 61;
	begin(&x, "bob@example.com", NULL, &r);
	is_int(r.verdict, WGOTP_REJECT, "the sixth in the hour: reject");
	is_int(r.reason, WGOTP_R_MAIL_LIMIT, "  mail limit");
	is_int(x.box.sent, 5, "  and no mail");

	/* A transport failure is an error, not an unanswerable challenge. */
	x.clock.now += 3600;
	x.box.fail = 1;
	ok(begin(&x, "bob@example.com", NULL, &r) < 0, "the mail transport fails: an error");
	{
		struct wgotp_challenge c;

		is_int(x.store->ops->challenge_latest(x.store->state, "bob@example.com",
						      WGOTP_METHOD_EMAIL, x.clock.now, &c),
		       -ENOENT, "  and no challenge left behind");
	}
	x.box.fail = 0;
	is_int(begin(&x, "bob@example.com", NULL, &r), 0, "the transport is back: asking again at once");
	is_int(r.verdict, WGOTP_CHALLENGE, "  gets a challenge (the failed send held nothing back)");
	is_int(x.box.sent, 6, "  and the mail");
	fx_teardown(&x);
}

/* --- unknown users -------------------------------------------------------- */
static void test_unknown(void)
{
	struct fx x;
	struct wgotp_result r, known, a;
	char code[8];

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	begin(&x, "bob@example.com", NULL, &known);
	is_int(begin(&x, "nobody@example.com", NULL, &r), 0, "unknown user: no error");
	is_int(r.verdict, known.verdict, "  the same verdict as a known email user");
	is_int(r.method, known.method, "  the same method");
	is_str(r.prompt, "Enter the code sent to n***y@example.com", "  a prompt of the same shape");
	is_int(strlen(r.challenge_id), strlen(known.challenge_id), "  an id of the same length");
	is_int(x.box.sent, 1, "  and no mail (only bob's)");
	answer(&x, "nobody@example.com", r.challenge_id, "123456", &a);
	is_int(a.verdict, WGOTP_REJECT, "any answer to a decoy: reject");
	is_int(a.reason, WGOTP_R_UNKNOWN_USER, "  reason unknown_user (audit only)");
	begin(&x, "erin@example.com", NULL, &r);
	is_int(r.verdict, WGOTP_CHALLENGE, "a disabled email user: a challenge");
	is_int(x.box.sent, 1, "  and no mail");
	begin(&x, "bad\nname", NULL, &r);
	is_int(r.verdict, WGOTP_REJECT, "a name with a control character: reject");
	fx_teardown(&x);

	fx_setup(&x, WGOTP_UNKNOWN_TOTP);
	totp_at(T0, 0, code);
	begin(&x, "nobody@example.com", code, &r);
	is_int(r.verdict, WGOTP_REJECT, "UnknownUser=totp: a code from an unknown user is rejected");
	begin(&x, "nobody@example.com", NULL, &r);
	is_int(r.verdict, WGOTP_CHALLENGE, "  no code: a totp challenge");
	is_int(r.method, WGOTP_METHOD_TOTP, "  like a totp user's");
	answer(&x, "nobody@example.com", r.challenge_id, code, &a);
	is_int(a.verdict, WGOTP_REJECT, "  answering it with alice's valid code: reject");
	fx_teardown(&x);

	fx_setup(&x, WGOTP_UNKNOWN_REJECT);
	begin(&x, "nobody@example.com", NULL, &r);
	is_int(r.verdict, WGOTP_REJECT, "UnknownUser=reject: reject at once");
	fx_teardown(&x);
}

/* --- rate limit, devices, durations, bad ids ------------------------------ */
static void test_limits(void)
{
	struct fx x;
	struct wgotp_result r;
	struct wgotp_request req = { .user = "alice@example.com", .origin = "pam" };
	char code[8];

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	for (int i = 0; i < 10; i++)
		begin(&x, "alice@example.com", "000000", &r);
	totp_at(T0, 0, code);
	begin(&x, "alice@example.com", code, &r);
	is_int(r.verdict, WGOTP_REJECT, "after 10 failures a valid code is refused");
	is_int(r.reason, WGOTP_R_RATE_LIMITED, "  rate limited");
	x.clock.now += 15 * 60;
	totp_at(x.clock.now, 0, code);
	begin(&x, "alice@example.com", code, &r);
	is_int(r.verdict, WGOTP_ACCEPT, "after the window a valid code is accepted again");

	x.clock.now += 30;
	totp_at(x.clock.now, 0, code);
	req.code = code;
	req.device = KEY_B;
	wgotp_begin(x.flow, &req, &r);
	is_int(r.verdict, WGOTP_REJECT, "another user's device: reject");
	is_int(r.reason, WGOTP_R_UNKNOWN_DEVICE, "  unknown device");
	req.device = KEY_A;
	req.duration = 5 * 3600;
	wgotp_begin(x.flow, &req, &r);
	is_int(r.verdict, WGOTP_ACCEPT, "own device: accept");
	is_str(r.device, KEY_A, "  for that device");
	is_int(r.duration, 4 * 3600, "  5 h asked, 4 h given (rounded down)");

	answer(&x, "alice@example.com", "zz", "123456", &r);
	is_int(r.reason, WGOTP_R_UNKNOWN_CHALLENGE, "a malformed challenge id: unknown challenge");
	answer(&x, "alice@example.com", "0123456789ABCDEF0123456789ABCDEF", "123456", &r);
	is_int(r.reason, WGOTP_R_UNKNOWN_CHALLENGE, "upper-case hex id: unknown challenge");
	answer(&x, "alice@example.com", "0123456789abcdef0123456789abcdef", "123456", &r);
	is_int(r.reason, WGOTP_R_UNKNOWN_CHALLENGE, "a well-formed unknown id: unknown challenge");
	fx_teardown(&x);
}

/*
 * One identity per user through the override. Without WGOTP-Email the
 * front end passes the name its directory matched as the override's
 * email; a directory that ignores trailing spaces (MySQL PAD SPACE, LDAP)
 * matches "alice", "alice " and "alice  " alike. One code, one budget.
 */
static int begin_as(struct fx *x, const char *user, const char *identity, enum wgotp_method m,
		    const char *code, struct wgotp_result *r)
{
	struct wgotp_user u = { .email = (char *)identity, .method = m, .enabled = true,
				.require_otp = true };
	struct wgotp_request req = { .user = user, .code = code, .origin = "radius",
				     .client = "192.0.2.1", .user_override = &u };

	if (m == WGOTP_METHOD_TOTP) {
		u.totp_secret = ALICE_SECRET;
		u.totp_state = WGOTP_TOTP_ACTIVE;
	}
	return wgotp_begin(x->flow, &req, r);
}

static void test_override_identity(void)
{
	static const char *const spellings[] = { "alice ", "alice  ", " alice", "al ice", "alice\t" };
	struct fx x;
	struct wgotp_result r;
	char code[8];
	int accepted = 0, sent;
	size_t mark;

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	totp_at(T0, 0, code);
	begin_as(&x, "alice", "alice", WGOTP_METHOD_TOTP, code, &r);
	is_int(r.verdict, WGOTP_ACCEPT, "override, no WGOTP-Email: alice's code is accepted");
	is_str(r.user, "alice", "  as the identity alice");
	for (size_t i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++) {
		begin_as(&x, spellings[i], spellings[i], WGOTP_METHOD_TOTP, code, &r);
		if (r.verdict == WGOTP_ACCEPT) {
			diag("the used code was accepted again for \"%s\"", spellings[i]);
			accepted++;
		}
	}
	is_int(accepted, 0, "the same code is not accepted again under another spelling of alice");
	begin_as(&x, "ALICE", "ALICE", WGOTP_METHOD_TOTP, code, &r);
	is_int(r.reason, WGOTP_R_REPLAY, "ALICE is alice: the used code is a replay");
	mark = loglen;
	begin_as(&x, "alice", "alice ", WGOTP_METHOD_TOTP, code, &r);
	ok(r.verdict != WGOTP_ACCEPT && x.box.sent == 0,
	   "a directory identity that is not canonical (\"alice \"): names no one (a decoy)");
	ok(strstr(logbuf + mark, "is not a canonical name") != NULL, "  and the log says why");
	begin_as(&x, "alice", "alice@corp.example", WGOTP_METHOD_TOTP, code, &r);
	ok(r.verdict == WGOTP_ACCEPT && !strcmp(r.user, "alice@corp.example"),
	   "with WGOTP-Email the identity is the directory's address");
	begin_as(&x, "ALICE", "Alice@Corp.Example", WGOTP_METHOD_TOTP, code, &r);
	is_int(r.reason, WGOTP_R_REPLAY, "  whatever the case of the name or of WGOTP-Email");

	/* One guess budget: ten failures as "bob" leave none for "bob ". */
	x.clock.now += 60;
	for (int i = 0; i < 10; i++)
		begin_as(&x, "bob", "bob", WGOTP_METHOD_TOTP, "000000", &r);
	totp_at(x.clock.now, 0, code);
	begin_as(&x, "bob ", "bob ", WGOTP_METHOD_TOTP, code, &r);
	ok(r.verdict != WGOTP_ACCEPT, "ten failures as bob: no fresh budget for \"bob \"");
	begin_as(&x, "BOB", "BOB", WGOTP_METHOD_TOTP, code, &r);
	is_int(r.reason, WGOTP_R_RATE_LIMITED, "  nor for BOB: rate limited");

	/* Mail: only to an identity that is an address. carol@attacker.example
	 * stripped to carol by a realm module: carol is what the directory
	 * matched, and carol is no address. */
	sent = x.box.sent;
	x.box.to[0] = '\0';
	mark = loglen;
	begin_as(&x, "carol@attacker.example", "carol", WGOTP_METHOD_EMAIL, NULL, &r);
	is_int(r.verdict, WGOTP_CHALLENGE, "email override, identity not an address: a challenge");
	ok(x.box.sent == sent, "  but no mail (it would have gone to \"%s\")", x.box.to);
	ok(strstr(logbuf + mark, "carol: the identity is not an email address") != NULL,
	   "  and the log says why");
	ok(strstr(logbuf + mark, "user=\"carol\"") && !strstr(logbuf + mark, "attacker"),
	   "  the audit line names the identity carol, not the spelling from the wire");
	begin_as(&x, "Dan@Corp.Example", "Dan@Corp.Example", WGOTP_METHOD_EMAIL, NULL, &r);
	ok(r.verdict == WGOTP_CHALLENGE && x.box.sent == sent + 1, "an identity that is an address gets the mail");
	begin_as(&x, "dan@corp.example ", "dan@corp.example ", WGOTP_METHOD_EMAIL, NULL, &r);
	ok(r.verdict == WGOTP_REJECT && x.box.sent == sent + 1,
	   "  \"dan@corp.example \": refused, no second mail");
	fx_teardown(&x);
}

/* --- the front end supplies the user (RADIUS control attributes) ---------- */
static void test_override(void)
{
	struct fx x;
	struct wgotp_result r;
	struct wgotp_user u = { .email = "zoe@corp.example", .method = WGOTP_METHOD_TOTP,
				.totp_secret = ALICE_SECRET, .totp_state = WGOTP_TOTP_ACTIVE,
				.enabled = true, .require_otp = true };
	struct wgotp_request req = { .user = "zoe", .origin = "radius", .user_override = &u };
	char code[8];

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	totp_at(T0, 0, code);
	req.code = code;
	wgotp_begin(x.flow, &req, &r);
	is_int(r.verdict, WGOTP_ACCEPT, "a user from control attributes: accept");
	is_str(r.user, "zoe@corp.example", "  under its email");
	fx_teardown(&x);
}

/* --- issue 14.1: a State opens only what its own request asked for -------- */
static void test_resend_binds(void)
{
	struct fx x;
	struct wgotp_result thief, victim, a;
	struct wgotp_request req = { .user = "bob@example.com", .origin = "radius",
				     .client = "198.51.100.7", .device = KEY_B,
				     .duration = 24 * 3600 };
	char code[16];

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	/* The thief, with the stolen laptop's key, asks for 24 h. */
	is_int(wgotp_begin(x.flow, &req, &thief), 0, "thief's request: no error");
	is_int(thief.verdict, WGOTP_CHALLENGE, "  a challenge (and bob gets the mail)");
	snprintf(code, sizeof(code), "%s", x.box.code);
	used(code);
	/* Bob, a minute later at most, from his phone, for 4 h. */
	x.clock.now += 40;
	req.client = "192.0.2.44";
	req.duration = 4 * 3600;
	is_int(wgotp_begin(x.flow, &req, &victim), 0, "bob's request within ResendInterval: no error");
	is_int(victim.verdict, WGOTP_REJECT, "  reject: no second mail ...");
	is_int(x.box.sent, 1, "  (one mail in all)");
	ok(victim.challenge_id[0] == '\0' && strcmp(victim.challenge_id, thief.challenge_id) != 0,
	   "  ... and not the thief's State");
	/* Bob's only State is none: the code from the only mail cannot be
	 * typed into a State he does not hold. Whatever an answer says, the
	 * challenge opens what its request asked for. */
	req.duration = 3600;
	is_int(wgotp_answer(x.flow, thief.challenge_id, code, &req, &a), 0, "an answer to the first State");
	is_int(a.verdict, WGOTP_ACCEPT, "  accepts with the right code");
	is_int(a.duration, 24 * 3600, "  for the duration the first request asked (not the answer's)");
	is_str(a.device, KEY_B, "  and its device");
	{
		struct wgotp_request plain = { .user = "alice@example.com", .origin = "radius" };
		struct wgotp_result c, d;
		char tc[8];

		x.clock.now += 30;
		wgotp_begin(x.flow, &plain, &c);
		totp_at(x.clock.now, 0, tc);
		plain.duration = 12 * 3600;
		wgotp_answer(x.flow, c.challenge_id, tc, &plain, &d);
		is_int(d.duration, 12 * 3600, "a State that asked for no length: the answer chooses it");
	}
	is_int(wgotp_answer(x.flow, thief.challenge_id, code, &req, &a), 0, "the same code again");
	is_int(a.verdict, WGOTP_REJECT, "  reject: one code, one session");
	fx_teardown(&x);
}

/* --- a State answered from another front end ----------------------------- */
static void test_origin_binds(void)
{
	struct fx x;
	struct wgotp_result r, a;
	struct wgotp_request req = { .user = "bob@example.com", .origin = "radius" };
	char code[16];

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	wgotp_begin(x.flow, &req, &r);
	snprintf(code, sizeof(code), "%s", x.box.code);
	used(code);
	req.origin = "pam";
	wgotp_answer(x.flow, r.challenge_id, code, &req, &a);
	is_int(a.verdict, WGOTP_REJECT, "a RADIUS State answered through PAM: reject");
	is_int(a.reason, WGOTP_R_UNKNOWN_CHALLENGE, "  unknown challenge");
	req.origin = "radius";
	wgotp_answer(x.flow, r.challenge_id, code, &req, &a);
	is_int(a.verdict, WGOTP_ACCEPT, "  and through RADIUS it still opens");
	fx_teardown(&x);
}

/*
 * A store whose operations wait for each other: every caller of a wrapped
 * operation waits until `want` callers have reached it, or 300 ms have
 * passed, so that racing threads are at the same step together whatever
 * the scheduler does.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int in, want;
	const struct wgotp_store_ops *real;
} gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL };

static void gate_wait(void)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_nsec += 300 * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&gate.mu);
	if (++gate.in >= gate.want)
		pthread_cond_broadcast(&gate.cv);
	while (gate.in < gate.want)
		if (pthread_cond_timedwait(&gate.cv, &gate.mu, &dl) != 0)
			break;
	pthread_mutex_unlock(&gate.mu);
}

static int gated_del(void *st, const char *id)
{
	gate_wait();
	return gate.real->challenge_del(st, id);
}

/* The failure check: every racer has read the count before any goes on. */
static int gated_get(void *st, const char *key, int64_t now, int64_t *count)
{
	int ret = gate.real->counter_get(st, key, now, count);

	gate_wait();
	return ret;
}

static int gated_take(void *st, const char *key, int64_t now, int64_t window, int64_t limit,
		      int64_t *count)
{
	int ret = gate.real->counter_take(st, key, now, window, limit, count);

	gate_wait();
	return ret;
}

static int gated_attempt(void *st, const struct wgotp_totp_attempt *a, uint64_t *used)
{
	int ret = gate.real->totp_attempt(st, a, used);

	gate_wait();
	return ret;
}

struct answerer {
	struct fx *x;
	const char *id, *code, *user;
	struct wgotp_result r;
};

static void *answer_thread(void *arg)
{
	struct answerer *a = arg;

	if (a->id)
		answer(a->x, a->user, a->id, a->code, &a->r);
	else
		begin(a->x, a->user, a->code, &a->r);
	return NULL;
}

/* --- issue 14.7: one emailed code, two answers at once ------------------- */
static void test_answer_race(void)
{
	struct wgotp_store_ops ops;
	struct answerer an[2];
	pthread_t th[2];
	struct fx x;
	struct wgotp_result r;
	int accepts = 0;

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	begin(&x, "bob@example.com", NULL, &r);
	used(x.box.code);
	/* Both answers are past their check when either deletes. */
	gate.real = x.store->ops;
	gate.in = 0;
	gate.want = 2;
	ops = *x.store->ops;
	ops.challenge_del = gated_del;
	x.store->ops = &ops;
	for (int i = 0; i < 2; i++) {
		an[i] = (struct answerer){ &x, r.challenge_id, x.box.code, "bob@example.com", { 0 } };
		pthread_create(&th[i], NULL, answer_thread, &an[i]);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		accepts += an[i].r.verdict == WGOTP_ACCEPT;
	}
	x.store->ops = gate.real;
	is_int(accepts, 1, "two answers with the one mailed code at once: exactly one accept");
	fx_teardown(&x);
}

/* --- issue 14.8: a burst of guesses gets MaxFailures judged, no more ------ */
static void guess_burst(bool one_step)
{
	enum { N = 8 };
	struct wgotp_store_ops ops;
	struct answerer an[N];
	pthread_t th[N];
	struct fx x;
	int judged = 0, limited = 0;

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	x.cfg->ratelimit_max_failures = 3;
	/* Every thread is past the failure check at once, whether the store
	 * does the attempt in one step or in three. */
	gate.real = x.store->ops;
	gate.in = 0;
	gate.want = N;
	ops = *x.store->ops;
	ops.counter_get = gated_get;
	ops.counter_take = gated_take;
	ops.totp_attempt = one_step && ops.totp_attempt ? gated_attempt : NULL;
	x.store->ops = &ops;
	for (int i = 0; i < N; i++) {
		an[i] = (struct answerer){ &x, NULL, "000000", "alice@example.com", { 0 } };
		pthread_create(&th[i], NULL, answer_thread, &an[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		judged += an[i].r.reason == WGOTP_R_BAD_CODE;
		limited += an[i].r.reason == WGOTP_R_RATE_LIMITED;
	}
	x.store->ops = gate.real;
	is_int(judged, 3, "%d parallel wrong codes, MaxFailures 3: 3 judged (%s)", N,
	       one_step ? "one store operation" : "take, use_step, reset");
	is_int(limited, N - 3, "  the others refused unjudged (rate limited)");
	fx_teardown(&x);
}

static void test_guess_burst(void)
{
	guess_burst(true);
	guess_burst(false);
}

/* --- a store that fails during an answer consumes nothing ---------------- */
static int busy_del(void *st, const char *id)
{
	(void)st;
	(void)id;
	return -EBUSY;
}

static void test_answer_store_busy(void)
{
	struct wgotp_store_ops ops;
	const struct wgotp_store_ops *real;
	struct wgotp_result r, a;
	struct fx x;
	char code[8];

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	begin(&x, "alice@example.com", NULL, &r);
	totp_at(x.clock.now, 0, code);
	real = x.store->ops;
	ops = *real;
	ops.challenge_del = busy_del;	/* the store is locked past BusyTimeout */
	x.store->ops = &ops;
	ok(answer(&x, "alice@example.com", r.challenge_id, code, &a) < 0,
	   "the store fails while a TOTP answer is consumed: an error");
	x.store->ops = real;
	begin(&x, "alice@example.com", NULL, &r);
	answer(&x, "alice@example.com", r.challenge_id, code, &a);
	is_int(a.verdict, WGOTP_ACCEPT, "  the same code, once the store works: accepted (nothing was used)");
	fx_teardown(&x);
}

/* --- no mail transport: a decoy fails as a real email user does ------------ */
static void test_no_transport(void)
{
	struct wgotp_error err = { "" };
	struct wgotp_result r;
	struct wgotp_flow *bare;
	struct fx x;
	int real, decoy;

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	if (wgotp_flow_new(x.cfg, x.store, NULL, tu_clock_now, &x.clock, &bare, &err) < 0)
		abort();
	{
		struct wgotp_request rq = { .user = "bob@example.com", .origin = "radius" };
		struct wgotp_request rd = { .user = "nobody@example.com", .origin = "radius" };

		real = wgotp_begin(bare, &rq, &r);
		decoy = wgotp_begin(bare, &rd, &r);
	}
	ok(real < 0, "no transport: a real email user gets an error (%d)", real);
	is_int(decoy, real, "  and so does an unknown one, the same");
	wgotp_flow_free(bare);
	fx_teardown(&x);
}

/* --- two logins with the same code at once: one wins ---------------------- */
struct racer {
	struct fx *x;
	const char *code;
	int accepted;
};

static void *race(void *arg)
{
	struct racer *rc = arg;
	struct wgotp_result r;

	if (begin(rc->x, "alice@example.com", rc->code, &r) == 0 && r.verdict == WGOTP_ACCEPT)
		rc->accepted = 1;
	return NULL;
}

static void test_race(void)
{
	struct fx x;
	struct racer rc[8];
	pthread_t th[8];
	char code[8];
	int total = 0;

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	totp_at(T0, 0, code);
	for (int i = 0; i < 8; i++) {
		rc[i] = (struct racer){ &x, code, 0 };
		pthread_create(&th[i], NULL, race, &rc[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		total += rc[i].accepted;
	}
	is_int(total, 1, "8 threads, one code: exactly one accept");
	fx_teardown(&x);
}

static void test_server_key(void)
{
	struct fx x;
	struct wgotp_flow *f = NULL;
	struct wgotp_error err = { "" };

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	chmod(x.cfg->server_key_file, 0644);
	is_int(wgotp_flow_new(x.cfg, x.store, NULL, NULL, NULL, &f, &err), -EPERM,
	       "a world-readable server key is refused");
	ok(strstr(err.msg, "server key") != NULL, "  with a clear message");
	chmod(x.cfg->server_key_file, 0600);
	chmod(x.cfg->directory, 0644);
	is_int(wgotp_flow_new(x.cfg, x.store, NULL, NULL, NULL, &f, &err), -EPERM,
	       "a world-readable users.json is refused");
	ok(strstr(err.msg, "users.json") && strstr(err.msg, "0644"), "  naming the file and its mode");
	chmod(x.cfg->directory, 0660);
	is_int(wgotp_flow_new(x.cfg, x.store, NULL, NULL, NULL, &f, &err), -EPERM,
	       "a group-writable users.json is refused");
	chmod(x.cfg->directory, 0640);
	is_int(wgotp_flow_new(x.cfg, x.store, NULL, NULL, NULL, &f, &err), 0, "0640 is fine");
	wgotp_flow_free(f);
	f = NULL;
	free(tu_write(x.dir, "server.key", "abcd\n", 0600));
	is_int(wgotp_flow_new(x.cfg, x.store, NULL, NULL, NULL, &f, &err), -EINVAL,
	       "a short server key is refused");
	wgotp_flow_free(f);
	fx_teardown(&x);
}

static void test_audit_file(void)
{
	struct fx x;
	struct wgotp_result r;
	struct stat st;
	char *path, buf[4096] = "";
	FILE *fp;

	fx_setup(&x, WGOTP_UNKNOWN_EMAIL);
	if (asprintf(&path, "%s/audit.log", x.dir) < 0)
		abort();
	is_int(wgotp_audit_configure(path), 0, "AuditLog = a file");
	begin(&x, "alice@example.com", "000000", &r);
	fp = fopen(path, "r");
	if (fp) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, fp);

		buf[n] = '\0';
		fclose(fp);
	}
	ok(strstr(buf, "Z wgotp-audit event=begin origin=radius user=\"alice@example.com\"") != NULL,
	   "a timestamped line in the file");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "the audit file is 0640");
	is_int(wgotp_audit_configure("relative.log"), -EINVAL, "a relative path is refused");
	is_int(wgotp_audit_configure("/nonexistent/dir/audit.log"), -ENOENT, "an unwritable path is an error");
	wgotp_audit_configure("syslog");
	free(path);
	fx_teardown(&x);
}

int main(void)
{
	wgotp_log_set_sink(capture, NULL, WGOTP_LOG_DEBUG);
	test_totp();
	test_cutoff();
	test_email();
	test_unknown();
	test_limits();
	test_override_identity();
	test_override();
	test_race();
	test_resend_binds();
	test_origin_binds();
	test_answer_race();
	test_guess_burst();
	test_no_transport();
	test_answer_store_busy();
	test_server_key();
	test_audit_file();

	ok(audit_lines >= 40, "an audit line per decision (%d)", audit_lines);
	ok(strstr(logbuf, "wgotp-audit event=answer origin=radius user=\"bob@example.com\"") != NULL,
	   "audit lines are structured");
	{
		int leaked = 0;

		for (int i = 0; i < n_used; i++) {
			if (strstr(logbuf, used_codes[i])) {
				diag("code %d found in the logs", i);
				leaked++;
			}
		}
		ok(n_used > 10 && !leaked, "no code used (%d) appears in any log line", n_used);
	}
	return done_testing();
}
