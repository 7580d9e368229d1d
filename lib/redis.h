/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reaching Redis (hiredis), shared by the Redis store (store_redis.c), the
 * activator client in Mode = redis (activator_client.c) and wg-activator's
 * stream consumer: where Redis is ([Store] RedisHost/RedisPort, a unix
 * socket, or the master named by Sentinel), connect and command timeouts,
 * AUTH with the ACL user and the password file.
 *
 * Only built with hiredis (HAVE_REDIS). No global state.
 */
#ifndef WGOTP_REDIS_H
#define WGOTP_REDIS_H

#include <stdbool.h>

#include <hiredis/hiredis.h>

#include "conf.h"
#include "error.h"

#define WGOTP_REDIS_MAX_SENTINELS 8

/* A copy of what connecting needs, so it outlives the configuration. */
struct wgotp_redis_target {
	char *host;			/* host name, address, or "/path" of a unix socket */
	int port;
	char *user;			/* ACL user or NULL */
	char *password_file;		/* or NULL: no AUTH */
	int connect_timeout_ms;
	int timeout_ms;			/* each command */
	char *sentinel_host[WGOTP_REDIS_MAX_SENTINELS];
	int sentinel_port[WGOTP_REDIS_MAX_SENTINELS];
	int n_sentinels;
	char *master;			/* with sentinels */
	char where[160];		/* for messages: "host:port", "unix:/path", "sentinel NAME" */
};

/* -EINVAL (bad RedisSentinels) or -ENOMEM, with err set. */
int wgotp_redis_target_init(struct wgotp_redis_target *t, const struct wgotp_config *cfg,
			    struct wgotp_error *err);
void wgotp_redis_target_fini(struct wgotp_redis_target *t);

/*
 * Connect (through Sentinel when configured) within the connect timeout,
 * set the command timeout, AUTH. *out is a blocking context. Errors:
 * -EIO unreachable, -EACCES refused credentials (or an unreadable
 * password file), -EAGAIN Sentinel named a server that is not a master
 * (a failover under way), -ENOMEM.
 */
int wgotp_redis_connect(const struct wgotp_redis_target *t, redisContext **out,
			struct wgotp_error *err);

/*
 * An error reply after which the connection should be dropped and made
 * again: the server is a replica now (READONLY, after a failover), is
 * loading, lost its master, or forgot our AUTH.
 */
bool wgotp_redis_reply_reconnect(const redisReply *r);

#endif
