// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * [Activator] Mode = redis, the client side: an activate or deactivate
 * request (the same JSON object as on the control socket) is appended to
 * the Redis stream [Activator] Stream. The wg-activator of every gateway
 * reads the stream with its own consumer group and acknowledges an entry
 * only once it is applied (wg-activator/stream.c), so the request
 * survives a restart of the daemon; a gateway applies only the users and
 * devices of its own users.json.
 *
 * Entries older than the longest session can no longer matter: each XADD
 * trims them (MINID), so the stream stays small without a separate job.
 * Needs Redis >= 6.2 (XADD MINID).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "activator_client.h"
#include "redis.h"

#define STREAM_TRIM_SLACK_MS (3600 * 1000LL)	/* keep an hour more than MaxDuration */

/*
 * [Store] RedisWaitReplicas: the entry must reach that many replicas
 * before the activation counts as queued, or a failover could lose it
 * after the login was accepted (replication is asynchronous).
 */
static int wait_replicas(const struct wgotp_config *cfg, const struct wgotp_redis_target *t,
			 redisContext *c, struct wgotp_error *err)
{
	char n[16], ms[16];
	const char *argv[3] = { "WAIT", n, ms };
	redisReply *r;
	int ret;

	if (cfg->redis_wait_replicas <= 0)
		return 0;
	snprintf(n, sizeof(n), "%d", cfg->redis_wait_replicas);
	snprintf(ms, sizeof(ms), "%d", cfg->redis_timeout_ms > 1 ? cfg->redis_timeout_ms / 2 : 1);
	r = redisCommandArgv(c, 3, argv, NULL);
	if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= cfg->redis_wait_replicas)
		ret = 0;
	else if (r && r->type == REDIS_REPLY_INTEGER)
		ret = wgotp_error_set(err, EIO, "redis %s: XADD %s: %lld of RedisWaitReplicas = %d "
				      "replicas acknowledged", t->where, cfg->activator_stream,
				      r->integer, cfg->redis_wait_replicas);
	else
		ret = wgotp_error_set(err, EIO, "redis %s: WAIT: %.200s", t->where,
				      r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply") :
				      c->errstr);
	if (r)
		freeReplyObject(r);
	return ret;
}

int wgotp_activator_xadd(const struct wgotp_config *cfg, const char *req, size_t len,
			 struct wgotp_error *err)
{
	struct wgotp_redis_target t;
	redisContext *c = NULL;
	redisReply *r = NULL;
	const char *argv[9];
	size_t lens[9];
	char minid[32];
	struct timespec now;
	int64_t min_ms;
	int ret;

	if (!cfg->activator_stream || !*cfg->activator_stream)
		return wgotp_error_set(err, EINVAL, "[Activator] Mode = redis needs a Stream");
	ret = wgotp_redis_target_init(&t, cfg, err);
	if (ret < 0)
		return ret;
	ret = wgotp_redis_connect(&t, &c, err);
	if (ret < 0) {
		ret = ret == -ENOMEM ? ret : -EIO;
		goto cleanup;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	min_ms = (int64_t)now.tv_sec * 1000 - cfg->session_max * 1000 - STREAM_TRIM_SLACK_MS;
	snprintf(minid, sizeof(minid), "%" PRId64, min_ms > 0 ? min_ms : 0);
	argv[0] = "XADD";
	argv[1] = cfg->activator_stream;
	argv[2] = "MINID";
	argv[3] = "~";
	argv[4] = minid;
	argv[5] = "*";
	argv[6] = "req";
	argv[7] = req;
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	lens[7] = len;
	r = redisCommandArgv(c, 8, argv, lens);
	if (!r)
		ret = wgotp_error_set(err, EIO, "redis %s: XADD %s: %s", t.where, cfg->activator_stream,
				      c->errstr);
	else if (r->type != REDIS_REPLY_STRING)
		ret = wgotp_error_set(err, EIO, "redis %s: XADD %s: %.200s", t.where,
				      cfg->activator_stream, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	else
		ret = wait_replicas(cfg, &t, c, err);
cleanup:
	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
	wgotp_redis_target_fini(&t);
	return ret;
}
