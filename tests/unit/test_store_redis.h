/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Redis-only part of test_store.c (included by it when built with
 * hiredis): where the server is (WGOTP_TEST_REDIS_HOST, _PORT, _USER,
 * _PASSWORD_FILE, set by tests/integration/store_redis.sh), a key prefix
 * per "database" path of the SQLite tests, raw reads of what the backend
 * wrote, and the checks SQLite has no equivalent of: native TTLs, exact
 * big steps, NOSCRIPT, reconnects, timeouts, an unreachable server,
 * refused credentials.
 */
#ifndef TEST_STORE_REDIS_H
#define TEST_STORE_REDIS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

static const char *r_host, *r_user, *r_pwfile;
static int r_port;
static char r_tag[64];

static void redis_setup(void)
{
	r_host = getenv("WGOTP_TEST_REDIS_HOST");
	r_user = getenv("WGOTP_TEST_REDIS_USER");
	r_pwfile = getenv("WGOTP_TEST_REDIS_PASSWORD_FILE");
	r_port = getenv("WGOTP_TEST_REDIS_PORT") ? atoi(getenv("WGOTP_TEST_REDIS_PORT")) : 6379;
	if (!r_host || !*r_host)
		skip_all("WGOTP_TEST_STORE=redis needs WGOTP_TEST_REDIS_HOST (tests/integration/store_redis.sh)");
	/* every run, and every "database" of the SQLite tests, its own keys */
	snprintf(r_tag, sizeof(r_tag), "wgotptest:%d:", (int)getpid());
}

static char *redis_prefix(const char *path)
{
	const char *base = strrchr(path, '/');
	char *p;

	if (asprintf(&p, "%s%s:", r_tag, base ? base + 1 : path) < 0)
		abort();
	return p;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v && *v ? strdup(v) : NULL;
	if (v && *v && !*dst)
		abort();
}

static void redis_cfg(struct wgotp_config *cfg, const char *path)
{
	cfg->store_backend = WGOTP_STORE_REDIS;
	set_str(&cfg->redis_host, r_host);
	cfg->redis_port = r_port;
	set_str(&cfg->redis_user, r_user);
	set_str(&cfg->redis_password_file, r_pwfile);
	free(cfg->redis_prefix);
	cfg->redis_prefix = redis_prefix(path);
	cfg->redis_timeout_ms = 10000;	/* 4 processes x 4 threads on a slow CI box */
}

/* A connection of our own, beside the store's. */
static redisContext *raw_redis(void)
{
	struct timeval tv = { 5, 0 };
	redisContext *c;
	redisReply *r;
	char pw[256] = "";
	FILE *f;

	c = r_host[0] == '/' ? redisConnectUnixWithTimeout(r_host, tv) :
			       redisConnectWithTimeout(r_host, r_port, tv);
	if (!c || c->err) {
		diag("raw redis: %s", c ? c->errstr : "out of memory");
		abort();
	}
	if (r_pwfile && *r_pwfile) {
		f = fopen(r_pwfile, "r");
		if (!f || !fgets(pw, sizeof(pw), f))
			abort();
		fclose(f);
		pw[strcspn(pw, "\n")] = '\0';
		r = r_user && *r_user ? redisCommand(c, "AUTH %s %s", r_user, pw) :
					redisCommand(c, "AUTH %s", pw);
		if (!r || r->type == REDIS_REPLY_ERROR)
			abort();
		freeReplyObject(r);
	}
	return c;
}

/* An integer reply to fmt, whose only %s is the prefix of path's keys;
 * words are split on spaces. -1 on error. */
static long long redis_int(const char *path, const char *fmt)
{
	char *prefix = redis_prefix(path), cmd[512], *argv[8], *save = NULL, *w;
	redisContext *c = raw_redis();
	redisReply *r;
	long long v = -1;
	int argc = 0;
	const char *pct = strstr(fmt, "%s");

	if (!pct)
		abort();
	snprintf(cmd, sizeof(cmd), "%.*s%s%s", (int)(pct - fmt), fmt, prefix, pct + 2);
	for (w = strtok_r(cmd, " ", &save); w && argc < 8; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	r = redisCommandArgv(c, argc, (const char **)argv, NULL);
	if (r && r->type == REDIS_REPLY_INTEGER)
		v = r->integer;
	else
		diag("redis_int %s: %s", cmd, r && r->type == REDIS_REPLY_ERROR ? r->str : "no integer");
	if (r)
		freeReplyObject(r);
	redisFree(c);
	free(prefix);
	return v;
}

static redisReply *raw_cmd(redisContext *c, const char *fmt, const char *arg)
{
	redisReply *r = redisCommand(c, fmt, arg);

	if (!r)
		diag("raw_cmd: %s", c->errstr);
	return r;
}

/* A port on loopback where nothing listens. */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		abort();
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void test_redis_native(const char *path)
{
	struct wgotp_store *st = open_store(path, 5000);
	char *prefix = redis_prefix(path), key[256];
	struct wgotp_challenge c;
	redisContext *rc = raw_redis();
	redisReply *r;
	int64_t n;
	long long ttl;

	ok(st != NULL, "redis: open");
	if (!st)
		goto cleanup;
	is_str(st->ops->name, "redis", "backend name");

	/* Native TTLs, counted from the put: the lifetime and a minute. */
	c = mk_challenge("7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a", "ttl@example.com", WGOTP_METHOD_EMAIL,
			 time(NULL), time(NULL) + 300);
	is_int(st->ops->challenge_put(st->state, &c), 0, "put a challenge living 300 s");
	ttl = redis_int(path, "PTTL %sc:7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a");
	ok(ttl > 300 * 1000 && ttl <= 360 * 1000, "its key has a native TTL of 300..360 s (%lld ms)", ttl);
	ttl = redis_int(path, "PTTL %scu:1:ttl@example.com");
	ok(ttl > 300 * 1000 && ttl <= 360 * 1000, "so has the user's index (%lld ms)", ttl);
	is_int(st->ops->counter_hit(st->state, "ttl", time(NULL), 60, &n), 0, "a counter, window 60 s");
	ttl = redis_int(path, "TTL %sn:ttl");
	ok(ttl > 0 && ttl <= 61, "its key lives as long as its window (%lld s)", ttl);
	is_int(redis_int(path, "TTL %st:frank@example.com"), -1, "a TOTP step has no TTL (like SQLite)");

	/* INT64_MAX went through Lua, whose numbers are doubles, exactly. */
	snprintf(key, sizeof(key), "%st:grace@example.com", prefix);
	r = raw_cmd(rc, "GET %s", key);
	ok(r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, "9223372036854775807"),
	   "the step INT64_MAX is stored exactly: %s", r && r->str ? r->str : "(none)");
	if (r)
		freeReplyObject(r);

	/* The scripts are gone (restart, SCRIPT FLUSH): EVAL once, then EVALSHA. */
	r = redisCommand(rc, "SCRIPT FLUSH");
	if (r)
		freeReplyObject(r);
	is_int(st->ops->totp_use_step(st->state, "flush@example.com", 7), 0,
	       "after SCRIPT FLUSH a script runs (NOSCRIPT: EVAL)");
	is_int(st->ops->totp_use_step(st->state, "flush@example.com", 7), -EALREADY, "and again (EVALSHA)");

	/* The server closes our connection (a restart, client timeout): the
	 * next call reconnects, resends, and nothing is logged as an error. */
	wgotp_log_set_sink(log_capture, NULL, WGOTP_LOG_DEBUG);
	memset(log_n, 0, sizeof(log_n));
	r = redisCommand(rc, "CLIENT KILL TYPE normal SKIPME yes");
	ok(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 1, "killed the store's connection(s)");
	if (r)
		freeReplyObject(r);
	is_int(st->ops->totp_use_step(st->state, "flush@example.com", 8), 0,
	       "the next call reconnects and succeeds");
	is_int(log_n[WGOTP_LOG_ERR], 0, "no error logged for a closed idle connection");
	wgotp_log_set_sink(NULL, NULL, WGOTP_LOG_INFO);
	wgotp_store_close(st);
cleanup:
	redisFree(rc);
	free(prefix);
}

/* Redis does not answer in time, then answers again. */
static void test_redis_timeout(const char *path)
{
	struct wgotp_config *cfg = make_cfg(path, 5000);
	struct wgotp_error err = { "" };
	struct wgotp_store *st = NULL;
	redisContext *rc = raw_redis();
	redisReply *r;
	int i, ret = -1, errs;

	cfg->redis_timeout_ms = 200;
	is_int(wgotp_store_open(cfg, &st, &err), 0, "open with RedisTimeout 200 ms");
	wgotp_config_free(cfg);
	if (!st)
		goto cleanup;
	is_int(st->ops->totp_use_step(st->state, "pause@example.com", 1), 0, "works");

	wgotp_log_set_sink(log_capture, NULL, WGOTP_LOG_DEBUG);
	memset(log_n, 0, sizeof(log_n));
	/* (A pause holds every command, CLIENT UNPAUSE too: keep it short.) */
	r = redisCommand(rc, "CLIENT PAUSE 1500 ALL");
	ok(r && r->type == REDIS_REPLY_STATUS, "CLIENT PAUSE: Redis stops answering");
	if (r)
		freeReplyObject(r);
	for (i = 0, errs = 0; i < 5; i++)
		errs += st->ops->totp_use_step(st->state, "pause@example.com", 2 + i) == -EIO;
	is_int(errs, 5, "every call while it does not answer: -EIO");
	is_int(log_n[WGOTP_LOG_ERR], 1, "one error line, not one per call: %s", log_last);
	ok(strstr(log_last, "fail closed") || log_n[WGOTP_LOG_DEBUG] > 0, "the line says logins fail closed");

	r = redisCommand(rc, "CLIENT UNPAUSE");	/* answered when the pause ends */
	ok(r && r->type == REDIS_REPLY_STATUS, "the pause is over");
	if (r)
		freeReplyObject(r);
	/* Recovery waits for the retry interval (1 s): poll, no timing asserted. */
	for (i = 0; i < 100; i++) {
		ret = st->ops->totp_use_step(st->state, "pause@example.com", 100);
		if (ret != -EIO)
			break;
		usleep(50 * 1000);
	}
	is_int(ret, 0, "service resumes by itself once Redis answers");
	ok(log_n[WGOTP_LOG_INFO] >= 1 && strstr(log_last, "again"), "and says so: %s", log_last);
	is_int(log_n[WGOTP_LOG_ERR], 1, "still one error line in all");
	wgotp_log_set_sink(NULL, NULL, WGOTP_LOG_INFO);
cleanup:
	r = redisCommand(rc, "CLIENT UNPAUSE");
	if (r)
		freeReplyObject(r);
	redisFree(rc);
	wgotp_store_close(st);
}

static void test_redis_unreachable(const char *path)
{
	struct wgotp_config *cfg = make_cfg(path, 5000);
	struct wgotp_error err = { "" };
	struct wgotp_store *st = NULL;
	struct wgotp_challenge out;
	int64_t n;
	char *v = NULL;
	int i, eio = 0;

	free(cfg->redis_host);
	cfg->redis_host = strdup("127.0.0.1");
	cfg->redis_port = closed_port();
	wgotp_log_set_sink(log_capture, NULL, WGOTP_LOG_DEBUG);
	memset(log_n, 0, sizeof(log_n));
	is_int(wgotp_store_open(cfg, &st, &err), 0,
	       "Redis down at start: open still succeeds (the server starts, and rejects)");
	is_int(log_n[WGOTP_LOG_ERR], 1, "one error line: %s", log_last);
	ok(strstr(log_last, "127.0.0.1:") != NULL, "naming the server");
	for (i = 0; st && i < 20; i++) {
		eio += st->ops->totp_use_step(st->state, "down@example.com", 1 + i) == -EIO;
		eio += st->ops->challenge_try(st->state, "0123456789abcdef0123456789abcdef", 1, 5, &out) == -EIO;
		eio += st->ops->counter_hit(st->state, "down", 1, 60, &n) == -EIO;
		eio += st->ops->kv_get(st->state, "down", 1, &v) == -EIO;
	}
	is_int(eio, 80, "every operation fails closed: -EIO");
	is_int(log_n[WGOTP_LOG_ERR], 1, "80 failures, still one error line");
	wgotp_log_set_sink(NULL, NULL, WGOTP_LOG_INFO);
	wgotp_store_close(st);
	wgotp_config_free(cfg);
}

static void test_redis_auth(const char *path)
{
	struct wgotp_config *cfg;
	struct wgotp_error err = { "" };
	struct wgotp_store *st = NULL;
	char *bad;

	if (!r_pwfile || !*r_pwfile) {
		diag("no password configured: AUTH checks skipped");
		return;
	}
	bad = tu_write(tmpdir, "bad-redis-password", "not-the-password-x9q\n", 0600);
	cfg = make_cfg(path, 5000);
	free(cfg->redis_password_file);
	cfg->redis_password_file = strdup(bad);
	is_int(wgotp_store_open(cfg, &st, &err), -EACCES, "a wrong password: open fails, -EACCES");
	ok(strstr(err.msg, "AUTH") != NULL, "the message says AUTH was refused: %s", err.msg);
	ok(strstr(err.msg, "x9q") == NULL, "without the password");
	wgotp_store_close(st);
	st = NULL;
	chmod(bad, 0644);
	is_int(wgotp_store_open(cfg, &st, &err), -EPERM, "a world-readable password file is refused at open");
	ok(strstr(err.msg, "RedisPasswordFile") != NULL, "naming the key: %s", err.msg);
	wgotp_store_close(st);
	wgotp_config_free(cfg);
	free(bad);
}

/* CONFIG SET maxmemory-policy on the test server; false on error. */
static bool set_policy(redisContext *rc, const char *policy)
{
	redisReply *r = redisCommand(rc, "CONFIG SET maxmemory-policy %s", policy);
	bool done = r && r->type == REDIS_REPLY_STATUS;

	if (!done)
		diag("CONFIG SET maxmemory-policy %s: %s", policy, r && r->str ? r->str : rc->errstr);
	if (r)
		freeReplyObject(r);
	return done;
}

/* An ACL user allowed everything but minus1 and minus2 (NULL: none). */
static char *acl_user(redisContext *rc, const char *name, const char *minus1, const char *minus2)
{
	char pw[64], rule[80], *file;
	const char *argv[] = { "ACL", "SETUSER", name, "reset", "on", rule, "~*", "&*", "+@all",
			       minus1, minus2 };
	redisReply *r;

	snprintf(rule, sizeof(rule), ">pw-%s", name);
	r = redisCommandArgv(rc, minus2 ? 11 : 10, argv, NULL);
	ok(r && r->type == REDIS_REPLY_STATUS, "(an ACL user %s: +@all %s %s)", name, minus1,
	   minus2 ? minus2 : "");
	if (r)
		freeReplyObject(r);
	snprintf(pw, sizeof(pw), "pw-%s\n", name);
	file = tu_write(tmpdir, name, pw, 0600);
	return file;
}

static void acl_deluser(redisContext *rc, const char *name)
{
	redisReply *r = redisCommand(rc, "ACL DELUSER %s", name);

	if (r)
		freeReplyObject(r);
}

/*
 * TOTP steps have no TTL: a server that may evict keys (maxmemory-policy
 * other than noeviction) could forget a used step and let its code work
 * again. The store refuses such a server at open and at every later
 * connect; where the ACL hides the policy it says so once and goes on.
 */
static void test_redis_eviction(const char *path)
{
	struct wgotp_config *cfg = make_cfg(path, 5000);
	struct wgotp_error err = { "" };
	struct wgotp_store *st = NULL;
	redisContext *rc = raw_redis();
	redisReply *r;
	char orig[64] = "noeviction", *pw;
	uint64_t step;
	int i;

	r = redisCommand(rc, "CONFIG GET maxmemory-policy");
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
		snprintf(orig, sizeof(orig), "%s", r->element[1]->str);
	if (r)
		freeReplyObject(r);
	is_str(orig, "noeviction", "the test server starts with noeviction");

	ok(set_policy(rc, "allkeys-lru"), "(maxmemory-policy allkeys-lru)");
	is_int(wgotp_store_open(cfg, &st, &err), -EPERM, "allkeys-lru: the store does not open");
	ok(strstr(err.msg, "maxmemory-policy is allkeys-lru") && strstr(err.msg, "noeviction"),
	   "... saying why and what to set: %s", err.msg);
	wgotp_store_close(st);
	st = NULL;
	ok(set_policy(rc, "volatile-ttl"), "(maxmemory-policy volatile-ttl)");
	is_int(wgotp_store_open(cfg, &st, &err), -EPERM, "volatile-ttl (counters evicted): refused too");
	wgotp_store_close(st);
	st = NULL;

	ok(set_policy(rc, "noeviction"), "(maxmemory-policy noeviction)");
	wgotp_log_set_sink(log_capture, NULL, WGOTP_LOG_DEBUG);
	memset(log_n, 0, sizeof(log_n));
	is_int(wgotp_store_open(cfg, &st, &err), 0, "noeviction: the store opens");
	is_int(log_n[WGOTP_LOG_WARN] + log_n[WGOTP_LOG_ERR], 0, "... without a warning");
	is_int(st ? st->ops->totp_use_step(st->state, "evict@example.com", 10) : -1, 0,
	       "a step is used");

	/* Changed while the store runs: its next connection refuses. */
	ok(set_policy(rc, "allkeys-random"), "(maxmemory-policy allkeys-random while open)");
	r = redisCommand(rc, "CLIENT KILL TYPE normal SKIPME yes");
	ok(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 1, "(drop the store's connection)");
	if (r)
		freeReplyObject(r);
	is_int(st ? st->ops->totp_last_step(st->state, "evict@example.com", &step) : 0, -EIO,
	       "the next connect refuses it: the store call fails closed");
	ok(log_n[WGOTP_LOG_ERR] == 1 && strstr(log_last, "maxmemory-policy is allkeys-random"),
	   "... logged: %s", log_last);
	ok(set_policy(rc, "noeviction"), "(noeviction again)");
	for (i = 0; i < 30; i++) {	/* a connect is retried once a second */
		if (st && st->ops->totp_last_step(st->state, "evict@example.com", &step) == 0)
			break;
		usleep(100 * 1000);
	}
	ok(i < 30 && step == 10, "back to noeviction: the store works again, step %llu kept",
	   (unsigned long long)step);
	wgotp_store_close(st);
	st = NULL;

	/* An ACL without CONFIG: the policy comes from INFO. */
	pw = acl_user(rc, "wgotp-noconfig", "-config", NULL);
	free(cfg->redis_user);
	cfg->redis_user = strdup("wgotp-noconfig");
	free(cfg->redis_password_file);
	cfg->redis_password_file = pw;
	ok(set_policy(rc, "allkeys-lfu"), "(maxmemory-policy allkeys-lfu)");
	is_int(wgotp_store_open(cfg, &st, &err), -EPERM, "no CONFIG for the user: INFO tells, refused");
	ok(strstr(err.msg, "allkeys-lfu") != NULL, "... %s", err.msg);
	wgotp_store_close(st);
	st = NULL;

	/* An ACL without INFO: the policy comes from CONFIG GET. */
	pw = acl_user(rc, "wgotp-noinfo", "-info", NULL);
	free(cfg->redis_user);
	cfg->redis_user = strdup("wgotp-noinfo");
	free(cfg->redis_password_file);
	cfg->redis_password_file = pw;
	is_int(wgotp_store_open(cfg, &st, &err), -EPERM, "no INFO for the user: CONFIG GET tells, refused");
	ok(strstr(err.msg, "allkeys-lfu") != NULL, "... %s", err.msg);
	wgotp_store_close(st);
	st = NULL;

	/* Neither CONFIG nor INFO: cannot be checked, said once, not refused. */
	pw = acl_user(rc, "wgotp-nocheck", "-config", "-info");
	free(cfg->redis_user);
	cfg->redis_user = strdup("wgotp-nocheck");
	free(cfg->redis_password_file);
	cfg->redis_password_file = pw;
	memset(log_n, 0, sizeof(log_n));
	log_last[0] = '\0';
	is_int(wgotp_store_open(cfg, &st, &err), 0, "no CONFIG, no INFO: the store opens");
	ok(log_n[WGOTP_LOG_WARN] == 1 && strstr(log_last, "could not check maxmemory-policy"),
	   "... and warns that the policy could not be checked: %s", log_last);
	r = redisCommand(rc, "CLIENT KILL USER wgotp-nocheck");
	if (r)
		freeReplyObject(r);
	is_int(st ? st->ops->totp_last_step(st->state, "evict@example.com", &step) : -1, 0,
	       "(a call on a new connection)");
	is_int(log_n[WGOTP_LOG_WARN], 1, "... warned once, not at every connect");
	wgotp_log_set_sink(NULL, NULL, WGOTP_LOG_INFO);
	wgotp_store_close(st);

	set_policy(rc, orig);
	acl_deluser(rc, "wgotp-noconfig");
	acl_deluser(rc, "wgotp-noinfo");
	acl_deluser(rc, "wgotp-nocheck");
	redisFree(rc);
	wgotp_config_free(cfg);
}

static void test_redis(const char *path)
{
	test_redis_native(path);
	test_redis_timeout(path);
	test_redis_unreachable(path);
	test_redis_auth(path);
	test_redis_eviction(path);
}

#endif
