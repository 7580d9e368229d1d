// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Redis state store: several RADIUS servers (and PAM hosts) share
 * challenges, replay steps, rate limits, sessions and the token cache.
 *
 * Connections: one per thread (a pthread key), made on first use and
 * again after any I/O error, so a handle may be shared by threads without
 * a lock and a worker never waits for another one's round trip. Every
 * read-modify-write is one Lua script (EVALSHA, and EVAL once when the
 * server answers NOSCRIPT: after a restart or SCRIPT FLUSH); plain reads
 * are single commands. Challenges and counters carry native TTLs, so
 * Redis forgets them by itself; every decision still uses the `now` the
 * caller passes, never Redis's clock, so behaviour is exactly that of the
 * SQLite store (tests/unit/test_store.c runs against both).
 *
 * Redis unreachable: -EIO (the caller fails closed). One error line when
 * it goes away, one info line when it is back; in between a new connect is
 * tried at most every RD_RETRY_MS, so a dead server costs a worker at most
 * one connect timeout per interval, not one per request.
 *
 * Keys (P = [Store] RedisPrefix):
 *   P c:ID            hash: d (challenge, text), e (expires), t (tries),
 *                     s (insertion order), x (the user index key)
 *   P cu:M:USER       sorted set of the user's challenge ids of method M,
 *                     scored by created (challenge_latest)
 *   P cx              sorted set of challenge ids by expiry (expire())
 *   P cseq            insertion counter (ties in challenge_latest)
 *   P t:USER          the last TOTP step used (a decimal string)
 *   P n:KEY           hash: c (count), r (end of the window)
 *   P s               hash of sessions: "USER\nDEVICE" -> session (text)
 *   P k:KEY           hash: v (value), e (expires); P kx: keys by expiry
 * Scripts touch keys derived from stored values (the user index), so a
 * Redis Cluster is not supported; Sentinel is (see redis.h).
 *
 * Integers (times, steps) are compared as decimal strings inside the
 * scripts: Lua numbers are doubles and would round steps near INT64_MAX.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "encoding.h"
#include "log.h"
#include "redis.h"
#include "secret.h"
#include "store.h"

#define RD_KEY_MAX 1024		/* counter and cache keys, as in SQLite */
#define RD_RETRY_MS 1000	/* after a failed connect, wait this long */
#define RD_SLACK_S 60		/* native TTLs outlive the logical expiry */
#define RD_EXPIRE_BATCH 500	/* index entries expire() looks at per script run */
#define RD_MAX_ARGS 32		/* EVALSHA, sha, nkeys, keys, args: a TOTP attempt's 30 */

/* ---- scripts ----------------------------------------------------------- */

/* cmp(a, b): -1, 0, 1 for two canonical decimal integer strings. */
#define LUA_CMP \
	"local function cmp(a, b)\n" \
	"  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'\n" \
	"  if na ~= nb then if na then return -1 else return 1 end end\n" \
	"  if na then a, b = b:sub(2), a:sub(2) end\n" \
	"  if #a ~= #b then if #a < #b then return -1 else return 1 end end\n" \
	"  if a == b then return 0 elseif a < b then return -1 else return 1 end\n" \
	"end\n"

enum rd_script {
	RS_CH_PUT,
	RS_CH_TRY,
	RS_CH_LATEST,
	RS_CH_DEL,
	RS_EXPIRE,
	RS_TOTP_USE,
	RS_CNT_HIT,
	RS_TOTP_ATTEMPT,
	RS_KV_PUT,
	RS_KV_DEL,
	RS_KV_TAKE,
	RS_N,
};

static const char *const rd_lua[RS_N] = {
	/* KEYS: challenge, user index, cx, cseq
	 * ARGV: ttl_ms, created, expires, id, data, tries */
	[RS_CH_PUT] = (
	"if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
	"local seq = redis.call('INCR', KEYS[4])\n"
	"redis.call('HSET', KEYS[1], 'd', ARGV[5], 'e', ARGV[3], 't', ARGV[6], 's', seq, 'x', KEYS[2])\n"
	"redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
	"redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])\n"
	"if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then\n"
	"  redis.call('PEXPIRE', KEYS[2], ARGV[1])\n"
	"end\n"
	/* index entries of challenges that expired before this one was
	 * created only waste room: their native TTL removes the rest */
	"redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2])\n"
	"redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])\n"
	"return 1\n"),

	/* KEYS: challenge, cx. ARGV: now, max_tries, id.
	 * {-1} unknown, {-2} expired, {-3} tries used up (deleted),
	 * else {tries, data} */
	[RS_CH_TRY] = (LUA_CMP
	"local h = redis.call('HMGET', KEYS[1], 'd', 'e', 't', 'x')\n"
	"if not h[1] then return {-1} end\n"
	"if cmp(h[2], ARGV[1]) <= 0 then return {-2} end\n"
	"if tonumber(h[3]) >= tonumber(ARGV[2]) then\n"
	"  redis.call('DEL', KEYS[1])\n"
	"  redis.call('ZREM', h[4], ARGV[3])\n"
	"  redis.call('ZREM', KEYS[2], ARGV[3])\n"
	"  return {-3}\n"
	"end\n"
	"return {redis.call('HINCRBY', KEYS[1], 't', 1), h[1]}\n"),

	/* KEYS: user index. ARGV: now, challenge key prefix.
	 * nil, or {tries, data} of the newest live challenge (the latest
	 * created; among equal ones the last put) */
	[RS_CH_LATEST] = (LUA_CMP
	"local ids = redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')\n"
	"local best, bscore, bseq\n"
	"for i = 1, #ids, 2 do\n"
	"  local id, score = ids[i], ids[i + 1]\n"
	"  if best and score ~= bscore then break end\n"
	"  local h = redis.call('HMGET', ARGV[2] .. id, 'd', 'e', 's', 't')\n"
	"  if not h[1] then\n"
	"    redis.call('ZREM', KEYS[1], id)\n"
	"  elseif cmp(h[2], ARGV[1]) > 0 then\n"
	"    local seq = tonumber(h[3])\n"
	"    if not best or seq > bseq then best, bscore, bseq = h, score, seq end\n"
	"  end\n"
	"end\n"
	"if not best then return false end\n"
	"return {tonumber(best[4]), best[1]}\n"),

	/* KEYS: challenge, cx. ARGV: id. 1 deleted, 0 none */
	[RS_CH_DEL] = (
	"local x = redis.call('HGET', KEYS[1], 'x')\n"
	"if not x then return 0 end\n"
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('ZREM', x, ARGV[1])\n"
	"redis.call('ZREM', KEYS[2], ARGV[1])\n"
	"return 1\n"),

	/* KEYS: cx, kx. ARGV: now, challenge prefix, kv prefix, batch.
	 * {challenge entries seen, kv entries seen, removed} */
	[RS_EXPIRE] = (LUA_CMP
	"local n = 0\n"
	"local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])\n"
	"for _, id in ipairs(ids) do\n"
	"  local k = ARGV[2] .. id\n"
	"  local h = redis.call('HMGET', k, 'e', 'x')\n"
	"  if not h[1] then\n"
	"    redis.call('ZREM', KEYS[1], id); n = n + 1\n"
	"  elseif cmp(h[1], ARGV[1]) <= 0 then\n"
	"    redis.call('DEL', k); redis.call('ZREM', h[2], id); redis.call('ZREM', KEYS[1], id)\n"
	"    n = n + 1\n"
	"  end\n"
	"end\n"
	"local ks = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])\n"
	"for _, key in ipairs(ks) do\n"
	"  local k = ARGV[3] .. key\n"
	"  local e = redis.call('HGET', k, 'e')\n"
	"  if not e then\n"
	"    redis.call('ZREM', KEYS[2], key); n = n + 1\n"
	"  elseif cmp(e, ARGV[1]) <= 0 then\n"
	"    redis.call('DEL', k); redis.call('ZREM', KEYS[2], key); n = n + 1\n"
	"  end\n"
	"end\n"
	"return {#ids, #ks, n}\n"),

	/* KEYS: step. ARGV: step. 1 stored, 0 not newer */
	[RS_TOTP_USE] = (LUA_CMP
	"local cur = redis.call('GET', KEYS[1])\n"
	"if cur and cmp(cur, ARGV[1]) >= 0 then return 0 end\n"
	"redis.call('SET', KEYS[1], ARGV[1])\n"
	"return 1\n"),

	/* KEYS: counter. ARGV: now, reset_at, ttl_s, limit (0: none). The
	 * count, or minus the count when the window already holds limit. */
	[RS_CNT_HIT] = (LUA_CMP
	"local h = redis.call('HMGET', KEYS[1], 'r', 'c')\n"
	"if h[1] and cmp(h[1], ARGV[1]) > 0 then\n"
	"  if ARGV[4] ~= '0' and h[2] and cmp(h[2], ARGV[4]) >= 0 then return -tonumber(h[2]) end\n"
	"  return redis.call('HINCRBY', KEYS[1], 'c', 1)\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'c', 1, 'r', ARGV[2])\n"
	"redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
	"return 1\n"),

	/* wgotp_store_totp_attempt in one round trip. KEYS: the failure
	 * counter, the step. ARGV: now, reset_at, ttl_s, max_failures, then
	 * the matching steps, ascending. {0, step} stored (failures cleared),
	 * {1} throttled, {2} only used steps (counted), {3} none (counted). */
	[RS_TOTP_ATTEMPT] = (LUA_CMP
	"local h = redis.call('HMGET', KEYS[1], 'r', 'c')\n"
	"local live = h[1] and cmp(h[1], ARGV[1]) > 0\n"
	"if live and h[2] and cmp(h[2], ARGV[4]) >= 0 then return {1} end\n"
	"local cur = redis.call('GET', KEYS[2])\n"
	"for i = 5, #ARGV do\n"
	"  if not cur or cmp(ARGV[i], cur) > 0 then\n"
	"    redis.call('SET', KEYS[2], ARGV[i])\n"
	"    if h[1] then redis.call('DEL', KEYS[1]) end\n"
	"    return {0, ARGV[i]}\n"
	"  end\n"
	"end\n"
	"if live then redis.call('HINCRBY', KEYS[1], 'c', 1)\n"
	"else\n"
	"  redis.call('HSET', KEYS[1], 'c', 1, 'r', ARGV[2])\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
	"end\n"
	"if #ARGV >= 5 then return {2} end\n"
	"return {3}\n"),

	/* KEYS: kv, kx. ARGV: value, expires, key, ttl_ms (0: none) */
	[RS_KV_PUT] = (
	"redis.call('DEL', KEYS[1])\n"
	"redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', ARGV[2])\n"
	"if ARGV[4] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end\n"
	"redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])\n"
	"return 1\n"),

	/* KEYS: kv, kx. ARGV: key. 1 deleted, 0 none */
	[RS_KV_DEL] = (
	"redis.call('ZREM', KEYS[2], ARGV[1])\n"
	"return redis.call('DEL', KEYS[1])\n"),

	/* KEYS: kv, kx. ARGV: key. nil, or {value, expires}: either way the
	 * entry is gone (the caller compares expires with its now) */
	[RS_KV_TAKE] = (
	"local h = redis.call('HMGET', KEYS[1], 'v', 'e')\n"
	"redis.call('ZREM', KEYS[2], ARGV[1])\n"
	"redis.call('DEL', KEYS[1])\n"
	"if not h[1] or not h[2] then return false end\n"
	"return {h[1], h[2]}\n"),
};

/* ---- the handle -------------------------------------------------------- */

struct rd_store;

struct rd_conn {
	struct rd_store *s;
	redisContext *c;	/* NULL after an error: connect again */
	pid_t pid;		/* a child of fork() makes its own */
	struct rd_conn *prev, *next;
};

struct rd_store {
	struct wgotp_redis_target t;
	char *prefix;
	char sha[RS_N][41];
	pthread_key_t key;
	bool key_ok;
	pthread_mutex_t lock;	/* the list of connections */
	struct rd_conn *conns;
	int down;		/* atomic: the last attempt failed */
	int64_t retry_at;	/* atomic: monotonic ms before which no connect is tried */
	int policy_warned;	/* atomic: "could not check maxmemory-policy" was logged */
	int wait_replicas;	/* RedisWaitReplicas */
	int wait_ms;		/* WAIT's timeout: half of RedisTimeout */
	int lagging;		/* atomic: the last WAIT fell short */
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rd_conn_free(struct rd_conn *k)
{
	struct rd_store *s = k->s;

	pthread_mutex_lock(&s->lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		s->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&s->lock);
	if (k->c)
		redisFree(k->c);
	free(k);
}

/* The pthread key's destructor: a thread that used the store exits. */
static void rd_conn_destroy(void *p)
{
	if (p)
		rd_conn_free(p);
}

/* Redis went away: say so once. why names the server. */
static void rd_down(struct rd_store *s, const char *func, const char *why)
{
	if (!__atomic_exchange_n(&s->down, 1, __ATOMIC_SEQ_CST))
		wgotp_log(WGOTP_LOG_ERR, "%s: %s; logins fail closed until it is back", func, why);
	else
		wgotp_log(WGOTP_LOG_DEBUG, "%s: %s", func, why);
}

static void rd_up(struct rd_store *s)
{
	if (__atomic_exchange_n(&s->down, 0, __ATOMIC_SEQ_CST))
		wgotp_log(WGOTP_LOG_INFO, "store: redis %s is reachable again", s->t.where);
}

/* field in INFO's text ("field:value\r\n") into out; false if absent. */
static bool info_field(const char *text, const char *field, char *out, size_t size)
{
	size_t n = strlen(field), len;
	const char *p;

	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, field, n) != 0 || p[n] != ':')
			continue;
		p += n + 1;
		len = strcspn(p, "\r\n");
		if (len >= size)
			return false;
		memcpy(out, p, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

/*
 * The server's maxmemory-policy into policy, "" when the server does not
 * say (why: what each command answered). INFO memory first: the store's
 * ACL in doc/redis.md allows it, and it tells no secret; then CONFIG GET
 * (which also returns masterauth, so that ACL does not allow it; a denied
 * command lands in the server's ACL LOG at every connect). -EIO when the
 * connection failed.
 */
static int rd_policy(redisContext *c, char *policy, size_t size, char *why, size_t why_size)
{
	const char *info[] = { "INFO", "memory" };
	const char *cfg[] = { "CONFIG", "GET", "maxmemory-policy" };
	redisReply *r;

	policy[0] = '\0';
	r = redisCommandArgv(c, 2, info, NULL);
	if (!r)
		return -EIO;
	if ((r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
	    info_field(r->str, "maxmemory_policy", policy, size)) {
		freeReplyObject(r);
		return 0;
	}
	snprintf(why, why_size, "INFO: %.100s",
		 r->type == REDIS_REPLY_ERROR ? r->str : "no maxmemory_policy");
	freeReplyObject(r);
	r = redisCommandArgv(c, 3, cfg, NULL);
	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len < size) {
		snprintf(policy, size, "%s", r->element[1]->str);
		freeReplyObject(r);
		return 0;
	}
	snprintf(why + strlen(why), why_size - strlen(why), "; CONFIG GET: %.100s",
		 r->type == REDIS_REPLY_ERROR ? r->str : "an unexpected reply");
	freeReplyObject(r);
	return 0;
}

/*
 * TOTP steps carry no TTL and must never be forgotten: a server that
 * evicts keys when it reaches maxmemory may drop a user's last step, and
 * the code of that step works again (a replay); a volatile-* policy
 * drops failure counters instead (the throttle starts over). So a server
 * whose maxmemory-policy is not noeviction is refused (-EPERM, err set),
 * at every connect: the login fails closed, and the store does not open,
 * which says it where an administrator looks (a warning would be read
 * after the replay). When the policy cannot be read (an ACL without
 * INFO and CONFIG, a managed Redis), that is logged once, not refused.
 */
static int rd_check_eviction(struct rd_store *s, redisContext *c, struct wgotp_error *err)
{
	char policy[64], why[256] = "";
	int ret;

	ret = rd_policy(c, policy, sizeof(policy), why, sizeof(why));
	if (ret < 0)
		return wgotp_error_set(err, EIO, "redis %s: %s", s->t.where,
				       c->errstr[0] ? c->errstr : "connection lost");
	if (!policy[0]) {
		if (!__atomic_exchange_n(&s->policy_warned, 1, __ATOMIC_RELAXED))
			wgotp_log(WGOTP_LOG_WARN, "store: redis %s: could not check maxmemory-policy "
				  "(%s): it must be noeviction, or Redis may evict TOTP replay steps "
				  "and a used code works again; allow +info (or +config|get) to "
				  "have it checked", s->t.where, why);
		return 0;
	}
	if (strcmp(policy, "noeviction") != 0)
		return wgotp_error_set(err, EPERM, "redis %s: maxmemory-policy is %s: Redis "
				       "may evict TOTP replay steps (a used code would work again) "
				       "and rate-limit counters; set maxmemory-policy noeviction",
				       s->t.where, policy);
	return 0;
}

/* This thread's connection, made now if needed. *fresh: just made.
 * -EIO, -EACCES (credentials refused) or -EPERM (a server that may evict
 * keys) with err (may be NULL) set. */
static int rd_conn_get(struct rd_store *s, struct rd_conn **out, bool *fresh, const char *func,
		       struct wgotp_error *errp)
{
	struct rd_conn *k = pthread_getspecific(s->key);
	struct wgotp_error err = { "" };
	redisContext *c = NULL;
	int64_t now;
	int ret;

	if (k && k->pid != getpid() && k->c) {
		/* inherited through fork(): the socket is the parent's */
		redisFree(k->c);
		k->c = NULL;
	}
	if (k && k->c) {
		*out = k;
		*fresh = false;
		return 0;
	}
	now = mono_ms();
	if (now < __atomic_load_n(&s->retry_at, __ATOMIC_RELAXED)) {
		wgotp_log(WGOTP_LOG_DEBUG, "%s: redis %s: down, not retrying yet", func, s->t.where);
		return -EIO;
	}
	ret = wgotp_redis_connect(&s->t, &c, &err);
	if (ret == 0) {
		ret = rd_check_eviction(s, c, &err);
		if (ret < 0) {
			redisFree(c);
			c = NULL;
		}
	}
	if (ret < 0) {
		__atomic_store_n(&s->retry_at, now + RD_RETRY_MS, __ATOMIC_RELAXED);
		rd_down(s, func, err.msg);
		if (errp)
			*errp = err;
		return ret == -ENOMEM || ret == -EACCES || ret == -EPERM ? ret : -EIO;
	}
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k) {
			redisFree(c);
			return -ENOMEM;
		}
		k->s = s;
		pthread_mutex_lock(&s->lock);
		k->next = s->conns;
		if (s->conns)
			s->conns->prev = k;
		s->conns = k;
		pthread_mutex_unlock(&s->lock);
		if (pthread_setspecific(s->key, k) != 0) {
			rd_conn_free(k);
			redisFree(c);
			return -ENOMEM;
		}
	}
	k->c = c;
	k->pid = getpid();
	*out = k;
	*fresh = true;
	rd_up(s);
	return 0;
}

/*
 * One command. An I/O error drops the connection; when it was an old one
 * that the server closed (idle timeout, restart: the command never ran),
 * the command is sent once more on a new connection. A timeout is not
 * retried: the command may have run.
 */
static int rd_cmd_(struct rd_store *s, int argc, const char **argv, const size_t *lens,
		   redisReply **out, const char *func)
{
	char why[320];
	int ret;

	*out = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct rd_conn *k;
		redisReply *r;
		bool fresh, retry;

		ret = rd_conn_get(s, &k, &fresh, func, NULL);
		if (ret < 0)
			return ret == -ENOMEM ? ret : -EIO;
		r = redisCommandArgv(k->c, argc, argv, lens);
		if (r && !wgotp_redis_reply_reconnect(r)) {
			*out = r;
			return 0;
		}
		if (r) {
			/* a replica or a loading server refused: nothing ran */
			snprintf(why, sizeof(why), "redis %s: %.120s", s->t.where, r->str);
			retry = !fresh;
			freeReplyObject(r);
		} else {
			snprintf(why, sizeof(why), "redis %s: %s", s->t.where,
				 k->c->errstr[0] ? k->c->errstr : "connection lost");
			retry = !fresh && k->c->err == REDIS_ERR_EOF;
		}
		redisFree(k->c);
		k->c = NULL;
		if (!retry)
			break;
		wgotp_log(WGOTP_LOG_DEBUG, "%s: %s; reconnecting", func, why);
	}
	rd_down(s, func, why);
	return -EIO;
}

/* A script by its SHA-1; its source once if the server does not know it. */
static int rd_script_(struct rd_store *s, enum rd_script id, int nkeys, const char *const *keys,
		      int nargs, const char *const *args, const size_t *alens, redisReply **out,
		      const char *func)
{
	const char *argv[RD_MAX_ARGS];
	size_t lens[RD_MAX_ARGS];
	char nk[16];
	redisReply *r = NULL;
	int argc = 0, ret;

	if (3 + nkeys + nargs > RD_MAX_ARGS)
		return -E2BIG;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[argc] = "EVALSHA";
	lens[argc++] = 7;
	argv[argc] = s->sha[id];
	lens[argc++] = 40;
	argv[argc] = nk;
	lens[argc++] = strlen(nk);
	for (int i = 0; i < nkeys; i++) {
		argv[argc] = keys[i];
		lens[argc++] = strlen(keys[i]);
	}
	for (int i = 0; i < nargs; i++) {
		argv[argc] = args[i];
		lens[argc++] = alens ? alens[i] : strlen(args[i]);
	}
	ret = rd_cmd_(s, argc, argv, lens, &r, func);
	if (ret < 0)
		return ret;
	if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8)) {
		freeReplyObject(r);
		r = NULL;
		argv[0] = "EVAL";
		lens[0] = 4;
		argv[1] = rd_lua[id];
		lens[1] = strlen(rd_lua[id]);
		ret = rd_cmd_(s, argc, argv, lens, &r, func);
		if (ret < 0)
			return ret;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		wgotp_log(WGOTP_LOG_ERR, "%s: redis %s: %.200s", func, s->t.where, r->str);
		freeReplyObject(r);
		return -EIO;
	}
	*out = r;
	return 0;
}

#define rd_cmd(s, argc, argv, lens, out) rd_cmd_((s), (argc), (argv), (lens), (out), __func__)
#define rd_script(s, id, nk, keys, na, args, alens, out) \
	rd_script_((s), (id), (nk), (keys), (na), (args), (alens), (out), __func__)

/* An unexpected reply shape (a key written by something else). */
static int rd_bad_reply(struct rd_store *s, redisReply *r, const char *func)
{
	wgotp_log(WGOTP_LOG_ERR, "%s: redis %s: unexpected reply (type %d)", func, s->t.where,
		  r ? r->type : -1);
	return -EIO;
}

/* The reply of a delete: 0 when something was deleted, -ENOENT when
 * there was nothing to delete. */
static int rd_deleted(struct rd_store *s, redisReply *r, const char *func)
{
	if (r->type != REDIS_REPLY_INTEGER)
		return rd_bad_reply(s, r, func);
	return r->integer ? 0 : -ENOENT;
}

/* ---- helpers ----------------------------------------------------------- */

static bool field_ok(const char *f, size_t size)
{
	return memchr(f, '\0', size) != NULL && !strchr(f, '\n');
}

static bool key_ok(const char *k, size_t max)
{
	return k && *k && strnlen(k, max + 1) <= max;
}

/* P + a + b (+ c): malloc'ed key name, NULL on out-of-memory. */
static char *rd_key(const struct rd_store *s, const char *a, const char *b, const char *c)
{
	char *k;

	if (asprintf(&k, "%s%s%s%s", s->prefix, a, b ? b : "", c ? c : "") < 0)
		return NULL;
	return k;
}

/* Delete the entry P+prefix+name and its member `name` in the expiry index
 * P+index, with one script: 0, or -ENOENT when there was none. */
static int rd_del_indexed(struct rd_store *s, enum rd_script id, const char *prefix,
			  const char *index, const char *name, const char *func)
{
	char *k = rd_key(s, prefix, name, NULL), *x = rd_key(s, index, NULL, NULL);
	const char *keys[2] = { k, x }, *args[1] = { name };
	redisReply *r = NULL;
	int ret;

	if (!k || !x) {
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = rd_script_(s, id, 2, keys, 1, args, NULL, &r, func);
	if (ret == 0)
		ret = rd_deleted(s, r, func);
cleanup:
	if (r)
		freeReplyObject(r);
	free(k);
	free(x);
	return ret;
}

static int parse_i64(const char *p, size_t len, int64_t *out)
{
	char buf[24], *end;
	long long v;

	if (len == 0 || len >= sizeof(buf))
		return -EIO;
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (!(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
		return -EIO;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || *end)
		return -EIO;
	*out = v;
	return 0;
}

/* Split text on '\n' into exactly n fields (pointers into buf, which is
 * modified). */
static int split_fields(char *buf, char **f, int n)
{
	int i = 0;

	for (char *p = buf; i < n; i++) {
		f[i] = p;
		p = strchr(p, '\n');
		if (!p)
			return i == n - 1 ? 0 : -EIO;
		*p++ = '\0';
	}
	return -EIO;	/* more fields than expected */
}

static int copy_field(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -EIO;
	memcpy(dst, src, n + 1);
	return 0;
}

/* ---- challenge and session text ---------------------------------------- */

#define CH_FIELDS 11
#define SES_FIELDS 8

static char *ch_format(const struct wgotp_challenge *c)
{
	char mac[2 * WGOTP_MAC_LEN + 1], *out;

	wgotp_hex_encode(c->code_mac, WGOTP_MAC_LEN, mac);
	if (asprintf(&out, "1\n%s\n%s\n%d\n%d\n%s\n%" PRId64 "\n%" PRId64 "\n%" PRId64 "\n%s\n%s",
		     c->id, c->user, (int)c->method, c->decoy ? 1 : 0, mac, c->created, c->expires,
		     c->duration, c->device, c->origin) < 0)
		out = NULL;
	wgotp_wipe(mac, sizeof(mac));
	return out;
}

static int ch_parse(const char *text, size_t len, int64_t tries, struct wgotp_challenge *c)
{
	char *buf, *f[CH_FIELDS];
	int64_t v;
	int ret = -EIO;

	memset(c, 0, sizeof(*c));
	buf = strndup(text, len);
	if (!buf)
		return -ENOMEM;
	if (strlen(buf) != len || split_fields(buf, f, CH_FIELDS) < 0 || strcmp(f[0], "1") != 0)
		goto cleanup;
	if (copy_field(c->id, sizeof(c->id), f[1]) < 0 || copy_field(c->user, sizeof(c->user), f[2]) < 0)
		goto cleanup;
	if (parse_i64(f[3], strlen(f[3]), &v) < 0 || (v != WGOTP_METHOD_TOTP && v != WGOTP_METHOD_EMAIL))
		goto cleanup;
	c->method = (enum wgotp_method)v;
	c->decoy = !strcmp(f[4], "1");
	if (wgotp_hex_decode(f[5], c->code_mac, WGOTP_MAC_LEN) != WGOTP_MAC_LEN)
		goto cleanup;
	if (parse_i64(f[6], strlen(f[6]), &c->created) < 0 ||
	    parse_i64(f[7], strlen(f[7]), &c->expires) < 0 ||
	    parse_i64(f[8], strlen(f[8]), &c->duration) < 0)
		goto cleanup;
	if (copy_field(c->device, sizeof(c->device), f[9]) < 0 ||
	    copy_field(c->origin, sizeof(c->origin), f[10]) < 0)
		goto cleanup;
	if (tries < 0 || tries > INT_MAX)
		goto cleanup;
	c->tries = (int)tries;
	ret = 0;
cleanup:
	wgotp_freezero(buf, len + 1);
	if (ret < 0)
		wgotp_wipe(c, sizeof(*c));
	return ret;
}

static char *ses_format(const struct wgotp_session *ses)
{
	char *out;

	if (asprintf(&out, "1\n%s\n%s\n%s\n%s\n%" PRId64 "\n%" PRId64 "\n%s", ses->user, ses->device,
		     ses->public_key, ses->allowed_ips, ses->created, ses->expires, ses->origin) < 0)
		return NULL;
	return out;
}

static int ses_parse(const char *text, size_t len, struct wgotp_session *ses)
{
	char *buf, *f[SES_FIELDS];
	int ret = -EIO;

	memset(ses, 0, sizeof(*ses));
	buf = strndup(text, len);
	if (!buf)
		return -ENOMEM;
	if (strlen(buf) != len || split_fields(buf, f, SES_FIELDS) < 0 || strcmp(f[0], "1") != 0)
		goto cleanup;
	if (copy_field(ses->user, sizeof(ses->user), f[1]) < 0 ||
	    copy_field(ses->device, sizeof(ses->device), f[2]) < 0 ||
	    copy_field(ses->public_key, sizeof(ses->public_key), f[3]) < 0 ||
	    copy_field(ses->allowed_ips, sizeof(ses->allowed_ips), f[4]) < 0 ||
	    parse_i64(f[5], strlen(f[5]), &ses->created) < 0 ||
	    parse_i64(f[6], strlen(f[6]), &ses->expires) < 0 ||
	    copy_field(ses->origin, sizeof(ses->origin), f[7]) < 0)
		goto cleanup;
	ret = 0;
cleanup:
	free(buf);
	return ret;
}

/* "user\ndevice": the field of a session in the sessions hash. */
static char *ses_field(const char *user, const char *device)
{
	char *f;

	if (asprintf(&f, "%s\n%s", user, device) < 0)
		return NULL;
	return f;
}

/* ---- open and close ---------------------------------------------------- */

static void rd_close(void *state)
{
	struct rd_store *s = state;
	struct rd_conn *k, *next;

	if (!s)
		return;
	if (s->key_ok)
		pthread_key_delete(s->key);
	for (k = s->conns; k; k = next) {
		next = k->next;
		if (k->c)
			redisFree(k->c);
		free(k);
	}
	pthread_mutex_destroy(&s->lock);
	wgotp_redis_target_fini(&s->t);
	free(s->prefix);
	free(s);
}

static int sha1_hex(const char *text, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(text, strlen(text), md, &n, EVP_sha1(), NULL) || n != 20)
		return -ENOMEM;
	wgotp_hex_encode(md, 20, out);
	return 0;
}

static int rd_open(const struct wgotp_config *cfg, void **state, struct wgotp_error *err)
{
	struct rd_store *s = NULL;
	const char *argv[] = { "PING" };
	redisReply *r = NULL;
	struct rd_conn *k;
	bool fresh;
	int ret;

	if (!cfg || !state)
		return wgotp_error_set(err, EINVAL, "store: no configuration");
	*state = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return wgotp_error_set(err, ENOMEM, "store: out of memory");
	ret = pthread_mutex_init(&s->lock, NULL);
	if (ret) {
		free(s);
		return wgotp_error_set(err, ret, "store: mutex: %s", strerror(ret));
	}
	ret = wgotp_redis_target_init(&s->t, cfg, err);
	if (ret < 0)
		goto cleanup;
	s->wait_replicas = cfg->redis_wait_replicas;
	s->wait_ms = cfg->redis_timeout_ms > 1 ? cfg->redis_timeout_ms / 2 : 1;
	s->prefix = strdup(cfg->redis_prefix ? cfg->redis_prefix : "");
	if (!s->prefix) {
		ret = wgotp_error_set(err, ENOMEM, "store: out of memory");
		goto cleanup;
	}
	for (int i = 0; i < RS_N; i++) {
		if (sha1_hex(rd_lua[i], s->sha[i]) < 0) {
			ret = wgotp_error_set(err, ENOMEM, "store: SHA-1 of a script failed");
			goto cleanup;
		}
	}
	ret = pthread_key_create(&s->key, rd_conn_destroy);
	if (ret) {
		ret = wgotp_error_set(err, ret, "store: pthread_key_create: %s", strerror(ret));
		goto cleanup;
	}
	s->key_ok = true;

	/*
	 * Try the server now so that a wrong host or password shows at start;
	 * but an unreachable Redis is not fatal: a RADIUS server must start
	 * (and reject) while Redis is down, and serve once it is back.
	 */
	ret = rd_conn_get(s, &k, &fresh, "store", err);
	if (ret == 0)
		ret = rd_cmd(s, 1, argv, NULL, &r);
	if (r)
		freeReplyObject(r);
	if (ret == -ENOMEM) {
		ret = wgotp_error_set(err, ENOMEM, "store: out of memory");
		goto cleanup;
	}
	if (ret == -EPERM) {
		/* so is a server that may evict replay steps */
		struct wgotp_error why = { "" };

		if (err)
			why = *err;
		ret = wgotp_error_set(err, EPERM, "store: %s", why.msg);
		goto cleanup;
	}
	if (ret == -EACCES) {
		/* a wrong user or password is the administrator's mistake */
		struct wgotp_error why = { "" };

		if (err)
			why = *err;
		ret = wgotp_error_set(err, EACCES, "store: %s", why.msg[0] ? why.msg : "redis: AUTH refused");
		goto cleanup;
	}
	wgotp_error_clear(err);
	*state = s;
	s = NULL;
	ret = 0;
cleanup:
	rd_close(s);
	return ret;
}

/* ---- challenges -------------------------------------------------------- */

static int rd_challenge_put(void *st_, const struct wgotp_challenge *c)
{
	struct rd_store *s = st_;
	char *ck = NULL, *uk = NULL, *cx = NULL, *seq = NULL, *data = NULL;
	char ttl[24], created[24], expires[24], tries[16], method[16];
	const char *keys[4], *args[6];
	redisReply *r = NULL;
	int64_t life;
	int ret;

	if (!c || !field_ok(c->id, sizeof(c->id)) || !c->id[0] ||
	    !field_ok(c->user, sizeof(c->user)) || !field_ok(c->device, sizeof(c->device)) ||
	    !field_ok(c->origin, sizeof(c->origin)))
		return -EINVAL;

	/* The native TTL counts from the put: the challenge's own lifetime,
	 * and a minute more so that a late answer still reads "expired". */
	if (__builtin_sub_overflow(c->expires, c->created, &life) || life < 0)
		life = 0;
	if (life > 7 * 86400)
		life = 7 * 86400;
	snprintf(ttl, sizeof(ttl), "%" PRId64, (life + RD_SLACK_S) * 1000);
	snprintf(created, sizeof(created), "%" PRId64, c->created);
	snprintf(expires, sizeof(expires), "%" PRId64, c->expires);
	snprintf(tries, sizeof(tries), "%d", c->tries);
	snprintf(method, sizeof(method), "%d:", (int)c->method);
	ck = rd_key(s, "c:", c->id, NULL);
	uk = rd_key(s, "cu:", method, c->user);
	cx = rd_key(s, "cx", NULL, NULL);
	seq = rd_key(s, "cseq", NULL, NULL);
	data = ch_format(c);
	if (!ck || !uk || !cx || !seq || !data) {
		ret = -ENOMEM;
		goto cleanup;
	}
	keys[0] = ck;
	keys[1] = uk;
	keys[2] = cx;
	keys[3] = seq;
	args[0] = ttl;
	args[1] = created;
	args[2] = expires;
	args[3] = c->id;
	args[4] = data;
	args[5] = tries;
	ret = rd_script(s, RS_CH_PUT, 4, keys, 6, args, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type != REDIS_REPLY_INTEGER)
		ret = rd_bad_reply(s, r, __func__);
	else
		ret = r->integer == 1 ? 0 : -EEXIST;
cleanup:
	if (r)
		freeReplyObject(r);
	if (data)
		wgotp_freezero(data, strlen(data));
	free(ck);
	free(uk);
	free(cx);
	free(seq);
	return ret;
}

/* {tries, data} -> a challenge */
static int rd_challenge_reply(struct rd_store *s, redisReply *r, struct wgotp_challenge *c,
			      const char *func)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_STRING)
		return rd_bad_reply(s, r, func);
	if (ch_parse(r->element[1]->str, r->element[1]->len, r->element[0]->integer, c) < 0) {
		wgotp_log(WGOTP_LOG_ERR, "%s: redis %s: malformed challenge", func, s->t.where);
		return -EIO;
	}
	return 0;
}

static int rd_challenge_try(void *st_, const char *id, int64_t now, int max_tries,
			    struct wgotp_challenge *out)
{
	struct rd_store *s = st_;
	struct wgotp_challenge c;
	char *ck = NULL, *cx = NULL, snow[24], smax[16];
	const char *keys[2], *args[3];
	redisReply *r = NULL;
	int ret;

	if (!key_ok(id, WGOTP_CHALLENGE_ID_LEN) || max_tries < 1)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	snprintf(snow, sizeof(snow), "%" PRId64, now);
	snprintf(smax, sizeof(smax), "%d", max_tries);
	ck = rd_key(s, "c:", id, NULL);
	cx = rd_key(s, "cx", NULL, NULL);
	if (!ck || !cx) {
		ret = -ENOMEM;
		goto cleanup;
	}
	keys[0] = ck;
	keys[1] = cx;
	args[0] = snow;
	args[1] = smax;
	args[2] = id;
	ret = rd_script(s, RS_CH_TRY, 2, keys, 3, args, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER) {
		switch (r->element[0]->integer) {
		case -1: ret = -ENOENT; break;
		case -2: ret = -ETIME; break;
		case -3: ret = -EMLINK; break;
		default: ret = rd_bad_reply(s, r, __func__); break;
		}
		goto cleanup;
	}
	ret = rd_challenge_reply(s, r, &c, __func__);
	if (ret == 0 && out)
		*out = c;
cleanup:
	if (r)
		freeReplyObject(r);
	wgotp_wipe(&c, sizeof(c));
	free(ck);
	free(cx);
	return ret;
}

static int rd_challenge_latest(void *st_, const char *user, enum wgotp_method method,
			       int64_t now, struct wgotp_challenge *out)
{
	struct rd_store *s = st_;
	struct wgotp_challenge c;
	char *uk = NULL, *cprefix = NULL, snow[24], m[16];
	const char *keys[1], *args[2];
	redisReply *r = NULL;
	int ret;

	if (!key_ok(user, WGOTP_EMAIL_MAX))
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	snprintf(snow, sizeof(snow), "%" PRId64, now);
	snprintf(m, sizeof(m), "%d:", (int)method);
	uk = rd_key(s, "cu:", m, user);
	cprefix = rd_key(s, "c:", NULL, NULL);
	if (!uk || !cprefix) {
		ret = -ENOMEM;
		goto cleanup;
	}
	keys[0] = uk;
	args[0] = snow;
	args[1] = cprefix;
	ret = rd_script(s, RS_CH_LATEST, 1, keys, 2, args, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_NIL) {
		ret = -ENOENT;
		goto cleanup;
	}
	ret = rd_challenge_reply(s, r, &c, __func__);
	if (ret == 0 && out)
		*out = c;
cleanup:
	if (r)
		freeReplyObject(r);
	wgotp_wipe(&c, sizeof(c));
	free(uk);
	free(cprefix);
	return ret;
}

static int rd_challenge_del(void *st_, const char *id)
{
	if (!key_ok(id, WGOTP_CHALLENGE_ID_LEN))
		return -EINVAL;
	return rd_del_indexed(st_, RS_CH_DEL, "c:", "cx", id, __func__);
}

static int rd_expire(void *st_, int64_t now)
{
	struct rd_store *s = st_;
	char *cx = NULL, *kx = NULL, *cprefix = NULL, *kprefix = NULL, snow[24], batch[16];
	const char *keys[2], *args[4];
	redisReply *r = NULL;
	int ret, rounds;

	snprintf(snow, sizeof(snow), "%" PRId64, now);
	snprintf(batch, sizeof(batch), "%d", RD_EXPIRE_BATCH);
	cx = rd_key(s, "cx", NULL, NULL);
	kx = rd_key(s, "kx", NULL, NULL);
	cprefix = rd_key(s, "c:", NULL, NULL);
	kprefix = rd_key(s, "k:", NULL, NULL);
	if (!cx || !kx || !cprefix || !kprefix) {
		ret = -ENOMEM;
		goto cleanup;
	}
	keys[0] = cx;
	keys[1] = kx;
	args[0] = snow;
	args[1] = cprefix;
	args[2] = kprefix;
	args[3] = batch;
	/* In batches, so that one call never blocks Redis for long. (Counters
	 * need nothing: their native TTL is their window.) */
	for (rounds = 0; rounds < 10000; rounds++) {
		ret = rd_script(s, RS_EXPIRE, 2, keys, 4, args, NULL, &r);
		if (ret < 0)
			goto cleanup;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
		    r->element[0]->type != REDIS_REPLY_INTEGER ||
		    r->element[1]->type != REDIS_REPLY_INTEGER ||
		    r->element[2]->type != REDIS_REPLY_INTEGER) {
			ret = rd_bad_reply(s, r, __func__);
			goto cleanup;
		}
		if ((r->element[0]->integer < RD_EXPIRE_BATCH && r->element[1]->integer < RD_EXPIRE_BATCH) ||
		    r->element[2]->integer == 0)
			break;
		freeReplyObject(r);
		r = NULL;
	}
	ret = 0;
cleanup:
	if (r)
		freeReplyObject(r);
	free(cx);
	free(kx);
	free(cprefix);
	free(kprefix);
	return ret;
}

/* ---- TOTP replay ------------------------------------------------------- */

/*
 * RedisWaitReplicas: the replay step just written must have reached that
 * many replicas before its code is accepted. Replication is asynchronous:
 * a step that only the primary had is gone once Sentinel promotes a
 * replica, and the code works a second time. So WAIT, on the connection
 * that wrote (WAIT waits for this client's last write: a new connection's
 * would wait for nothing); fewer replicas within half of RedisTimeout is
 * -EIO and the login fails closed (the step stays written on the primary).
 */
static int rd_wait_replicas(struct rd_store *s, const char *func)
{
	struct rd_conn *k = pthread_getspecific(s->key);
	char n[16], ms[16], why[320];
	const char *argv[3] = { "WAIT", n, ms };
	redisReply *r;
	long long got = -1;

	if (s->wait_replicas <= 0)
		return 0;
	if (!k || !k->c)
		return -EIO;
	snprintf(n, sizeof(n), "%d", s->wait_replicas);
	snprintf(ms, sizeof(ms), "%d", s->wait_ms);
	r = redisCommandArgv(k->c, 3, argv, NULL);
	if (r && r->type == REDIS_REPLY_INTEGER) {
		got = r->integer;
		freeReplyObject(r);
		if (got >= s->wait_replicas) {
			if (__atomic_exchange_n(&s->lagging, 0, __ATOMIC_RELAXED))
				wgotp_log(WGOTP_LOG_INFO, "store: redis %s: replicas acknowledge again",
					  s->t.where);
			return 0;
		}
		if (!__atomic_exchange_n(&s->lagging, 1, __ATOMIC_RELAXED))
			wgotp_log(WGOTP_LOG_ERR, "%s: redis %s: %lld of RedisWaitReplicas = %d replicas "
				  "acknowledged a TOTP step within %d ms; TOTP logins fail closed until "
				  "they do", func, s->t.where, got, s->wait_replicas, s->wait_ms);
		return -EIO;
	}
	snprintf(why, sizeof(why), "redis %s: WAIT: %.120s", s->t.where,
		 r ? (r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply") :
		 k->c->errstr[0] ? k->c->errstr : "connection lost");
	if (r)
		freeReplyObject(r);
	redisFree(k->c);
	k->c = NULL;
	rd_down(s, func, why);
	return -EIO;
}

static int rd_totp_use_step(void *st_, const char *user, uint64_t step)
{
	struct rd_store *s = st_;
	char *tk, sstep[24];
	const char *keys[1], *args[1];
	redisReply *r = NULL;
	int ret;

	if (!key_ok(user, WGOTP_EMAIL_MAX))
		return -EINVAL;
	if (step > (uint64_t)INT64_MAX)
		return -ERANGE;
	snprintf(sstep, sizeof(sstep), "%" PRIu64, step);
	tk = rd_key(s, "t:", user, NULL);
	if (!tk)
		return -ENOMEM;
	keys[0] = tk;
	args[0] = sstep;
	ret = rd_script(s, RS_TOTP_USE, 1, keys, 1, args, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type != REDIS_REPLY_INTEGER)
		ret = rd_bad_reply(s, r, __func__);
	else
		ret = r->integer == 1 ? rd_wait_replicas(s, __func__) : -EALREADY;
cleanup:
	if (r)
		freeReplyObject(r);
	free(tk);
	return ret;
}

/* wgotp_store_totp_attempt (store.h): one script, one round trip. */
static int rd_totp_attempt(void *st_, const struct wgotp_totp_attempt *a, uint64_t *used)
{
	struct rd_store *s = st_;
	char *nk = NULL, *tk = NULL, snow[24], sreset[24], sttl[24], smax[24];
	char ssteps[WGOTP_TOTP_MAX_STEPS][24];
	const char *keys[2], *args[4 + WGOTP_TOTP_MAX_STEPS];
	redisReply *r = NULL;
	int64_t reset_at, v;
	int ret;

	if (!key_ok(a->user, WGOTP_EMAIL_MAX) || !key_ok(a->fail_key, RD_KEY_MAX))
		return -EINVAL;
	if (a->n_steps > WGOTP_TOTP_MAX_STEPS)
		return -ENOTSUP;	/* the facade's three operations take any number */
	if (__builtin_add_overflow(a->now, a->window, &reset_at))
		return -ERANGE;
	snprintf(snow, sizeof(snow), "%" PRId64, a->now);
	snprintf(sreset, sizeof(sreset), "%" PRId64, reset_at);
	/* As counter_hit: the window is the counter's TTL. */
	snprintf(sttl, sizeof(sttl), "%" PRId64,
		 a->window < INT32_MAX ? a->window + 1 : (int64_t)INT32_MAX);
	snprintf(smax, sizeof(smax), "%" PRId64, a->max_failures);
	args[0] = snow;
	args[1] = sreset;
	args[2] = sttl;
	args[3] = smax;
	for (size_t i = 0; i < a->n_steps; i++) {
		if (a->steps[i] > (uint64_t)INT64_MAX)
			return -ERANGE;
		snprintf(ssteps[i], sizeof(ssteps[i]), "%" PRIu64, a->steps[i]);
		args[4 + i] = ssteps[i];
	}
	nk = rd_key(s, "n:", a->fail_key, NULL);
	tk = rd_key(s, "t:", a->user, NULL);
	if (!nk || !tk) {
		ret = -ENOMEM;
		goto cleanup;
	}
	keys[0] = nk;
	keys[1] = tk;
	ret = rd_script(s, RS_TOTP_ATTEMPT, 2, keys, 4 + (int)a->n_steps, args, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		ret = rd_bad_reply(s, r, __func__);
		goto cleanup;
	}
	switch (r->element[0]->integer) {
	case 0:
		if (r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING ||
		    parse_i64(r->element[1]->str, r->element[1]->len, &v) < 0 || v < 0) {
			ret = rd_bad_reply(s, r, __func__);
			break;
		}
		*used = (uint64_t)v;
		ret = rd_wait_replicas(s, __func__);
		break;
	case 1: ret = -EDQUOT; break;
	case 2: ret = -EALREADY; break;
	case 3: ret = -EACCES; break;
	default: ret = rd_bad_reply(s, r, __func__); break;
	}
cleanup:
	if (r)
		freeReplyObject(r);
	free(nk);
	free(tk);
	return ret;
}

static int rd_totp_last_step(void *st_, const char *user, uint64_t *step)
{
	struct rd_store *s = st_;
	const char *argv[2];
	redisReply *r = NULL;
	char *tk;
	int64_t v;
	int ret;

	if (!key_ok(user, WGOTP_EMAIL_MAX) || !step)
		return -EINVAL;
	tk = rd_key(s, "t:", user, NULL);
	if (!tk)
		return -ENOMEM;
	argv[0] = "GET";
	argv[1] = tk;
	ret = rd_cmd(s, 2, argv, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_NIL) {
		*step = 0;
	} else if (r->type == REDIS_REPLY_STRING && parse_i64(r->str, r->len, &v) == 0 && v >= 0) {
		*step = (uint64_t)v;
	} else {
		ret = rd_bad_reply(s, r, __func__);
	}
cleanup:
	if (r)
		freeReplyObject(r);
	free(tk);
	return ret;
}

/* ---- counters ---------------------------------------------------------- */

/* counter_hit (limit 0) and counter_take. */
static int rd_counter_add(void *st_, const char *key, int64_t now, int64_t window, int64_t limit,
			  int64_t *count)
{
	struct rd_store *s = st_;
	char *nk, snow[24], sreset[24], sttl[24], slimit[24];
	const char *keys[1], *args[4];
	redisReply *r = NULL;
	int64_t reset_at;
	int ret;

	if (!key_ok(key, RD_KEY_MAX) || window <= 0 || limit < 0)
		return -EINVAL;
	if (__builtin_add_overflow(now, window, &reset_at))
		return -ERANGE;
	snprintf(snow, sizeof(snow), "%" PRId64, now);
	snprintf(sreset, sizeof(sreset), "%" PRId64, reset_at);
	/* The window is the TTL: with the caller's clock near Redis's, the
	 * counter disappears when its window ends. */
	snprintf(sttl, sizeof(sttl), "%" PRId64, window < INT32_MAX ? window + 1 : (int64_t)INT32_MAX);
	nk = rd_key(s, "n:", key, NULL);
	if (!nk)
		return -ENOMEM;
	keys[0] = nk;
	args[0] = snow;
	args[1] = sreset;
	args[2] = sttl;
	snprintf(slimit, sizeof(slimit), "%" PRId64, limit);
	args[3] = slimit;
	ret = rd_script(s, RS_CNT_HIT, 1, keys, 4, args, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type != REDIS_REPLY_INTEGER || r->integer == 0 || r->integer == LLONG_MIN) {
		ret = rd_bad_reply(s, r, __func__);
		goto cleanup;
	}
	if (r->integer < 0)
		ret = -EDQUOT;
	if (count)
		*count = r->integer < 0 ? -r->integer : r->integer;
cleanup:
	if (r)
		freeReplyObject(r);
	free(nk);
	return ret;
}

static int rd_counter_hit(void *st, const char *key, int64_t now, int64_t window, int64_t *count)
{
	return rd_counter_add(st, key, now, window, 0, count);
}

static int rd_counter_take(void *st, const char *key, int64_t now, int64_t window, int64_t limit,
			   int64_t *count)
{
	if (limit < 1)
		return -EINVAL;
	return rd_counter_add(st, key, now, window, limit, count);
}

static int rd_counter_get(void *st_, const char *key, int64_t now, int64_t *count)
{
	struct rd_store *s = st_;
	const char *argv[4];
	redisReply *r = NULL;
	int64_t c, reset_at;
	char *nk;
	int ret;

	if (!key_ok(key, RD_KEY_MAX) || !count)
		return -EINVAL;
	nk = rd_key(s, "n:", key, NULL);
	if (!nk)
		return -ENOMEM;
	argv[0] = "HMGET";
	argv[1] = nk;
	argv[2] = "c";
	argv[3] = "r";
	ret = rd_cmd(s, 4, argv, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		ret = rd_bad_reply(s, r, __func__);
		goto cleanup;
	}
	*count = 0;
	if (r->element[0]->type == REDIS_REPLY_NIL || r->element[1]->type == REDIS_REPLY_NIL)
		goto cleanup;
	if (r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
	    parse_i64(r->element[0]->str, r->element[0]->len, &c) < 0 ||
	    parse_i64(r->element[1]->str, r->element[1]->len, &reset_at) < 0) {
		ret = rd_bad_reply(s, r, __func__);
		goto cleanup;
	}
	if (reset_at > now)
		*count = c;
cleanup:
	if (r)
		freeReplyObject(r);
	free(nk);
	return ret;
}

static int rd_counter_reset(void *st_, const char *key)
{
	struct rd_store *s = st_;
	const char *argv[2];
	redisReply *r = NULL;
	char *nk;
	int ret;

	if (!key_ok(key, RD_KEY_MAX))
		return -EINVAL;
	nk = rd_key(s, "n:", key, NULL);
	if (!nk)
		return -ENOMEM;
	argv[0] = "DEL";
	argv[1] = nk;
	ret = rd_cmd(s, 2, argv, NULL, &r);
	if (ret == 0 && r->type != REDIS_REPLY_INTEGER)
		ret = rd_bad_reply(s, r, __func__);
	if (r)
		freeReplyObject(r);
	free(nk);
	return ret;
}

/* ---- sessions ---------------------------------------------------------- */

static bool ses_args_ok(const char *user, const char *device)
{
	return key_ok(user, WGOTP_EMAIL_MAX) && device && strlen(device) <= WGOTP_DEVICE_NAME_MAX &&
	       !strchr(user, '\n') && !strchr(device, '\n');
}

static int rd_session_put(void *st_, const struct wgotp_session *ses)
{
	struct rd_store *s = st_;
	char *sk = NULL, *f = NULL, *v = NULL;
	const char *argv[4];
	redisReply *r = NULL;
	int ret;

	if (!ses || !field_ok(ses->user, sizeof(ses->user)) || !ses->user[0] ||
	    !field_ok(ses->device, sizeof(ses->device)) ||
	    !field_ok(ses->public_key, sizeof(ses->public_key)) ||
	    !field_ok(ses->allowed_ips, sizeof(ses->allowed_ips)) ||
	    !field_ok(ses->origin, sizeof(ses->origin)))
		return -EINVAL;
	sk = rd_key(s, "s", NULL, NULL);
	f = ses_field(ses->user, ses->device);
	v = ses_format(ses);
	if (!sk || !f || !v) {
		ret = -ENOMEM;
		goto cleanup;
	}
	argv[0] = "HSET";
	argv[1] = sk;
	argv[2] = f;
	argv[3] = v;
	ret = rd_cmd(s, 4, argv, NULL, &r);
	if (ret == 0 && r->type != REDIS_REPLY_INTEGER)
		ret = rd_bad_reply(s, r, __func__);
cleanup:
	if (r)
		freeReplyObject(r);
	free(sk);
	free(f);
	free(v);
	return ret;
}

static int rd_session_get(void *st_, const char *user, const char *device, struct wgotp_session *out)
{
	struct rd_store *s = st_;
	struct wgotp_session ses;
	char *sk = NULL, *f = NULL;
	const char *argv[3];
	redisReply *r = NULL;
	int ret;

	if (!ses_args_ok(user, device))
		return -EINVAL;
	sk = rd_key(s, "s", NULL, NULL);
	f = ses_field(user, device);
	if (!sk || !f) {
		ret = -ENOMEM;
		goto cleanup;
	}
	argv[0] = "HGET";
	argv[1] = sk;
	argv[2] = f;
	ret = rd_cmd(s, 3, argv, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_NIL) {
		ret = -ENOENT;
	} else if (r->type != REDIS_REPLY_STRING || ses_parse(r->str, r->len, &ses) < 0) {
		ret = rd_bad_reply(s, r, __func__);
	} else if (out) {
		*out = ses;
	}
cleanup:
	if (r)
		freeReplyObject(r);
	free(sk);
	free(f);
	return ret;
}

static int rd_session_del(void *st_, const char *user, const char *device)
{
	struct rd_store *s = st_;
	char *sk = NULL, *f = NULL;
	const char *argv[3];
	redisReply *r = NULL;
	int ret;

	if (!ses_args_ok(user, device))
		return -EINVAL;
	sk = rd_key(s, "s", NULL, NULL);
	f = ses_field(user, device);
	if (!sk || !f) {
		ret = -ENOMEM;
		goto cleanup;
	}
	argv[0] = "HDEL";
	argv[1] = sk;
	argv[2] = f;
	ret = rd_cmd(s, 3, argv, NULL, &r);
	if (ret == 0)
		ret = rd_deleted(s, r, __func__);
cleanup:
	if (r)
		freeReplyObject(r);
	free(sk);
	free(f);
	return ret;
}

static int ses_cmp(const void *a_, const void *b_)
{
	const struct wgotp_session *a = a_, *b = b_;
	int c;

	if (a->expires != b->expires)
		return a->expires < b->expires ? -1 : 1;
	c = strcmp(a->user, b->user);
	return c ? c : strcmp(a->device, b->device);
}

/* Read all, sort as SQLite does (expires, user, device), then call back
 * with nothing held: a callback may call the store. */
static int rd_session_list(void *st_, wgotp_session_cb cb, void *arg)
{
	struct rd_store *s = st_;
	struct wgotp_session *rows = NULL;
	const char *argv[2];
	redisReply *r = NULL;
	size_t n = 0;
	char *sk;
	int ret;

	if (!cb)
		return -EINVAL;
	sk = rd_key(s, "s", NULL, NULL);
	if (!sk)
		return -ENOMEM;
	argv[0] = "HVALS";
	argv[1] = sk;
	ret = rd_cmd(s, 2, argv, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type != REDIS_REPLY_ARRAY) {
		ret = rd_bad_reply(s, r, __func__);
		goto cleanup;
	}
	rows = calloc(r->elements + 1, sizeof(*rows));
	if (!rows) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < r->elements; i++) {
		redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_STRING || ses_parse(e->str, e->len, &rows[n]) < 0) {
			wgotp_log(WGOTP_LOG_ERR, "%s: redis %s: malformed session skipped", __func__,
				  s->t.where);
			continue;
		}
		n++;
	}
	freeReplyObject(r);
	r = NULL;
	qsort(rows, n, sizeof(*rows), ses_cmp);
	for (size_t i = 0; i < n; i++) {
		ret = cb(arg, &rows[i]);
		if (ret)
			break;
	}
cleanup:
	if (r)
		freeReplyObject(r);
	free(rows);
	free(sk);
	return ret;
}

/* ---- cache ------------------------------------------------------------- */

static int rd_kv_put(void *st_, const char *key, const char *val, int64_t expires)
{
	struct rd_store *s = st_;
	char *kk = NULL, *kx = NULL, sexp[24], sttl[24];
	const char *keys[2], *args[4];
	redisReply *r = NULL;
	int64_t left = expires - (int64_t)time(NULL);
	int ret;

	if (!key_ok(key, RD_KEY_MAX) || !val)
		return -EINVAL;
	snprintf(sexp, sizeof(sexp), "%" PRId64, expires);
	/* A native TTL when the expiry is in the future by the wall clock
	 * (a minute late: the logical expiry decides); else only expire()
	 * removes it. */
	if (expires > 0 && left > 0 && left < 366 * 86400)
		snprintf(sttl, sizeof(sttl), "%" PRId64, (left + RD_SLACK_S) * 1000);
	else
		snprintf(sttl, sizeof(sttl), "0");
	kk = rd_key(s, "k:", key, NULL);
	kx = rd_key(s, "kx", NULL, NULL);
	if (!kk || !kx) {
		ret = -ENOMEM;
		goto cleanup;
	}
	keys[0] = kk;
	keys[1] = kx;
	args[0] = val;
	args[1] = sexp;
	args[2] = key;
	args[3] = sttl;
	ret = rd_script(s, RS_KV_PUT, 2, keys, 4, args, NULL, &r);
	if (ret == 0 && r->type != REDIS_REPLY_INTEGER)
		ret = rd_bad_reply(s, r, __func__);
cleanup:
	if (r)
		freeReplyObject(r);
	free(kk);
	free(kx);
	return ret;
}

/*
 * A cache entry's {value, expiry} reply, checked, into *val (malloc'ed):
 * -ENOENT when it has expired, rd_bad_reply() for any other shape.
 */
static int kv_reply_value(struct rd_store *s, redisReply *r, int64_t now, char **val,
			  const char *func)
{
	int64_t e;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
	    parse_i64(r->element[1]->str, r->element[1]->len, &e) < 0)
		return rd_bad_reply(s, r, func);
	if (e <= now)
		return -ENOENT;
	*val = malloc(r->element[0]->len + 1);
	if (!*val)
		return -ENOMEM;
	memcpy(*val, r->element[0]->str, r->element[0]->len);
	(*val)[r->element[0]->len] = '\0';
	return 0;
}

/* Free such a reply; the value may be a token: not left in freed memory. */
static void kv_reply_free(redisReply *r)
{
	if (!r)
		return;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING)
		wgotp_wipe(r->element[0]->str, r->element[0]->len);
	freeReplyObject(r);
}

static int rd_kv_get(void *st_, const char *key, int64_t now, char **val)
{
	struct rd_store *s = st_;
	const char *argv[4];
	redisReply *r = NULL;
	char *kk;
	int ret;

	if (!key_ok(key, RD_KEY_MAX) || !val)
		return -EINVAL;
	*val = NULL;
	kk = rd_key(s, "k:", key, NULL);
	if (!kk)
		return -ENOMEM;
	argv[0] = "HMGET";
	argv[1] = kk;
	argv[2] = "v";
	argv[3] = "e";
	ret = rd_cmd(s, 4, argv, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
		ret = rd_bad_reply(s, r, __func__);
		goto cleanup;
	}
	if (r->element[0]->type == REDIS_REPLY_NIL || r->element[1]->type == REDIS_REPLY_NIL) {
		ret = -ENOENT;
		goto cleanup;
	}
	ret = kv_reply_value(s, r, now, val, __func__);
cleanup:
	kv_reply_free(r);
	free(kk);
	return ret;
}

static int rd_kv_del(void *st_, const char *key)
{
	if (!key_ok(key, RD_KEY_MAX))
		return -EINVAL;
	return rd_del_indexed(st_, RS_KV_DEL, "k:", "kx", key, __func__);
}

/* Get and delete in one script: one of two takers gets the value. */
static int rd_kv_take(void *st_, const char *key, int64_t now, char **val)
{
	struct rd_store *s = st_;
	char *kk = NULL, *kx = NULL;
	const char *keys[2], *args[1];
	redisReply *r = NULL;
	int ret;

	if (!key_ok(key, RD_KEY_MAX) || !val)
		return -EINVAL;
	*val = NULL;
	kk = rd_key(s, "k:", key, NULL);
	kx = rd_key(s, "kx", NULL, NULL);
	if (!kk || !kx) {
		ret = -ENOMEM;
		goto cleanup;
	}
	keys[0] = kk;
	keys[1] = kx;
	args[0] = key;
	ret = rd_script(s, RS_KV_TAKE, 2, keys, 1, args, NULL, &r);
	if (ret < 0)
		goto cleanup;
	if (r->type == REDIS_REPLY_NIL) {
		ret = -ENOENT;
		goto cleanup;
	}
	ret = kv_reply_value(s, r, now, val, __func__);
cleanup:
	kv_reply_free(r);
	free(kk);
	free(kx);
	return ret;
}

const struct wgotp_store_ops wgotp_store_redis_ops = {
	.name = "redis",
	.open = rd_open,
	.close = rd_close,
	.challenge_put = rd_challenge_put,
	.challenge_try = rd_challenge_try,
	.challenge_latest = rd_challenge_latest,
	.challenge_del = rd_challenge_del,
	.expire = rd_expire,
	.totp_use_step = rd_totp_use_step,
	.totp_last_step = rd_totp_last_step,
	.counter_hit = rd_counter_hit,
	.counter_take = rd_counter_take,
	.totp_attempt = rd_totp_attempt,
	.counter_get = rd_counter_get,
	.counter_reset = rd_counter_reset,
	.session_put = rd_session_put,
	.session_get = rd_session_get,
	.session_del = rd_session_del,
	.session_list = rd_session_list,
	.kv_put = rd_kv_put,
	.kv_get = rd_kv_get,
	.kv_del = rd_kv_del,
	.kv_take = rd_kv_take,
};
