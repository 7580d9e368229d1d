/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The SQLite store's counter table: see store_counters.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
#define BOOT_ID_LEN 36		/* a UUID */

struct ctab_slot {
	uint64_t tag[2];	/* {0, 0}: never used (tag[1] of a key is odd) */
	struct wgotp_ctab_entry e;
};

struct ctab_header {
	char magic[8];
	uint32_t version;
	uint32_t slot_size;
	uint64_t nslots;
	uint8_t hash_key[2][WGOTP_SIPHASH_KEY_LEN];
	char boot_id[BOOT_ID_LEN + 1];	/* the boot the lock was set up in */
	uint32_t spilled;
	pthread_mutex_t lock;		/* robust, process-shared */
};

_Static_assert(sizeof(struct ctab_header) <= CTAB_HEADER_SIZE, "counter table header too large");
_Static_assert(sizeof(struct ctab_slot) == 32, "counter table slot size");

struct wgotp_ctab {
	struct ctab_header *hdr;
	struct ctab_slot *slots;
	uint64_t mask;
	size_t map_len;
	char *path;
};

/* The running kernel's boot id, or "" when it cannot be read. */
static void boot_id(char out[BOOT_ID_LEN + 1])
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (!f)
		return;
	if (!fgets(out, BOOT_ID_LEN + 1, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

static int lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int ret;

	ret = pthread_mutexattr_init(&a);
	if (ret)
		return -ret;
	ret = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!ret)
		ret = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!ret)
		ret = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -ret;
}

static uint64_t round_slots(uint64_t n)
{
	uint64_t v = CTAB_MIN_SLOTS;

	while (v < n && v < CTAB_MAX_SLOTS)
		v <<= 1;
	return v;
}

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
	if (ret == 0)
		ret = lock_init(&h->lock);
	if (ret < 0) {
		munmap(map, len);
		return wgotp_error_set(err, -ret, "store: %s: initialising: %s", t->path, strerror(-ret));
	}
	h->version = CTAB_VERSION;
	h->slot_size = sizeof(struct ctab_slot);
	h->nslots = n;
	boot_id(h->boot_id);
	memcpy(h->magic, CTAB_MAGIC, sizeof(h->magic));	/* last: the file is now valid */
	t->hdr = h;
	t->map_len = len;
	return 0;
}

/* An existing file (flock held): check it and map it. */
static int ctab_map(struct wgotp_ctab *t, int fd, off_t size, struct wgotp_error *err)
{
	struct ctab_header *h;
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
	if (memcmp(h->magic, CTAB_MAGIC, sizeof(h->magic)) != 0 || h->version != CTAB_VERSION ||
	    h->slot_size != sizeof(struct ctab_slot) || h->nslots < CTAB_MIN_SLOTS ||
	    h->nslots > CTAB_MAX_SLOTS || (h->nslots & (h->nslots - 1)) != 0 ||
	    (uint64_t)size != CTAB_HEADER_SIZE + h->nslots * sizeof(struct ctab_slot)) {
		munmap(map, (size_t)size);
		goto bad;
	}
	t->hdr = h;
	t->map_len = (size_t)size;
	return 0;
bad:
	return wgotp_error_set(err, EINVAL,
			       "store: %s is not a wgotp counter table, or is damaged; "
			       "stop the services and remove it", t->path);
}

int wgotp_ctab_open(const char *path, uint64_t slots, const struct stat *like,
		    struct wgotp_ctab **out, struct wgotp_error *err)
{
	struct wgotp_ctab *t;
	char boot[BOOT_ID_LEN + 1];
	struct stat sb;
	int fd = -1, e, ret;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	t->path = strdup(path);
	if (!t->path) {
		ret = wgotp_error_set(err, ENOMEM, "store: out of memory");
		goto cleanup;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, CTAB_MODE);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || fstat(fd, &sb) < 0) {
		e = errno;
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
		ret = ctab_format(t, fd, slots, like, err);
	else
		ret = ctab_map(t, fd, sb.st_size, err);
	if (ret < 0)
		goto cleanup;
	t->slots = (struct ctab_slot *)((char *)t->hdr + CTAB_HEADER_SIZE);
	t->mask = t->hdr->nslots - 1;

	/* The first open after a reboot sets the lock up again: a lock held
	 * when the machine went down is in the file, its owner is not. No
	 * process of this boot can have used it yet (we hold the flock). */
	boot_id(boot);
	if (boot[0] && strcmp(boot, t->hdr->boot_id) != 0) {
		ret = lock_init(&t->hdr->lock);
		if (ret < 0) {
			ret = wgotp_error_set(err, -ret, "store: %s: lock: %s", path, strerror(-ret));
			goto cleanup;
		}
		memcpy(t->hdr->boot_id, boot, sizeof(boot));
	}
	*out = t;
	t = NULL;
	ret = 0;
cleanup:
	if (fd >= 0) {
		/* Unlock by hand: the mapping holds the open file, and with it
		 * the flock, after close. */
		flock(fd, LOCK_UN);
		close(fd);
	}
	wgotp_ctab_close(t);
	return ret;
}

void wgotp_ctab_close(struct wgotp_ctab *t)
{
	if (!t)
		return;
	if (t->hdr)
		munmap(t->hdr, t->map_len);
	free(t->path);
	free(t);
}

int wgotp_ctab_lock(struct wgotp_ctab *t)
{
	int ret = pthread_mutex_lock(&t->hdr->lock);

	if (ret == EOWNERDEAD) {
		/* Every update leaves a usable entry at each store (see
		 * ctab_probe), so the table is consistent as it is. */
		log_warn("store: %s: a process died holding the counter table's lock; recovered",
			 t->path);
		ret = pthread_mutex_consistent(&t->hdr->lock);
	}
	if (ret) {
		log_err("store: %s: counter table lock: %s", t->path, strerror(ret));
		return -EIO;
	}
	return 0;
}

void wgotp_ctab_unlock(struct wgotp_ctab *t)
{
	pthread_mutex_unlock(&t->hdr->lock);
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
