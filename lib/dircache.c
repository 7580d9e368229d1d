/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A directory that follows users.json. Readers take a reference to the
 * current snapshot and give it back when done; a snapshot replaced by a
 * reload lives on until its last reader gives it back. The file is
 * stat()ed at most once per interval; it is reloaded when its device,
 * inode, size or mtime changed, by one thread while the others go on
 * with the snapshot they have. A file that fails to load is reported once
 * and not tried again until it changes.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "directory.h"
#include "dirindex.h"
#include "log.h"

#define DEFAULT_INTERVAL_MS 1000

struct snapshot {
	struct wgotp_directory *dir;
	unsigned long refs;
	struct snapshot *next;		/* in the list of replaced snapshots */
};

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
};

struct wgotp_dir_cache {
	pthread_mutex_t lock;
	char *path;
	struct snapshot *current;
	struct snapshot *replaced;	/* still referenced */
	struct file_id id;		/* of the file last loaded or tried */
	int64_t last_check_ms;
	int interval_ms;
	bool reloading;
	bool indexed;			/* through users.json.idx when it matches */
	int stat_errno;			/* last stat() failure reported, or 0 */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void file_id_of(const struct stat *st, struct file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtim = st->st_mtim;
}

static bool file_id_equal(const struct file_id *a, const struct file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec;
}

static void snapshot_free(struct snapshot *s)
{
	if (!s)
		return;
	wgotp_dir_free(s->dir);
	free(s);
}

/* Make dir the current snapshot; called with the lock held. */
static int install(struct wgotp_dir_cache *c, struct wgotp_directory *dir)
{
	struct snapshot *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dir = dir;
	if (c->current && c->current->refs) {
		c->current->next = c->replaced;
		c->replaced = c->current;
	} else {
		snapshot_free(c->current);
	}
	c->current = s;
	return 0;
}

/* The directory at c->path: whole, or through its index. */
static int load(const struct wgotp_dir_cache *c, struct wgotp_directory **dir, struct wgotp_error *err)
{
	return c->indexed ? wgotp_dirindex_load(c->path, dir, err) : wgotp_dir_load(c->path, dir, err);
}

static int cache_new(const char *path, bool indexed, struct wgotp_dir_cache **out,
		     struct wgotp_error *err)
{
	struct wgotp_dir_cache *c = NULL;
	struct wgotp_directory *dir = NULL;
	struct stat st;
	bool locked = false;
	int ret;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		ret = wgotp_error_set(err, ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	if (pthread_mutex_init(&c->lock, NULL)) {
		ret = wgotp_error_set(err, ENOMEM, "%s: cannot create a mutex", path);
		goto cleanup;
	}
	locked = true;
	c->interval_ms = DEFAULT_INTERVAL_MS;
	c->indexed = indexed;
	if (stat(path, &st) < 0) {
		int e = errno;

		if (e == ENOENT)
			ret = wgotp_error_set(err, e, "%s: the directory of users does not exist "
					      "(wgotpctl init writes one)", path);
		else
			ret = wgotp_error_set(err, e, "%s: %s", path, strerror(e));
		goto cleanup;
	}
	file_id_of(&st, &c->id);
	ret = load(c, &dir, err);
	if (ret)
		goto cleanup;
	ret = install(c, dir);
	if (ret) {
		ret = wgotp_error_set(err, -ret, "%s: out of memory", path);
		goto cleanup;
	}
	dir = NULL;
	c->last_check_ms = mono_ms();
	*out = c;
	c = NULL;
	ret = 0;
cleanup:
	wgotp_dir_free(dir);
	if (c) {
		if (locked)
			pthread_mutex_destroy(&c->lock);
		free(c->path);
		free(c);
	}
	return ret;
}

int wgotp_dir_cache_new(const char *path, struct wgotp_dir_cache **out, struct wgotp_error *err)
{
	return cache_new(path, false, out, err);
}

int wgotp_dir_cache_new_indexed(const char *path, struct wgotp_dir_cache **out, struct wgotp_error *err)
{
	return cache_new(path, true, out, err);
}

void wgotp_dir_cache_free(struct wgotp_dir_cache *c)
{
	struct snapshot *s, *next;

	if (!c)
		return;
	for (s = c->replaced; s; s = next) {
		next = s->next;
		snapshot_free(s);
	}
	snapshot_free(c->current);
	pthread_mutex_destroy(&c->lock);
	free(c->path);
	free(c);
}

void wgotp_dir_cache_set_interval_ms(struct wgotp_dir_cache *c, int ms)
{
	pthread_mutex_lock(&c->lock);
	c->interval_ms = ms < 0 ? DEFAULT_INTERVAL_MS : ms;
	pthread_mutex_unlock(&c->lock);
}

size_t wgotp_dir_cache_live(struct wgotp_dir_cache *c)
{
	struct snapshot *s;
	size_t n = 1;

	pthread_mutex_lock(&c->lock);
	for (s = c->replaced; s; s = s->next)
		n++;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* Reload when the file changed; called with the lock held, which it
 * drops while loading. */
static void maybe_reload(struct wgotp_dir_cache *c)
{
	struct wgotp_directory *dir = NULL;
	struct wgotp_error err = { "" };
	struct file_id id;
	struct stat st;
	int64_t now;
	int ret;

	now = mono_ms();
	if (c->reloading || now - c->last_check_ms < c->interval_ms)
		return;
	c->last_check_ms = now;
	if (stat(c->path, &st) < 0) {
		if (errno != c->stat_errno) {
			c->stat_errno = errno;
			log_err("%s: %s; keeping the previous directory", c->path, strerror(c->stat_errno));
		}
		return;
	}
	c->stat_errno = 0;
	file_id_of(&st, &id);
	if (file_id_equal(&id, &c->id))
		return;
	/* Taken as tried even if the load fails: a broken file is reported
	 * once, then left alone until it changes again. */
	c->id = id;
	c->reloading = true;
	pthread_mutex_unlock(&c->lock);
	ret = load(c, &dir, &err);
	pthread_mutex_lock(&c->lock);
	c->reloading = false;
	if (!ret) {
		ret = install(c, dir);
		if (ret)
			wgotp_error_set(&err, -ret, "%s: out of memory", c->path);
		else
			dir = NULL;
	}
	if (ret)
		log_err("%s; keeping the previous directory", err.msg);
	else
		log_info("%s: reloaded, %zu users%s", c->path,
			 c->current->dir->index ? wgotp_dirindex_count(c->current->dir->index) :
			 c->current->dir->n_users, c->current->dir->index ? " (indexed)" : "");
	wgotp_dir_free(dir);
}

const struct wgotp_directory *wgotp_dir_cache_get(struct wgotp_dir_cache *c)
{
	const struct wgotp_directory *d;

	if (!c)
		return NULL;
	pthread_mutex_lock(&c->lock);
	maybe_reload(c);
	c->current->refs++;
	d = c->current->dir;
	pthread_mutex_unlock(&c->lock);
	return d;
}

void wgotp_dir_cache_put(struct wgotp_dir_cache *c, const struct wgotp_directory *d)
{
	struct snapshot **pp, *s;

	if (!c || !d)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->current->dir == d) {
		if (c->current->refs)
			c->current->refs--;
		goto cleanup;
	}
	for (pp = &c->replaced; (s = *pp); pp = &s->next) {
		if (s->dir != d)
			continue;
		if (s->refs)
			s->refs--;
		if (!s->refs) {
			*pp = s->next;
			snapshot_free(s);
		}
		break;
	}
cleanup:
	pthread_mutex_unlock(&c->lock);
}
