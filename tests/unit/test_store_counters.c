/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SQLite store's counter table (lib/store_counters.c): the file, the
 * table's rules, what happens when it is full, several processes at once,
 * and a lock left behind by a process that died or by a power cut.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "siphash.h"
#include "store.h"
#include "store_counters.h"
#include "tap.h"
#include "testutil.h"

static char *tmpdir;
static int warnings;
static char last_warning[512];

static void log_capture(void *arg, enum wgotp_log_level level, const char *msg)
{
	(void)arg;
	if (level == WGOTP_LOG_WARN) {
		warnings++;
		snprintf(last_warning, sizeof(last_warning), "%s", msg);
	}
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
	if (wgotp_store_open(cfg, &st, &err) < 0) {
		diag("open %s: %s", db, err.msg);
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
	is_int(wgotp_ctab_open(p, 1000, NULL, &t, &err), 0, "create a table");
	memset(&sb, 0, sizeof(sb));
	is_int(stat(p, &sb), 0, "stat it");
	is_int(sb.st_mode & 07777, 0660, "mode 0660 whatever the umask");
	is_int(sb.st_size, 4096 + 1024 * 32, "1000 slots rounded up to 1024");
	wgotp_ctab_close(t);
	is_int(wgotp_ctab_open(p, 1 << 20, NULL, &t, &err), 0, "open it again asking for more");
	ok(stat(p, &sb) == 0 && sb.st_size == 4096 + 1024 * 32, "an existing table keeps its size");
	wgotp_ctab_close(t);
	t = NULL;

	ok(chmod(p, 0664) == 0, "(chmod 664)");
	is_int(wgotp_ctab_open(p, 1024, NULL, &t, &err), -EPERM, "readable by others: -EPERM");
	ok(strstr(err.msg, "others must have no access") != NULL, "... saying so: %s", err.msg);
	ok(chmod(p, 0660) == 0, "(chmod 660)");

	/* damaged: another magic, then a truncated file */
	fd = open(p, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, "XXXX", 4, 0) == 4, "(overwrite the magic)");
	is_int(wgotp_ctab_open(p, 1024, NULL, &t, &err), -EINVAL, "a damaged table: -EINVAL");
	ok(strstr(err.msg, "not a wgotp counter table") != NULL, "... saying so: %s", err.msg);
	ok(t == NULL, "... and no table");
	if (fd >= 0)
		close(fd);
	unlink(p);
	is_int(wgotp_ctab_open(p, 1024, NULL, &t, &err), 0, "(a new one)");
	wgotp_ctab_close(t);
	t = NULL;
	ok(truncate(p, 4096 + 1000 * 32) == 0, "(truncate it)");
	is_int(wgotp_ctab_open(p, 1024, NULL, &t, &err), -EINVAL, "a truncated table: -EINVAL");
	free(p);
}

static void test_rules(void)
{
	struct wgotp_error err = { "" };
	struct wgotp_ctab_entry *e = NULL;
	struct wgotp_ctab *t = NULL;
	char *p = path_in("rules-counters");
	bool created;

	if (wgotp_ctab_open(p, 1024, NULL, &t, &err) < 0) {
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
	wgotp_ctab_unlock(t);
	ok(!wgotp_ctab_spilled(t), "not spilled");
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
	pid_t pid[PROCS];
	int i, s, u, status, pfd[2], won, wins = 0, failed = 0;
	int64_t n = 0;

	st = open_store(db, 4096);	/* creates the files */
	wgotp_store_close(st);
	if (pipe(pfd) < 0)
		abort();
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
	is_int(failed, 0, "%d processes ran", PROCS);
	st = open_store(db, 4096);
	ok(st && st->ops->counter_get(st->state, "shared", 10, &n) == 0, "read the shared counter");
	is_int(n, PROCS * STEPS, "no increment lost");
	wgotp_store_close(st);
	is_int(wins, USERS * STEPS, "each of %d users' %d steps won exactly once", USERS, STEPS);
	free(db);
}

/* A process killed while holding the lock, and a lock left in the file by
 * a power cut (locked by a thread of a boot that is over). */
static void test_dead_owner(void)
{
	struct wgotp_error err = { "" };
	struct wgotp_ctab *t = NULL;
	char *p = path_in("dead-counters"), hdr[4096], boot[64] = "", *at;
	int pfd[2], fd, status;
	FILE *f;
	pid_t pid;
	char c;

	if (wgotp_ctab_open(p, 1024, NULL, &t, &err) < 0 || pipe(pfd) < 0) {
		ok(0, "open: %s", err.msg);
		free(p);
		return;
	}
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
	/* the file as a power cut would leave it: locked, owner alive */
	fd = open(p, O_RDWR);
	ok(fd >= 0 && pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr), "(copy the header)");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);

	warnings = 0;
	alarm(10);	/* a hang fails the test instead of blocking it */
	is_int(wgotp_ctab_lock(t), 0, "killed while holding the lock: the next locker gets it");
	wgotp_ctab_unlock(t);
	ok(warnings == 1 && strstr(last_warning, "died holding"), "... and logs it: %s", last_warning);
	wgotp_ctab_close(t);
	t = NULL;

	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (!f || !fgets(boot, sizeof(boot), f)) {
		ok(1, "no boot id here: the reboot case is not tested");
	} else {
		boot[strcspn(boot, "\n")] = '\0';
		at = memmem(hdr, sizeof(hdr), boot, strlen(boot));
		ok(at != NULL, "the header records this boot");
		if (at)
			memset(at, '0', strlen(boot));	/* another boot */
		ok(pwrite(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr),
		   "(restore the locked header, from an earlier boot)");
		is_int(wgotp_ctab_open(p, 1024, NULL, &t, &err), 0, "open after the 'reboot'");
		is_int(t ? wgotp_ctab_lock(t) : -1, 0, "the lock is free again");
		if (t)
			wgotp_ctab_unlock(t);
		wgotp_ctab_close(t);
	}
	if (f)
		fclose(f);
	alarm(0);
	close(fd);
	close(pfd[0]);
	close(pfd[1]);
	free(p);
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
	tu_rmdir(tmpdir);
	return done_testing();
}
