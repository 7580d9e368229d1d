/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotp-dird's requests (wgotp-dird/ops.c, proto.c) driven directly at
 * exact instants, as main.c drives them: each refusal (bad version,
 * unknown op, bad or extra fields, a caller whose uid is not allowed, a
 * bad, expired or reused token, a wrong or replayed code), each success
 * and what it wrote to users.json; and an edit by wgotpctl's code path
 * at the same moment as the daemon's, neither lost.
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "dird.h"
#include "frontend.h"
#include "invite.h"
#include "log.h"
#include "otp.h"
#include "tap.h"
#include "testutil.h"

#define T0 1700000010LL
#define ALICE_SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

static struct tu_clock clk = { T0 };
static struct wgotp_frontend *fe;
static struct dird D;
static char *dir, *users;
static struct ucred me;

static void quiet(void *arg, enum wgotp_log_level lvl, const char *msg)
{
	(void)arg;
	(void)lvl;
	(void)msg;
}

static void setup(void)
{
	char *text, *conf;
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err = { "" };
	enum wgotp_frontend_stage stage;

	dir = tu_tmpdir();
	free(tu_write(dir, "server.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600));
	if (asprintf(&text,
		     "{ \"version\": 1, \"users\": {\n"
		     " \"alice@example.com\": { \"method\": \"totp\", \"totp_secret\": \"%s\", \"totp_state\": \"active\" },\n"
		     " \"bob@example.com\": { \"method\": \"email\" },\n"
		     " \"dave@example.com\": { \"method\": \"totp\" }\n"
		     "} }\n", ALICE_SECRET) < 0)
		abort();
	users = tu_write(dir, "users.json", text, 0640);
	free(text);
	if (asprintf(&text,
		     "[General]\nDirectory = %s\nServerKeyFile = %s/server.key\nAuditLog = syslog\n"
		     "[Store]\nPath = %s/state.db\n[RateLimit]\nMaxFailures = 50\n"
		     "[Dird]\nSocket = %s/dird.sock\nAllowedUsers = %u\nInviteLifetime = 72h\n",
		     users, dir, dir, dir, (unsigned int)getuid()) < 0)
		abort();
	conf = tu_write(dir, "wgotp.conf", text, 0644);
	free(text);
	if (wgotp_config_load(conf, &cfg, &err) < 0 ||
	    wgotp_frontend_open(cfg, tu_clock_now, &clk, &fe, &stage, &err) < 0) {
		printf("Bail out! %s\n", err.msg);
		exit(1);
	}
	free(conf);
	D = (struct dird){ .cfg = fe->cfg, .flow = fe->flow, .store = fe->store };
	me = (struct ucred){ .pid = getpid(), .uid = getuid(), .gid = getgid() };
}

/* One request; the reply parsed (kept in *out, put by the caller). */
static json_object *call_as(const struct ucred *cr, const char *msg)
{
	size_t len = 0;
	char *line = dird_handle(&D, cr, -1, msg, strlen(msg), &len);
	json_object *o;

	if (!line || !len || line[len - 1] != '\n')
		return NULL;
	o = json_tokener_parse(line);
	dird_reply_free(line, len);
	return o;
}

/* The reply's "error", or "ok"; the reply in *keep if asked. */
static char result[64];
static const char *req(const char *msg, json_object **keep)
{
	json_object *o = call_as(&me, msg), *v;

	snprintf(result, sizeof(result), "%s", !o ? "(no reply)" :
		 json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) :
		 json_object_object_get_ex(o, "ok", &v) && json_object_get_boolean(v) ? "ok" : "(odd)");
	if (keep)
		*keep = o;
	else
		json_object_put(o);
	return result;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static struct wgotp_directory *load(void)
{
	struct wgotp_directory *d = NULL;
	struct wgotp_error err = { "" };

	if (wgotp_dir_load(users, &d, &err) < 0)
		printf("# load: %s\n", err.msg);
	return d;
}

/* What wgotpctl invite does: under the lock, a new invitation. */
static void invite(const char *email, char token[WGOTP_INVITE_TOKEN_LEN + 1])
{
	struct wgotp_error err = { "" };
	struct wgotp_directory *d;
	int lock = wgotp_dir_lock(users, &err);

	d = load();
	if (lock < 0 || !d || wgotp_invite_new(fe->flow, wgotp_dir_find(d, email), 72 * 3600, token) < 0 ||
	    wgotp_dir_save(d, users, &err) < 0)
		printf("# invite: %s\n", err.msg);
	wgotp_dir_free(d);
	close(lock);
}

static void code_of(const char *b32, char out[7])
{
	uint8_t key[64];
	int n = wgotp_base32_decode(b32, key, sizeof(key));
	struct wgotp_totp_params p = { .digits = 6, .period = 30, .window = 1, .alg = WGOTP_TOTP_SHA1 };

	wgotp_totp_generate(key, (size_t)n, &p, (uint64_t)clk.now / 30, out);
}

static void test_protocol(void)
{
	struct ucred other = { .pid = 1, .uid = 54321, .gid = 54321 };
	char big[DIRD_MAX_MSG + 10];
	json_object *o;

	is_str(req("{\"version\":1,\"op\":\"ping\"}", NULL), "ok", "ping");
	o = call_as(&other, "{\"version\":1,\"op\":\"ping\"}");
	is_str(jstr(o, "error"), "forbidden", "a uid not in [Dird] AllowedUsers is refused");
	json_object_put(o);
	is_str(req("{\"version\":2,\"op\":\"ping\"}", NULL), "bad_version", "version 2 is refused");
	is_str(req("{\"op\":\"ping\"}", NULL), "bad_version", "no version is refused");
	is_str(req("{\"version\":\"1\",\"op\":\"ping\"}", NULL), "bad_version", "a version string is refused");
	is_str(req("{\"version\":1,\"op\":\"user_add\",\"user\":\"x@example.com\"}", NULL), "unknown_op",
	       "an op outside the table (user_add) is refused");
	is_str(req("{\"version\":1,\"op\":\"ping\",\"user\":\"a@example.com\"}", NULL), "bad_request",
	       "a field the op does not take is refused");
	is_str(req("{\"version\":1,\"op\":\"invite_open\"}", NULL), "bad_request", "a missing token is refused");
	is_str(req("{\"version\":1,\"op\":\"totp_disable\",\"user\":\"alice@example.com\",\"code\":123456}", NULL),
	       "bad_request", "a code that is a number, not a string, is refused");
	is_str(req("{\"version\":1,\"op\":\"ping\"", NULL), "bad_json", "truncated JSON is refused");
	is_str(req("{\"version\":1,\"op\":\"ping\"} {}", NULL), "bad_json", "two objects are refused");
	is_str(req("[1]", NULL), "bad_json", "an array is refused");
	memset(big, ' ', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	is_str(req(big, NULL), "too_large", "a message over DIRD_MAX_MSG is refused");
}

static void test_invitation(void)
{
	char token[WGOTP_INVITE_TOKEN_LEN + 1], msg[512], code[7], secret[80] = "";
	struct wgotp_directory *d;
	struct wgotp_user *u;
	json_object *o = NULL;

	invite("dave@example.com", token);
	d = load();
	u = d ? wgotp_dir_find(d, "dave@example.com") : NULL;
	ok(u && u->invite.mac[0] && !strstr(u->invite.mac, token) && u->invite.expires == T0 + 72 * 3600,
	   "users.json holds the invitation's HMAC and expiry, not the token");
	wgotp_dir_free(d);

	is_str(req("{\"version\":1,\"op\":\"invite_open\",\"token\":\"00000000000000000000000000000000"
		   "00000000000000000000000000000000\"}", NULL), "bad_token", "an unknown token is refused");
	is_str(req("{\"version\":1,\"op\":\"invite_open\",\"token\":\"not-hex\"}", NULL), "bad_token",
	       "a malformed token is refused");
	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_confirm\",\"token\":\"%s\",\"code\":\"123456\"}", token);
	is_str(req(msg, NULL), "not_opened", "confirm before the invitation was opened is refused");

	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"invite_open\",\"token\":\"%s\"}", token);
	is_str(req(msg, &o), "ok", "invite_open with the mailed token");
	is_str(jstr(o, "user"), "dave@example.com", "... names the invitation's user");
	if (jstr(o, "secret"))
		snprintf(secret, sizeof(secret), "%s", jstr(o, "secret"));
	ok(strlen(secret) == 32, "... gives a 160-bit secret");
	ok(jstr(o, "uri") && !strncmp(jstr(o, "uri"), "otpauth://totp/", 15) && strstr(jstr(o, "uri"), secret),
	   "... and its otpauth URI");
	json_object_put(o);
	d = load();
	u = d ? wgotp_dir_find(d, "dave@example.com") : NULL;
	ok(u && u->totp_state == WGOTP_TOTP_PENDING && u->totp_secret && !strcmp(u->totp_secret, secret) &&
	   u->invite.opened, "users.json: dave's secret is pending, the invitation opened");
	wgotp_dir_free(d);
	is_str(req(msg, NULL), "used", "the same link opened again is refused (reused token)");

	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_confirm\",\"token\":\"%s\",\"code\":\"000000\"}", token);
	code_of(secret, code);
	if (!strcmp(code, "000000"))
		msg[strlen(msg) - 4] = '1';
	is_str(req(msg, NULL), "wrong_code", "a wrong code does not enable the secret");
	d = load();
	u = d ? wgotp_dir_find(d, "dave@example.com") : NULL;
	ok(u && u->totp_state == WGOTP_TOTP_PENDING && u->invite.tries == 1, "... it stays pending, one try counted");
	wgotp_dir_free(d);

	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_confirm\",\"token\":\"%s\",\"code\":\"%s\"}", token, code);
	is_str(req(msg, NULL), "ok", "the right code from the app enables it");
	d = load();
	u = d ? wgotp_dir_find(d, "dave@example.com") : NULL;
	ok(u && u->totp_state == WGOTP_TOTP_ACTIVE && !u->invite.mac[0], "users.json: active, the invitation gone");
	wgotp_dir_free(d);
	is_str(req(msg, NULL), "bad_token", "the link is dead after the first use");

	/* the same code again, as a proof for totp_disable: a replay */
	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_disable\",\"user\":\"dave@example.com\",\"code\":\"%s\"}", code);
	is_str(req(msg, NULL), "replay", "the code that confirmed cannot disable (replayed code)");
	clk.now += 30;
	code_of(secret, code);
	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_disable\",\"user\":\"dave@example.com\",\"code\":\"%s\"}", code);
	is_str(req(msg, NULL), "ok", "the next code disables");
	d = load();
	u = d ? wgotp_dir_find(d, "dave@example.com") : NULL;
	ok(u && u->totp_state == WGOTP_TOTP_NONE && !u->totp_secret, "users.json: dave's secret is gone");
	wgotp_dir_free(d);
	is_str(req(msg, NULL), "bad_state", "disable without an active secret is refused");

	/* a link made before the admin enrolled the user by hand cannot
	 * replace the active secret; nor can one of a disabled user be used */
	{
		char tok2[WGOTP_INVITE_TOKEN_LEN + 1];
		struct wgotp_error err = { "" };
		int lock;

		invite("alice@example.com", tok2);
		snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"invite_open\",\"token\":\"%s\"}", tok2);
		is_str(req(msg, NULL), "used", "a link of a user whose secret is active is refused");
		d = load();
		u = d ? wgotp_dir_find(d, "alice@example.com") : NULL;
		ok(u && u->totp_state == WGOTP_TOTP_ACTIVE && !strcmp(u->totp_secret, ALICE_SECRET),
		   "... alice's secret is unchanged");
		wgotp_dir_free(d);
		invite("dave@example.com", tok2);
		lock = wgotp_dir_lock(users, &err);
		d = load();
		wgotp_dir_find(d, "dave@example.com")->enabled = false;
		wgotp_dir_save(d, users, &err);
		wgotp_dir_free(d);
		close(lock);
		snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"invite_open\",\"token\":\"%s\"}", tok2);
		is_str(req(msg, NULL), "bad_token", "a link of a disabled user is refused");
		lock = wgotp_dir_lock(users, &err);
		d = load();
		wgotp_dir_find(d, "dave@example.com")->enabled = true;
		memset(&wgotp_dir_find(d, "dave@example.com")->invite, 0, sizeof(struct wgotp_invite));
		wgotp_dir_save(d, users, &err);
		wgotp_dir_free(d);
		close(lock);
	}

	/* expiry */
	invite("dave@example.com", token);
	clk.now += 72 * 3600;
	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"invite_open\",\"token\":\"%s\"}", token);
	is_str(req(msg, NULL), "expired", "a link after InviteLifetime is refused (expired token)");
	clk.now -= 72 * 3600;
	is_str(req(msg, NULL), "ok", "... and the same link within it works (the expiry is the only difference)");
}

static void test_totp_off(void)
{
	char msg[512], code[7], wrong[16];
	json_object *o = NULL;
	struct wgotp_directory *d;
	struct wgotp_user *u;

	clk.now += 300;
	code_of(ALICE_SECRET, code);
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);
	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_disable\",\"user\":\"alice@example.com\",\"code\":\"%s\"}", wrong);
	is_str(req(msg, NULL), "wrong_code", "disable with a wrong code is refused");
	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_reset\",\"user\":\"bob@example.com\",\"code\":\"%s\"}", code);
	is_str(req(msg, NULL), "bad_state", "reset of an email user is refused");
	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_reset\",\"user\":\"nobody@example.com\",\"code\":\"%s\"}", code);
	is_str(req(msg, NULL), "unknown_user", "reset of an unknown user is refused");
	d = load();
	u = d ? wgotp_dir_find(d, "alice@example.com") : NULL;
	ok(u && u->totp_state == WGOTP_TOTP_ACTIVE && !strcmp(u->totp_secret, ALICE_SECRET),
	   "after the refusals alice's secret is unchanged");
	wgotp_dir_free(d);
	snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"totp_reset\",\"user\":\"alice@example.com\",\"code\":\"%s\"}", code);
	is_str(req(msg, &o), "ok", "reset with a current code");
	ok(jstr(o, "token") && strlen(jstr(o, "token")) == WGOTP_INVITE_TOKEN_LEN && jstr(o, "secret") &&
	   strcmp(jstr(o, "secret"), ALICE_SECRET), "... gives a new secret and a token to confirm it");
	json_object_put(o);
	d = load();
	u = d ? wgotp_dir_find(d, "alice@example.com") : NULL;
	ok(u && u->totp_state == WGOTP_TOTP_PENDING && u->invite.opened, "users.json: the new secret is pending");
	wgotp_dir_free(d);
}

/* users.json's "invite" field: strict, and kept by a save. */
static void test_invite_field(void)
{
	static const char *const bad[] = {
		"\"invite\": 1",
		"\"invite\": { \"mac\": \"00\", \"expires\": 1 }",
		"\"invite\": { \"mac\": \"%s\" }",
		"\"invite\": { \"mac\": \"%s\", \"expires\": \"1\" }",
		"\"invite\": { \"mac\": \"%s\", \"expires\": 1, \"opened\": 1 }",
		"\"invite\": { \"mac\": \"%s\", \"expires\": 1, \"tries\": 99 }",
		"\"invite\": { \"mac\": \"%s\", \"expires\": 1, \"token\": \"x\" }",
		"\"invite\": { \"mac\": \"%S\", \"expires\": 1 }",
	};
	char mac[65], upper[65], field[400], json[800];
	struct wgotp_directory *d = NULL;
	struct wgotp_error err = { "" };
	char *path;

	memset(mac, 'a', 64);
	mac[64] = '\0';
	memset(upper, 'A', 64);
	upper[64] = '\0';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *f = bad[i], *p = strstr(f, "%s"), *q = strstr(f, "%S");

		if (p || q)
			snprintf(field, sizeof(field), "%.*s%s%s", (int)((p ? p : q) - f), f, p ? mac : upper,
				 (p ? p : q) + 2);
		else
			snprintf(field, sizeof(field), "%s", f);
		snprintf(json, sizeof(json), "{ \"version\": 1, \"users\": { \"z@example.com\": "
			 "{ \"method\": \"totp\", %s } } }", field);
		err.msg[0] = '\0';
		ok(wgotp_dir_parse("t.json", json, strlen(json), &d, &err) == -EINVAL &&
		   strstr(err.msg, "z@example.com") && strstr(err.msg, "invite"), "a bad invite is refused: %s", field);
		wgotp_dir_free(d);
		d = NULL;
	}
	snprintf(json, sizeof(json), "{ \"version\": 1, \"users\": { \"z@example.com\": { \"method\": \"totp\", "
		 "\"invite\": { \"mac\": \"%s\", \"expires\": 1800000000, \"opened\": true, \"tries\": 2 } } } }", mac);
	path = tu_write(dir, "inv.json", "", 0640);
	ok(wgotp_dir_parse("t.json", json, strlen(json), &d, &err) == 0 && wgotp_dir_save(d, path, &err) == 0,
	   "a good invite loads and saves");
	wgotp_dir_free(d);
	d = NULL;
	ok(wgotp_dir_load(path, &d, &err) == 0 && d->n_users == 1 && !strcmp(d->users[0].invite.mac, mac) &&
	   d->users[0].invite.expires == 1800000000 && d->users[0].invite.opened && d->users[0].invite.tries == 2,
	   "... and comes back the same");
	wgotp_dir_free(d);
	free(path);
}

/* wgotpctl's edit (ctl_dir_open: the lock, load, change, save) and the
 * daemon's requests at the same moment: every edit of both is kept. */
#define N_RACE 25
static void test_concurrent(void)
{
	char tokens[N_RACE][WGOTP_INVITE_TOKEN_LEN + 1], email[64], msg[2048];
	struct wgotp_directory *d;
	pid_t a, b;
	int st_a = -1, st_b = -1, opened = 0, added = 0;

	for (int i = 0; i < N_RACE; i++) {
		struct wgotp_error err = { "" };
		int lock = wgotp_dir_lock(users, &err);

		d = load();
		snprintf(email, sizeof(email), "u%d@example.com", i);
		wgotp_dir_user_add(d, email, WGOTP_METHOD_TOTP, NULL, true, &err);
		wgotp_invite_new(fe->flow, wgotp_dir_find(d, email), 3600, tokens[i]);
		wgotp_dir_save(d, users, &err);
		wgotp_dir_free(d);
		close(lock);
	}
	fflush(stdout);
	a = fork();
	if (a == 0) {
		int bad = 0;

		for (int i = 0; i < N_RACE; i++) {
			snprintf(msg, sizeof(msg), "{\"version\":1,\"op\":\"invite_open\",\"token\":\"%s\"}", tokens[i]);
			bad += strcmp(req(msg, NULL), "ok") != 0;
		}
		_exit(bad);
	}
	b = fork();
	if (b == 0) {
		int bad = 0;

		for (int i = 0; i < N_RACE; i++) {
			struct wgotp_error err = { "" };
			int lock = wgotp_dir_lock(users, &err);

			d = load();
			snprintf(email, sizeof(email), "x%d@example.com", i);
			bad += !d || wgotp_dir_user_add(d, email, WGOTP_METHOD_EMAIL, NULL, true, &err) < 0 ||
			       wgotp_dir_save(d, users, &err) < 0;
			wgotp_dir_free(d);
			close(lock);
		}
		_exit(bad);
	}
	waitpid(a, &st_a, 0);
	waitpid(b, &st_b, 0);
	ok(WIFEXITED(st_a) && WEXITSTATUS(st_a) == 0, "the daemon opened every invitation");
	ok(WIFEXITED(st_b) && WEXITSTATUS(st_b) == 0, "wgotpctl's path added every user");
	d = load();
	for (int i = 0; d && i < N_RACE; i++) {
		struct wgotp_user *u;

		snprintf(email, sizeof(email), "u%d@example.com", i);
		u = wgotp_dir_find(d, email);
		opened += u && u->invite.opened && u->totp_state == WGOTP_TOTP_PENDING;
		snprintf(email, sizeof(email), "x%d@example.com", i);
		added += wgotp_dir_find(d, email) != NULL;
	}
	wgotp_dir_free(d);
	is_int(opened, N_RACE, "users.json keeps every edit of the daemon");
	is_int(added, N_RACE, "users.json keeps every edit of wgotpctl");
}

int main(void)
{
	wgotp_log_set_sink(quiet, NULL, WGOTP_LOG_DEBUG);
	setup();
	test_protocol();
	test_invitation();
	test_totp_off();
	test_invite_field();
	test_concurrent();
	wgotp_frontend_close(fe);
	free(users);
	tu_rmdir(dir);
	return done_testing();
}
