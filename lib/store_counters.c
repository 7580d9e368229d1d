/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite store's counter table: see store_counters.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"
#include "siphash.h"
#include "store_counters.h"

#define CTAB_MAGIC "WGOTPCT1"
#define CTAB_VERSION 1
#define CTAB_HEADER_SIZE 4096
#define CTAB_MODE 0660
#define CTAB_MIN_SLOTS 1024ULL
#define CTAB_MAX_SLOTS (1ULL << 26)
#define CTAB_PROBES 64		/* slots looked at before the table counts as full */
#define CTAB_KEY_MAX 1024
#define CTAB_WAIT_MS 5000	/* the default bound on waiting for the lock */
#define CTAB_OLD_LOCK_LEN 37	/* where files of earlier releases kept a boot id */

struct ctab_slot {
	uint64_t tag[2];	/* {0, 0}: never used (tag[1] of a key is odd) */
	struct wgotp_ctab_entry e;
};

/*
 * Everything in the file is data that any member of the file's group may
 * write at any moment: nothing read from it becomes a pointer, a size or
 * an index unchecked, and it holds no lock state (the lock is the
 * kernel's, see wgotp_ctab_lock). Files of earlier releases kept a boot
 * id and a robust mutex after hash_key; those bytes are neither read nor
 * written now, so such a file is used as it is (same version).
 */
struct ctab_header {
	char magic[8];
	uint32_t version;
	uint32_t slot_size;
	uint64_t nslots;
	uint8_t hash_key[2][WGOTP_SIPHASH_KEY_LEN];
	char unused[CTAB_OLD_LOCK_LEN];
	uint32_t spilled;
};

_Static_assert(sizeof(struct ctab_header) <= CTAB_HEADER_SIZE, "counter table header too large");
_Static_assert(offsetof(struct ctab_header, spilled) == 96, "counter table header layout");
_Static_assert(sizeof(struct ctab_slot) == 32, "counter table slot size");

/* Process memory: nothing here is in the file. */
struct wgotp_ctab {
	struct ctab_header *hdr;
	struct ctab_slot *slots;
	uint64_t mask;			/* nslots - 1, as checked at open */
	size_t map_len;
	char *path;
	int fd;				/* our own open file description: its flock is the lock */
	dev_t dev;
	ino_t ino;
	int wait_ms;
	pthread_mutex_t mutex;		/* the threads of this process (they share fd) */
	volatile char *forked;		/* a MADV_WIPEONFORK page: reads 0 in a child */
	size_t forked_len;
	bool wipe;			/* MADV_WIPEONFORK worked */
	pid_t pid;			/* where it did not */
};

static uint64_t round_slots(uint64_t n)
{
	uint64_t v = CTAB_MIN_SLOTS;

	while (v < n && v < CTAB_MAX_SLOTS)
		v <<= 1;
	return v;
}

/* ---- the lock ----------------------------------------------------------- */

static struct timespec deadline_after(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static bool passed(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/*
 * The kernel lock: flock on our own open file description, released by
 * the kernel when the process dies however it dies, and gone after a
 * reboot. flock has no timeout, and a member of the file's group may hold
 * it for as long as it likes, so a contended lock is polled until the
 * deadline: the holder is normally another process inside one table
 * operation (under a microsecond; as long as BusyTimeout when a spilled
 * key waits for SQLite), so yield a few times, then sleep from 20 us,
 * doubling up to 1 ms. Uncontended, it is one system call.
 */
static int kernel_lock(int fd, const struct timespec *deadline)
{
	struct timespec nap = { 0, 20000 };
	int i;

	for (i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (passed(deadline))
			return -EBUSY;
		if (i < 8) {
			sched_yield();
			continue;
		}
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 1000000L)
			nap.tv_nsec *= 2;
	}
}

/*
 * A child of fork() shares our open file description, and with it the
 * flock: it would not exclude its parent. The page at t->forked is
 * MADV_WIPEONFORK, so a child reads 0 there without a system call; where
 * the kernel lacks it (before 4.14), the pid is compared at each lock.
 */
static void fork_mark(struct wgotp_ctab *t)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	t->pid = getpid();
	if (page <= 0)
		return;
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	t->forked = p;
	t->forked_len = (size_t)page;
#ifdef MADV_WIPEONFORK
	if (madvise(p, (size_t)page, MADV_WIPEONFORK) == 0) {
		t->wipe = true;
		*t->forked = 1;
	}
#endif
}

static bool forked(const struct wgotp_ctab *t)
{
	if (t->wipe && *t->forked)
		return false;
	return getpid() != t->pid;
}

/* In a child of fork(): an open file description of our own, for the
 * same file (through /proc, so a rename or chdir does not matter). */
static int reopen(struct wgotp_ctab *t)
{
	char proc[64];
	struct stat sb;
	int fd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
	fd = open(proc, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fd = open(t->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		log_err("store: %s: reopening the counter table after fork: %s", t->path,
			strerror(errno));
		return -EIO;
	}
	if (fstat(fd, &sb) < 0 || sb.st_dev != t->dev || sb.st_ino != t->ino) {
		log_err("store: %s: the counter table was replaced since it was opened", t->path);
		close(fd);
		return -EIO;
	}
	close(t->fd);	/* the parent keeps its lock: it holds the description too */
	t->fd = fd;
	t->pid = getpid();
	if (t->wipe)
		*t->forked = 1;
	return 0;
}

/*
 * Two locks, neither in the file: the process-private mutex orders this
 * process's threads (they share t->fd, and a flock does not exclude two
 * holders of one open file description), then the flock orders the
 * processes. Both waits end at the same deadline, t->wait_ms from now.
 */
int wgotp_ctab_lock(struct wgotp_ctab *t)
{
	struct timespec deadline = { 0, 0 };
	int ret;

	ret = pthread_mutex_trylock(&t->mutex);
	if (ret == EBUSY) {
		deadline = deadline_after(t->wait_ms);
		ret = pthread_mutex_clocklock(&t->mutex, CLOCK_MONOTONIC, &deadline);
	}
	if (ret == ETIMEDOUT) {
		log_err("store: %s: the counter table's lock was busy in this process for %d ms; "
			"refusing", t->path, t->wait_ms);
		return -EBUSY;
	}
	if (ret) {
		log_err("store: %s: counter table lock: %s", t->path, strerror(ret));
		return -EIO;
	}
	if (forked(t)) {
		ret = reopen(t);
		if (ret < 0)
			goto fail;
	}
	if (flock(t->fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (deadline.tv_sec == 0)
		deadline = deadline_after(t->wait_ms);
	ret = kernel_lock(t->fd, &deadline);
	if (ret == 0)
		return 0;
	if (ret == -EBUSY)
		log_err("store: %s: another process has held the counter table's lock for more "
			"than %d ms; refusing", t->path, t->wait_ms);
	else
		log_err("store: %s: counter table lock: %s", t->path, strerror(-ret));
	ret = ret == -EBUSY ? -EBUSY : -EIO;
fail:
	pthread_mutex_unlock(&t->mutex);
	return ret;
}

void wgotp_ctab_unlock(struct wgotp_ctab *t)
{
	if (flock(t->fd, LOCK_UN) < 0)
		log_err("store: %s: counter table unlock: %s", t->path, strerror(errno));
	pthread_mutex_unlock(&t->mutex);
}

/* ---- the file ----------------------------------------------------------- */

/* A new file (size 0, flock held): size it and write the header. */
static int ctab_format(struct wgotp_ctab *t, int fd, uint64_t slots, const struct stat *like,
		       struct wgotp_error *err)
{
	struct ctab_header *h;
	uint64_t n = round_slots(slots);
	size_t len = CTAB_HEADER_SIZE + n * sizeof(struct ctab_slot);
	void *map;
	int e, ret;

	/* Exactly 0660, and the database's owner and group when we can:
	 * whichever process creates it, the others must open it. */
	if (fchmod(fd, CTAB_MODE) < 0 ||
	    (like && geteuid() == 0 && fchown(fd, like->st_uid, like->st_gid) < 0)) {
		e = errno;
		return wgotp_error_set(err, e, "store: %s: %s", t->path, strerror(e));
	}
	/* Every block allocated now: a store through the mapping into a hole
	 * on a full disk would be a SIGBUS, not an error. */
	e = posix_fallocate(fd, 0, (off_t)len);
	if (e) {
		if (ftruncate(fd, 0) < 0)
			log_warn_f("%s: truncate: %s", t->path, strerror(errno));
		return wgotp_error_set(err, e, "store: cannot allocate %s (%zu bytes): %s",
				       t->path, len, strerror(e));
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		e = errno;
		return wgotp_error_set(err, e, "store: mmap %s: %s", t->path, strerror(e));
	}
	h = map;
	ret = wgotp_random(h->hash_key, sizeof(h->hash_key));
	if (ret < 0) {
		munmap(map, len);
		return wgotp_error_set(err, -ret, "store: %s: initialising: %s", t->path, strerror(-ret));
	}
	h->version = CTAB_VERSION;
	h->slot_size = sizeof(struct ctab_slot);
	h->nslots = n;
	memcpy(h->magic, CTAB_MAGIC, sizeof(h->magic));	/* last: the file is now valid */
	t->hdr = h;
	t->map_len = len;
	t->mask = n - 1;
	return 0;
}

/*
 * An existing file (flock held): check it and map it. The size is read
 * from the file once, checked, and kept here: a group member who changes
 * it afterwards changes nothing we index with.
 */
static int ctab_map(struct wgotp_ctab *t, int fd, off_t size, struct wgotp_error *err)
{
	struct ctab_header *h;
	uint64_t n;
	void *map;
	int e;

	if (size < CTAB_HEADER_SIZE)
		goto bad;
	map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		e = errno;
		return wgotp_error_set(err, e, "store: mmap %s: %s", t->path, strerror(e));
	}
	h = map;
	n = __atomic_load_n(&h->nslots, __ATOMIC_RELAXED);
	if (memcmp(h->magic, CTAB_MAGIC, sizeof(h->magic)) != 0 || h->version != CTAB_VERSION ||
	    h->slot_size != sizeof(struct ctab_slot) || n < CTAB_MIN_SLOTS ||
	    n > CTAB_MAX_SLOTS || (n & (n - 1)) != 0 ||
	    (uint64_t)size != CTAB_HEADER_SIZE + n * sizeof(struct ctab_slot)) {
		munmap(map, (size_t)size);
		goto bad;
	}
	t->hdr = h;
	t->map_len = (size_t)size;
	t->mask = n - 1;
	return 0;
bad:
	return wgotp_error_set(err, EINVAL,
			       "store: %s is not a wgotp counter table, or is damaged; "
			       "stop the services and remove it", t->path);
}

int wgotp_ctab_open(const char *path, uint64_t slots, const struct stat *like, int wait_ms,
		    struct wgotp_ctab **out, struct wgotp_error *err)
{
	struct wgotp_ctab *t;
	struct timespec deadline;
	struct stat sb;
	bool locked = false;
	int e, ret;

	*out = NULL;
	if (wait_ms <= 0)
		wait_ms = CTAB_WAIT_MS;
	deadline = deadline_after(wait_ms);
	t = calloc(1, sizeof(*t));
	if (!t)
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	t->fd = -1;
	t->wait_ms = wait_ms;
	ret = pthread_mutex_init(&t->mutex, NULL);
	if (ret) {
		free(t);
		return wgotp_error_set(err, ret, "store: mutex: %s", strerror(ret));
	}
	fork_mark(t);
	t->path = strdup(path);
	if (!t->path) {
		ret = wgotp_error_set(err, ENOMEM, "store: out of memory");
		goto cleanup;
	}
	t->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, CTAB_MODE);
	if (t->fd < 0) {
		e = errno;
		ret = wgotp_error_set(err, e, "store: cannot open %s: %s", path, strerror(e));
		goto cleanup;
	}
	/* The table's own lock: no other opener formats it under us. */
	ret = kernel_lock(t->fd, &deadline);
	if (ret == -EBUSY) {
		ret = wgotp_error_set(err, EBUSY, "store: %s: another process has held the counter "
				      "table's lock for more than %d ms", path, wait_ms);
		goto cleanup;
	}
	locked = ret == 0;
	if (ret < 0 || fstat(t->fd, &sb) < 0) {
		e = ret < 0 ? -ret : errno;
		ret = wgotp_error_set(err, e, "store: cannot open %s: %s", path, strerror(e));
		goto cleanup;
	}
	if (!S_ISREG(sb.st_mode)) {
		ret = wgotp_error_set(err, EINVAL, "store: %s is not a regular file", path);
		goto cleanup;
	}
	/* Whoever may write it may reset any user's replay step. */
	if (sb.st_size != 0 && (sb.st_mode & S_IRWXO)) {
		ret = wgotp_error_set(err, EPERM,
				      "store %s is mode %04o: it holds the TOTP replay steps, others "
				      "must have no access (chmod 660)", path,
				      (unsigned)(sb.st_mode & 07777));
		goto cleanup;
	}
	if (sb.st_size == 0)
		ret = ctab_format(t, t->fd, slots, like, err);
	else
		ret = ctab_map(t, t->fd, sb.st_size, err);
	if (ret < 0)
		goto cleanup;
	t->slots = (struct ctab_slot *)((char *)t->hdr + CTAB_HEADER_SIZE);
	t->dev = sb.st_dev;
	t->ino = sb.st_ino;
	*out = t;
	ret = 0;
cleanup:
	if (locked)
		flock(t->fd, LOCK_UN);
	if (ret < 0)
		wgotp_ctab_close(t);
	return ret;
}

void wgotp_ctab_close(struct wgotp_ctab *t)
{
	if (!t)
		return;
	if (t->hdr)
		munmap(t->hdr, t->map_len);
	if (t->fd >= 0)
		close(t->fd);
	if (t->forked)
		munmap((void *)t->forked, t->forked_len);
	pthread_mutex_destroy(&t->mutex);
	free(t->path);
	free(t);
}

bool wgotp_ctab_spilled(const struct wgotp_ctab *t)
{
	return __atomic_load_n(&t->hdr->spilled, __ATOMIC_ACQUIRE) != 0;
}

void wgotp_ctab_set_spilled(struct wgotp_ctab *t)
{
	if (!wgotp_ctab_spilled(t))
		log_warn("store: %s: the counter table is full; keys that do not fit are kept "
			 "in the database (slower). Raise [Store] CounterSlots and recreate it",
			 t->path);
	__atomic_store_n(&t->hdr->spilled, 1, __ATOMIC_RELEASE);
}

static void key_tag(const struct wgotp_ctab *t, enum wgotp_ctab_ns ns, const char *key, size_t len,
		    uint64_t tag[2])
{
	uint8_t buf[1 + CTAB_KEY_MAX];

	buf[0] = (uint8_t)ns;
	memcpy(buf + 1, key, len);
	tag[0] = wgotp_siphash24(t->hdr->hash_key[0], buf, len + 1);
	tag[1] = wgotp_siphash24(t->hdr->hash_key[1], buf, len + 1) | 1;
}

static int ctab_probe(struct wgotp_ctab *t, enum wgotp_ctab_ns ns, const char *key, int64_t now,
		      bool create, struct wgotp_ctab_entry **e, bool *created)
{
	struct ctab_slot *s, *reuse = NULL;
	size_t len = strlen(key);
	uint64_t tag[2], i;

	*created = false;
	if (len > CTAB_KEY_MAX)
		return -EINVAL;
	key_tag(t, ns, key, len, tag);
	for (i = 0; i < CTAB_PROBES; i++) {
		s = &t->slots[(tag[0] + i) & t->mask];
		if (s->tag[0] == tag[0] && s->tag[1] == tag[1]) {
			if (s->e.expires > now) {
				*e = &s->e;
				return 0;
			}
			reuse = s;	/* ours, expired: start again here */
			break;
		}
		if (s->tag[0] == 0 && s->tag[1] == 0) {
			if (!reuse)
				reuse = s;
			break;	/* the end of the chain: the key is not further on */
		}
		if (!reuse && s->e.expires <= now)
			reuse = s;
	}
	if (!create)
		return -ENOENT;
	if (!reuse)
		return -ENOSPC;
	/* In an order that leaves a valid entry after each store, should we
	 * die here: expired, then ours, then live. */
	reuse->e.expires = 0;
	wgotp_ctab_fence();
	reuse->e.value = 0;
	reuse->tag[0] = tag[0];
	reuse->tag[1] = tag[1];
	wgotp_ctab_fence();
	reuse->e.expires = WGOTP_CTAB_NEVER;
	*e = &reuse->e;
	*created = true;
	return 0;
}

int wgotp_ctab_peek(struct wgotp_ctab *t, enum wgotp_ctab_ns ns, const char *key, int64_t now,
		    struct wgotp_ctab_entry *out)
{
	struct ctab_slot *s;
	size_t len = strlen(key);
	uint64_t tag[2], i;
	int64_t expires;

	if (len > CTAB_KEY_MAX)
		return -EINVAL;
	if (wgotp_ctab_spilled(t))
		return -EAGAIN;
	key_tag(t, ns, key, len, tag);
	for (i = 0; i < CTAB_PROBES; i++) {
		s = &t->slots[(tag[0] + i) & t->mask];
		if (__atomic_load_n(&s->tag[0], __ATOMIC_ACQUIRE) == tag[0] &&
		    __atomic_load_n(&s->tag[1], __ATOMIC_ACQUIRE) == tag[1]) {
			expires = __atomic_load_n(&s->e.expires, __ATOMIC_ACQUIRE);
			out->value = __atomic_load_n(&s->e.value, __ATOMIC_ACQUIRE);
			out->expires = expires;
			/* a key being seeded from the database sets this first */
			if (wgotp_ctab_spilled(t))
				return -EAGAIN;
			return expires > now ? 0 : -ENOENT;
		}
		if (__atomic_load_n(&s->tag[0], __ATOMIC_ACQUIRE) == 0 &&
		    __atomic_load_n(&s->tag[1], __ATOMIC_ACQUIRE) == 0)
			break;
	}
	return wgotp_ctab_spilled(t) ? -EAGAIN : -ENOENT;
}

int wgotp_ctab_find(struct wgotp_ctab *t, enum wgotp_ctab_ns ns, const char *key, int64_t now,
		    struct wgotp_ctab_entry **e)
{
	bool created;

	return ctab_probe(t, ns, key, now, false, e, &created);
}

int wgotp_ctab_claim(struct wgotp_ctab *t, enum wgotp_ctab_ns ns, const char *key, int64_t now,
		     struct wgotp_ctab_entry **e, bool *created)
{
	return ctab_probe(t, ns, key, now, true, e, created);
}
