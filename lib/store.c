/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state store front: choose the backend the configuration names and
 * hand out a handle. The backends live in store_sqlite.c and store_redis.c.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "store.h"

static const char *conf_name(const struct wgotp_config *cfg)
{
	return cfg->path ? cfg->path : "wgotp.conf";
}

/* RedisPasswordFile is read at every (re)connection; say at open, in its
 * own words, what wgotp_secret_read would refuse later. */
static int check_secret_mode(const char *key, const char *path, struct wgotp_error *err)
{
	struct stat st;

	if (!path || !*path || stat(path, &st) < 0)
		return 0;	/* the reader says what is wrong */
	if (st.st_mode & (S_IWGRP | S_IWOTH | S_IROTH))
		return wgotp_error_set(err, EPERM,
				       "%s %s is mode %04o: readable or writable by others (chmod 600 or 640)",
				       key, path, (unsigned int)(st.st_mode & 07777));
	return 0;
}

int wgotp_store_open(const struct wgotp_config *cfg, struct wgotp_store **out,
		     struct wgotp_error *err)
{
	const struct wgotp_store_ops *ops;
	struct wgotp_store *s = NULL;
	int ret;

	if (!cfg || !out)
		return wgotp_error_set(err, EINVAL, "store: no configuration");
	*out = NULL;

	switch (cfg->store_backend) {
	case WGOTP_STORE_SQLITE:
		ops = &wgotp_store_sqlite_ops;
		break;
	case WGOTP_STORE_REDIS:
		ret = check_secret_mode("[Store] RedisPasswordFile", cfg->redis_password_file, err);
		if (ret < 0)
			return ret;
#ifdef HAVE_REDIS
		ops = &wgotp_store_redis_ops;
		break;
#else
		return wgotp_error_set(err, ENOTSUP,
				       "%s: [Store] Backend = redis, but this build has no Redis support "
				       "(rebuild with hiredis, Debian package libhiredis-dev)",
				       conf_name(cfg));
#endif
	default:
		return wgotp_error_set(err, EINVAL, "%s: [Store] unknown backend %d",
				       conf_name(cfg), (int)cfg->store_backend);
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	s->ops = ops;
	ret = ops->open(cfg, &s->state, err);
	if (ret < 0)
		goto cleanup;
	*out = s;
	s = NULL;
	ret = 0;
cleanup:
	free(s);
	return ret;
}

void wgotp_store_close(struct wgotp_store *s)
{
	if (!s)
		return;
	if (s->ops && s->state)
		s->ops->close(s->state);
	free(s);
}

/* The rules of wgotp_store_totp_attempt from three atomic operations. */
static int attempt_generic(struct wgotp_store *st, const struct wgotp_totp_attempt *a,
			   uint64_t *used)
{
	const struct wgotp_store_ops *o = st->ops;
	int64_t n = 0;
	int ret;

	ret = o->counter_take(st->state, a->fail_key, a->now, a->window, a->max_failures, &n);
	if (ret < 0)
		return ret;	/* -EDQUOT: throttled */
	for (size_t i = 0; i < a->n_steps; i++) {
		ret = o->totp_use_step(st->state, a->user, a->steps[i]);
		if (ret == -EALREADY)
			continue;	/* used; a later step of the window may not be */
		if (ret < 0)
			return ret;
		*used = a->steps[i];
		return o->counter_reset(st->state, a->fail_key);
	}
	return a->n_steps ? -EALREADY : -EACCES;
}

int wgotp_store_totp_attempt(struct wgotp_store *st, const struct wgotp_totp_attempt *a,
			     uint64_t *used)
{
	int ret;

	if (!st || !a || !a->user || !a->fail_key || (a->n_steps && !a->steps) || !used ||
	    a->window <= 0 || a->max_failures < 1)
		return -EINVAL;
	for (size_t i = 1; i < a->n_steps; i++)
		if (a->steps[i] <= a->steps[i - 1])
			return -EINVAL;
	if (st->ops->totp_attempt) {
		ret = st->ops->totp_attempt(st->state, a, used);
		if (ret != -ENOTSUP)
			return ret;
	}
	return attempt_generic(st, a, used);
}
