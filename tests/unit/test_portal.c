/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotp-portal's request handlers and API (wgotp-portal/api.c) driven
 * directly, as server.c drives them, at exact instants: status, login,
 * answer, device choice, extend, deactivate, logout; bad JSON, missing,
 * duplicated, unknown and wrongly typed fields, oversized bodies, wrong
 * media types; CSRF (missing, wrong, another session's); expired and
 * revoked cookies; unknown users (same replies, no mail); per-IP and
 * per-user limits; the cookie's attributes; no code in any log line.
 * The activator is a hook that records what it was asked and stores the
 * session as wg-activator would; the mail goes through a sendmail script
 * that keeps the message.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "encoding.h"
#include "log.h"
#include "otp.h"
#include "dird.h"
#include "invite.h"
#include "portal.h"
#include "tap.h"
#include "testutil.h"

#define T0 1700000010LL
#define ALICE_SECRET "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
#define KEY_A "YBo1Xd4UqfZH0kT6tM4qPzJl3hWZHfZ9xWmXn1ob1lI="
#define KEY_B "hH6b2Bb0fEYk7dJ4eJ3bLqkFgVQBv4QyYqfAQDjV+1s="
#define KEY_C "q9Xo0mQy1v8c0bZ2mJ7b2m5s9Vx3a1fYp0r8kT4wQ2E="
#define KEY_D "M7WyEYhgePubm6qKzdYHF7R/BfjqEecIbCARQJqYa0A="
#define KEY_E "F2H0443RzGElHvaUJluwPAHzpmCJQeaOKAbKBAMKizI="

static struct tu_clock clk = { T0 };
static struct portal *P;
static char *dir;

/* ---- the activator, as a hook ----------------------------------------- */
static int n_act, n_deact;
static char act_user[256], act_dev[80], act_key[80];
static int64_t act_dur;

static int fake_activate(const struct wgotp_config *cfg, const char *user, const char *device,
			 const char *public_key, int64_t duration, const char *origin,
			 int64_t *expires, struct wgotp_error *err)
{
	struct wgotp_session s = { 0 };
	int64_t d = wgotp_config_session_duration(cfg, duration);

	n_act++;
	snprintf(act_user, sizeof(act_user), "%s", user);
	snprintf(act_dev, sizeof(act_dev), "%s", device ? device : "");
	snprintf(act_key, sizeof(act_key), "%s", public_key ? public_key : "");
	act_dur = duration;
	if (strcmp(origin, "portal"))
		return -EINVAL;
	snprintf(s.user, sizeof(s.user), "%s", user);
	snprintf(s.device, sizeof(s.device), "%s", device ? device :
		 !public_key || !strcmp(public_key, KEY_A) ? "laptop" : "other");
	s.created = clk.now;
	s.expires = clk.now + d;
	snprintf(s.origin, sizeof(s.origin), "portal");
	P->fe->store->ops->session_put(P->fe->store->state, &s);
	if (expires)
		*expires = s.expires;
	return 0;
}

static int fake_deactivate(const struct wgotp_config *cfg, const char *user, const char *device,
			   int *n_ended, struct wgotp_error *err)
{
	n_deact++;
	P->fe->store->ops->session_del(P->fe->store->state, user, device ? device : "laptop");
	if (n_ended)
		*n_ended = 1;
	return 0;
}

/* ---- every log line --------------------------------------------------- */
static char logbuf[1 << 20];
static size_t loglen;

static void capture(void *arg, enum wgotp_log_level lvl, const char *msg)
{
	size_t n = strlen(msg);

	if (loglen + n + 2 < sizeof(logbuf)) {
		memcpy(logbuf + loglen, msg, n);
		loglen += n;
		logbuf[loglen++] = '\n';
		logbuf[loglen] = '\0';
	}
}

/* ---- a browser -------------------------------------------------------- */
struct browser {
	char cookie[600];	/* "__Host-wgotp=..." */
	char csrf[80];
	char client[48];
	int status;
	json_object *j;
	char set_cookie[200];
	int retry_after;
};

/* a copy that may cut (the compiler cannot know the cookies are short) */
__attribute__((noinline))
static void setc(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

/* Every reply parsed, freed at the end (browsers are re-initialised freely). */
static json_object *replies[16384];
static size_t n_replies;

static void keep(json_object *o)
{
	if (n_replies < sizeof(replies) / sizeof(replies[0]))
		replies[n_replies++] = o;
	else
		json_object_put(o);
}

static void b_init(struct browser *b, const char *client)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->client, sizeof(b->client), "%s", client);
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

/* One request; a raw body and content type (NULL: application/json). */
static int send_raw(struct browser *b, const char *method, const char *path, const char *body,
		    const char *ctype, bool too_large)
{
	struct portal_request rq = {
		.method = method, .path = path, .cookie = b->cookie[0] ? b->cookie : NULL,
		.csrf = b->csrf[0] ? b->csrf : NULL,
		.content_type = ctype ? ctype : "application/json",
		.body = body, .body_len = body ? strlen(body) : 0, .body_too_large = too_large,
		.client = b->client,
	};
	struct portal_reply rp;
	const char *csrf;

	portal_handle(P, &rq, &rp);
	b->status = rp.status;
	b->retry_after = rp.retry_after;
	b->j = rp.api ? json_tokener_parse(rp.body) : NULL;
	if (b->j)
		keep(b->j);
	b->set_cookie[0] = '\0';
	if (rp.n_cookies) {
		char *semi;

		snprintf(b->set_cookie, sizeof(b->set_cookie), "%s", rp.set_cookie[rp.n_cookies - 1]);
		setc(b->cookie, sizeof(b->cookie), b->set_cookie);
		semi = strchr(b->cookie, ';');
		if (semi)
			*semi = '\0';
	}
	csrf = jstr(b->j, "csrf");
	if (csrf)
		snprintf(b->csrf, sizeof(b->csrf), "%s", csrf);
	portal_reply_free(&rp);
	return b->status;
}

static int post(struct browser *b, const char *path, const char *body)
{
	return send_raw(b, "POST", path, body, NULL, false);
}

static int get(struct browser *b, const char *path)
{
	return send_raw(b, "GET", path, NULL, NULL, false);
}

static const char *err_code(struct browser *b)
{
	return jstr(b->j, "error");
}

static void totp_at(int64_t t, char code[8])
{
	uint8_t sec[64];
	struct wgotp_totp_params p = { 6, 30, 1, WGOTP_TOTP_SHA1 };
	int n = wgotp_base32_decode(ALICE_SECRET, sec, sizeof(sec));

	wgotp_totp_generate(sec, (size_t)n, &p, (uint64_t)t / 30, code);
}

/* ---- the sendmail mailbox -------------------------------------------- */
static int mails(void)
{
	char path[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%s/mail", dir);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The code in the newest mail. */
static void last_code(char code[16])
{
	char path[512], buf[8192] = "";
	regex_t re;
	regmatch_t m[2];
	FILE *f;
	size_t n;

	code[0] = '\0';
	snprintf(path, sizeof(path), "%s/mail/%d", dir, mails());
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	regcomp(&re, "([0-9]{6})", REG_EXTENDED);
	if (regexec(&re, strstr(buf, "\n\n") ? strstr(buf, "\n\n") : buf, 2, m, 0) == 0) {
		const char *s = strstr(buf, "\n\n") ? strstr(buf, "\n\n") : buf;

		memcpy(code, s + m[1].rm_so, 6);
		code[6] = '\0';
	}
	regfree(&re);
}

/* ---- setup ------------------------------------------------------------ */
static void setup(void)
{
	char *conf, *users, *text, *sm;
	const char *src = getenv("top_srcdir");
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err = { "" };

	dir = tu_tmpdir();
	free(tu_write(dir, "server.key", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600));
	if (asprintf(&text,
		     "{ \"version\": 1, \"users\": {\n"
		     " \"alice@example.com\": { \"method\": \"totp\", \"totp_secret\": \"%s\", \"totp_state\": \"active\",\n"
		     "   \"enabled\": true, \"require_otp\": true, \"devices\": [\n"
		     "   { \"name\": \"laptop\", \"public_key\": \"%s\", \"allowed_ips\": [\"10.8.0.2/32\"] } ] },\n"
		     " \"bob@example.com\": { \"method\": \"email\", \"enabled\": true, \"require_otp\": true, \"devices\": [\n"
		     "   { \"name\": \"laptop\", \"public_key\": \"%s\", \"allowed_ips\": [\"10.8.0.3/32\"] },\n"
		     "   { \"name\": \"phone\", \"public_key\": \"%s\", \"allowed_ips\": [\"10.8.0.4/32\"] } ] },\n"
		     " \"carol@example.com\": { \"method\": \"email\", \"enabled\": true, \"require_otp\": false, \"devices\": [] },\n"
		     " \"erin@example.com\": { \"method\": \"totp\", \"totp_secret\": \"%s\", \"totp_state\": \"active\",\n"
		     "   \"enabled\": true, \"require_otp\": true, \"devices\": [\n"
		     "   { \"name\": \"desk\", \"public_key\": \"%s\", \"allowed_ips\": [\"10.8.0.5/32\"], \"otp\": \"none\" },\n"
		     "   { \"name\": \"laptop\", \"public_key\": \"%s\", \"allowed_ips\": [\"10.8.0.6/32\"] } ] }\n"
		     "} }\n", ALICE_SECRET, KEY_A, KEY_B, KEY_C, ALICE_SECRET, KEY_D, KEY_E) < 0)
		abort();
	users = tu_write(dir, "users.json", text, 0640);
	free(text);
	if (asprintf(&text, "#!/bin/sh\nmkdir -p %s/mail\nn=$(ls %s/mail | wc -l)\ncat > %s/mail/$((n + 1))\n",
		     dir, dir, dir) < 0)
		abort();
	sm = tu_write(dir, "sendmail", text, 0755);
	free(text);
	if (asprintf(&text,
		     "[General]\nDirectory = %s\nServerKeyFile = %s/server.key\nAuditLog = syslog\n"
		     "UnknownUser = email\n"
		     "[Store]\nPath = %s/state.db\n"
		     "[Email]\nResendInterval = 0\nMaxPerHour = 100\n"
		     "[RateLimit]\nMaxFailures = 50\n"
		     "[Mail]\nTransport = sendmail\nFrom = vpn@example.com\n"
		     "[Sendmail]\nPath = %s\n"
		     "[Activator]\nSocket = %s/none.sock\n"
		     "[Portal]\nListen = 127.0.0.1:8080\nAssetsDirectory = %s/wgotp-portal/assets\n"
		     "CompanyName = Example Corp\nCookieLifetime = 15m\nMaxRequestsPerIP = 1000\n"
		     "MaxLoginsPerUser = 8\n",
		     users, dir, dir, sm, dir, src ? src : "..") < 0)
		abort();
	conf = tu_write(dir, "wgotp.conf", text, 0644);
	free(text);
	if (wgotp_config_load(conf, &cfg, &err) < 0 || portal_new(cfg, tu_clock_now, &clk, &P, &err) < 0) {
		printf("Bail out! %s\n", err.msg);
		exit(1);
	}
	P->activate = fake_activate;
	P->deactivate = fake_deactivate;
	free(conf);
	free(users);
	free(sm);
}

/* Anonymous, then pending for email. */
static void login(struct browser *b, const char *email)
{
	char body[512];

	get(b, "/api/v1/status");
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", email);
	post(b, "/api/v1/login", body);
}

static bool has_hex32(const char *s)
{
	regex_t re;
	bool found;

	regcomp(&re, "[0-9a-f]{32}", REG_EXTENDED);
	found = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return found;
}

/* ---- the tests -------------------------------------------------------- */

static void test_status_and_cookie(void)
{
	struct browser b;

	b_init(&b, "198.51.100.1");
	is_int(get(&b, "/api/v1/status"), 200, "status: 200 for a new browser");
	is_str(jstr(b.j, "state"), "anonymous", "anonymous");
	is_str(jstr(b.j, "company"), "Example Corp", "company name from the config");
	ok(strstr(b.set_cookie, "HttpOnly") && strstr(b.set_cookie, "Secure") &&
	   strstr(b.set_cookie, "SameSite=Strict") && strstr(b.set_cookie, "Path=/") &&
	   !strncmp(b.set_cookie, "__Host-wgotp=", 13), "cookie: __Host-, HttpOnly, Secure, SameSite=Strict, Path=/ (%s)",
	   b.set_cookie);
	ok(strlen(b.csrf) == 64, "a CSRF token comes with it");
	{
		json_object *d;

		ok(json_object_object_get_ex(b.j, "durations", &d) && json_object_array_length(d) == 4,
		   "the four durations of [Session] Durations");
	}
	is_int(get(&b, "/api/v1/nothing"), 404, "unknown API path: 404");
	is_str(err_code(&b), "not_found", "... error not_found");
	is_int(post(&b, "/api/v1/status", "{}"), 405, "POST on status: 405");
}

static void test_assets(void)
{
	struct browser b;
	struct portal_request rq = { .method = "GET", .path = "/", .client = "198.51.100.1" };
	struct portal_reply rp;

	portal_handle(P, &rq, &rp);
	is_int(rp.status, 200, "GET /: the page");
	ok(rp.content_type && !strncmp(rp.content_type, "text/html", 9), "as text/html");
	ok(rp.body && strstr(rp.body, "<script src=\"/app.js\"") && !strstr(rp.body, "<script>") &&
	   !strstr(rp.body, "style=\""), "no inline script or style in the page");
	portal_reply_free(&rp);
	rq.path = "/../../etc/passwd";
	portal_handle(P, &rq, &rp);
	is_int(rp.status, 404, "a path outside the list: 404");
	portal_reply_free(&rp);
	b_init(&b, "198.51.100.1");
	is_int(send_raw(&b, "POST", "/", "x", "text/plain", false), 405, "POST /: 405");
}

static void test_bad_bodies(void)
{
	static const char *const bad[] = {
		"", "{", "[]", "\"x\"", "{\"email\":1}", "{}", "{\"email\":\"a@example.com\",\"email\":\"b@example.com\"}",
		"{\"email\":\"a@example.com\",\"extra\":1}", "{\"email\":\"a@example.com\"} x",
		"{\"email\":\"a@example.com\",}", "{\"email\":{\"x\":1}}", "{\"email\":\"a\\u0000b\"}",
		"{\"email\":\"\xff\"}", "{\"email\":\"a@example.com\",\"duration\":1.5}",
		"{\"email\":\"a@example.com\",\"duration\":\"8h\"}", "{'email':'a@example.com'}",
	};
	struct browser b;

	b_init(&b, "198.51.100.2");
	get(&b, "/api/v1/status");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post(&b, "/api/v1/login", bad[i]);
		ok(b.status == 400 && err_code(&b) && !strcmp(err_code(&b), "bad_request") &&
		   jstr(b.j, "message"), "bad body %zu: 400 bad_request (%s)", i,
		   jstr(b.j, "message") ? jstr(b.j, "message") : "?");
	}
	is_int(send_raw(&b, "POST", "/api/v1/login", "{\"email\":\"a@example.com\"}", "text/plain", false),
	       415, "text/plain: 415");
	is_int(send_raw(&b, "POST", "/api/v1/login", "{}", NULL, true), 413, "an oversized body: 413");
	is_str(err_code(&b), "payload_too_large", "... payload_too_large");
	is_int(mails(), 0, "no bad request sent a mail");
}

static void test_csrf(void)
{
	struct browser b, other;

	b_init(&b, "198.51.100.3");
	b_init(&other, "198.51.100.3");
	post(&b, "/api/v1/login", "{\"email\":\"alice@example.com\"}");
	is_int(b.status, 403, "login without a cookie or token: 403");
	is_str(err_code(&b), "csrf", "... error csrf");
	get(&b, "/api/v1/status");
	snprintf(b.csrf, sizeof(b.csrf), "%s", "0000000000000000000000000000000000000000000000000000000000000000");
	is_int(post(&b, "/api/v1/login", "{\"email\":\"alice@example.com\"}"), 403, "a wrong token: 403");
	get(&b, "/api/v1/status");
	get(&other, "/api/v1/status");
	snprintf(b.csrf, sizeof(b.csrf), "%s", other.csrf);
	is_int(post(&b, "/api/v1/login", "{\"email\":\"alice@example.com\"}"), 403,
	       "another browser's token: 403");
	b.csrf[0] = '\0';
	is_int(post(&b, "/api/v1/logout", "{}"), 403, "logout without a token: 403");
	ok(strstr(logbuf, "event=portal_csrf") != NULL, "refusals are audited");
}

static void test_totp(void)
{
	struct browser b;
	char code[8], body[128], old_cookie[600];

	b_init(&b, "198.51.100.4");
	get(&b, "/api/v1/status");
	setc(old_cookie, sizeof(old_cookie), b.cookie);
	post(&b, "/api/v1/login", "{\"email\":\"Alice@Example.com\"}");
	is_int(b.status, 200, "TOTP login: 200");
	is_str(jstr(b.j, "state"), "pending", "pending");
	ok(strcmp(old_cookie, b.cookie) != 0, "the cookie is a new one (no fixation)");
	{
		json_object *ch;

		ok(json_object_object_get_ex(b.j, "challenge", &ch) && !strcmp(jstr(ch, "method"), "totp") &&
		   jint(ch, "digits") == 6, "asks for a 6-digit authenticator code");
	}
	{
		/* the only long hex string in the reply is the CSRF token */
		char txt[2048];

		snprintf(txt, sizeof(txt), "%s", json_object_to_json_string(b.j));
		memset(strstr(txt, b.csrf), 'x', 64);
		ok(!has_hex32(txt), "no challenge id in the reply");
	}
	is_int(post(&b, "/api/v1/answer", "{\"code\":\"000000\",\"duration\":14400}"), 401, "a wrong code: 401");
	is_str(err_code(&b), "bad_code", "... bad_code");
	totp_at(clk.now, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"duration\":3600}", code);
	is_int(post(&b, "/api/v1/answer", body), 400, "a duration not offered: 400");
	is_str(err_code(&b), "bad_duration", "... bad_duration");
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"duration\":14400}", code);
	n_act = 0;
	is_int(post(&b, "/api/v1/answer", body), 200, "the right code: 200");
	is_str(jstr(b.j, "state"), "signed_in", "signed in");
	is_str(jstr(b.j, "user"), "alice@example.com", "as the directory's user");
	is_int(n_act, 1, "one device: activated at once");
	is_str(act_dev, "laptop", "... the laptop");
	is_int(act_dur, 14400, "... for the length chosen");
	{
		json_object *devs, *d;

		ok(json_object_object_get_ex(b.j, "devices", &devs) && json_object_array_length(devs) == 1,
		   "status lists one device");
		d = devs ? json_object_array_get_idx(devs, 0) : NULL;
		is_str(jstr(d, "state"), "active", "badge: active");
		is_int(jint(d, "left"), 14400, "... 4 h left");
	}
	clk.now += 600;
	get(&b, "/api/v1/status");
	{
		json_object *devs, *d;

		json_object_object_get_ex(b.j, "devices", &devs);
		d = devs ? json_object_array_get_idx(devs, 0) : NULL;
		is_int(jint(d, "left"), 14400 - 600, "10 minutes later: 3 h 50 min left");
	}

	/* the same code again, from a fresh login: a replay */
	{
		struct browser b2;

		b_init(&b2, "198.51.100.4");
		clk.now -= 600;
		login(&b2, "alice@example.com");
		is_int(post(&b2, "/api/v1/answer", body), 401, "the same code again: refused (replay)");
		clk.now += 600;
	}

	/* Extend with the next step's code */
	clk.now += 30;
	n_act = 0;
	is_int(post(&b, "/api/v1/extend", "{\"device\":\"nope\"}"), 404, "extend an unknown device: 404");
	is_int(post(&b, "/api/v1/extend", "{\"device\":\"laptop\"}"), 200, "extend: a new challenge");
	{
		json_object *ch;

		ok(json_object_object_get_ex(b.j, "challenge", &ch) && !strcmp(jstr(ch, "device"), "laptop"),
		   "... for the laptop");
		is_str(jstr(b.j, "state"), "signed_in", "... still signed in");
	}
	totp_at(clk.now, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"duration\":43200}", code);
	is_int(post(&b, "/api/v1/answer", body), 200, "extend: the right code");
	is_int(n_act, 1, "... activates again");
	is_str(act_key, KEY_A, "... the laptop, by its key");
	is_int(act_dur, 43200, "... for the new length");

	/* Extend without a device: all of them, not a device choice */
	clk.now += 30;
	n_act = 0;
	is_int(post(&b, "/api/v1/extend", "{}"), 200, "extend all devices: a new challenge");
	totp_at(clk.now, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"duration\":43200}", code);
	is_int(post(&b, "/api/v1/answer", body), 200, "... the right code");
	ok(n_act == 1 && !act_dev[0] && !act_key[0], "... activates all the user's devices at once");
	ok(!json_object_get_boolean(json_object_object_get(b.j, "choose_device")), "... no device choice");

	/* deactivate ends the session and the sign-in */
	n_deact = 0;
	setc(old_cookie, sizeof(old_cookie), b.cookie);
	is_int(post(&b, "/api/v1/deactivate", "{\"device\":\"laptop\"}"), 200, "deactivate: 200");
	is_int(n_deact, 1, "... the activator was asked");
	ok(strstr(b.set_cookie, "Max-Age=0") != NULL, "... the cookie is cleared");
	setc(b.cookie, sizeof(b.cookie), old_cookie);
	get(&b, "/api/v1/status");
	is_str(jstr(b.j, "state"), "anonymous", "the old cookie is revoked");
	is_int(post(&b, "/api/v1/deactivate", "{}"), 401, "deactivate with it: 401");
	is_str(err_code(&b), "not_signed_in", "... not_signed_in");
	ok(strstr(logbuf, "event=portal_session origin=portal user=\"alice@example.com\" client=\"198.51.100.4\"") != NULL,
	   "the sign-in is audited with origin=portal and the client address");
	ok(!strstr(logbuf, code), "the code is in no log line");
}

static void test_email_two_devices(void)
{
	struct browser b;
	char code[16], body[128];
	int before = mails();

	b_init(&b, "198.51.100.5");
	login(&b, "bob@example.com");
	is_int(b.status, 200, "email login: 200");
	is_int(mails(), before + 1, "one mail sent");
	{
		json_object *ch;

		ok(json_object_object_get_ex(b.j, "challenge", &ch) && !strcmp(jstr(ch, "method"), "email"),
		   "asks for the mailed code");
	}
	ok(!jstr(b.j, "devices"), "no device shown before the code");
	last_code(code);
	ok(strlen(code) == 6, "the mail has a code");
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"duration\":28800}", code);
	n_act = 0;
	is_int(post(&b, "/api/v1/answer", body), 200, "the mailed code: 200");
	is_int(n_act, 0, "two devices: nothing activated yet");
	ok(json_object_get_boolean(json_object_object_get(b.j, "choose_device")), "choose_device");
	is_int(post(&b, "/api/v1/activate", "{\"device\":\"tablet\"}"), 404, "a device not hers: 404");
	is_int(post(&b, "/api/v1/activate", "{\"device\":\"phone\"}"), 200, "pick the phone: 200");
	is_int(n_act, 1, "... activated once");
	is_str(act_dev, "phone", "... the phone");
	is_int(act_dur, 28800, "... for the length chosen with the code");
	is_int(post(&b, "/api/v1/activate", "{\"device\":\"laptop\"}"), 409,
	       "one code opens at most one session: a second pick is refused");
	is_str(err_code(&b), "no_grant", "... no_grant");
	is_int(n_act, 1, "... and nothing activated");
	ok(!strstr(logbuf, code), "the mailed code is in no log line");
}

/* Per-device 2FA: a device that needs no code is No 2FA; the one that
 * does is what a code opens, at once. */
static void test_per_device_otp(void)
{
	struct browser b;
	char code[8], body[128];
	json_object *devs;

	b_init(&b, "198.51.100.9");
	get(&b, "/api/v1/status");
	post(&b, "/api/v1/login", "{\"email\":\"erin@example.com\"}");
	totp_at(clk.now, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"duration\":14400}", code);
	n_act = 0;
	is_int(post(&b, "/api/v1/answer", body), 200, "erin, one device with a code and one without: 200");
	is_int(n_act, 1, "... the device that needs a code is opened at once (no choice)");
	is_str(act_dev, "laptop", "... the laptop");
	ok(!json_object_get_boolean(json_object_object_get(b.j, "choose_device")), "... no device to choose");
	ok(json_object_object_get_ex(b.j, "devices", &devs) && json_object_array_length(devs) == 2,
	   "both devices listed");
	is_str(jstr(json_object_array_get_idx(devs, 0), "state"), "no_2fa", "the desk: No 2FA");
	is_int(post(&b, "/api/v1/activate", "{\"device\":\"desk\"}"), 404,
	       "activating the No 2FA desk through the portal: 404 (it needs no code)");
}

static void test_unknown_user(void)
{
	struct browser known, unknown;
	json_object_iter it;
	char keys_k[512] = "", keys_u[512] = "";
	int before;

	b_init(&known, "198.51.100.6");
	b_init(&unknown, "198.51.100.6");
	login(&known, "bob@example.com");
	before = mails();
	login(&unknown, "mallory@example.com");
	is_int(unknown.status, known.status, "unknown user: the same status");
	json_object_object_foreachC(known.j, it) { strcat(keys_k, it.key); strcat(keys_k, ","); }
	json_object_object_foreachC(unknown.j, it) { strcat(keys_u, it.key); strcat(keys_u, ","); }
	is_str(keys_u, keys_k, "... the same reply fields");
	is_str(jstr(json_object_object_get(unknown.j, "challenge"), "method"), "email",
	       "... the same kind of code asked for");
	is_int(mails(), before, "... and no mail");
	is_int(post(&unknown, "/api/v1/answer", "{\"code\":\"123456\",\"duration\":14400}"), 401,
	       "any code: 401");
	is_str(err_code(&unknown), "bad_code", "... bad_code, like a wrong code");
}

static void test_expiry(void)
{
	struct browser b;
	char code[8], body[128];

	b_init(&b, "198.51.100.7");
	clk.now += 120;
	login(&b, "alice@example.com");
	totp_at(clk.now, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\",\"duration\":14400}", code);
	is_int(post(&b, "/api/v1/answer", body), 200, "signed in");
	clk.now += 15 * 60 + 1;
	get(&b, "/api/v1/status");
	is_str(jstr(b.j, "state"), "anonymous", "after CookieLifetime: anonymous");
	is_int(post(&b, "/api/v1/extend", "{}"), 401, "an expired cookie cannot extend");
	is_str(err_code(&b), "not_signed_in", "... not_signed_in");

	/* a pending login whose challenge expired */
	login(&b, "alice@example.com");
	clk.now += 3600;
	is_int(post(&b, "/api/v1/answer", "{\"code\":\"123456\"}"), 403,
	       "answer with an expired pending cookie: its token is gone with it");
	get(&b, "/api/v1/status");
	is_int(post(&b, "/api/v1/answer", "{\"code\":\"123456\"}"), 409, "... then: no_challenge");
	is_str(err_code(&b), "no_challenge", "... no_challenge");
}

static void test_logout_and_duplicates(void)
{
	struct browser b;
	char code[8], body[128], cookie[600], dup[600];

	b_init(&b, "198.51.100.8");
	clk.now += 60;
	login(&b, "alice@example.com");
	totp_at(clk.now, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	is_int(post(&b, "/api/v1/answer", body), 200, "signed in (default length)");
	is_int(act_dur, 28800, "... the default length, 8 h");
	setc(cookie, sizeof(cookie), b.cookie);
	setc(dup, sizeof(dup), cookie);
	strcat(dup, "; ");
	strcat(dup, cookie);
	setc(b.cookie, sizeof(b.cookie), dup);
	get(&b, "/api/v1/status");
	is_str(jstr(b.j, "state"), "anonymous", "the cookie twice: not believed");
	setc(b.cookie, sizeof(b.cookie), cookie);
	get(&b, "/api/v1/status");
	is_str(jstr(b.j, "state"), "signed_in", "once: signed in");
	is_int(post(&b, "/api/v1/logout", "{}"), 200, "logout");
	setc(b.cookie, sizeof(b.cookie), cookie);
	get(&b, "/api/v1/status");
	is_str(jstr(b.j, "state"), "anonymous", "the cookie is revoked by logout");
}

static void test_limits(void)
{
	struct browser b, c;
	int i;

	b_init(&b, "203.0.113.9");
	for (i = 0; i < 1000; i++)
		get(&b, "/api/v1/status");
	is_int(b.status, 200, "1000 requests a minute from one address: allowed");
	is_int(get(&b, "/api/v1/status"), 429, "the next: 429");
	is_str(err_code(&b), "rate_limited", "... rate_limited");
	ok(b.retry_after > 0 && b.retry_after <= 60, "... with Retry-After (%d)", b.retry_after);
	b_init(&c, "203.0.113.10");
	is_int(get(&c, "/api/v1/status"), 200, "another address is not affected");

	/* per user, the same for a name that does not exist */
	for (int u = 0; u < 2; u++) {
		const char *who = u ? "nobody@example.com" : "carol@example.com";
		int st = 0;

		for (i = 0; i < 8; i++) {
			b_init(&c, "203.0.113.11");
			login(&c, who);
			st = c.status;
		}
		ok(st == 200, "%s: 8 logins an hour allowed", who);
		b_init(&c, "203.0.113.12");
		login(&c, who);
		is_int(c.status, 429, "%s: the 9th, from another address too: 429", who);
	}
}

/* Expired sign-ins leave the store itself, not only the replies. */
static void test_housekeeping(void)
{
	struct wgotp_websession s = { .kind = WGOTP_WEB_SIGNED_IN, .origin = "portal",
				      .user = "alice@example.com" };
	struct wgotp_websession out;
	char token[WGOTP_WEB_TOKEN_LEN + 1];
	int64_t t = clk.now;

	s.expires = t + 60;
	ok(wgotp_websession_new(P->fe->flow, P->fe->store, &s, token) == 0, "a sign-in for 60 s");
	clk.now = t + 61;
	is_int(portal_housekeeping(P), 0, "housekeeping after its end");
	clk.now = t;
	is_int(wgotp_websession_get(P->fe->flow, P->fe->store, token, "portal", &out), -ENOENT,
	       "the record is gone from the store (not just out of date)");
	s.expires = t + 600;
	wgotp_websession_new(P->fe->flow, P->fe->store, &s, token);
	is_int(portal_housekeeping(P), 0, "housekeeping before the end of another");
	is_int(wgotp_websession_get(P->fe->flow, P->fe->store, token, "portal", &out), 0, "... keeps it");
	is_int(wgotp_websession_get(P->fe->flow, P->fe->store, token, "console", &out), -ENOENT,
	       "a portal sign-in is not a console one");
}

/* ---- 2FA: enrolment by invitation, through wgotp-dird's requests ------- */

/* wgotp-dird in process: the portal's request goes to the daemon's table
 * as the socket would carry it, from the portal's uid. */
static int dird_hook(const struct wgotp_config *cfg, json_object *req, json_object **reply,
		     char *code, size_t code_len, struct wgotp_error *err)
{
	struct dird d = { .cfg = cfg, .flow = P->fe->flow, .store = P->fe->store };
	struct ucred cr = { .pid = getpid(), .uid = 0, .gid = 0 };
	const char *txt;
	char *line;
	size_t len = 0;
	json_object *v;

	(void)err;
	json_object_object_add(req, "version", json_object_new_int(1));
	txt = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	line = dird_handle(&d, &cr, -1, txt, strlen(txt), &len);
	json_object_put(req);
	*reply = line ? json_tokener_parse(line) : NULL;
	dird_reply_free(line, len);
	code[0] = '\0';
	if (!*reply)
		return -EPROTO;
	if (json_object_object_get_ex(*reply, "error", &v)) {
		snprintf(code, code_len, "%s", json_object_get_string(v));
		return -EINVAL;
	}
	return 0;
}

static void invite_user(const char *email, char token[WGOTP_INVITE_TOKEN_LEN + 1])
{
	struct wgotp_error err = { "" };
	struct wgotp_directory *d = NULL;
	const char *path = P->fe->cfg->directory;
	int lock = wgotp_dir_lock(path, &err);

	if (lock < 0 || wgotp_dir_load(path, &d, &err) < 0 ||
	    (!wgotp_dir_find(d, email) && wgotp_dir_user_add(d, email, WGOTP_METHOD_TOTP, NULL, true, &err) < 0) ||
	    wgotp_invite_new(P->fe->flow, wgotp_dir_find(d, email), 72 * 3600, token) < 0 ||
	    wgotp_dir_save(d, path, &err) < 0)
		printf("# invite: %s\n", err.msg);
	wgotp_dir_free(d);
	if (lock >= 0)
		close(lock);
}

static void code_for(const char *b32, int64_t t, char code[8])
{
	uint8_t sec[64];
	struct wgotp_totp_params p = { 6, 30, 1, WGOTP_TOTP_SHA1 };
	int n = wgotp_base32_decode(b32, sec, sizeof(sec));

	wgotp_totp_generate(sec, (size_t)n, &p, (uint64_t)t / 30, code);
}

static void test_2fa(void)
{
	char token[WGOTP_INVITE_TOKEN_LEN + 1], body[512], secret[80] = "", code[8], wrong[8], neutral[256] = "";
	struct browser b, e;

	P->dird = dird_hook;
	clk.now += 3600;
	b_init(&b, "198.51.100.40");
	get(&b, "/api/v1/status");
	is_int(get(&b, "/api/v1/2fa/status"), 401, "2fa/status without a sign-in: 401");
	is_int(post(&b, "/api/v1/2fa/setup", "{\"token\":\"0000000000000000000000000000000000000000000000000000000000000000\"}"),
	       404, "setup with an unknown token: 404");
	is_str(err_code(&b), "invalid_invite", "... invalid_invite");
	if (jstr(b.j, "message"))
		snprintf(neutral, sizeof(neutral), "%s", jstr(b.j, "message"));
	is_int(post(&b, "/api/v1/2fa/setup", "{}"), 400, "setup with neither token nor code: 400");

	invite_user("dave@example.com", token);
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
	b_init(&e, "198.51.100.41");
	get(&e, "/api/v1/status");
	e.csrf[0] = '\0';
	is_int(post(&e, "/api/v1/2fa/setup", body), 403, "setup without the CSRF token: 403");
	is_int(post(&b, "/api/v1/2fa/setup", body), 200, "setup with the invitation's token: 200");
	is_str(jstr(b.j, "user"), "dave@example.com", "... names the invited user");
	if (jstr(b.j, "secret"))
		snprintf(secret, sizeof(secret), "%s", jstr(b.j, "secret"));
	ok(strlen(secret) == 32, "... the secret as text");
	ok(jstr(b.j, "qr") && !strncmp(jstr(b.j, "qr"), "data:image/svg+xml;base64,", 26) &&
	   strlen(jstr(b.j, "qr")) > 1000, "... and the QR code as a data: URL");
	ok(jstr(b.j, "uri") && strstr(jstr(b.j, "uri"), secret), "... and the otpauth URI");
	is_int(post(&b, "/api/v1/2fa/setup", body), 404, "the link opened again: 404");
	is_str(jstr(b.j, "message"), neutral, "... with the same neutral message as an unknown link");

	code_for(secret, clk.now, code);
	snprintf(wrong, sizeof(wrong), "%06d", (atoi(code) + 1) % 1000000);
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"code\":\"%s\"}", token, wrong);
	is_int(post(&b, "/api/v1/2fa/verify", body), 401, "verify with a wrong code: 401");
	is_str(err_code(&b), "bad_code", "... bad_code");
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"code\":\"%s\"}", token, code);
	is_int(post(&b, "/api/v1/2fa/verify", body), 200, "verify with the right code: 200");
	is_str(jstr(b.j, "totp"), "active", "... the secret is active");
	is_int(post(&b, "/api/v1/2fa/verify", body), 404, "the link after its use: 404");
	is_str(jstr(b.j, "message"), neutral, "... the same neutral message");

	/* dave signs in with the app, sees the state, disables with a code
	 * (the portal's copy of users.json is stat()ed once a second) */
	usleep(1100 * 1000);
	clk.now += 30;
	code_for(secret, clk.now, code);
	snprintf(body, sizeof(body), "{\"email\":\"dave@example.com\",\"code\":\"%s\"}", code);
	post(&b, "/api/v1/login", body);
	is_str(jstr(b.j, "state"), "signed_in", "dave signs in with the enrolled app");
	is_int(get(&b, "/api/v1/2fa/status"), 200, "2fa/status signed in: 200");
	is_str(jstr(b.j, "totp"), "active", "... totp active");
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	is_int(post(&b, "/api/v1/2fa/disable", body), 401, "disable with the code just used (a replay): 401");
	clk.now += 30;
	code_for(secret, clk.now, code);
	snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
	is_int(post(&b, "/api/v1/2fa/disable", body), 200, "disable with a current code: 200");
	is_str(jstr(b.j, "totp"), "none", "... the secret is gone");

	/* an expired link: the same neutral reply */
	invite_user("dave@example.com", token);
	clk.now += 73 * 3600;
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", token);
	b_init(&b, "198.51.100.42");
	get(&b, "/api/v1/status");
	is_int(post(&b, "/api/v1/2fa/setup", body), 404, "an expired link: 404");
	is_str(jstr(b.j, "message"), neutral, "... the same neutral message");
	ok(!strstr(logbuf, token) && !strstr(logbuf, secret), "no token and no secret in any log line");
}

int main(void)
{
	wgotp_log_set_sink(capture, NULL, WGOTP_LOG_DEBUG);
	setup();
	test_status_and_cookie();
	test_assets();
	test_bad_bodies();
	test_csrf();
	test_totp();
	test_email_two_devices();
	test_per_device_otp();
	test_unknown_user();
	test_expiry();
	test_logout_and_duplicates();
	test_limits();
	test_housekeeping();
	test_2fa();
	portal_free(P);
	tu_rmdir(dir);
	for (size_t i = 0; i < n_replies; i++)
		json_object_put(replies[i]);
	return done_testing();
}
