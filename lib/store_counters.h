/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The SQLite store's counter table: the last TOTP step and the rate-limit
 * counters of each user, the state every login reads and writes, kept in
 * a small memory-mapped file beside the database (<Path>-counters) and
 * shared by every process that opens the store (freeradius threads, PAM in
 * each sshd child, wgotpctl). One update is under a microsecond (two
 * system calls for the lock), where a SQLite commit costs several
 * microseconds and a dozen system calls.
 *
 * Durability is the database's (WAL, synchronous = NORMAL): an update is
 * in the page cache when the call returns, so it survives the process
 * dying; a power cut may lose the last seconds, as it may lose the last
 * commits of the database.
 *
 * An open-addressing hash table of fixed size (CounterSlots, chosen when
 * the file is created), keyed by a 128-bit SipHash of the key under a
 * random key stored in the file.
 *
 * The file is mode 0660, group freerad: a member of that group may write
 * any byte of it while root processes (sshd with pam_wgotp, wgotpctl) use
 * it. So it holds data only, never a pointer or lock state: the lock is
 * the kernel's (a flock on each handle's own open file description, plus
 * a process-private mutex for the threads that share that handle). The
 * kernel releases it when its holder dies, however it dies, and a reboot
 * forgets it; a holder that never lets go (hung, or hostile) costs a
 * waiter the bound given at open, then -EBUSY.
 *
 * When the table is full (no free or expired slot within the probe limit)
 * the caller keeps that key in the database instead, and marks the table
 * as spilled: from then on a key missing from the table is looked up in
 * the database before it is created, so no key ever has two live values.
 */
#ifndef WGOTP_STORE_COUNTERS_H
#define WGOTP_STORE_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "error.h"

#define WGOTP_CTAB_NEVER INT64_MAX	/* expiry of an entry that does not expire */

enum wgotp_ctab_ns {
	WGOTP_CTAB_STEP,		/* key: user; value: last TOTP step */
	WGOTP_CTAB_COUNTER,		/* key: counter key; value: count, expiry: end of window */
};

/* One entry, as the caller sees it under the lock. */
struct wgotp_ctab_entry {
	int64_t value;
	int64_t expires;		/* seconds since the epoch, or WGOTP_CTAB_NEVER */
};

struct wgotp_ctab;

/* Keeps stores to the table in program order, for a process killed
 * between two of them (it must leave entries the next process can use)
 * and for wgotp_ctab_peek on another CPU. */
#define wgotp_ctab_fence() __atomic_thread_fence(__ATOMIC_RELEASE)

/* Set an entry found under the lock: the window before the count. */
static inline void wgotp_ctab_set(struct wgotp_ctab_entry *e, int64_t value, int64_t expires)
{
	e->expires = expires;
	wgotp_ctab_fence();
	e->value = value;
}

/*
 * Open (or create, with mode 0660 and, when run as root, the owner and
 * group of `like`, the database) the table at path. slots is rounded up
 * to a power of two; an existing table keeps its own size. wait_ms
 * (<= 0: 5000) bounds every wait for the lock, this open's included.
 */
int wgotp_ctab_open(const char *path, uint64_t slots, const struct stat *like, int wait_ms,
		    struct wgotp_ctab **out, struct wgotp_error *err);
void wgotp_ctab_close(struct wgotp_ctab *t);	/* accepts NULL */

/*
 * Take and release the table's lock. Every call below needs it held.
 * -EBUSY (logged) when it stayed held for wait_ms, -EIO on another
 * failure: the caller fails closed.
 */
int wgotp_ctab_lock(struct wgotp_ctab *t);
void wgotp_ctab_unlock(struct wgotp_ctab *t);

/*
 * The live entry for key in namespace ns at time now (an entry whose
 * expiry is <= now counts as absent), or -ENOENT. *e points into the
 * table: write to it before unlocking.
 */
int wgotp_ctab_find(struct wgotp_ctab *t, enum wgotp_ctab_ns ns, const char *key, int64_t now,
		    struct wgotp_ctab_entry **e);
/*
 * The same, giving an absent key a slot (*created = true, *e zeroed,
 * expiry WGOTP_CTAB_NEVER); -ENOSPC when the table is full.
 */
int wgotp_ctab_claim(struct wgotp_ctab *t, enum wgotp_ctab_ns ns, const char *key, int64_t now,
		     struct wgotp_ctab_entry **e, bool *created);

/*
 * A copy of the live entry for key at now, without the lock (no system
 * call): for a read that may race with updates anyway, the failure
 * throttle's. What it sees of an update in progress is the entry before
 * it, a new entry at 0, or the entry after it, never a mix of two keys.
 * -ENOENT when absent; -EAGAIN once the table has spilled (the key may be
 * in the database, whose seeding a lockless read could see half done):
 * take the lock and use wgotp_ctab_find.
 */
int wgotp_ctab_peek(struct wgotp_ctab *t, enum wgotp_ctab_ns ns, const char *key, int64_t now,
		    struct wgotp_ctab_entry *out);

/* Whether some key has ever been kept in the database instead. */
bool wgotp_ctab_spilled(const struct wgotp_ctab *t);
void wgotp_ctab_set_spilled(struct wgotp_ctab *t);

#endif
