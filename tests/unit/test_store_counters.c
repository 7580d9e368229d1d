/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SQLite store's counter table (lib/store_counters.c): the file, the
 * table's rules, what happens when it is full, several processes at once,
 * a process that dies holding the lock, and a member of the file's group
 * who writes anything into it or holds its lock for ever.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "siphash.h"
#include "store.h"
#include "store_counters.h"
#include "tap.h"
#include "testutil.h"

/* The bound on waiting for the lock in these tests (ms). */
#define WAIT_MS 300
#define CTAB_OPEN(path, slots, t, err) wgotp_ctab_open((path), (slots), NULL, WAIT_MS, (t), (err))

static char *tmpdir;
static int warnings;
static char last_warning[512], last_error[512];
static int busy_ms = 5000;	/* [Store] BusyTimeout of open_store() */
static char open_error[512];	/* why open_store() last failed */

static void log_capture(void *arg, enum wgotp_log_level level, const char *msg)
{
	(void)arg;
	if (level == WGOTP_LOG_WARN) {
		warnings++;
		snprintf(last_warning, sizeof(last_warning), "%s", msg);
	}
	if (level == WGOTP_LOG_ERR)
		snprintf(last_error, sizeof(last_error), "%s", msg);
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static char *path_in(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
		abort();
	return p;
}

static struct wgotp_store *open_store(const char *db, int slots)
{
	struct wgotp_config *cfg;
	struct wgotp_error err = { "" };
	struct wgotp_store *st = NULL;

	if (wgotp_config_defaults(&cfg) < 0)
		abort();
	free(cfg->store_path);
	cfg->store_path = strdup(db);
	cfg->store_counter_slots = slots;
	cfg->store_busy_timeout_ms = busy_ms;
	if (wgotp_store_open(cfg, &st, &err) < 0) {
		diag("open %s: %s", db, err.msg);
		snprintf(open_error, sizeof(open_error), "%s", err.msg);
		st = NULL;
	}
	wgotp_config_free(cfg);
	return st;
}

static void test_siphash(void)
{
	uint8_t key[16], msg[15];
	int i;

	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	/* the test vectors of the SipHash paper and reference code */
	ok(wgotp_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL, "SipHash-2-4, 15 bytes");
	ok(wgotp_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL, "SipHash-2-4, empty");
	ok(wgotp_siphash24(key, msg, 8) == 0x93f5f5799a932462ULL, "SipHash-2-4, 8 bytes");
}

static void test_file(void)
{
	struct wgotp_error err = { "" };
	struct wgotp_ctab *t = NULL;
	char *p = path_in("file-counters");
	struct stat sb;
	int fd;

	umask(022);
	is_int(CTAB_OPEN(p, 1000, &t, &err), 0, "create a table");
	memset(&sb, 0, sizeof(sb));
	is_int(stat(p, &sb), 0, "stat it");
	is_int(sb.st_mode & 07777, 0660, "mode 0660 whatever the umask");
	is_int(sb.st_size, 4096 + 1024 * 32, "1000 slots rounded up to 1024");
	wgotp_ctab_close(t);
	is_int(CTAB_OPEN(p, 1 << 20, &t, &err), 0, "open it again asking for more");
	ok(stat(p, &sb) == 0 && sb.st_size == 4096 + 1024 * 32, "an existing table keeps its size");
	wgotp_ctab_close(t);
	t = NULL;

	ok(chmod(p, 0664) == 0, "(chmod 664)");
	is_int(CTAB_OPEN(p, 1024, &t, &err), -EPERM, "readable by others: -EPERM");
	ok(strstr(err.msg, "others must have no access") != NULL, "... saying so: %s", err.msg);
	ok(chmod(p, 0660) == 0, "(chmod 660)");

	/* damaged: another magic, then a truncated file */
	fd = open(p, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, "XXXX", 4, 0) == 4, "(overwrite the magic)");
	is_int(CTAB_OPEN(p, 1024, &t, &err), -EINVAL, "a damaged table: -EINVAL");
	ok(strstr(err.msg, "not a wgotp counter table") != NULL, "... saying so: %s", err.msg);
	ok(t == NULL, "... and no table");
	if (fd >= 0)
		close(fd);
	unlink(p);
	is_int(CTAB_OPEN(p, 1024, &t, &err), 0, "(a new one)");
	wgotp_ctab_close(t);
	t = NULL;
	ok(truncate(p, 4096 + 1000 * 32) == 0, "(truncate it)");
	is_int(CTAB_OPEN(p, 1024, &t, &err), -EINVAL, "a truncated table: -EINVAL");
	free(p);
}

static void test_rules(void)
{
	struct wgotp_error err = { "" };
	struct wgotp_ctab_entry *e = NULL, copy;
	struct wgotp_ctab *t = NULL;
	char *p = path_in("rules-counters");
	bool created;

	if (CTAB_OPEN(p, 1024, &t, &err) < 0) {
		ok(0, "open: %s", err.msg);
		free(p);
		return;
	}
	is_int(wgotp_ctab_lock(t), 0, "lock");
	is_int(wgotp_ctab_find(t, WGOTP_CTAB_COUNTER, "k", 100, &e), -ENOENT,
	       "absent, not created: -ENOENT");
	is_int(wgotp_ctab_claim(t, WGOTP_CTAB_COUNTER, "k", 100, &e, &created), 0, "create");
	ok(created && e->value == 0 && e->expires == WGOTP_CTAB_NEVER, "new: 0, never expires");
	wgotp_ctab_set(e, 3, 160);
	is_int(wgotp_ctab_find(t, WGOTP_CTAB_COUNTER, "k", 159, &e), 0,
	       "found before its expiry");
	ok(e->value == 3, "with its value");
	is_int(wgotp_ctab_claim(t, WGOTP_CTAB_COUNTER, "k", 159, &e, &created), 0,
	       "claimed while live");
	ok(!created && e->value == 3, "... the same entry, not a new one");
	is_int(wgotp_ctab_find(t, WGOTP_CTAB_STEP, "k", 159, &e), -ENOENT,
	       "the same key in the other namespace is another entry");
	is_int(wgotp_ctab_find(t, WGOTP_CTAB_COUNTER, "k", 160, &e), -ENOENT,
	       "absent at its expiry");
	is_int(wgotp_ctab_claim(t, WGOTP_CTAB_COUNTER, "k", 160, &e, &created), 0,
	       "created again after it");
	ok(created && e->value == 0, "... from zero");
	wgotp_ctab_set(e, 7, 200);
	wgotp_ctab_unlock(t);
	ok(!wgotp_ctab_spilled(t), "not spilled");

	/* the same rules without the lock */
	memset(&copy, 0, sizeof(copy));
	is_int(wgotp_ctab_peek(t, WGOTP_CTAB_COUNTER, "k", 199, &copy), 0, "peek: found");
	ok(copy.value == 7 && copy.expires == 200, "... a copy of the entry");
	is_int(wgotp_ctab_peek(t, WGOTP_CTAB_COUNTER, "k", 200, &copy), -ENOENT,
	       "peek: absent at its expiry");
	is_int(wgotp_ctab_peek(t, WGOTP_CTAB_STEP, "k", 100, &copy), -ENOENT,
	       "peek: the other namespace is another entry");
	is_int(wgotp_ctab_peek(t, WGOTP_CTAB_COUNTER, "never", 100, &copy), -ENOENT,
	       "peek: never stored");
	wgotp_ctab_set_spilled(t);
	is_int(wgotp_ctab_peek(t, WGOTP_CTAB_COUNTER, "k", 100, &copy), -EAGAIN,
	       "peek once spilled: -EAGAIN (take the lock)");
	wgotp_ctab_close(t);
	free(p);
}

/* A table of 1,024 slots holds at most 1,024 live keys: the rest must go
 * to the database, and every key must keep one value throughout. */
static void test_spill(void)
{
	const int keys = 1500;
	char *db = path_in("spill.db"), key[64];
	struct wgotp_store *st = open_store(db, 1024), *st2;
	const struct wgotp_store_ops *o;
	int64_t n, bad = 0;
	uint64_t step;
	int i;

	ok(st != NULL, "open a store with CounterSlots = 1024");
	if (!st)
		goto cleanup;
	o = st->ops;
	warnings = 0;
	for (i = 0; i < keys; i++) {
		snprintf(key, sizeof(key), "fail:user%d@example.com", i);
		if (o->counter_hit(st->state, key, 1000, 600, &n) < 0 || n != 1)
			bad++;
		snprintf(key, sizeof(key), "user%d@example.com", i);
		if (o->totp_use_step(st->state, key, 500) < 0)
			bad++;
	}
	is_int(bad, 0, "%d counters and %d steps stored", keys, keys);
	ok(warnings >= 1 && strstr(last_warning, "CounterSlots"), "the spill is logged: %s",
	   last_warning);
	for (i = 0; i < keys; i++) {
		snprintf(key, sizeof(key), "fail:user%d@example.com", i);
		if (o->counter_hit(st->state, key, 1001, 600, &n) < 0 || n != 2)
			bad++;
		snprintf(key, sizeof(key), "user%d@example.com", i);
		if (o->totp_use_step(st->state, key, 500) != -EALREADY)
			bad++;
		if (o->totp_last_step(st->state, key, &step) < 0 || step != 500)
			bad++;
	}
	is_int(bad, 0, "every key, in the table or the database, has its one value");
	for (i = 0; i < keys; i++) {
		snprintf(key, sizeof(key), "fail:user%d@example.com", i);
		if (o->counter_take(st->state, key, 1002, 600, 3, &n) != 0 || n != 3 ||
		    o->counter_take(st->state, key, 1002, 600, 3, &n) != -EDQUOT || n != 3)
			bad++;
	}
	is_int(bad, 0, "counter_take stops at its limit, in the table and in the database");

	/* The counters' windows end: their slots are free again. Keys now
	 * created in the table start from what the database holds. */
	for (i = 0; i < keys; i++) {
		snprintf(key, sizeof(key), "mail1:user%d@example.com", i);
		if (o->counter_hit(st->state, key, 1700, 60, &n) < 0 || n != 1)
			bad++;
		snprintf(key, sizeof(key), "user%d@example.com", i);
		if (o->totp_use_step(st->state, key, 500) != -EALREADY ||
		    o->totp_use_step(st->state, key, 501) != 0)
			bad++;
	}
	is_int(bad, 0, "after the windows end: no step accepted twice, the next one once");
	st2 = open_store(db, 1024);
	for (i = 0; st2 && i < keys; i++) {
		snprintf(key, sizeof(key), "user%d@example.com", i);
		if (st2->ops->totp_use_step(st2->state, key, 501) != -EALREADY)
			bad++;
		snprintf(key, sizeof(key), "fail:user%d@example.com", i);
		if (st2->ops->counter_reset(st2->state, key) < 0 ||
		    st2->ops->counter_get(st2->state, key, 1001, &n) < 0 || n != 0)
			bad++;
	}
	ok(st2 && bad == 0, "another handle agrees, and resets reach both places");
	wgotp_store_close(st2);
	wgotp_store_close(st);
cleanup:
	free(db);
}

/* Several processes on one table: each (user, step) is won exactly once,
 * and no counter increment is lost. */
static void test_processes(void)
{
	enum { PROCS = 4, USERS = 20, STEPS = 200 };
	char *db = path_in("procs.db"), user[64];
	struct wgotp_store *st;
	pid_t pid[PROCS], reader;
	int i, s, u, status, pfd[2], rfd[2], won, wins = 0, failed = 0;
	int64_t n = 0;
	char c;

	st = open_store(db, 4096);	/* creates the files */
	wgotp_store_close(st);
	if (pipe(pfd) < 0 || pipe(rfd) < 0 || fcntl(rfd[0], F_SETFL, O_NONBLOCK) < 0)
		abort();
	/* A reader without the lock: the shared count only grows. */
	reader = fork();
	if (reader == 0) {
		int64_t last = 0, bad = 0, reads = 0;

		st = open_store(db, 4096);
		if (!st)
			_exit(255);
		while (read(rfd[0], &c, 1) != 1 || c != 'q') {
			if (st->ops->counter_get(st->state, "shared", 10, &n) < 0 || n < last ||
			    n > PROCS * STEPS)
				bad++;
			last = n;
			reads++;
		}
		if (st->ops->counter_get(st->state, "shared", 10, &last) < 0)
			bad++;
		wgotp_store_close(st);
		free(db);	/* (valgrind follows the children) */
		_exit(bad == 0 && reads > 0 && last == PROCS * STEPS ? 0 : 1);
	}
	for (i = 0; i < PROCS; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			won = 0;
			st = open_store(db, 4096);
			if (!st)
				_exit(255);
			for (s = 1; s <= STEPS; s++) {
				for (u = 0; u < USERS; u++) {
					snprintf(user, sizeof(user), "u%d@example.com", u);
					if (st->ops->totp_use_step(st->state, user, (uint64_t)s) == 0)
						won++;
				}
				st->ops->counter_hit(st->state, "shared", 10, 3600, NULL);
			}
			wgotp_store_close(st);
			free(db);
			_exit(write(pfd[1], &won, sizeof(won)) == sizeof(won) ? 0 : 255);
		}
	}
	for (i = 0; i < PROCS; i++) {
		if (pid[i] < 0 || waitpid(pid[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0 || read(pfd[0], &won, sizeof(won)) != sizeof(won))
			failed++;
		else
			wins += won;
	}
	close(pfd[0]);
	close(pfd[1]);
	if (write(rfd[1], "q", 1) != 1 || waitpid(reader, &status, 0) < 0)
		status = -1;
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "a reader without the lock saw the count only grow, to the end");
	close(rfd[0]);
	close(rfd[1]);
	is_int(failed, 0, "%d processes ran", PROCS);
	st = open_store(db, 4096);
	ok(st && st->ops->counter_get(st->state, "shared", 10, &n) == 0, "read the shared counter");
	is_int(n, PROCS * STEPS, "no increment lost");
	wgotp_store_close(st);
	is_int(wins, USERS * STEPS, "each of %d users' %d steps won exactly once", USERS, STEPS);
	free(db);
}

/*
 * A process killed while holding the lock. The holder is a child of
 * fork() using the handle it inherited, so it also shows that a child
 * excludes its parent (they would share an open file description). While
 * it holds the lock the file must read the same bytes as when unlocked:
 * lock state in the file (a robust mutex's owner and list pointers into
 * the holder's memory) is what a member of the file's group could read
 * and rewrite.
 */
static void test_dead_owner(void)
{
	struct wgotp_error err = { "" };
	struct wgotp_ctab *t = NULL;
	char *p = path_in("dead-counters"), before[4096], held[4096], after[4096];
	struct timespec t0;
	int pfd[2], fd, status;
	pid_t pid;
	double ms;
	char c;

	if (CTAB_OPEN(p, 1024, &t, &err) < 0 || pipe(pfd) < 0) {
		ok(0, "open: %s", err.msg);
		free(p);
		return;
	}
	alarm(20);	/* a hang fails the test instead of blocking it */
	fd = open(p, O_RDONLY);
	ok(fd >= 0 && pread(fd, before, sizeof(before), 0) == (ssize_t)sizeof(before),
	   "(copy the header, unlocked)");
	pid = fork();
	if (pid == 0) {
		if (wgotp_ctab_lock(t) < 0)
			_exit(1);
		if (write(pfd[1], "L", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ok(read(pfd[0], &c, 1) == 1, "a child takes the lock");
	ok(pread(fd, held, sizeof(held), 0) == (ssize_t)sizeof(held), "(copy the header, locked)");
	ok(memcmp(before, held, sizeof(held)) == 0,
	   "the header holds no lock state: the same bytes while another process holds the lock");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(wgotp_ctab_lock(t), -EBUSY, "the parent does not get the lock its child holds");
	ms = ms_since(&t0);
	ok(ms >= WAIT_MS - 20 && ms < 3000, "... it waited the bound (%d ms), not more: %.0f ms",
	   WAIT_MS, ms);
	ok(strstr(last_error, "held the counter table's lock") != NULL, "... and logs it: %s",
	   last_error);

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(wgotp_ctab_lock(t), 0, "killed while holding the lock: the next locker gets it");
	ok(ms_since(&t0) < WAIT_MS / 2, "... at once (%.1f ms)", ms_since(&t0));
	wgotp_ctab_unlock(t);
	ok(pread(fd, after, sizeof(after), 0) == (ssize_t)sizeof(after) &&
	   memcmp(before, after, sizeof(after)) == 0, "the header is as it was");
	wgotp_ctab_close(t);
	alarm(0);
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
	free(p);
}

/*
 * A member of the file's group takes the kernel lock (flock on the file)
 * and never lets go: root's store calls and opens must give up after
 * BusyTimeout with -EBUSY, not hang.
 */
static void test_hostile_holder(void)
{
	char *db = path_in("hostile-hold.db"), *ctab = path_in("hostile-hold.db-counters");
	struct wgotp_store *st, *st2;
	struct timespec t0;
	int pfd[2], fd, status;
	int64_t n = -1;
	double ms;
	pid_t pid;
	char c;

	busy_ms = WAIT_MS;
	st = open_store(db, 1024);
	ok(st != NULL, "open a store with BusyTimeout = %d", WAIT_MS);
	if (!st || pipe(pfd) < 0)
		goto cleanup;
	alarm(20);
	pid = fork();
	if (pid == 0) {
		fd = open(ctab, O_RDWR);
		if (fd < 0 || flock(fd, LOCK_EX) < 0 || write(pfd[1], "L", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ok(read(pfd[0], &c, 1) == 1, "another process holds a flock on %s for ever", "<db>-counters");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	is_int(st->ops->counter_hit(st->state, "fail:a@example.com", 100, 60, &n), -EBUSY,
	       "counting a failure: -EBUSY");
	ms = ms_since(&t0);
	ok(ms >= WAIT_MS - 20 && ms < 3000, "... after the bound, not later: %.0f ms", ms);
	ok(strstr(last_error, "for more than 300 ms") != NULL, "... logged: %s", last_error);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(st->ops->counter_get(st->state, "fail:a@example.com", 100, &n) == 0 && n == 0,
	   "reading a counter takes no lock: it answers");
	ok(ms_since(&t0) < WAIT_MS / 2, "... at once (%.1f ms)", ms_since(&t0));
	is_int(st->ops->totp_use_step(st->state, "a@example.com", 7), -EBUSY,
	       "a TOTP step: -EBUSY (the login fails closed)");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st2 = open_store(db, 1024);
	ms = ms_since(&t0);
	ok(st2 == NULL && strstr(open_error, "for more than 300 ms"),
	   "opening the store meanwhile fails: %s", open_error);
	ok(ms < 3000, "... in bounded time: %.0f ms", ms);
	wgotp_store_close(st2);

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	is_int(st->ops->totp_use_step(st->state, "a@example.com", 7), 0,
	       "the holder gone: the step refused under the lock is accepted");
	is_int(st->ops->totp_use_step(st->state, "a@example.com", 7), -EALREADY, "... once");
	alarm(0);
	close(pfd[0]);
	close(pfd[1]);
cleanup:
	wgotp_store_close(st);
	busy_ms = 5000;
	free(ctab);
	free(db);
}

/*
 * A member of the file's group writes what it likes into the file while
 * the store is open: garbage in every byte of the header but the four
 * fields checked at open, then in every slot, then a huge size. Nothing
 * may crash or index outside the mapping, and the store keeps answering.
 */
static void test_hostile_bytes(void)
{
	char *db = path_in("hostile-bytes.db"), *ctab = path_in("hostile-bytes.db-counters");
	struct wgotp_error err = { "" };
	struct wgotp_ctab_entry *e;
	struct wgotp_store *st, *st2;
	struct wgotp_ctab *t = NULL;
	unsigned char *map = NULL;
	size_t len = 4096 + 1024 * 32, i;
	char key[64];
	int64_t n = 0, bad = 0;
	uint64_t *nslots;
	bool created;
	int fd = -1, k;

	st = open_store(db, 1024);
	ok(st != NULL, "open a store");
	if (!st)
		goto cleanup;
	alarm(20);
	fd = open(ctab, O_RDWR);
	map = fd < 0 ? MAP_FAILED : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ok(map != MAP_FAILED, "(map <db>-counters as another process)");
	if (map == MAP_FAILED) {
		map = NULL;
		goto cleanup;
	}

	/* A count at the top of its range: the next failure must not wrap
	 * it to a negative count (nor be undefined behaviour). */
	ok(st->ops->counter_hit(st->state, "fail:max@example.com", 100, 600, &n) == 0 && n == 1,
	   "(a counter)");
	if (CTAB_OPEN(ctab, 1024, &t, &err) == 0 && wgotp_ctab_lock(t) == 0) {
		if (wgotp_ctab_claim(t, WGOTP_CTAB_COUNTER, "fail:max@example.com", 100, &e,
				     &created) == 0)
			e->value = INT64_MAX;
		wgotp_ctab_unlock(t);
	}
	wgotp_ctab_close(t);
	t = NULL;
	k = st->ops->counter_hit(st->state, "fail:max@example.com", 100, 600, &n);
	ok(k == 0 || k == -EDQUOT, "a counter written as INT64_MAX takes one more failure: %d", k);
	ok(n == INT64_MAX, "... and stays at INT64_MAX, not negative: %lld", (long long)n);

	/* Everything after magic, version, slot size and size. */
	for (i = 24; i < 4096; i++)
		map[i] = (unsigned char)(0xa5 ^ (i * 7));
	for (k = 0; k < 200; k++) {
		snprintf(key, sizeof(key), "fail:h%d@example.com", k);
		if (st->ops->counter_hit(st->state, key, 100, 600, &n) < 0 || n != 1)
			bad++;
		snprintf(key, sizeof(key), "h%d@example.com", k);
		if (st->ops->totp_use_step(st->state, key, 5) < 0 ||
		    st->ops->totp_use_step(st->state, key, 5) != -EALREADY)
			bad++;
	}
	is_int(bad, 0, "a garbage header (hash key, spill flag, the rest): the store keeps its rules");

	/* Every slot: live-looking entries everywhere, odd and even tags. */
	bad = 0;
	for (i = 4096; i < len; i++)
		map[i] = (unsigned char)(i * 131 + (i >> 8));
	for (k = 0; k < 200; k++) {
		snprintf(key, sizeof(key), "fail:g%d@example.com", k);
		if (st->ops->counter_hit(st->state, key, 100, 600, &n) < 0 || n != 1 ||
		    st->ops->counter_hit(st->state, key, 101, 600, &n) < 0 || n != 2)
			bad++;
		snprintf(key, sizeof(key), "g%d@example.com", k);
		if (st->ops->totp_use_step(st->state, key, 9) < 0 ||
		    st->ops->totp_use_step(st->state, key, 9) != -EALREADY)
			bad++;
	}
	is_int(bad, 0, "garbage in every slot: the store keeps its rules");

	bad = 0;
	nslots = (uint64_t *)(map + 16);
	*nslots = 1ULL << 62;
	for (k = 0; k < 200; k++) {
		snprintf(key, sizeof(key), "fail:s%d@example.com", k);
		if (st->ops->counter_hit(st->state, key, 100, 600, &n) < 0 || n != 1)
			bad++;
	}
	is_int(bad, 0, "a huge size written after open changes nothing we index with");
	st2 = open_store(db, 1024);
	ok(st2 == NULL, "a new open refuses the file with that size");
	ok(strstr(open_error, "not a wgotp counter table") != NULL, "... as damaged: %s",
	   open_error);
	wgotp_store_close(st2);
	alarm(0);
cleanup:
	if (map)
		munmap(map, len);
	if (fd >= 0)
		close(fd);
	wgotp_store_close(st);
	free(ctab);
	free(db);
}

int main(void)
{
	tmpdir = tu_tmpdir();
	wgotp_log_set_sink(log_capture, NULL, WGOTP_LOG_DEBUG);
	test_siphash();
	test_file();
	test_rules();
	test_spill();
	test_processes();
	test_dead_owner();
	test_hostile_holder();
	test_hostile_bytes();
	tu_rmdir(tmpdir);
	return done_testing();
}
