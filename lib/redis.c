// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Connecting to Redis (see redis.h). The password is read from its file
 * at every connect and wiped as soon as AUTH is sent, so it is never kept
 * in memory and a rotated password needs no restart.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "redis.h"
#include "secret.h"

#define REDIS_PASSWORD_MAX 1024

static struct timeval tv_of(int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* "host:port" or "[v6]:port" -> host (malloc'ed) and port. */
static int parse_hostport(const char *item, char **host, int *port)
{
	const char *colon, *h = item;
	size_t hl;
	char *end;
	long p;

	if (*item == '[') {
		const char *rb = strchr(item, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = item + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(item, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - item);
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (!hl || errno || *end || p < 1 || p > 65535 || colon[1] == '\0')
		return -EINVAL;
	*host = strndup(h, hl);
	if (!*host)
		return -ENOMEM;
	*port = (int)p;
	return 0;
}

int wgotp_redis_target_init(struct wgotp_redis_target *t, const struct wgotp_config *cfg,
			    struct wgotp_error *err)
{
	char *list = NULL, *cur, *item;
	int ret;

	memset(t, 0, sizeof(*t));
	t->host = dup_or_null(cfg->redis_host ? cfg->redis_host : "127.0.0.1");
	t->port = cfg->redis_port;
	t->user = dup_or_null(cfg->redis_user);
	t->password_file = dup_or_null(cfg->redis_password_file);
	t->master = dup_or_null(cfg->redis_master ? cfg->redis_master : "mymaster");
	t->connect_timeout_ms = cfg->redis_connect_timeout_ms > 0 ? cfg->redis_connect_timeout_ms : 1000;
	t->timeout_ms = cfg->redis_timeout_ms > 0 ? cfg->redis_timeout_ms : 1000;
	if (!t->host || !t->master || (cfg->redis_user && *cfg->redis_user && !t->user) ||
	    (cfg->redis_password_file && *cfg->redis_password_file && !t->password_file)) {
		ret = wgotp_error_set(err, ENOMEM, "redis: out of memory");
		goto cleanup;
	}

	if (cfg->redis_sentinels && *cfg->redis_sentinels) {
		list = strdup(cfg->redis_sentinels);
		if (!list) {
			ret = wgotp_error_set(err, ENOMEM, "redis: out of memory");
			goto cleanup;
		}
		for (cur = list; (item = strsep(&cur, ","));) {
			item += strspn(item, " \t");
			item[strcspn(item, " \t")] = '\0';
			if (!*item)
				continue;
			if (t->n_sentinels == WGOTP_REDIS_MAX_SENTINELS) {
				ret = wgotp_error_set(err, EINVAL, "[Store] RedisSentinels: more than %d",
						      WGOTP_REDIS_MAX_SENTINELS);
				goto cleanup;
			}
			ret = parse_hostport(item, &t->sentinel_host[t->n_sentinels],
					     &t->sentinel_port[t->n_sentinels]);
			if (ret < 0) {
				ret = wgotp_error_set(err, -ret, "[Store] RedisSentinels: \"%s\" is not host:port",
						      item);
				goto cleanup;
			}
			t->n_sentinels++;
		}
	}
	if (t->n_sentinels)
		snprintf(t->where, sizeof(t->where), "sentinel master %s", t->master);
	else if (t->host[0] == '/')
		snprintf(t->where, sizeof(t->where), "unix:%s", t->host);
	else
		snprintf(t->where, sizeof(t->where), "%s:%d", t->host, t->port);
	ret = 0;
cleanup:
	free(list);
	if (ret < 0)
		wgotp_redis_target_fini(t);
	return ret;
}

void wgotp_redis_target_fini(struct wgotp_redis_target *t)
{
	if (!t)
		return;
	free(t->host);
	free(t->user);
	free(t->password_file);
	free(t->master);
	for (int i = 0; i < t->n_sentinels; i++)
		free(t->sentinel_host[i]);
	memset(t, 0, sizeof(*t));
}

static redisContext *connect_to(const char *host, int port, int ms)
{
	if (host[0] == '/')
		return redisConnectUnixWithTimeout(host, tv_of(ms));
	return redisConnectWithTimeout(host, port, tv_of(ms));
}

/* Ask the sentinels, in order, where the master is. */
static int sentinel_master(const struct wgotp_redis_target *t, char **host, int *port,
			   struct wgotp_error *err)
{
	const char *argv[] = { "SENTINEL", "get-master-addr-by-name", t->master };
	char why[160] = "no sentinel answered";
	int ret = -EIO;

	for (int i = 0; i < t->n_sentinels && ret < 0; i++) {
		redisContext *c = connect_to(t->sentinel_host[i], t->sentinel_port[i], t->connect_timeout_ms);
		redisReply *r = NULL;

		if (!c) {
			ret = -ENOMEM;
			break;
		}
		if (c->err) {
			snprintf(why, sizeof(why), "sentinel %s:%d: %s", t->sentinel_host[i],
				 t->sentinel_port[i], c->errstr);
			redisFree(c);
			continue;
		}
		redisSetTimeout(c, tv_of(t->timeout_ms));
		r = redisCommandArgv(c, 3, argv, NULL);
		if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
			*host = strdup(r->element[0]->str);
			*port = atoi(r->element[1]->str);
			ret = *host ? 0 : -ENOMEM;
		} else if (r && r->type == REDIS_REPLY_NIL) {
			snprintf(why, sizeof(why), "sentinel %s:%d does not know master %s",
				 t->sentinel_host[i], t->sentinel_port[i], t->master);
		} else {
			snprintf(why, sizeof(why), "sentinel %s:%d: %s", t->sentinel_host[i],
				 t->sentinel_port[i], r && r->type == REDIS_REPLY_ERROR ? r->str :
				 c->err ? c->errstr : "unexpected reply");
		}
		if (r)
			freeReplyObject(r);
		redisFree(c);
	}
	if (ret == -ENOMEM)
		return wgotp_error_set(err, ENOMEM, "redis: out of memory");
	if (ret < 0)
		return wgotp_error_set(err, EIO, "redis %s: %s", t->where, why);
	return 0;
}

static int auth(const struct wgotp_redis_target *t, redisContext *c, struct wgotp_error *err)
{
	const char *argv[3];
	size_t lens[3];
	char *pw = NULL;
	size_t pw_len = 0;
	redisReply *r = NULL;
	int argc = 0, ret;

	if (!t->password_file)
		return 0;
	ret = wgotp_secret_read(t->password_file, REDIS_PASSWORD_MAX, &pw, &pw_len);
	if (ret < 0)
		return wgotp_error_set(err, EACCES, "redis %s: cannot read RedisPasswordFile %s: %s",
				       t->where, t->password_file, strerror(-ret));
	argv[argc] = "AUTH";
	lens[argc++] = 4;
	if (t->user) {
		argv[argc] = t->user;
		lens[argc++] = strlen(t->user);
	}
	argv[argc] = pw;
	lens[argc++] = pw_len;
	r = redisCommandArgv(c, argc, argv, lens);
	/* hiredis formatted the command into its output buffer, which is
	 * freed (not wiped) once sent; our copy goes now. */
	wgotp_freezero(pw, pw_len);
	if (!r) {
		ret = wgotp_error_set(err, EIO, "redis %s: AUTH: %s", t->where, c->errstr);
	} else if (r->type == REDIS_REPLY_ERROR) {
		/* WRONGPASS, or an error naming the server's configuration;
		 * never our password */
		ret = wgotp_error_set(err, EACCES, "redis %s: AUTH%s%s refused: %.120s", t->where,
				      t->user ? " as " : "", t->user ? t->user : "", r->str);
	} else {
		ret = 0;
	}
	if (r)
		freeReplyObject(r);
	return ret;
}

/* After Sentinel: is this really the master (not a demoted one)? */
static int check_master(const struct wgotp_redis_target *t, redisContext *c, const char *host,
			int port, struct wgotp_error *err)
{
	const char *argv[] = { "ROLE" };
	redisReply *r = redisCommandArgv(c, 1, argv, NULL);
	int ret;

	if (!r)
		ret = wgotp_error_set(err, EIO, "redis %s (%s:%d): ROLE: %s", t->where, host, port, c->errstr);
	else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
		 r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "master"))
		ret = 0;
	else
		ret = wgotp_error_set(err, EAGAIN, "redis %s: %s:%d is not a master (failover under way?)",
				      t->where, host, port);
	if (r)
		freeReplyObject(r);
	return ret;
}

int wgotp_redis_connect(const struct wgotp_redis_target *t, redisContext **out,
			struct wgotp_error *err)
{
	redisContext *c = NULL;
	char *mhost = NULL;
	int mport = 0, ret;

	*out = NULL;
	if (t->n_sentinels) {
		ret = sentinel_master(t, &mhost, &mport, err);
		if (ret < 0)
			goto cleanup;
	}
	c = connect_to(mhost ? mhost : t->host, mhost ? mport : t->port, t->connect_timeout_ms);
	if (!c) {
		ret = wgotp_error_set(err, ENOMEM, "redis: out of memory");
		goto cleanup;
	}
	if (c->err) {
		if (mhost)
			ret = wgotp_error_set(err, EIO, "redis %s (%s:%d): %s", t->where, mhost, mport, c->errstr);
		else
			ret = wgotp_error_set(err, EIO, "redis %s: %s", t->where, c->errstr);
		goto cleanup;
	}
	if (redisSetTimeout(c, tv_of(t->timeout_ms)) != REDIS_OK) {
		ret = wgotp_error_set(err, EIO, "redis %s: setting the timeout: %s", t->where, c->errstr);
		goto cleanup;
	}
	ret = auth(t, c, err);
	if (ret < 0)
		goto cleanup;
	if (mhost) {
		ret = check_master(t, c, mhost, mport, err);
		if (ret < 0)
			goto cleanup;
	}
	*out = c;
	c = NULL;
	ret = 0;
cleanup:
	if (c)
		redisFree(c);
	free(mhost);
	return ret;
}

bool wgotp_redis_reply_reconnect(const redisReply *r)
{
	static const char *const prefixes[] = { "READONLY", "LOADING", "MASTERDOWN", "NOAUTH" };

	if (!r || r->type != REDIS_REPLY_ERROR || !r->str)
		return false;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(r->str, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}
