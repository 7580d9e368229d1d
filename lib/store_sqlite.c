/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SQLite state store: one file in WAL mode, shared by every process on
 * the host (FreeRADIUS threads, several sshd, wg-activator, wgotpctl).
 *
 * One connection per handle, guarded by a mutex, so a handle may be shared
 * by threads; processes coordinate through SQLite's own file locks. Every
 * read-modify-write is either one statement (UPSERT ... RETURNING) or runs
 * inside BEGIN IMMEDIATE, which takes the write lock before the first read.
 * A handle must not be carried across fork(): open the store in the child.
 *
 * The schema version lives in PRAGMA user_version; sq_migrations[v] brings
 * a database from version v to v + 1.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "store.h"
#include "store_counters.h"

#define SQ_FILE_MODE 0660	/* the database; SQLite gives -wal and -shm the same */
#define SQ_DIR_MODE 0770	/* a directory we create for it */
#define SQ_KEY_MAX 1024		/* counter and cache keys */

/* Schema, one step per version: sq_migrations[v] takes version v to v + 1. */
static const char *const sq_migrations[] = {
	/* 0 -> 1 */
	("CREATE TABLE challenges ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  user TEXT NOT NULL,"
	"  method INTEGER NOT NULL,"
	"  decoy INTEGER NOT NULL,"
	"  code_mac BLOB NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  tries INTEGER NOT NULL,"
	"  duration INTEGER NOT NULL,"
	"  device TEXT NOT NULL,"
	"  origin TEXT NOT NULL);"
	"CREATE INDEX challenges_user ON challenges (user, method, created);"
	"CREATE INDEX challenges_expires ON challenges (expires);"
	"CREATE TABLE totp_steps ("
	"  user TEXT PRIMARY KEY NOT NULL,"
	"  step INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE counters ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  reset_at INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX counters_reset_at ON counters (reset_at);"
	"CREATE TABLE sessions ("
	"  user TEXT NOT NULL,"
	"  device TEXT NOT NULL,"
	"  public_key TEXT NOT NULL,"
	"  allowed_ips TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  origin TEXT NOT NULL,"
	"  PRIMARY KEY (user, device)) WITHOUT ROWID;"
	"CREATE INDEX sessions_expires ON sessions (expires, user, device);"
	"CREATE TABLE kv ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  val TEXT NOT NULL,"
	"  expires INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX kv_expires ON kv (expires);"),
};

#define SQ_SCHEMA_VERSION ((int)(sizeof(sq_migrations) / sizeof(sq_migrations[0])))

#define SQ_CHALLENGE_COLS \
	"id, user, method, decoy, code_mac, created, expires, tries, duration, device, origin"
#define SQ_SESSION_COLS \
	"user, device, public_key, allowed_ips, created, expires, origin"

enum sq_stmt_id {
	SQ_BEGIN,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_CH_PUT,
	SQ_CH_GET,
	SQ_CH_INC,
	SQ_CH_DEL,
	SQ_CH_LATEST,
	SQ_EXP_CH,
	SQ_EXP_CNT,
	SQ_EXP_KV,
	SQ_TOTP_USE,
	SQ_TOTP_GET,
	SQ_CNT_HIT,
	SQ_CNT_GET,
	SQ_CNT_RESET,
	SQ_SES_PUT,
	SQ_SES_GET,
	SQ_SES_DEL,
	SQ_SES_LIST,
	SQ_KV_PUT,
	SQ_KV_GET,
	SQ_KV_DEL,
	SQ_KV_TAKE,
	SQ_N_STMT,
};

static const char *const sq_sql[SQ_N_STMT] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_CH_PUT] = ("INSERT INTO challenges (" SQ_CHALLENGE_COLS ")"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
		" ON CONFLICT (id) DO NOTHING"),
	[SQ_CH_GET] = "SELECT " SQ_CHALLENGE_COLS " FROM challenges WHERE id = ?1",
	[SQ_CH_INC] = "UPDATE challenges SET tries = tries + 1 WHERE id = ?1",
	[SQ_CH_DEL] = "DELETE FROM challenges WHERE id = ?1",
	[SQ_CH_LATEST] = ("SELECT " SQ_CHALLENGE_COLS " FROM challenges"
		" WHERE user = ?1 AND method = ?2 AND expires > ?3"
		" ORDER BY created DESC, rowid DESC LIMIT 1"),
	[SQ_EXP_CH] = "DELETE FROM challenges WHERE expires <= ?1",
	[SQ_EXP_CNT] = "DELETE FROM counters WHERE reset_at <= ?1",
	[SQ_EXP_KV] = "DELETE FROM kv WHERE expires <= ?1",
	[SQ_TOTP_USE] = ("INSERT INTO totp_steps (user, step) VALUES (?1, ?2)"
		" ON CONFLICT (user) DO UPDATE SET step = excluded.step"
		" WHERE excluded.step > totp_steps.step"
		" RETURNING step"),
	[SQ_TOTP_GET] = "SELECT step FROM totp_steps WHERE user = ?1",
	/* In SET, every column reference sees the row as it was. */
	[SQ_CNT_HIT] = ("INSERT INTO counters (key, count, reset_at) VALUES (?1, 1, ?3)"
		" ON CONFLICT (key) DO UPDATE SET"
		" count = CASE WHEN counters.reset_at <= ?2 THEN 1 ELSE counters.count + 1 END,"
		" reset_at = CASE WHEN counters.reset_at <= ?2 THEN ?3 ELSE counters.reset_at END"
		" WHERE counters.reset_at <= ?2 OR counters.count < ?4"
		" RETURNING count"),
	[SQ_CNT_GET] = "SELECT count, reset_at FROM counters WHERE key = ?1 AND reset_at > ?2",
	[SQ_CNT_RESET] = "DELETE FROM counters WHERE key = ?1",
	[SQ_SES_PUT] = ("INSERT OR REPLACE INTO sessions (" SQ_SESSION_COLS ")"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
	[SQ_SES_GET] = "SELECT " SQ_SESSION_COLS " FROM sessions WHERE user = ?1 AND device = ?2",
	[SQ_SES_DEL] = "DELETE FROM sessions WHERE user = ?1 AND device = ?2",
	[SQ_SES_LIST] = "SELECT " SQ_SESSION_COLS " FROM sessions ORDER BY expires, user, device",
	[SQ_KV_PUT] = ("INSERT INTO kv (key, val, expires) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (key) DO UPDATE SET val = excluded.val, expires = excluded.expires"),
	[SQ_KV_GET] = "SELECT val FROM kv WHERE key = ?1 AND expires > ?2",
	[SQ_KV_DEL] = "DELETE FROM kv WHERE key = ?1",
	[SQ_KV_TAKE] = "DELETE FROM kv WHERE key = ?1 RETURNING val, expires",
};

struct sq_store {
	pthread_mutex_t lock;
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_N_STMT];
	struct wgotp_ctab *ctab;	/* TOTP steps and counters */
	char *path;
	int busy_ms;
};

static int sq_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/*
 * Map a failed SQLite call to -errno and log it under the name of the
 * operation (what log_err_f does; the helpers below pass it along).
 * SQLite's messages name tables and columns, never bound values.
 */
static int sq_fail_(struct sq_store *s, int rc, const char *func)
{
	int ret = sq_errno(rc);

	if (ret == -EBUSY)
		wgotp_log(WGOTP_LOG_WARN, "%s: %s: database busy for %d ms", func, s->path, s->busy_ms);
	else
		wgotp_log(WGOTP_LOG_ERR, "%s: %s: sqlite: %s", func, s->path, sqlite3_errmsg(s->db));
	return ret;
}
#define sq_fail(s, rc) sq_fail_((s), (rc), __func__)

/* A cached statement, ready for binding. Called with the lock held. */
static sqlite3_stmt *sq_stmt(struct sq_store *s, enum sq_stmt_id id)
{
	return s->stmt[id];
}

/* Ready a statement for its next use; drops bindings (which may point to
 * the caller's buffers). */
static void sq_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Run a statement to its end, ignoring any rows. */
static int sq_run_(struct sq_store *s, sqlite3_stmt *st, const char *func)
{
	int rc, ret = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		ret = sq_fail_(s, rc, func);
	sq_done(st);
	return ret;
}
#define sq_run(s, st) sq_run_((s), (st), __func__)
#define sq_begin(s) sq_run((s), sq_stmt((s), SQ_BEGIN))
#define sq_commit(s) sq_run((s), sq_stmt((s), SQ_COMMIT))

/*
 * Step a one-row statement with RETURNING (the UPSERTs). SQLite hands the
 * row out before the statement ends, and an autocommit statement commits
 * only when it ends: the change is stored once it has stepped to
 * SQLITE_DONE, which is where a full disk or an I/O error shows. Returns
 * SQLITE_ROW (stored; the row's first column in *val), SQLITE_DONE (no
 * row, nothing changed) or the error.
 */
static int sq_step_returning(sqlite3_stmt *st, int64_t *val)
{
	int64_t v;
	int rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return rc;
	v = sqlite3_column_int64(st, 0);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_ROW ? SQLITE_INTERNAL : rc;
	if (val)
		*val = v;
	return SQLITE_ROW;
}

/* Roll back if a transaction is open; after an error, quietly. */
static void sq_rollback(struct sq_store *s)
{
	sqlite3_stmt *st = sq_stmt(s, SQ_ROLLBACK);

	if (sqlite3_get_autocommit(s->db))
		return;
	sqlite3_step(st);
	sq_done(st);
}

static void sq_lock(struct sq_store *s)
{
	pthread_mutex_lock(&s->lock);
}

static void sq_unlock(struct sq_store *s)
{
	pthread_mutex_unlock(&s->lock);
}

/* A fixed-size string field must hold its NUL. */
static bool field_ok(const char *f, size_t size)
{
	return memchr(f, '\0', size) != NULL;
}

/* A key argument: non-NULL, non-empty, at most max bytes. */
static bool key_ok(const char *k, size_t max)
{
	return k && *k && strnlen(k, max + 1) <= max;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Copy a text column into a fixed field; -EIO if it does not fit (a row
 * written by something else than this code). */
static int col_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);

	if (!t)
		return -ENOMEM;	/* columns are NOT NULL */
	if (n < 0 || (size_t)n >= size)
		return -EIO;
	memcpy(dst, t, (size_t)n);
	dst[n] = '\0';
	return 0;
}

static int col_challenge(sqlite3_stmt *st, struct wgotp_challenge *c)
{
	const void *mac;
	int method;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = col_text(st, 0, c->id, sizeof(c->id));
	if (ret < 0)
		return ret;
	ret = col_text(st, 1, c->user, sizeof(c->user));
	if (ret < 0)
		return ret;
	method = sqlite3_column_int(st, 2);
	if (method != WGOTP_METHOD_TOTP && method != WGOTP_METHOD_EMAIL)
		return -EIO;
	c->method = (enum wgotp_method)method;
	c->decoy = sqlite3_column_int(st, 3) != 0;
	mac = sqlite3_column_blob(st, 4);
	if (sqlite3_column_bytes(st, 4) != WGOTP_MAC_LEN || !mac)
		return -EIO;
	memcpy(c->code_mac, mac, WGOTP_MAC_LEN);
	c->created = sqlite3_column_int64(st, 5);
	c->expires = sqlite3_column_int64(st, 6);
	c->tries = sqlite3_column_int(st, 7);
	c->duration = sqlite3_column_int64(st, 8);
	ret = col_text(st, 9, c->device, sizeof(c->device));
	if (ret < 0)
		return ret;
	return col_text(st, 10, c->origin, sizeof(c->origin));
}

static int col_session(sqlite3_stmt *st, struct wgotp_session *ses)
{
	int ret;

	memset(ses, 0, sizeof(*ses));
	ret = col_text(st, 0, ses->user, sizeof(ses->user));
	if (ret < 0)
		return ret;
	ret = col_text(st, 1, ses->device, sizeof(ses->device));
	if (ret < 0)
		return ret;
	ret = col_text(st, 2, ses->public_key, sizeof(ses->public_key));
	if (ret < 0)
		return ret;
	ret = col_text(st, 3, ses->allowed_ips, sizeof(ses->allowed_ips));
	if (ret < 0)
		return ret;
	ses->created = sqlite3_column_int64(st, 4);
	ses->expires = sqlite3_column_int64(st, 5);
	return col_text(st, 6, ses->origin, sizeof(ses->origin));
}

/* A column that failed to decode: log it the way sq_fail does. */
static int sq_bad_row(struct sq_store *s, int ret, const char *func)
{
	if (ret == -EIO)
		wgotp_log(WGOTP_LOG_ERR, "%s: %s: malformed row", func, s->path);
	return ret;
}

/* ---- open and close ---------------------------------------------------- */

/* Create the directory (one level) and the empty database file with tight
 * modes, so SQLite never creates them with its defaults. The mode passed
 * to mkdir/open is an upper bound under any umask; umask() itself is not
 * touched because it is process-wide and this runs inside threaded hosts.
 * An existing file or directory is refused when others have access: the
 * store holds the sessions (a session written there becomes a peer on the
 * gateway), the codes' state and OAuth tokens, and whoever may write the
 * directory may replace the store, or create its -wal or -journal first. */
static int sq_create_file(const char *path, struct wgotp_error *err)
{
	char *dir = NULL, *slash;
	struct stat sb;
	int fd, e, ret;

	if (stat(path, &sb) == 0 && (sb.st_mode & S_IRWXO))
		return wgotp_error_set(err, EPERM,
				       "store %s is mode %04o: it holds sessions and tokens, others must have no access (chmod 660)",
				       path, (unsigned int)(sb.st_mode & 07777));
	dir = strdup(path);
	if (!dir)
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	slash = strrchr(dir, '/');
	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == dir) {
		dir[1] = '\0';
	} else {
		*slash = '\0';
		if (mkdir(dir, SQ_DIR_MODE) < 0 && errno != EEXIST) {
			e = errno;
			ret = wgotp_error_set(err, e, "store: cannot create directory %s: %s",
					      dir, strerror(e));
			goto cleanup;
		}
	}
	if (stat(dir, &sb) == 0 && (sb.st_mode & S_IWOTH)) {
		ret = wgotp_error_set(err, EPERM,
				      "store directory %s is mode %04o: others may replace the store; it must not be writable by others (chmod 770)",
				      dir, (unsigned int)(sb.st_mode & 07777));
		goto cleanup;
	}

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, SQ_FILE_MODE);
	if (fd < 0 && errno != EEXIST) {
		e = errno;
		ret = wgotp_error_set(err, e, "store: cannot create %s: %s", path, strerror(e));
		goto cleanup;
	}
	if (fd >= 0) {
		/* Exactly 0660 whatever the creator's umask: the processes that
		 * share the store (FreeRADIUS as freerad, wg-activator and
		 * wgotpctl as root) meet in its group. SQLite gives the -wal and
		 * -shm files the database's mode. */
		if (fchmod(fd, SQ_FILE_MODE) < 0) {
			e = errno;
			close(fd);
			ret = wgotp_error_set(err, e, "store: chmod %s: %s", path, strerror(e));
			goto cleanup;
		}
		close(fd);
	}
	ret = 0;
cleanup:
	free(dir);
	return ret;
}

static int sq_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto cleanup;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
cleanup:
	sqlite3_finalize(st);
	return rc;
}

/* Bring the schema to SQ_SCHEMA_VERSION. Several processes may open a new
 * database at once: the version is read again under the write lock. */
static int sq_migrate(struct sq_store *s, struct wgotp_error *err)
{
	char sql[64];
	int version = 0, rc, ret;

	rc = sq_user_version(s->db, &version);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	if (version == SQ_SCHEMA_VERSION)
		return 0;

	rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	rc = sq_user_version(s->db, &version);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	if (version < 0 || version > SQ_SCHEMA_VERSION) {
		ret = wgotp_error_set(err, ENOTSUP,
				      "store: %s has schema version %d; this build knows up to %d",
				      s->path, version, SQ_SCHEMA_VERSION);
		goto cleanup;
	}
	for (; version < SQ_SCHEMA_VERSION; version++) {
		rc = sqlite3_exec(s->db, sq_migrations[version], NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto sqlite_error;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SQ_SCHEMA_VERSION);
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	return 0;

sqlite_error:
	ret = wgotp_error_set(err, -sq_errno(rc), "store: %s: migrating the schema: %s",
			      s->path, sqlite3_errmsg(s->db));
cleanup:
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

/* Connection settings: WAL (readers never block the writer), full sync of
 * each commit (a replay step must survive a power cut), deleted rows
 * overwritten (the cache holds mail tokens). */
static int sq_setup(struct sq_store *s, struct wgotp_error *err)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int rc, ret;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		goto sqlite_error;
	mode = sqlite3_column_text(st, 0);
	if (!mode || strcmp((const char *)mode, "wal") != 0) {
		ret = wgotp_error_set(err, ENOTSUP, "store: %s: cannot use WAL mode (journal mode is %s)",
				      s->path, mode ? (const char *)mode : "unknown");
		goto cleanup;
	}
	sqlite3_finalize(st);
	st = NULL;

	/* NORMAL in WAL mode: a commit survives the process dying (kill -9,
	 * a crashed freeradius); only a power cut may lose the last few
	 * commits, which costs at most a replayable step within the TOTP
	 * window. FULL put an fsync on every login (see tests/bench). */
	rc = sqlite3_exec(s->db,
			  "PRAGMA synchronous = NORMAL;"
			  "PRAGMA secure_delete = ON;"
			  "PRAGMA trusted_schema = OFF;",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sqlite_error;
	ret = 0;
	goto cleanup;

sqlite_error:
	ret = wgotp_error_set(err, -sq_errno(rc), "store: %s: %s", s->path, sqlite3_errmsg(s->db));
cleanup:
	sqlite3_finalize(st);
	return ret;
}

/* The counter table beside the database: <Path>-counters. */
static int sq_open_counters(struct sq_store *s, const struct wgotp_config *cfg,
			    const struct stat *db, struct wgotp_error *err)
{
	char *path;
	int ret;

	if (asprintf(&path, "%s-counters", s->path) < 0)
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	ret = wgotp_ctab_open(path, (uint64_t)cfg->store_counter_slots, db, s->busy_ms, &s->ctab,
			      err);
	free(path);
	return ret;
}

static void sq_close(void *state)
{
	struct sq_store *s = state;
	int i;

	if (!s)
		return;
	for (i = 0; i < SQ_N_STMT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close(s->db);
	wgotp_ctab_close(s->ctab);
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

static int sq_open(const struct wgotp_config *cfg, void **state, struct wgotp_error *err)
{
	struct sq_store *s = NULL;
	struct stat sb;
	int i, rc, ret;

	if (!cfg || !state)
		return wgotp_error_set(err, EINVAL, "store: no configuration");
	*state = NULL;
	if (!cfg->store_path || !*cfg->store_path)
		return wgotp_error_set(err, EINVAL, "store: [Store] Path is not set");
	if (cfg->store_busy_timeout_ms < 0)
		return wgotp_error_set(err, EINVAL, "store: [Store] BusyTimeout is negative");

	ret = sq_create_file(cfg->store_path, err);
	if (ret < 0)
		return ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	s->busy_ms = cfg->store_busy_timeout_ms;
	s->path = strdup(cfg->store_path);
	if (!s->path) {
		free(s);
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	}
	ret = pthread_mutex_init(&s->lock, NULL);
	if (ret) {
		free(s->path);
		free(s);
		return wgotp_error_set(err, ret, "store: mutex: %s", strerror(ret));
	}

	/* The file exists: never let SQLite create it with its own mode. */
	rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ret = wgotp_error_set(err, -sq_errno(rc), "store: cannot open %s: %s", s->path,
				      s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto cleanup;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, s->busy_ms);

	if (stat(s->path, &sb) < 0) {
		ret = wgotp_error_set(err, errno, "store: %s: %s", s->path, strerror(errno));
		goto cleanup;
	}
	ret = sq_open_counters(s, cfg, &sb, err);
	if (ret < 0)
		goto cleanup;

	ret = sq_setup(s, err);
	if (ret < 0)
		goto cleanup;
	ret = sq_migrate(s, err);
	if (ret < 0)
		goto cleanup;

	for (i = 0; i < SQ_N_STMT; i++) {
		rc = sqlite3_prepare_v3(s->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					&s->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			ret = wgotp_error_set(err, -sq_errno(rc), "store: %s: preparing statement %d: %s",
					      s->path, i, sqlite3_errmsg(s->db));
			goto cleanup;
		}
	}

	*state = s;
	s = NULL;
	ret = 0;
cleanup:
	sq_close(s);
	return ret;
}

/* ---- challenges -------------------------------------------------------- */

static int sq_challenge_put(void *st_, const struct wgotp_challenge *c)
{
	struct sq_store *s = st_;
	sqlite3_stmt *st;
	int rc, ret;

	if (!c || !field_ok(c->id, sizeof(c->id)) || !c->id[0] ||
	    !field_ok(c->user, sizeof(c->user)) || !field_ok(c->device, sizeof(c->device)) ||
	    !field_ok(c->origin, sizeof(c->origin)))
		return -EINVAL;

	sq_lock(s);
	st = sq_stmt(s, SQ_CH_PUT);
	bind_text(st, 1, c->id);
	bind_text(st, 2, c->user);
	sqlite3_bind_int(st, 3, (int)c->method);
	sqlite3_bind_int(st, 4, c->decoy ? 1 : 0);
	sqlite3_bind_blob(st, 5, c->code_mac, WGOTP_MAC_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, c->created);
	sqlite3_bind_int64(st, 7, c->expires);
	sqlite3_bind_int(st, 8, c->tries);
	sqlite3_bind_int64(st, 9, c->duration);
	bind_text(st, 10, c->device);
	bind_text(st, 11, c->origin);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		ret = sq_fail(s, rc);
	else
		ret = sqlite3_changes(s->db) == 1 ? 0 : -EEXIST;
	sq_done(st);
	sq_unlock(s);
	return ret;
}

static int sq_challenge_try(void *st_, const char *id, int64_t now, int max_tries,
			    struct wgotp_challenge *out)
{
	struct sq_store *s = st_;
	struct wgotp_challenge c;
	sqlite3_stmt *st;
	int rc, ret;

	if (!key_ok(id, WGOTP_CHALLENGE_ID_LEN) || max_tries < 1)
		return -EINVAL;

	sq_lock(s);
	ret = sq_begin(s);
	if (ret < 0)
		goto cleanup;

	st = sq_stmt(s, SQ_CH_GET);
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = sq_bad_row(s, col_challenge(st, &c), __func__);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = sq_fail(s, rc);
	sq_done(st);
	if (ret < 0)
		goto cleanup;

	if (c.expires <= now) {
		ret = -ETIME;
		goto cleanup;
	}
	if (c.tries >= max_tries) {
		st = sq_stmt(s, SQ_CH_DEL);
		bind_text(st, 1, id);
		ret = sq_run(s, st);
		if (ret < 0)
			goto cleanup;
		ret = sq_commit(s);
		if (ret == 0)
			ret = -EMLINK;
		goto cleanup;
	}

	st = sq_stmt(s, SQ_CH_INC);
	bind_text(st, 1, id);
	ret = sq_run(s, st);
	if (ret < 0)
		goto cleanup;
	ret = sq_commit(s);
	if (ret < 0)
		goto cleanup;
	c.tries++;
	if (out)
		*out = c;
cleanup:
	sq_rollback(s);
	sq_unlock(s);
	wgotp_wipe(&c, sizeof(c));
	return ret;
}

static int sq_challenge_latest(void *st_, const char *user, enum wgotp_method method,
			       int64_t now, struct wgotp_challenge *out)
{
	struct sq_store *s = st_;
	struct wgotp_challenge c;
	sqlite3_stmt *st;
	int rc, ret;

	if (!key_ok(user, WGOTP_EMAIL_MAX))
		return -EINVAL;

	sq_lock(s);
	st = sq_stmt(s, SQ_CH_LATEST);
	bind_text(st, 1, user);
	sqlite3_bind_int(st, 2, (int)method);
	sqlite3_bind_int64(st, 3, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = sq_bad_row(s, col_challenge(st, &c), __func__);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = sq_fail(s, rc);
	sq_done(st);
	sq_unlock(s);
	if (ret == 0 && out)
		*out = c;
	wgotp_wipe(&c, sizeof(c));
	return ret;
}

/* Delete one row by key(s); -ENOENT when there was none. */
static int sq_delete_(struct sq_store *s, enum sq_stmt_id id, const char *k1, const char *k2,
		      const char *func)
{
	sqlite3_stmt *st;
	int ret;

	sq_lock(s);
	st = sq_stmt(s, id);
	bind_text(st, 1, k1);
	if (k2)
		bind_text(st, 2, k2);
	ret = sq_run_(s, st, func);
	if (ret == 0 && sqlite3_changes(s->db) == 0)
		ret = -ENOENT;
	sq_unlock(s);
	return ret;
}
#define sq_delete(s, id, k1, k2) sq_delete_((s), (id), (k1), (k2), __func__)

static int sq_challenge_del(void *st_, const char *id)
{
	if (!key_ok(id, WGOTP_CHALLENGE_ID_LEN))
		return -EINVAL;
	return sq_delete(st_, SQ_CH_DEL, id, NULL);
}

static int sq_expire(void *st_, int64_t now)
{
	static const enum sq_stmt_id which[] = { SQ_EXP_CH, SQ_EXP_CNT, SQ_EXP_KV };
	struct sq_store *s = st_;
	sqlite3_stmt *st;
	size_t i;
	int ret;

	sq_lock(s);
	ret = sq_begin(s);
	if (ret < 0)
		goto cleanup;
	for (i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
		st = sq_stmt(s, which[i]);
		sqlite3_bind_int64(st, 1, now);
		ret = sq_run(s, st);
		if (ret < 0)
			goto cleanup;
	}
	ret = sq_commit(s);
cleanup:
	sq_rollback(s);
	sq_unlock(s);
	return ret;
}

/* ---- TOTP replay and counters in the database ------------------------- */

/* The database keeps these only for keys the counter table could not
 * hold (store_counters.h); each is called with the table's lock held. */
static int db_totp_use_step(struct sq_store *s, const char *user, uint64_t step)
{
	sqlite3_stmt *st;
	int rc, ret;

	sq_lock(s);
	st = sq_stmt(s, SQ_TOTP_USE);
	bind_text(st, 1, user);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)step);
	rc = sq_step_returning(st, NULL);
	if (rc == SQLITE_ROW)
		ret = 0;		/* stored */
	else if (rc == SQLITE_DONE)
		ret = -EALREADY;	/* the stored step is >= step */
	else
		ret = sq_fail(s, rc);
	sq_done(st);
	sq_unlock(s);
	return ret;
}

static int db_totp_last_step(struct sq_store *s, const char *user, uint64_t *step)
{
	sqlite3_stmt *st;
	sqlite3_int64 v;
	int rc, ret;

	sq_lock(s);
	st = sq_stmt(s, SQ_TOTP_GET);
	bind_text(st, 1, user);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		v = sqlite3_column_int64(st, 0);
		ret = v < 0 ? sq_bad_row(s, -EIO, __func__) : 0;
		if (ret == 0)
			*step = (uint64_t)v;
	} else if (rc == SQLITE_DONE) {
		*step = 0;
		ret = 0;
	} else {
		ret = sq_fail(s, rc);
	}
	sq_done(st);
	sq_unlock(s);
	return ret;
}

static int db_counter_get(struct sq_store *s, const char *key, int64_t now, int64_t *count,
			  int64_t *reset_at);

/* Add 1 unless the live window already counts limit: then -EDQUOT and
 * the count in *count. */
static int db_counter_hit(struct sq_store *s, const char *key, int64_t now, int64_t reset_at,
			  int64_t limit, int64_t *count)
{
	sqlite3_stmt *st;
	int64_t end;
	int rc, ret;

	sq_lock(s);
	st = sq_stmt(s, SQ_CNT_HIT);
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, reset_at);
	sqlite3_bind_int64(st, 4, limit);
	rc = sq_step_returning(st, count);
	if (rc == SQLITE_ROW)
		ret = 0;
	else if (rc == SQLITE_DONE)
		ret = -EDQUOT;
	else
		ret = sq_fail(s, rc);
	sq_done(st);
	sq_unlock(s);
	if (ret == -EDQUOT) {
		ret = db_counter_get(s, key, now, count, &end);
		if (ret == 0)
			ret = -EDQUOT;
	}
	return ret;
}

/* The count and the end of its window; 0 and 0 when there is none. */
static int db_counter_get(struct sq_store *s, const char *key, int64_t now, int64_t *count,
			  int64_t *reset_at)
{
	sqlite3_stmt *st;
	int rc, ret = 0;

	*count = 0;
	*reset_at = 0;
	sq_lock(s);
	st = sq_stmt(s, SQ_CNT_GET);
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count = sqlite3_column_int64(st, 0);
		*reset_at = sqlite3_column_int64(st, 1);
	} else if (rc != SQLITE_DONE) {
		ret = sq_fail(s, rc);
	}
	sq_done(st);
	sq_unlock(s);
	return ret;
}

/* ---- TOTP replay and counters ------------------------------------------ */

/*
 * The entry for key in the counter table, created if need be. When the
 * table has ever spilled, a new entry starts from what the database holds
 * for the key (*seed_fn), so that a key never has two live values. Returns
 * -ENOSPC (the table marked spilled) when the key must live in the
 * database. Called with the table's lock held.
 */
static int ctab_entry(struct sq_store *s, enum wgotp_ctab_ns ns, const char *key, int64_t now,
		      struct wgotp_ctab_entry **e, bool *seed)
{
	bool created;
	int ret;

	ret = wgotp_ctab_claim(s->ctab, ns, key, now, e, &created);
	if (ret == -ENOSPC)
		wgotp_ctab_set_spilled(s->ctab);
	*seed = ret == 0 && created && wgotp_ctab_spilled(s->ctab);
	return ret;
}

static int sq_totp_use_step(void *st_, const char *user, uint64_t step)
{
	struct sq_store *s = st_;
	struct wgotp_ctab_entry *e;
	uint64_t last;
	bool seed;
	int ret;

	if (!key_ok(user, WGOTP_EMAIL_MAX))
		return -EINVAL;
	if (step > (uint64_t)INT64_MAX)
		return -ERANGE;

	ret = wgotp_ctab_lock(s->ctab);
	if (ret < 0)
		return ret;
	ret = ctab_entry(s, WGOTP_CTAB_STEP, user, 0, &e, &seed);
	if (ret == -ENOSPC) {
		ret = db_totp_use_step(s, user, step);
		goto cleanup;
	}
	if (ret < 0)
		goto cleanup;
	if (seed) {
		ret = db_totp_last_step(s, user, &last);
		if (ret < 0) {
			wgotp_ctab_set(e, 0, 0);	/* gone again */
			goto cleanup;
		}
		e->value = (int64_t)last;
	}
	if ((int64_t)step > e->value) {
		e->value = (int64_t)step;
		ret = 0;
	} else {
		ret = -EALREADY;	/* a replay, or the loser of a race */
	}
cleanup:
	wgotp_ctab_unlock(s->ctab);
	return ret;
}

static int sq_totp_last_step(void *st_, const char *user, uint64_t *step)
{
	struct sq_store *s = st_;
	struct wgotp_ctab_entry *e;
	int ret;

	if (!key_ok(user, WGOTP_EMAIL_MAX) || !step)
		return -EINVAL;

	ret = wgotp_ctab_lock(s->ctab);
	if (ret < 0)
		return ret;
	ret = wgotp_ctab_find(s->ctab, WGOTP_CTAB_STEP, user, 0, &e);
	if (ret == 0)
		*step = (uint64_t)e->value;
	else if (ret == -ENOENT && wgotp_ctab_spilled(s->ctab))
		ret = db_totp_last_step(s, user, step);
	else if (ret == -ENOENT) {
		*step = 0;
		ret = 0;
	}
	wgotp_ctab_unlock(s->ctab);
	return ret;
}

/* counter_hit and counter_take: limit INT64_MAX for no limit. */
static int sq_counter_add(void *st_, const char *key, int64_t now, int64_t window, int64_t limit,
			  int64_t *count)
{
	struct sq_store *s = st_;
	struct wgotp_ctab_entry *e;
	int64_t reset_at, n, end;
	bool seed;
	int ret;

	if (!key_ok(key, SQ_KEY_MAX) || window <= 0 || limit < 1)
		return -EINVAL;
	if (__builtin_add_overflow(now, window, &reset_at))
		return -ERANGE;

	ret = wgotp_ctab_lock(s->ctab);
	if (ret < 0)
		return ret;
	ret = ctab_entry(s, WGOTP_CTAB_COUNTER, key, now, &e, &seed);
	if (ret == -ENOSPC) {
		ret = db_counter_hit(s, key, now, reset_at, limit, count);
		goto cleanup;
	}
	if (ret < 0)
		goto cleanup;
	if (e->expires == WGOTP_CTAB_NEVER) {	/* new: a window starts */
		n = 0;
		end = reset_at;
		if (seed) {
			ret = db_counter_get(s, key, now, &n, &end);
			if (ret < 0) {
				wgotp_ctab_set(e, 0, 0);
				goto cleanup;
			}
			if (end <= now) {
				n = 0;
				end = reset_at;
			}
		}
		wgotp_ctab_set(e, n, end);
	}
	if (e->value >= limit) {	/* also INT64_MAX, whatever the group wrote */
		ret = -EDQUOT;
	} else {
		e->value++;
	}
	if (count)
		*count = e->value;
cleanup:
	wgotp_ctab_unlock(s->ctab);
	return ret;
}

/*
 * wgotp_store_totp_attempt in one cycle of the counter table's lock: the
 * failure counter and the replay step are both in it. -ENOTSUP (nothing
 * changed) once the table has spilled, or when one of the keys does not
 * fit: the facade then does it with the three operations, which know
 * the database.
 */
static int sq_totp_attempt(void *st_, const struct wgotp_totp_attempt *a, uint64_t *used)
{
	struct sq_store *s = st_;
	struct wgotp_ctab_entry *fail = NULL, *step;
	int64_t reset_at;
	bool created;
	int ret;

	if (!key_ok(a->user, WGOTP_EMAIL_MAX) || !key_ok(a->fail_key, SQ_KEY_MAX))
		return -EINVAL;
	if (__builtin_add_overflow(a->now, a->window, &reset_at))
		return -ERANGE;
	for (size_t i = 0; i < a->n_steps; i++)
		if (a->steps[i] > (uint64_t)INT64_MAX)
			return -ERANGE;

	ret = wgotp_ctab_lock(s->ctab);
	if (ret < 0)
		return ret;
	/* Under the lock, the table cannot spill behind our back. */
	if (wgotp_ctab_spilled(s->ctab)) {
		ret = -ENOTSUP;
		goto cleanup;
	}
	ret = wgotp_ctab_find(s->ctab, WGOTP_CTAB_COUNTER, a->fail_key, a->now, &fail);
	if (ret == -ENOENT)
		fail = NULL;
	else if (ret < 0)
		goto cleanup;
	if (fail && fail->value >= a->max_failures) {
		ret = -EDQUOT;	/* refused unjudged */
		goto cleanup;
	}
	ret = wgotp_ctab_claim(s->ctab, WGOTP_CTAB_STEP, a->user, 0, &step, &created);
	if (ret < 0)
		goto spill;
	for (size_t i = 0; i < a->n_steps; i++) {
		if ((int64_t)a->steps[i] <= step->value)
			continue;	/* used, or below the one used */
		step->value = (int64_t)a->steps[i];
		*used = a->steps[i];
		if (fail)
			wgotp_ctab_set(fail, 0, 0);	/* a right code clears them */
		ret = 0;
		goto cleanup;
	}
	if (!fail) {
		ret = wgotp_ctab_claim(s->ctab, WGOTP_CTAB_COUNTER, a->fail_key, a->now, &fail, &created);
		if (ret < 0)
			goto spill;
		wgotp_ctab_set(fail, 0, reset_at);	/* a window starts */
	}
	if (fail->value < INT64_MAX)
		fail->value++;
	ret = a->n_steps ? -EALREADY : -EACCES;
	goto cleanup;
spill:
	/* Nothing was changed but a new step entry at 0, which is right for
	 * a key that was nowhere: the facade goes the long way. */
	if (ret == -ENOSPC) {
		wgotp_ctab_set_spilled(s->ctab);
		ret = -ENOTSUP;
	}
cleanup:
	wgotp_ctab_unlock(s->ctab);
	return ret;
}

static int sq_counter_hit(void *st, const char *key, int64_t now, int64_t window, int64_t *count)
{
	return sq_counter_add(st, key, now, window, INT64_MAX, count);
}

static int sq_counter_take(void *st, const char *key, int64_t now, int64_t window, int64_t limit,
			   int64_t *count)
{
	return sq_counter_add(st, key, now, window, limit, count);
}

static int sq_counter_get(void *st_, const char *key, int64_t now, int64_t *count)
{
	struct sq_store *s = st_;
	struct wgotp_ctab_entry *e, copy;
	int64_t reset_at;
	int ret;

	if (!key_ok(key, SQ_KEY_MAX) || !count)
		return -EINVAL;

	/* A read, racing with updates in any case: no lock, no system call. */
	ret = wgotp_ctab_peek(s->ctab, WGOTP_CTAB_COUNTER, key, now, &copy);
	if (ret == 0 || ret == -ENOENT) {
		*count = ret == 0 ? copy.value : 0;
		return 0;
	}
	ret = wgotp_ctab_lock(s->ctab);
	if (ret < 0)
		return ret;
	ret = wgotp_ctab_find(s->ctab, WGOTP_CTAB_COUNTER, key, now, &e);
	if (ret == 0)
		*count = e->value;
	else if (ret == -ENOENT && wgotp_ctab_spilled(s->ctab))
		ret = db_counter_get(s, key, now, count, &reset_at);
	else if (ret == -ENOENT) {
		*count = 0;
		ret = 0;
	}
	wgotp_ctab_unlock(s->ctab);
	return ret;
}

/* Resetting a counter that does not exist is not an error. */
static int sq_counter_reset(void *st_, const char *key)
{
	struct sq_store *s = st_;
	struct wgotp_ctab_entry *e;
	int ret;

	if (!key_ok(key, SQ_KEY_MAX))
		return -EINVAL;

	ret = wgotp_ctab_lock(s->ctab);
	if (ret < 0)
		return ret;
	ret = wgotp_ctab_find(s->ctab, WGOTP_CTAB_COUNTER, key, 0, &e);
	if (ret == 0)
		wgotp_ctab_set(e, 0, 0);
	ret = 0;
	if (wgotp_ctab_spilled(s->ctab)) {
		ret = sq_delete(s, SQ_CNT_RESET, key, NULL);
		if (ret == -ENOENT)
			ret = 0;
	}
	wgotp_ctab_unlock(s->ctab);
	return ret;
}

/* ---- sessions ---------------------------------------------------------- */

static int sq_session_put(void *st_, const struct wgotp_session *ses)
{
	struct sq_store *s = st_;
	sqlite3_stmt *st;
	int ret;

	if (!ses || !field_ok(ses->user, sizeof(ses->user)) || !ses->user[0] ||
	    !field_ok(ses->device, sizeof(ses->device)) ||
	    !field_ok(ses->public_key, sizeof(ses->public_key)) ||
	    !field_ok(ses->allowed_ips, sizeof(ses->allowed_ips)) ||
	    !field_ok(ses->origin, sizeof(ses->origin)))
		return -EINVAL;

	sq_lock(s);
	st = sq_stmt(s, SQ_SES_PUT);
	bind_text(st, 1, ses->user);
	bind_text(st, 2, ses->device);
	bind_text(st, 3, ses->public_key);
	bind_text(st, 4, ses->allowed_ips);
	sqlite3_bind_int64(st, 5, ses->created);
	sqlite3_bind_int64(st, 6, ses->expires);
	bind_text(st, 7, ses->origin);
	ret = sq_run(s, st);
	sq_unlock(s);
	return ret;
}

static int sq_session_get(void *st_, const char *user, const char *device, struct wgotp_session *out)
{
	struct sq_store *s = st_;
	struct wgotp_session ses;
	sqlite3_stmt *st;
	int rc, ret;

	if (!key_ok(user, WGOTP_EMAIL_MAX) || !device || strlen(device) > WGOTP_DEVICE_NAME_MAX)
		return -EINVAL;

	sq_lock(s);
	st = sq_stmt(s, SQ_SES_GET);
	bind_text(st, 1, user);
	bind_text(st, 2, device);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = sq_bad_row(s, col_session(st, &ses), __func__);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = sq_fail(s, rc);
	sq_done(st);
	sq_unlock(s);
	if (ret == 0 && out)
		*out = ses;
	return ret;
}

static int sq_session_del(void *st_, const char *user, const char *device)
{
	if (!key_ok(user, WGOTP_EMAIL_MAX) || !device || strlen(device) > WGOTP_DEVICE_NAME_MAX)
		return -EINVAL;
	return sq_delete(st_, SQ_SES_DEL, user, device);
}

/*
 * The rows are read into memory first and the callbacks run without the
 * lock, so a callback may call the store (the activator deletes expired
 * sessions while it walks them).
 */
static int sq_session_list(void *st_, wgotp_session_cb cb, void *arg)
{
	struct sq_store *s = st_;
	struct wgotp_session *rows = NULL, *tmp;
	size_t n = 0, cap = 0, i;
	sqlite3_stmt *st;
	int rc, ret = 0;

	if (!cb)
		return -EINVAL;

	sq_lock(s);
	st = sq_stmt(s, SQ_SES_LIST);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			tmp = reallocarray(rows, cap, sizeof(*rows));
			if (!tmp) {
				ret = -ENOMEM;
				break;
			}
			rows = tmp;
		}
		ret = sq_bad_row(s, col_session(st, &rows[n]), __func__);
		if (ret < 0)
			break;
		n++;
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = sq_fail(s, rc);
	sq_done(st);
	sq_unlock(s);
	if (ret < 0)
		goto cleanup;

	for (i = 0; i < n; i++) {
		ret = cb(arg, &rows[i]);
		if (ret)
			break;
	}
cleanup:
	free(rows);
	return ret;
}

/* ---- cache ------------------------------------------------------------- */

static int sq_kv_put(void *st_, const char *key, const char *val, int64_t expires)
{
	struct sq_store *s = st_;
	sqlite3_stmt *st;
	int ret;

	if (!key_ok(key, SQ_KEY_MAX) || !val)
		return -EINVAL;

	sq_lock(s);
	st = sq_stmt(s, SQ_KV_PUT);
	bind_text(st, 1, key);
	bind_text(st, 2, val);
	sqlite3_bind_int64(st, 3, expires);
	ret = sq_run(s, st);
	sq_unlock(s);
	return ret;
}

static int sq_kv_get(void *st_, const char *key, int64_t now, char **val)
{
	struct sq_store *s = st_;
	const unsigned char *t;
	sqlite3_stmt *st;
	int rc, n, ret;

	if (!key_ok(key, SQ_KEY_MAX) || !val)
		return -EINVAL;
	*val = NULL;

	sq_lock(s);
	st = sq_stmt(s, SQ_KV_GET);
	bind_text(st, 1, key);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		n = sqlite3_column_bytes(st, 0);
		*val = t ? malloc((size_t)n + 1) : NULL;
		if (*val) {
			memcpy(*val, t, (size_t)n);
			(*val)[n] = '\0';
			ret = 0;
		} else {
			ret = -ENOMEM;
		}
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = sq_fail(s, rc);
	}
	sq_done(st);
	sq_unlock(s);
	return ret;
}

static int sq_kv_del(void *st_, const char *key)
{
	if (!key_ok(key, SQ_KEY_MAX))
		return -EINVAL;
	return sq_delete(st_, SQ_KV_DEL, key, NULL);
}

/*
 * Read and delete in one statement: two takers of one key cannot both see
 * it. The deletion is stored when the statement has stepped to its end,
 * so the value is handed out only then; an expired entry is deleted too.
 */
static int sq_kv_take(void *st_, const char *key, int64_t now, char **val)
{
	struct sq_store *s = st_;
	const unsigned char *t;
	char *v = NULL;
	sqlite3_stmt *st;
	int64_t expires = 0;
	int rc, n, ret;

	if (!key_ok(key, SQ_KEY_MAX) || !val)
		return -EINVAL;
	*val = NULL;

	sq_lock(s);
	st = sq_stmt(s, SQ_KV_TAKE);
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		n = sqlite3_column_bytes(st, 0);
		expires = sqlite3_column_int64(st, 1);
		v = t && n >= 0 ? malloc((size_t)n + 1) : NULL;
		if (v) {
			memcpy(v, t, (size_t)n);
			v[n] = '\0';
		}
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			ret = !v ? -ENOMEM : expires > now ? 0 : -ENOENT;
		else
			ret = sq_fail(s, rc == SQLITE_ROW ? SQLITE_INTERNAL : rc);
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = sq_fail(s, rc);
	}
	sq_done(st);
	sq_unlock(s);
	if (ret == 0) {
		*val = v;
		v = NULL;
	}
	wgotp_free_str(v);
	return ret;
}

const struct wgotp_store_ops wgotp_store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.challenge_put = sq_challenge_put,
	.challenge_try = sq_challenge_try,
	.challenge_latest = sq_challenge_latest,
	.challenge_del = sq_challenge_del,
	.expire = sq_expire,
	.totp_use_step = sq_totp_use_step,
	.totp_last_step = sq_totp_last_step,
	.counter_hit = sq_counter_hit,
	.counter_take = sq_counter_take,
	.totp_attempt = sq_totp_attempt,
	.counter_get = sq_counter_get,
	.counter_reset = sq_counter_reset,
	.session_put = sq_session_put,
	.session_get = sq_session_get,
	.session_del = sq_session_del,
	.session_list = sq_session_list,
	.kv_put = sq_kv_put,
	.kv_get = sq_kv_get,
	.kv_del = sq_kv_del,
	.kv_take = sq_kv_take,
};
