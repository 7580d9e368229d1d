/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state store front: choose the backend the configuration names and
 * hand out a handle. The backends live in store_sqlite.c and store_redis.c.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store.h"

static const char *conf_name(const struct wgotp_config *cfg)
{
	return cfg->path ? cfg->path : "wgotp.conf";
}

/* The SQLite store holds the sessions (a session written there becomes a
 * peer on the gateway), the codes' state and OAuth tokens: others may not
 * read or write the file, nor write its directory (they could replace it,
 * or create its -wal or -journal first). A file or directory not there yet
 * is created 0660 / 0770 by the backend. */
static int check_sqlite_modes(const char *path, struct wgotp_error *err)
{
	struct stat st;
	char *dir, *slash;
	int ret = 0;

	if (stat(path, &st) == 0 && (st.st_mode & S_IRWXO))
		return wgotp_error_set(err, EPERM,
				       "store %s is mode %04o: it holds sessions and tokens, others must have no access (chmod 660)",
				       path, (unsigned int)(st.st_mode & 07777));
	dir = strdup(path);
	if (!dir)
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH))
		ret = wgotp_error_set(err, EPERM,
				      "store directory %s is mode %04o: others may replace the store; it must not be writable by others (chmod 770)",
				      dir, (unsigned int)(st.st_mode & 07777));
	free(dir);
	return ret;
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
		if (cfg->store_path) {
			ret = check_sqlite_modes(cfg->store_path, err);
			if (ret < 0)
				return ret;
		}
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
