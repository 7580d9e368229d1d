/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state store (SQLite backend): every operation and return code, exact
 * expiry boundaries, the schema version, file modes, and atomicity under
 * many processes and threads at once.
 *
 * WGOTP_TEST_STORE=redis runs the same operations and concurrency tests
 * against the Redis backend (tests/integration/store_redis.sh starts a
 * redis-server and sets WGOTP_TEST_REDIS_*); the SQLite-only checks are
 * then replaced by Redis ones (test_store_redis.h).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "log.h"
#include "store.h"
#include "tap.h"
#include "testutil.h"

static char *tmpdir;
static const char *ops_db;	/* the database test_challenges runs on */
static bool redis_mode;		/* WGOTP_TEST_STORE=redis */
#ifdef HAVE_REDIS
static void redis_cfg(struct wgotp_config *cfg, const char *path);
#endif

/* ---- helpers ----------------------------------------------------------- */

static char *db_path(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
		abort();
	return p;
}

static struct wgotp_config *make_cfg(const char *path, int busy_ms)
{
	struct wgotp_config *cfg;

	if (wgotp_config_defaults(&cfg) < 0)
		abort();
	free(cfg->store_path);
	cfg->store_path = strdup(path);
	if (!cfg->store_path)
		abort();
	cfg->store_backend = WGOTP_STORE_SQLITE;
	cfg->store_busy_timeout_ms = busy_ms;
#ifdef HAVE_REDIS
	if (redis_mode)
		redis_cfg(cfg, path);
#endif
	return cfg;
}

static struct wgotp_store *open_store(const char *path, int busy_ms)
{
	struct wgotp_config *cfg = make_cfg(path, busy_ms);
	struct wgotp_error err = { "" };
	struct wgotp_store *st = NULL;
	int ret;

	ret = wgotp_store_open(cfg, &st, &err);
	if (ret < 0) {
		diag("open %s: %d %s", path, ret, err.msg);
		st = NULL;
	}
	wgotp_config_free(cfg);
	return st;
}

/* One integer from a query on a raw connection (-1 on error). */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		goto cleanup;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		diag("raw_int: %s", sqlite3_errmsg(db));
		goto cleanup;
	}
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
cleanup:
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		diag("raw_exec: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

static struct wgotp_challenge mk_challenge(const char *id, const char *user, enum wgotp_method m,
					   int64_t created, int64_t expires)
{
	struct wgotp_challenge c;

	memset(&c, 0, sizeof(c));
	snprintf(c.id, sizeof(c.id), "%s", id);
	snprintf(c.user, sizeof(c.user), "%s", user);
	c.method = m;
	for (size_t i = 0; i < sizeof(c.code_mac); i++)
		c.code_mac[i] = (uint8_t)(0xa0 + i);
	c.code_mac[3] = 0;	/* a NUL inside: stored as a BLOB, not text */
	c.created = created;
	c.expires = expires;
	c.duration = 4 * 3600;
	snprintf(c.device, sizeof(c.device), "%s", "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=");
	snprintf(c.origin, sizeof(c.origin), "%s", "radius");
	return c;
}

static struct wgotp_session mk_session(const char *user, const char *device, int64_t expires,
				       const char *ips)
{
	struct wgotp_session s;

	memset(&s, 0, sizeof(s));
	snprintf(s.user, sizeof(s.user), "%s", user);
	snprintf(s.device, sizeof(s.device), "%s", device);
	snprintf(s.public_key, sizeof(s.public_key), "%s", "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=");
	snprintf(s.allowed_ips, sizeof(s.allowed_ips), "%s", ips);
	s.created = expires - 3600;
	s.expires = expires;
	snprintf(s.origin, sizeof(s.origin), "%s", "pam");
	return s;
}

static bool session_eq(const struct wgotp_session *a, const struct wgotp_session *b)
{
	return !strcmp(a->user, b->user) && !strcmp(a->device, b->device) &&
	       !strcmp(a->public_key, b->public_key) && !strcmp(a->allowed_ips, b->allowed_ips) &&
	       a->created == b->created && a->expires == b->expires && !strcmp(a->origin, b->origin);
}

/* Log capture. */
static int log_n[WGOTP_LOG_DEBUG + 1];
static char log_last[1024];

static void log_capture(void *arg, enum wgotp_log_level level, const char *msg)
{
	(void)arg;
	log_n[level]++;
	snprintf(log_last, sizeof(log_last), "%s", msg);
}

#ifdef HAVE_REDIS
#include "test_store_redis.h"
#else
static long long redis_int(const char *path, const char *cmd)
{
	(void)path;
	(void)cmd;
	return -1;
}
#endif

/* A count from the database, or from Redis (rcmd: a command answering an
 * integer, %s the key prefix of this database); with no Redis equivalent
 * (rcmd NULL) the check is not run in Redis mode. */
#define raw_n(path, sql, rcmd, ...) do { \
	if (!redis_mode) \
		is_int(raw_int((path), (sql)), __VA_ARGS__); \
	else if ((rcmd) != NULL) \
		is_int(redis_int((path), (rcmd)), __VA_ARGS__); \
} while (0)

/* ---- open, files, schema ----------------------------------------------- */

static void test_open_modes(void)
{
	char *dir = db_path("state"), *path = db_path("state/state.db"), *wal;
	struct wgotp_store *st;
	struct stat sb;
	mode_t old;

	/* Tight modes must not depend on the caller's umask. */
	old = umask(0);
	st = open_store(path, 5000);
	umask(old);
	ok(st != NULL, "open creates a new database in a new directory");
	if (!st)
		goto cleanup;
	is_str(st->ops->name, "sqlite", "backend name");

	memset(&sb, 0, sizeof(sb));
	is_int(stat(dir, &sb), 0, "directory created");
	ok(S_ISDIR(sb.st_mode) && (sb.st_mode & 0007) == 0,
	   "directory has no access for others (mode %04o)", (unsigned)(sb.st_mode & 07777));
	memset(&sb, 0, sizeof(sb));
	is_int(stat(path, &sb), 0, "database created");
	ok(S_ISREG(sb.st_mode) && (sb.st_mode & 07777 & ~0660) == 0,
	   "database is a regular file with mode 0660 or tighter (mode %04o)",
	   (unsigned)(sb.st_mode & 07777));

	is_int(st->ops->totp_use_step(st->state, "modes@example.com", 1), 0, "a write");
	{
		/* Under a common umask (022) the group must still be able to
		 * write: FreeRADIUS (freerad) and wg-activator (root) share it. */
		char *p022 = db_path("state/umask022.db");
		struct wgotp_store *s2;

		old = umask(022);
		s2 = open_store(p022, 5000);
		umask(old);
		memset(&sb, 0, sizeof(sb));
		ok(s2 && stat(p022, &sb) == 0, "open under umask 022");
		is_int(sb.st_mode & 07777, 0660, "the database is exactly 0660 under umask 022");
		if (s2)
			wgotp_store_close(s2);
		free(p022);
	}
	if (asprintf(&wal, "%s-wal", path) < 0)
		abort();
	memset(&sb, 0, sizeof(sb));
	is_int(stat(wal, &sb), 0, "WAL file exists");
	ok((sb.st_mode & 07777 & ~0660) == 0 && (sb.st_mode & 0600) == 0600,
	   "WAL file mode is 0660 or tighter (mode %04o)", (unsigned)(sb.st_mode & 07777));
	free(wal);

	is_int(raw_int(path, "PRAGMA user_version"), 1, "schema version is 1");
	ok(raw_int(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1,
	   "journal mode is WAL");
	wgotp_store_close(st);

	st = open_store(path, 5000);
	ok(st != NULL, "reopening an existing database");
	if (st)
		is_int(st->ops->totp_use_step(st->state, "modes@example.com", 1), -EALREADY,
		       "data survives a reopen");
	wgotp_store_close(st);
	wgotp_store_close(NULL);
cleanup:
	free(dir);
	free(path);
}

static void test_open_errors(void)
{
	char *path = db_path("newer.db"), *junk;
	struct wgotp_config *cfg;
	struct wgotp_error err = { "" };
	struct wgotp_store *st = NULL;
	int ret;

	/* A database from a newer version of wgotp is refused. */
	st = open_store(path, 5000);
	ok(st != NULL, "create a database");
	wgotp_store_close(st);
	st = NULL;
	is_int(raw_exec(path, "PRAGMA user_version = 99"), SQLITE_OK, "set a newer schema version");
	cfg = make_cfg(path, 5000);
	ret = wgotp_store_open(cfg, &st, &err);
	is_int(ret, -ENOTSUP, "a newer schema version is refused");
	ok(st == NULL, "no handle on failure");
	ok(strstr(err.msg, "99") != NULL, "the message names the version: %s", err.msg);
	wgotp_config_free(cfg);

	/* A file that is not a database. */
	junk = tu_write(tmpdir, "junk.db", "this is not an SQLite database, not at all......."
			"..................................................", 0600);
	cfg = make_cfg(junk, 5000);
	err.msg[0] = '\0';
	ret = wgotp_store_open(cfg, &st, &err);
	is_int(ret, -EIO, "a file that is not a database: -EIO");
	ok(err.msg[0] != '\0', "with a message: %s", err.msg);
	wgotp_config_free(cfg);

	/* Modes others could use: the store readable or writable by them,
	 * its directory writable by them (also with the sticky bit), a
	 * Redis password file readable by them. Refused before any open. */
	{
		char *odir = db_path("open-dir"), *opath = db_path("open-dir/state.db"), *pw;

		st = open_store(opath, 5000);
		ok(st != NULL, "create a database to open up");
		wgotp_store_close(st);
		st = NULL;
		chmod(opath, 0664);
		cfg = make_cfg(opath, 5000);
		err.msg[0] = '\0';
		is_int(wgotp_store_open(cfg, &st, &err), -EPERM, "a store readable by others is refused");
		ok(st == NULL && strstr(err.msg, opath) && strstr(err.msg, "0664"),
		   "naming the file and its mode: %s", err.msg);
		chmod(opath, 0662);
		is_int(wgotp_store_open(cfg, &st, &err), -EPERM, "a store writable by others is refused");
		chmod(opath, 0660);
		chmod(odir, 0777);
		err.msg[0] = '\0';
		is_int(wgotp_store_open(cfg, &st, &err), -EPERM,
		       "a store in a directory writable by others is refused");
		ok(strstr(err.msg, odir) && strstr(err.msg, "0777"), "naming the directory: %s", err.msg);
		chmod(odir, 01777);
		is_int(wgotp_store_open(cfg, &st, &err), -EPERM, "... also with the sticky bit");
		chmod(odir, 0770);
		is_int(wgotp_store_open(cfg, &st, &err), 0, "0660 in a 0770 directory opens");
		wgotp_store_close(st);
		st = NULL;
		wgotp_config_free(cfg);

		pw = tu_write(tmpdir, "redis.pw", "secret\n", 0644);
		cfg = make_cfg(opath, 5000);
		cfg->store_backend = WGOTP_STORE_REDIS;
		free(cfg->redis_password_file);
		cfg->redis_password_file = strdup(pw);
		err.msg[0] = '\0';
		is_int(wgotp_store_open(cfg, &st, &err), -EPERM,
		       "a RedisPasswordFile readable by others is refused at open");
		ok(strstr(err.msg, "RedisPasswordFile") && strstr(err.msg, "0644"), "saying why: %s", err.msg);
		wgotp_config_free(cfg);
		free(pw);
		free(opath);
		free(odir);
	}

	/* No path. */
	cfg = make_cfg(path, 5000);
	free(cfg->store_path);
	cfg->store_path = NULL;
	is_int(wgotp_store_open(cfg, &st, &err), -EINVAL, "no Path: -EINVAL");

	/* The Redis backend needs hiredis at build time. */
	cfg->store_backend = WGOTP_STORE_REDIS;
	err.msg[0] = '\0';
#ifdef HAVE_REDIS
	ok(wgotp_store_sqlite_ops.name && wgotp_store_redis_ops.name, "redis backend is built in");
#else
	is_int(wgotp_store_open(cfg, &st, &err), -ENOTSUP, "redis without hiredis: -ENOTSUP");
	ok(strstr(err.msg, "edis") != NULL, "with a clear message: %s", err.msg);
#endif
	wgotp_config_free(cfg);
	free(junk);
	free(path);
}

/* ---- challenges -------------------------------------------------------- */

static void test_challenges(struct wgotp_store *st)
{
	const struct wgotp_store_ops *o = st->ops;
	struct wgotp_challenge c, out;
	int i;

	c = mk_challenge("0123456789abcdef0123456789abcdef", "alice@example.com",
			 WGOTP_METHOD_EMAIL, 1000, 1300);
	c.decoy = true;
	is_int(o->challenge_put(st->state, &c), 0, "challenge_put");
	is_int(o->challenge_put(st->state, &c), -EEXIST, "challenge_put duplicate id: -EEXIST");
	is_int(o->challenge_try(st->state, "ffffffffffffffffffffffffffffffff", 1000, 5, &out), -ENOENT,
	       "challenge_try unknown id: -ENOENT");

	memset(&out, 0x55, sizeof(out));
	is_int(o->challenge_try(st->state, c.id, 1000, 5, &out), 0, "challenge_try first answer");
	is_int(out.tries, 1, "tries counted (1)");
	is_str(out.id, c.id, "id copied out");
	is_str(out.user, c.user, "user copied out");
	is_int(out.method, WGOTP_METHOD_EMAIL, "method copied out");
	ok(out.decoy, "decoy copied out");
	ok(memcmp(out.code_mac, c.code_mac, WGOTP_MAC_LEN) == 0, "code_mac copied out intact");
	is_int(out.created, 1000, "created");
	is_int(out.expires, 1300, "expires");
	is_int(out.duration, 4 * 3600, "duration");
	is_str(out.device, c.device, "device");
	is_str(out.origin, "radius", "origin");
	raw_n(ops_db, "SELECT count(*) FROM challenges WHERE typeof(code_mac) = 'blob'"
	      " AND length(code_mac) = 32", NULL, 1, "code_mac is stored as a 32-byte BLOB");

	/* Expiry is exclusive: expires == now is expired. */
	is_int(o->challenge_try(st->state, c.id, 1299, 5, &out), 0, "one second before expiry: live");
	is_int(out.tries, 2, "tries counted (2)");
	is_int(o->challenge_try(st->state, c.id, 1300, 5, &out), -ETIME, "at expires == now: -ETIME");
	is_int(o->challenge_try(st->state, c.id, 5000, 5, &out), -ETIME, "long after: -ETIME");
	is_int(o->challenge_try(st->state, c.id, 1200, 5, &out), 0, "an expired try is not counted");
	is_int(out.tries, 3, "tries counted (3)");
	is_int(o->challenge_del(st->state, c.id), 0, "challenge_del");
	is_int(o->challenge_del(st->state, c.id), -ENOENT, "challenge_del again: -ENOENT");
	is_int(o->challenge_try(st->state, c.id, 1000, 5, &out), -ENOENT, "try after del: -ENOENT");

	/* Tries used up: the try after the last allowed one deletes it. */
	c = mk_challenge("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bob@example.com", WGOTP_METHOD_EMAIL,
			 1000, 1300);
	is_int(o->challenge_put(st->state, &c), 0, "challenge_put (3 tries)");
	for (i = 1; i <= 3; i++) {
		is_int(o->challenge_try(st->state, c.id, 1001, 3, &out), 0, "try %d of 3", i);
		is_int(out.tries, i, "tries == %d", i);
	}
	is_int(o->challenge_try(st->state, c.id, 1001, 3, &out), -EMLINK, "try 4 of 3: -EMLINK");
	raw_n(ops_db, "SELECT count(*) FROM challenges WHERE id = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'",
	      "EXISTS %sc:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "the row is gone after -EMLINK");
	is_int(o->challenge_try(st->state, c.id, 1001, 3, &out), -ENOENT, "and then -ENOENT");
	is_int(o->challenge_del(st->state, c.id), -ENOENT, "del after -EMLINK: -ENOENT");

	/* Bad arguments. */
	is_int(o->challenge_try(st->state, NULL, 1000, 5, &out), -EINVAL, "try NULL id: -EINVAL");
	is_int(o->challenge_try(st->state, c.id, 1000, 0, &out), -EINVAL, "try max_tries 0: -EINVAL");
	memset(c.origin, 'x', sizeof(c.origin));
	is_int(o->challenge_put(st->state, &c), -EINVAL, "put with an unterminated field: -EINVAL");
}

static void test_challenge_latest(struct wgotp_store *st)
{
	const struct wgotp_store_ops *o = st->ops;
	struct wgotp_challenge c, out;
	const char *u = "carol@example.com";

	is_int(o->challenge_latest(st->state, u, WGOTP_METHOD_EMAIL, 2000, &out), -ENOENT,
	       "latest with none: -ENOENT");
	c = mk_challenge("c0000000000000000000000000000001", u, WGOTP_METHOD_EMAIL, 2000, 2400);
	o->challenge_put(st->state, &c);
	c = mk_challenge("c0000000000000000000000000000002", u, WGOTP_METHOD_EMAIL, 2100, 2300);
	o->challenge_put(st->state, &c);
	c = mk_challenge("c0000000000000000000000000000003", u, WGOTP_METHOD_TOTP, 2200, 2500);
	o->challenge_put(st->state, &c);
	c = mk_challenge("c0000000000000000000000000000004", "dave@example.com", WGOTP_METHOD_EMAIL,
			 2250, 2500);
	is_int(o->challenge_put(st->state, &c), 0, "four challenges put");

	is_int(o->challenge_latest(st->state, u, WGOTP_METHOD_EMAIL, 2200, &out), 0, "latest email");
	is_str(out.id, "c0000000000000000000000000000002", "the newest email challenge of the user");
	is_int(o->challenge_latest(st->state, u, WGOTP_METHOD_TOTP, 2200, &out), 0, "latest totp");
	is_str(out.id, "c0000000000000000000000000000003", "method is respected");
	is_int(o->challenge_latest(st->state, u, WGOTP_METHOD_EMAIL, 2300, &out), 0,
	       "latest when the newest expired at now");
	is_str(out.id, "c0000000000000000000000000000001", "expired ones are skipped (expires == now)");
	is_int(o->challenge_latest(st->state, u, WGOTP_METHOD_EMAIL, 2400, &out), -ENOENT,
	       "all expired: -ENOENT");
	is_int(o->challenge_latest(st->state, "nobody@example.com", WGOTP_METHOD_EMAIL, 2200, &out),
	       -ENOENT, "other user: -ENOENT");
}

/* ---- expire ------------------------------------------------------------ */

static void test_expire(struct wgotp_store *st, const char *path)
{
	const struct wgotp_store_ops *o = st->ops;
	struct wgotp_challenge c;
	struct wgotp_session s;
	int64_t n;
	char *v = NULL;

	if (!redis_mode)	/* (Redis: a prefix of its own, nothing to clear) */
		raw_exec(path, "DELETE FROM challenges; DELETE FROM counters; DELETE FROM kv; DELETE FROM sessions");
	c = mk_challenge("e0000000000000000000000000000001", "erin@example.com", WGOTP_METHOD_EMAIL,
			 9000, 10000);
	o->challenge_put(st->state, &c);
	c = mk_challenge("e0000000000000000000000000000002", "erin@example.com", WGOTP_METHOD_EMAIL,
			 9000, 10001);
	o->challenge_put(st->state, &c);
	o->counter_hit(st->state, "old", 9940, 60, &n);		/* window ends at 10000 */
	o->counter_hit(st->state, "young", 9941, 60, &n);	/* window ends at 10001 */
	o->kv_put(st->state, "old", "x", 10000);
	o->kv_put(st->state, "young", "y", 10001);
	s = mk_session("erin@example.com", "laptop", 100, "10.8.0.5/32");
	o->session_put(st->state, &s);

	is_int(o->expire(st->state, 10000), 0, "expire");
	raw_n(path, "SELECT count(*) FROM challenges WHERE id = 'e0000000000000000000000000000001'",
	      "EXISTS %sc:e0000000000000000000000000000001", 0, "the challenge expiring at now is gone");
	raw_n(path, "SELECT count(*) FROM challenges WHERE id = 'e0000000000000000000000000000002'",
	      "EXISTS %sc:e0000000000000000000000000000002", 1, "the one expiring a second later stays");
	/* (Redis: a counter goes by its native TTL, the end of its window) */
	ok(o->counter_get(st->state, "old", 10000, &n) == 0 && n == 0, "over counter gone");
	ok(o->counter_get(st->state, "young", 10000, &n) == 0 && n == 1, "live counter stays");
	raw_n(path, "SELECT count(*) FROM kv WHERE key = 'old'", "EXISTS %sk:old", 0, "expired kv gone");
	is_int(o->kv_get(st->state, "young", 10000, &v), 0, "live kv stays");
	free(v);
	raw_n(path, "SELECT count(*) FROM sessions", "HLEN %ss", 1, "sessions are not expired by expire()");
	o->session_del(st->state, "erin@example.com", "laptop");
}

/* ---- TOTP replay ------------------------------------------------------- */

static void test_totp(struct wgotp_store *st, const char *path)
{
	const struct wgotp_store_ops *o = st->ops;
	const char *u = "frank@example.com", *big = "grace@example.com";
	struct wgotp_store *st2;
	uint64_t step = 99;

	is_int(o->totp_last_step(st->state, u, &step), 0, "last_step with none");
	is_int(step, 0, "is 0");
	is_int(o->totp_use_step(st->state, u, 55000000), 0, "use a step");
	is_int(o->totp_use_step(st->state, u, 55000000), -EALREADY, "the same step again: -EALREADY");
	is_int(o->totp_use_step(st->state, u, 54999999), -EALREADY, "an older step: -EALREADY");
	is_int(o->totp_use_step(st->state, u, 0), -EALREADY, "step 0: -EALREADY");
	is_int(o->totp_last_step(st->state, u, &step), 0, "last_step");
	is_int(step, 55000000, "is the accepted step");
	is_int(o->totp_use_step(st->state, u, 55000001), 0, "the next step");
	is_int(o->totp_last_step(st->state, u, &step), 0, "last_step");
	is_int(step, 55000001, "moved on");
	is_int(o->totp_last_step(st->state, "other@example.com", &step), 0, "users are separate");
	is_int(step, 0, "other user: 0");

	/* The full unsigned range that fits SQLite's signed INTEGER. */
	is_int(o->totp_use_step(st->state, big, (uint64_t)INT64_MAX - 1), 0, "INT64_MAX - 1");
	is_int(o->totp_use_step(st->state, big, (uint64_t)INT64_MAX), 0, "INT64_MAX");
	ok(o->totp_last_step(st->state, big, &step) == 0 && step == (uint64_t)INT64_MAX,
	   "INT64_MAX read back exactly");
	is_int(o->totp_use_step(st->state, big, (uint64_t)INT64_MAX + 1), -ERANGE,
	       "INT64_MAX + 1: -ERANGE");
	is_int(o->totp_use_step(st->state, big, UINT64_MAX), -ERANGE, "UINT64_MAX: -ERANGE");
	is_int(o->totp_use_step(st->state, big, (uint64_t)INT64_MAX), -EALREADY,
	       "INT64_MAX again: -EALREADY");
	is_int(o->totp_use_step(st->state, NULL, 1), -EINVAL, "NULL user: -EINVAL");

	/* Another handle (another process, in production) sees the same. */
	st2 = open_store(path, 5000);
	ok(st2 && st2->ops->totp_last_step(st2->state, u, &step) == 0 && step == 55000001,
	   "a second handle reads the same last step");
	ok(st2 && st2->ops->totp_use_step(st2->state, u, 55000001) == -EALREADY,
	   "... and refuses it as a replay");
	wgotp_store_close(st2);
}

/* ---- counters ---------------------------------------------------------- */

static void test_counters(struct wgotp_store *st)
{
	const struct wgotp_store_ops *o = st->ops;
	int64_t n = -1;

	is_int(o->counter_get(st->state, "fail:h", 100, &n), 0, "get unknown counter");
	is_int(n, 0, "is 0");
	o->counter_hit(st->state, "fail:h", 100, 60, &n);
	is_int(n, 1, "first hit: 1");
	o->counter_hit(st->state, "fail:h", 130, 60, &n);
	is_int(n, 2, "second hit in the window: 2");
	is_int(o->counter_hit(st->state, "fail:h", 159, 60, &n), 0, "hit at the last second");
	is_int(n, 3, "3");
	o->counter_get(st->state, "fail:h", 159, &n);
	is_int(n, 3, "get in the window: 3");
	o->counter_get(st->state, "fail:h", 160, &n);
	is_int(n, 0, "get when the window is over (start + window == now): 0");
	o->counter_hit(st->state, "fail:h", 160, 60, &n);
	is_int(n, 1, "a hit after the window starts a new one: 1");
	o->counter_hit(st->state, "fail:h", 219, 60, &n);
	is_int(n, 2, "the new window runs from its own start: 2");
	o->counter_hit(st->state, "fail:h", 220, 60, &n);
	is_int(n, 1, "and ends window seconds later: 1");
	o->counter_hit(st->state, "fail:other", 220, 60, &n);
	is_int(n, 1, "keys are separate");

	is_int(o->counter_reset(st->state, "fail:h"), 0, "reset");
	o->counter_get(st->state, "fail:h", 221, &n);
	is_int(n, 0, "after reset: 0");
	o->counter_hit(st->state, "fail:h", 221, 60, &n);
	is_int(n, 1, "hit after reset: 1");
	is_int(o->counter_reset(st->state, "never"), 0, "reset of an unknown counter: 0");

	/* take: a slot while fewer than limit are counted, else -EDQUOT. */
	is_int(o->counter_take(st->state, "take", 300, 60, 2, &n), 0, "take 1 of 2");
	is_int(n, 1, "  counts 1");
	is_int(o->counter_take(st->state, "take", 301, 60, 2, &n), 0, "take 2 of 2");
	is_int(n, 2, "  counts 2");
	n = -1;
	is_int(o->counter_take(st->state, "take", 302, 60, 2, &n), -EDQUOT, "take 3 of 2: -EDQUOT");
	is_int(n, 2, "  nothing added, the count said");
	o->counter_get(st->state, "take", 302, &n);
	is_int(n, 2, "  get agrees");
	o->counter_hit(st->state, "take", 302, 60, &n);
	is_int(n, 3, "hit has no limit");
	is_int(o->counter_take(st->state, "take", 360, 60, 2, &n), 0, "a new window: take again");
	is_int(n, 1, "  from 1");
	is_int(o->counter_take(st->state, "take", 360, 60, 0, &n), -EINVAL, "limit 0: -EINVAL");
	is_int(o->counter_hit(st->state, "fail:h", 221, 0, &n), -EINVAL, "window 0: -EINVAL");
	is_int(o->counter_hit(st->state, "fail:h", INT64_MAX - 10, 60, &n), -ERANGE,
	       "now + window overflows: -ERANGE");
}

/* ---- one TOTP attempt ---------------------------------------------------- */

static void test_totp_attempt(struct wgotp_store *st)
{
	uint64_t steps[3] = { 100, 101, 102 }, used = 0;
	struct wgotp_totp_attempt a = {
		.user = "attempt@example.com", .fail_key = "fail:attempt@example.com",
		.steps = steps, .n_steps = 1, .now = 5000, .window = 60, .max_failures = 2,
	};
	int64_t n = -1;

	is_int(wgotp_store_totp_attempt(st, &a, &used), 0, "attempt: a fresh step is accepted");
	is_int(used, 100, "  and recorded");
	is_int(wgotp_store_totp_attempt(st, &a, &used), -EALREADY, "the same step again: replay");
	st->ops->counter_get(st->state, a.fail_key, 5000, &n);
	is_int(n, 1, "  counted as a failure");
	a.n_steps = 3;
	is_int(wgotp_store_totp_attempt(st, &a, &used), 0,
	       "a code matching a used step and later ones: the lowest unused is taken");
	is_int(used, 101, "  step 101");
	st->ops->counter_get(st->state, a.fail_key, 5000, &n);
	is_int(n, 0, "  and a right code cleared the failures");
	a.n_steps = 0;
	is_int(wgotp_store_totp_attempt(st, &a, &used), -EACCES, "no step: a wrong code");
	is_int(wgotp_store_totp_attempt(st, &a, &used), -EACCES, "a second wrong code");
	a.n_steps = 3;
	is_int(wgotp_store_totp_attempt(st, &a, &used), -EDQUOT,
	       "MaxFailures reached: a right code is refused unjudged");
	st->ops->totp_last_step(st->state, a.user, &used);
	is_int(used, 101, "  and its step is not used up");
	a.now = 5060;
	is_int(wgotp_store_totp_attempt(st, &a, &used), 0, "the window over: accepted again");
	is_int(used, 102, "  step 102");
	steps[1] = 100;
	is_int(wgotp_store_totp_attempt(st, &a, &used), -EINVAL, "steps not ascending: -EINVAL");
	a.max_failures = 0;
	is_int(wgotp_store_totp_attempt(st, &a, &used), -EINVAL, "MaxFailures 0: -EINVAL");
}

/* ---- kv ---------------------------------------------------------------- */

static void test_kv(struct wgotp_store *st)
{
	const struct wgotp_store_ops *o = st->ops;
	char *v = (char *)"junk";

	is_int(o->kv_get(st->state, "token", 100, &v), -ENOENT, "kv_get absent: -ENOENT");
	ok(v == NULL, "*val is NULL on error");
	is_int(o->kv_put(st->state, "token", "eyJ0eXAi.first", 1000), 0, "kv_put");
	is_int(o->kv_get(st->state, "token", 999, &v), 0, "kv_get before expiry");
	is_str(v, "eyJ0eXAi.first", "value");
	free(v);
	is_int(o->kv_get(st->state, "token", 1000, &v), -ENOENT, "kv_get at expires == now: -ENOENT");
	is_int(o->kv_put(st->state, "token", "eyJ0eXAi.second", 2000), 0, "kv_put replaces");
	is_int(o->kv_get(st->state, "token", 1500, &v), 0, "kv_get the replacement");
	is_str(v, "eyJ0eXAi.second", "new value");
	free(v);
	is_int(o->kv_put(st->state, "empty", "", 2000), 0, "an empty value");
	is_int(o->kv_get(st->state, "empty", 1500, &v), 0, "kv_get empty");
	is_str(v, "", "is empty");
	free(v);
	is_int(o->kv_del(st->state, "token"), 0, "kv_del");
	is_int(o->kv_del(st->state, "token"), -ENOENT, "kv_del again: -ENOENT");
	is_int(o->kv_get(st->state, "token", 1500, &v), -ENOENT, "kv_get after del: -ENOENT");
}

/* kv_take: get and delete in one step; an expired entry goes too. */
static void test_kv_take(struct wgotp_store *st)
{
	const struct wgotp_store_ops *o = st->ops;
	char *v = (char *)"junk";

	ok(o->kv_take != NULL, "kv_take is implemented");
	if (!o->kv_take)
		return;
	is_int(o->kv_take(st->state, "grant:absent", 100, &v), -ENOENT, "kv_take absent: -ENOENT");
	ok(v == NULL, "*val is NULL on error");
	is_int(o->kv_take(st->state, "", 100, &v), -EINVAL, "kv_take of an empty key: -EINVAL");
	is_int(o->kv_put(st->state, "grant:a", "alice@example.com\n3600", 1000), 0, "kv_put a grant");
	is_int(o->kv_take(st->state, "grant:a", 999, &v), 0, "kv_take before expiry");
	is_str(v, "alice@example.com\n3600", "... hands out the value");
	free(v);
	v = NULL;
	is_int(o->kv_take(st->state, "grant:a", 999, &v), -ENOENT, "kv_take again: -ENOENT (single use)");
	is_int(o->kv_get(st->state, "grant:a", 999, &v), -ENOENT, "kv_get after kv_take: gone");
	is_int(o->kv_del(st->state, "grant:a"), -ENOENT, "kv_del after kv_take: nothing left");

	is_int(o->kv_put(st->state, "grant:b", "b", 1000), 0, "kv_put another");
	is_int(o->kv_take(st->state, "grant:b", 1000, &v), -ENOENT, "kv_take at expires == now: -ENOENT");
	ok(v == NULL, "... and no value");
	is_int(o->kv_get(st->state, "grant:b", 10, &v), -ENOENT,
	       "the expired entry was deleted by kv_take (not there even at an earlier now)");

	is_int(o->kv_put(st->state, "grant:c", "", 1000), 0, "kv_put an empty value");
	is_int(o->kv_take(st->state, "grant:c", 1, &v), 0, "kv_take an empty value");
	is_str(v, "", "... is empty");
	free(v);
	v = NULL;
	is_int(o->kv_put(st->state, "grant:d", "keep", 1000), 0, "kv_put a neighbour");
	is_int(o->kv_take(st->state, "grant:dd", 1, &v), -ENOENT, "kv_take of another key ...");
	is_int(o->kv_get(st->state, "grant:d", 1, &v), 0, "... leaves the neighbour");
	free(v);
	is_int(o->kv_del(st->state, "grant:d"), 0, "(cleaned up)");
}

/* ---- sessions ---------------------------------------------------------- */

struct walk {
	int n;
	int stop_at;
	char seen[8][400];
	struct wgotp_store *st;
	bool del;
	int del_ret;
};

static int walk_cb(void *arg, const struct wgotp_session *s)
{
	struct walk *w = arg;

	if (w->n < 8)
		snprintf(w->seen[w->n], sizeof(w->seen[0]), "%lld %s %s", (long long)s->expires,
			 s->user, s->device);
	w->n++;
	if (w->del)	/* the callback may call the store */
		w->del_ret |= w->st->ops->session_del(w->st->state, s->user, s->device);
	if (w->stop_at && w->n == w->stop_at)
		return 7;
	return 0;
}

static void test_sessions(struct wgotp_store *st)
{
	const struct wgotp_store_ops *o = st->ops;
	struct wgotp_session a, out;
	struct walk w;

	memset(&w, 0, sizeof(w));
	is_int(o->session_list(st->state, walk_cb, &w), 0, "list with no sessions");
	is_int(w.n, 0, "no callbacks");
	is_int(o->session_get(st->state, "h@example.com", "phone", &out), -ENOENT,
	       "session_get absent: -ENOENT");

	a = mk_session("h@example.com", "phone", 500, "10.8.0.2/32");
	is_int(o->session_put(st->state, &a), 0, "session_put");
	is_int(o->session_get(st->state, "h@example.com", "phone", &out), 0, "session_get");
	ok(session_eq(&a, &out), "every field read back");
	a = mk_session("h@example.com", "phone", 300, "10.8.0.2/32,fd00::2/128");
	is_int(o->session_put(st->state, &a), 0, "session_put replaces");
	is_int(o->session_get(st->state, "h@example.com", "phone", &out), 0, "session_get");
	ok(session_eq(&a, &out), "the replacement is read back");
	is_str(out.allowed_ips, "10.8.0.2/32,fd00::2/128", "new allowed_ips");

	a = mk_session("b@example.com", "laptop", 300, "10.8.0.3/32");
	o->session_put(st->state, &a);
	a = mk_session("h@example.com", "desk", 300, "10.8.0.4/32");
	o->session_put(st->state, &a);
	a = mk_session("z@example.com", "laptop", 100, "10.8.0.5/32");
	o->session_put(st->state, &a);

	memset(&w, 0, sizeof(w));
	is_int(o->session_list(st->state, walk_cb, &w), 0, "session_list");
	is_int(w.n, 4, "four sessions (put replaced, not added)");
	is_str(w.seen[0], "100 z@example.com laptop", "ordered by expires first");
	is_str(w.seen[1], "300 b@example.com laptop", "then user");
	is_str(w.seen[2], "300 h@example.com desk", "then device");
	is_str(w.seen[3], "300 h@example.com phone", "last");

	memset(&w, 0, sizeof(w));
	w.stop_at = 2;
	is_int(o->session_list(st->state, walk_cb, &w), 7, "a non-zero callback return is returned");
	is_int(w.n, 2, "and stops the walk");

	is_int(o->session_del(st->state, "h@example.com", "desk"), 0, "session_del");
	is_int(o->session_del(st->state, "h@example.com", "desk"), -ENOENT, "session_del again: -ENOENT");
	is_int(o->session_get(st->state, "h@example.com", "desk", &out), -ENOENT,
	       "session_get after del: -ENOENT");
	is_int(o->session_get(st->state, "h@example.com", "phone", &out), 0,
	       "the user's other device stays");

	memset(&w, 0, sizeof(w));
	w.st = st;
	w.del = true;
	is_int(o->session_list(st->state, walk_cb, &w), 0, "a callback deleting each session");
	is_int(w.n, 3, "walked all three");
	is_int(w.del_ret, 0, "every delete from the callback worked");
	memset(&w, 0, sizeof(w));
	o->session_list(st->state, walk_cb, &w);
	is_int(w.n, 0, "none left");
}

/* ---- errors from SQLite ------------------------------------------------ */

static void test_busy_and_io(void)
{
	char *path = db_path("busy.db");
	struct wgotp_store *st;
	struct timespec t0, t1;
	sqlite3 *db = NULL;
	char *v = NULL;
	long ms;

	st = open_store(path, 150);
	ok(st != NULL, "open with BusyTimeout 150 ms");
	if (!st)
		goto cleanup;
	wgotp_log_set_sink(log_capture, NULL, WGOTP_LOG_DEBUG);

	/* Another writer holds the lock longer than the busy timeout. */
	sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	sqlite3_busy_timeout(db, 1000);
	is_int(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK, "a writer takes the lock");
	memset(log_n, 0, sizeof(log_n));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(st->ops->kv_put(st->state, "busy", "x", 1), -EBUSY,
	       "locked beyond the busy timeout: -EBUSY");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ok(ms >= 120, "waited for the busy timeout first (%ld ms)", ms);
	is_int(st->ops->challenge_try(st->state, "0123", 1, 5, NULL), -EBUSY,
	       "a transaction too: -EBUSY");
	ok(log_n[WGOTP_LOG_WARN] >= 1 && strstr(log_last, "busy"), "logged: %s", log_last);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	is_int(st->ops->kv_put(st->state, "busy", "x", 1), 0, "works once released");
	is_int(st->ops->kv_del(st->state, "busy"), 0, "(cleaned up)");

	/* Any other SQLite failure is -EIO, logged with SQLite's message. */
	is_int(st->ops->kv_put(st->state, "secret-key", "secret-value", 100), 0, "kv_put");
	is_int(sqlite3_exec(db, "DROP TABLE kv", NULL, NULL, NULL), SQLITE_OK, "break the schema");
	memset(log_n, 0, sizeof(log_n));
	is_int(st->ops->kv_get(st->state, "secret-key", 1, &v), -EIO, "a broken store: -EIO");
	ok(log_n[WGOTP_LOG_ERR] == 1 && strstr(log_last, "kv"), "logged SQLite's message: %s", log_last);
	ok(!strstr(log_last, "secret-"), "without the key or value");
	is_int(st->ops->kv_put(st->state, "secret-key", "secret-value", 100), -EIO, "kv_put: -EIO");
	is_int(st->ops->totp_use_step(st->state, "busy@example.com", 2), 0, "other tables still work");
	wgotp_log_set_sink(NULL, NULL, WGOTP_LOG_INFO);
	sqlite3_close(db);
	wgotp_store_close(st);
cleanup:
	free(path);
}

/* ---- many processes, many threads -------------------------------------- */

#define N_PROC 4
#define N_THREAD 4
#define N_STEPS 150
#define N_HITS 40
#define TAKE_LIMIT 10

struct shared {
	uint32_t accepted[N_STEPS + 1];
	uint32_t seen_count[N_PROC * N_THREAD * N_HITS + 2];
	uint32_t errors;
	uint32_t older_accepted;
	uint32_t took;
	uint32_t judged;
};

static struct shared *shm;
static const char *conc_path;

struct worker {
	struct wgotp_store *st;	/* shared by threads 0 and 1 of a process */
	int thread;
	int what;		/* 0: totp, 1: counter */
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct wgotp_store *st = w->st, *own = NULL;
	int64_t n;
	int ret;

	if (w->thread >= 2) {	/* threads 2 and 3 have their own connection */
		own = open_store(conc_path, 30000);
		if (!own) {
			__atomic_fetch_add(&shm->errors, 1, __ATOMIC_SEQ_CST);
			return NULL;
		}
		st = own;
	}

	if (w->what == 0) {
		for (uint64_t k = 1; k <= N_STEPS; k++) {
			for (int rep = 0; rep < 2; rep++) {
				ret = st->ops->totp_use_step(st->state, "race@example.com", k);
				if (ret == 0)
					__atomic_fetch_add(&shm->accepted[k], 1, __ATOMIC_SEQ_CST);
				else if (ret != -EALREADY)
					__atomic_fetch_add(&shm->errors, 1, __ATOMIC_SEQ_CST);
			}
			/* After trying k, no step below k can ever be accepted. */
			if (k > 1 && k % 3 == 0) {
				ret = st->ops->totp_use_step(st->state, "race@example.com", k - 1);
				if (ret == 0)
					__atomic_fetch_add(&shm->older_accepted, 1, __ATOMIC_SEQ_CST);
				else if (ret != -EALREADY)
					__atomic_fetch_add(&shm->errors, 1, __ATOMIC_SEQ_CST);
			}
		}
	} else {
		for (int i = 0; i < N_HITS; i++) {
			ret = st->ops->counter_hit(st->state, "race", 5000, 3600, &n);
			if (ret < 0 || n < 1 || n > N_PROC * N_THREAD * N_HITS)
				__atomic_fetch_add(&shm->errors, 1, __ATOMIC_SEQ_CST);
			else
				__atomic_fetch_add(&shm->seen_count[n], 1, __ATOMIC_SEQ_CST);
			/* Wrong codes from everyone at once: TAKE_LIMIT judged. */
			{
				struct wgotp_totp_attempt at = {
					.user = "burst@example.com", .fail_key = "fail:burst",
					.now = 5000, .window = 3600, .max_failures = TAKE_LIMIT,
				};
				uint64_t used;

				ret = wgotp_store_totp_attempt(st, &at, &used);
				if (ret == -EACCES)
					__atomic_fetch_add(&shm->judged, 1, __ATOMIC_SEQ_CST);
				else if (ret != -EDQUOT)
					__atomic_fetch_add(&shm->errors, 1, __ATOMIC_SEQ_CST);
			}
			/* A failure slot of TAKE_LIMIT, taken by everyone at once. */
			ret = st->ops->counter_take(st->state, "race-take", 5000, 3600, TAKE_LIMIT, &n);
			if (ret == 0)
				__atomic_fetch_add(&shm->took, 1, __ATOMIC_SEQ_CST);
			else if (ret != -EDQUOT || n != TAKE_LIMIT)
				__atomic_fetch_add(&shm->errors, 1, __ATOMIC_SEQ_CST);
		}
	}
	wgotp_store_close(own);
	return NULL;
}

/* Fork n children that each wait on the pipe, then run fn(i); returns the
 * number of children whose exit status was not `want[status]`-counted:
 * statuses are tallied in counts[0..7]. */
static int run_children(int n, int (*fn)(int i), int counts[8])
{
	pid_t pids[16];
	int go[2], status, i, bad = 0;

	if (pipe(go) < 0)
		abort();
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			abort();
		if (pids[i] == 0) {
			char c;

			close(go[1]);
			fn(-1 - i);			/* setup */
			if (read(go[0], &c, 1) < 0)	/* EOF: go */
				_exit(7);
			_exit(fn(i));
		}
	}
	close(go[0]);
	close(go[1]);
	for (i = 0; i < n; i++) {
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status)) {
			bad++;
			continue;
		}
		counts[WEXITSTATUS(status) & 7]++;
	}
	return bad;
}

static struct wgotp_store *child_store;

static int hammer_child(int i, int what)
{
	struct worker w[N_THREAD];
	pthread_t t[N_THREAD];
	int j;

	if (i < 0) {
		child_store = open_store(conc_path, 30000);
		return 0;
	}
	if (!child_store)
		return 1;
	for (j = 0; j < N_THREAD; j++) {
		w[j] = (struct worker){ .st = child_store, .thread = j, .what = what };
		if (pthread_create(&t[j], NULL, worker_run, &w[j]) != 0)
			return 1;
	}
	for (j = 0; j < N_THREAD; j++)
		pthread_join(t[j], NULL);
	wgotp_store_close(child_store);
	return 0;
}

static int totp_child(int i)
{
	return hammer_child(i, 0);
}

static int counter_child(int i)
{
	return hammer_child(i, 1);
}

static int try_child(int i)
{
	struct wgotp_challenge out;
	int ret;

	if (i < 0) {
		child_store = open_store(conc_path, 30000);
		return 0;
	}
	if (!child_store)
		return 5;
	ret = child_store->ops->challenge_try(child_store->state, "7777777777777777777777777777777a",
					      1000, 5, &out);
	wgotp_store_close(child_store);
	switch (ret) {
	case 0:
		return out.tries >= 1 && out.tries <= 5 ? 0 : 6;
	case -EMLINK:
		return 1;
	case -ENOENT:
		return 2;
	default:
		return 3;
	}
}

static int take_child(int i)
{
	char *v = NULL;
	int ret;

	if (i < 0) {
		child_store = open_store(conc_path, 30000);
		return 0;
	}
	if (!child_store || !child_store->ops->kv_take)
		return 5;
	ret = child_store->ops->kv_take(child_store->state, "grant:race", 1000, &v);
	wgotp_store_close(child_store);
	if (ret == 0) {
		ret = v && !strcmp(v, "the grant") ? 0 : 6;
		free(v);
		return ret;
	}
	return ret == -ENOENT ? 2 : 3;
}

static void test_concurrency(void)
{
	char *path = db_path("race.db");
	struct wgotp_store *st;
	struct wgotp_challenge c;
	int counts[8], bad, k, once = 0;
	uint64_t last = 0;
	int64_t n = 0;

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		abort();
	memset(shm, 0, sizeof(*shm));
	conc_path = path;

	/* Create it first; no connection may cross fork(). */
	st = open_store(path, 30000);
	ok(st != NULL, "create the shared database");
	wgotp_store_close(st);

	/* TOTP replay: each step accepted exactly once overall. */
	memset(counts, 0, sizeof(counts));
	bad = run_children(N_PROC, totp_child, counts);
	ok(bad == 0 && counts[0] == N_PROC, "%d processes x %d threads ran use_step", N_PROC, N_THREAD);
	for (k = 1; k <= N_STEPS; k++)
		once += shm->accepted[k] == 1;
	is_int(once, N_STEPS, "every step accepted exactly once overall");
	is_int(shm->older_accepted, 0, "no older step accepted after a newer one was tried");
	is_int(shm->errors, 0, "no errors (busy or otherwise)");
	st = open_store(path, 30000);
	if (st)
		st->ops->totp_last_step(st->state, "race@example.com", &last);
	is_int(last, N_STEPS, "last step is the highest");

	/* Counters sum exactly, and every count is handed out once. */
	memset(counts, 0, sizeof(counts));
	wgotp_store_close(st);
	bad = run_children(N_PROC, counter_child, counts);
	ok(bad == 0 && counts[0] == N_PROC, "%d processes x %d threads ran counter_hit", N_PROC, N_THREAD);
	st = open_store(path, 30000);
	if (st)
		st->ops->counter_get(st->state, "race", 5001, &n);
	is_int(n, N_PROC * N_THREAD * N_HITS, "counter_hit from many processes sums exactly");
	once = 0;
	for (k = 1; k <= N_PROC * N_THREAD * N_HITS; k++)
		once += shm->seen_count[k] == 1;
	is_int(once, N_PROC * N_THREAD * N_HITS, "every count 1..N returned exactly once");
	is_int(shm->took, TAKE_LIMIT, "counter_take from %d processes x %d threads: exactly %d slots",
	       N_PROC, N_THREAD, TAKE_LIMIT);
	is_int(shm->judged, TAKE_LIMIT, "wrong codes from %d processes x %d threads: exactly %d judged",
	       N_PROC, N_THREAD, TAKE_LIMIT);
	is_int(shm->errors, 0, "no errors");

	/* challenge_try, 5 tries allowed, 8 processes at once. */
	c = mk_challenge("7777777777777777777777777777777a", "race@example.com", WGOTP_METHOD_EMAIL,
			 900, 1300);
	is_int(st ? st->ops->challenge_put(st->state, &c) : -1, 0, "put a challenge with 5 tries");
	wgotp_store_close(st);
	memset(counts, 0, sizeof(counts));
	bad = run_children(8, try_child, counts);
	is_int(bad, 0, "8 processes exited");
	is_int(counts[0], 5, "exactly 5 tries succeed");
	is_int(counts[1], 1, "one gets -EMLINK (and deletes it)");
	is_int(counts[2], 2, "the rest find it gone (-ENOENT)");
	is_int(counts[3] + counts[5] + counts[6] + counts[7], 0, "no other outcome");
	raw_n(path, "SELECT count(*) FROM challenges", "EXISTS %sc:7777777777777777777777777777777a", 0,
	      "the challenge is gone");

	/* kv_take, 8 processes at once: one gets the value. */
	st = open_store(path, 30000);
	is_int(st ? st->ops->kv_put(st->state, "grant:race", "the grant", 2000) : -1, 0,
	       "put a single-use value");
	wgotp_store_close(st);
	memset(counts, 0, sizeof(counts));
	bad = run_children(8, take_child, counts);
	is_int(bad, 0, "8 processes exited");
	is_int(counts[0], 1, "kv_take: exactly one process gets the value");
	is_int(counts[2], 7, "kv_take: the other seven find it gone (-ENOENT)");
	raw_n(path, "SELECT count(*) FROM kv WHERE key = 'grant:race'", "EXISTS %sk:grant:race", 0,
	      "the value is gone");
	raw_n(path, "SELECT count(*) FROM kv", "ZCARD %skx", 0, "... and so is its expiry index entry");

	munmap(shm, sizeof(*shm));
	free(path);
}

int main(void)
{
	struct wgotp_store *st;
	char *path;

	tmpdir = tu_tmpdir();
	if (getenv("WGOTP_TEST_STORE") && !strcmp(getenv("WGOTP_TEST_STORE"), "redis")) {
#ifdef HAVE_REDIS
		redis_mode = true;
		redis_setup();
#else
		skip_all("WGOTP_TEST_STORE=redis, but this build has no Redis support");
#endif
	}
	if (!redis_mode) {
		test_open_modes();
		test_open_errors();
	}

	path = db_path("ops.db");
	ops_db = path;
	st = open_store(path, 5000);
	ok(st != NULL, "open the store for the operations");
	if (st) {
		test_challenges(st);
		test_challenge_latest(st);
		test_expire(st, path);
		test_totp(st, path);
		test_counters(st);
		test_totp_attempt(st);
		test_kv(st);
		test_kv_take(st);
		test_sessions(st);
		wgotp_store_close(st);
	}

	if (!redis_mode)
		test_busy_and_io();
#ifdef HAVE_REDIS
	else
		test_redis(path);
#endif
	free(path);
	test_concurrency();

	tu_rmdir(tmpdir);
	return done_testing();
}
