// SPDX-License-Identifier: GPL-2.0-or-later
/* The Redis stream consumer (see stream.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "log.h"
#include "redis.h"
#include "stream.h"

#define STREAM_BLOCK_MS 1000	/* one XREADGROUP waits this long for new entries */
#define STREAM_BATCH 64		/* entries per read */
#define STREAM_RETRY_MS 1000	/* Redis down, or an entry failed: try again after */

struct entry {
	char id[48];
	char *req;		/* the request, as on the control socket */
	size_t len;
	bool ack;		/* the verdict */
};

struct stream {
	struct activator *a;
	struct wgotp_redis_target t;
	char *key, *group;
	int efd;
	struct loop_fd h;
	pthread_t thread;
	bool thread_ok;

	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t cond;
	bool stop;
	redisContext *c;	/* the reader's connection (shut down to stop it) */
	struct entry *batch;
	size_t n;
	bool posted;		/* a batch waits for the loop */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the loop side ------------------------------------------------------ */

static const char *json_str(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ?
	       json_object_get_string(v) : NULL;
}

/* Apply one entry; true when it is settled (acknowledge it). */
static bool apply(struct stream *s, const struct entry *e)
{
	const struct wgotp_config *cfg = s->a->cfg;
	json_object *req = NULL, *reply = NULL, *v;
	const char *op, *user, *code, *text;
	char *out = NULL;
	size_t rlen = 0, len;
	int64_t age_ms, duration = 0;
	bool ack = true;

	req = e->req ? json_tokener_parse(e->req) : NULL;
	op = req ? json_str(req, "op") : NULL;
	user = req ? json_str(req, "user") : NULL;
	if (!op || (strcmp(op, "activate") != 0 && strcmp(op, "deactivate") != 0)) {
		log_warn("stream %s: entry %s is not an activate or deactivate request: dropped",
			 s->key, e->id);
		goto cleanup;
	}
	/* An activation whose whole session has passed while it waited (the
	 * daemon was down, or this gateway is new) is moot. */
	age_ms = now_ms() - strtoll(e->id, NULL, 10);
	if (json_object_object_get_ex(req, "duration", &v))
		duration = json_object_get_int64(v);
	if (!strcmp(op, "activate") &&
	    age_ms >= wgotp_config_session_duration(cfg, duration) * 1000) {
		log_info("stream %s: %s of %s (%s) is older than its session: skipped", s->key, op,
			 user ? user : "?", e->id);
		goto cleanup;
	}

	/* This gateway's policy is the one that counts: a longer session
	 * than its MaxDuration is shortened here, not refused (the RADIUS
	 * server that queued it is not waiting for an answer). */
	text = e->req;
	len = e->len;
	if (!strcmp(op, "activate") && duration > cfg->session_max) {
		log_info("stream %s: %s of %s: %" PRId64 " s shortened to MaxDuration (%" PRId64 " s)",
			 s->key, op, user ? user : "?", duration, cfg->session_max);
		json_object_object_add(req, "duration", json_object_new_int64(cfg->session_max));
		text = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
		if (!text) {
			ack = false;
			goto cleanup;
		}
	}
	out = act_handle(s->a, text, len, NULL, &rlen);
	reply = json_tokener_parse(out);
	if (reply && json_object_object_get_ex(reply, "ok", &v) && json_object_get_boolean(v)) {
		log_info("stream %s: %s of %s applied (%s, queued %" PRId64 " ms ago)", s->key, op,
			 user ? user : "?", e->id, age_ms);
		goto cleanup;
	}
	code = reply ? json_str(reply, "error") : NULL;
	if (!code || !strcmp(code, "wireguard") || !strcmp(code, "store") || !strcmp(code, "internal")) {
		log_warn("stream %s: %s of %s failed (%s: %s): retrying", s->key, op, user ? user : "?",
			 code ? code : "internal", reply && json_str(reply, "message") ?
			 json_str(reply, "message") : "");
		ack = false;
	} else if (!strcmp(code, "unknown_user") || !strcmp(code, "unknown_device")) {
		/* the users and devices of this gateway are those of its users.json */
		log_debug("stream %s: %s of %s: not served by this gateway (%s)", s->key, op,
			  user ? user : "?", code);
	} else {
		log_warn("stream %s: %s of %s refused: %s: %s", s->key, op, user ? user : "?", code,
			 json_str(reply, "message") ? json_str(reply, "message") : "");
	}
cleanup:
	json_object_put(req);
	json_object_put(reply);
	free(out);
	return ack;
}

static void on_batch(struct loop *l, struct loop_fd *h, uint32_t events)
{
	struct stream *s = sched_container_of(h, struct stream, h);
	struct entry *batch;
	uint64_t v;
	size_t n;

	(void)l;
	(void)events;
	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("stream: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	batch = s->posted ? s->batch : NULL;
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	if (!batch)
		return;
	/* the reader waits for the verdicts: the batch is ours until then */
	for (size_t i = 0; i < n; i++)
		batch[i].ack = apply(s, &batch[i]);
	pthread_mutex_lock(&s->lock);
	s->posted = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ---- the reader thread -------------------------------------------------- */

/* Wait ms or until stopped; true when stopped. */
static bool pause_ms(struct stream *s, int ms)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&s->lock);
	while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &until) == 0)
		;
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void drop_conn(struct stream *s)
{
	redisContext *c;

	pthread_mutex_lock(&s->lock);
	c = s->c;
	s->c = NULL;
	pthread_mutex_unlock(&s->lock);
	if (c)
		redisFree(c);
}

/* Connect and make sure our group exists (from the stream's start: what
 * was queued before this gateway first ran still counts, the moot rule
 * skips what is too old). */
static int reader_connect(struct stream *s, struct wgotp_error *err)
{
	const char *argv[] = { "XGROUP", "CREATE", s->key, s->group, "0", "MKSTREAM" };
	redisContext *c = NULL;
	redisReply *r = NULL;
	struct wgotp_redis_target t = s->t;
	int ret;

	/* the command timeout must outlast the blocking read */
	t.timeout_ms += STREAM_BLOCK_MS;
	ret = wgotp_redis_connect(&t, &c, err);
	if (ret < 0)
		return ret;
	r = redisCommandArgv(c, 6, argv, NULL);
	if (!r) {
		ret = wgotp_error_set(err, EIO, "redis %s: XGROUP CREATE: %s", s->t.where, c->errstr);
	} else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0) {
		ret = wgotp_error_set(err, EIO, "redis %s: XGROUP CREATE %s %s: %.200s", s->t.where,
				      s->key, s->group, r->str);
	} else {
		ret = 0;
	}
	if (r)
		freeReplyObject(r);
	if (ret < 0) {
		redisFree(c);
		return ret;
	}
	pthread_mutex_lock(&s->lock);
	if (s->stop) {
		pthread_mutex_unlock(&s->lock);
		redisFree(c);
		return -ECANCELED;
	}
	s->c = c;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void entries_free(struct entry *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b[i].req);
	free(b);
}

/* XREADGROUP reply -> entries. An entry trimmed away while pending has
 * no fields: it is kept, with no request, and acknowledged. */
static int parse_read(redisReply *r, struct entry **out, size_t *n)
{
	redisReply *list;
	struct entry *b;

	*out = NULL;
	*n = 0;
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 || r->element[0]->type != REDIS_REPLY_ARRAY ||
	    r->element[0]->elements != 2 || r->element[0]->element[1]->type != REDIS_REPLY_ARRAY)
		return -EPROTO;
	list = r->element[0]->element[1];
	if (!list->elements)
		return 0;
	b = calloc(list->elements, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < list->elements; i++) {
		redisReply *e = list->element[i], *f;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
		    e->element[0]->len >= sizeof(b[i].id)) {
			entries_free(b, i);
			return -EPROTO;
		}
		memcpy(b[i].id, e->element[0]->str, e->element[0]->len);
		f = e->element[1];
		for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
			if (f->element[k]->type == REDIS_REPLY_STRING && !strcmp(f->element[k]->str, "req") &&
			    f->element[k + 1]->type == REDIS_REPLY_STRING && !b[i].req) {
				b[i].req = strndup(f->element[k + 1]->str, f->element[k + 1]->len);
				if (!b[i].req) {
					entries_free(b, i + 1);
					return -ENOMEM;
				}
				b[i].len = strlen(b[i].req);
			}
		}
	}
	*out = b;
	*n = list->elements;
	return 0;
}

/* Hand the batch to the loop and wait for its verdicts; false if stopped. */
static bool post(struct stream *s, struct entry *b, size_t n)
{
	uint64_t one = 1;
	bool stopped;

	pthread_mutex_lock(&s->lock);
	s->batch = b;
	s->n = n;
	s->posted = true;
	pthread_mutex_unlock(&s->lock);
	if (write(s->efd, &one, sizeof(one)) < 0)
		log_warn("stream: eventfd: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	while (s->posted && !s->stop)
		pthread_cond_wait(&s->cond, &s->lock);
	stopped = s->posted;	/* stopped before the loop took it */
	s->posted = false;
	s->batch = NULL;
	pthread_mutex_unlock(&s->lock);
	return !stopped;
}

static int ack(struct stream *s, const struct entry *b, size_t n, size_t *n_acked)
{
	const char **argv = calloc(n + 3, sizeof(*argv));
	redisReply *r;
	int argc = 0, ret = 0;

	*n_acked = 0;
	if (!argv)
		return -ENOMEM;
	argv[argc++] = "XACK";
	argv[argc++] = s->key;
	argv[argc++] = s->group;
	for (size_t i = 0; i < n; i++)
		if (b[i].ack)
			argv[argc++] = b[i].id;
	*n_acked = (size_t)argc - 3;
	if (argc > 3) {
		r = redisCommandArgv(s->c, argc, argv, NULL);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			log_warn("stream %s: XACK: %s (the entries will be applied again: harmless)", s->key,
				 r ? r->str : s->c->errstr);
			ret = -EIO;
		}
		if (r)
			freeReplyObject(r);
	}
	free(argv);
	return ret;
}

static void *reader(void *arg)
{
	struct stream *s = arg;
	struct wgotp_error err = { "" };
	bool pending = true, down = false;
	char block[16], count[16];

	snprintf(block, sizeof(block), "%d", STREAM_BLOCK_MS);
	snprintf(count, sizeof(count), "%d", STREAM_BATCH);
	for (;;) {
		const char *argv[12];
		redisReply *r;
		struct entry *b = NULL;
		size_t n = 0, n_acked = 0;
		int argc = 0, ret;

		if (!s->c) {
			ret = reader_connect(s, &err);
			if (ret == -ECANCELED)
				break;
			if (ret < 0) {
				if (!down)
					log_err("stream %s: %s; activations wait in Redis until it is back",
						s->key, err.msg);
				down = true;
				if (pause_ms(s, STREAM_RETRY_MS))
					break;
				continue;
			}
			if (down)
				log_info("stream %s: redis %s is reachable again", s->key, s->t.where);
			down = false;
			pending = true;	/* first what we read but did not acknowledge */
		}
		argv[argc++] = "XREADGROUP";
		argv[argc++] = "GROUP";
		argv[argc++] = s->group;
		argv[argc++] = s->group;	/* the consumer: one per gateway */
		argv[argc++] = "COUNT";
		argv[argc++] = count;
		if (!pending) {
			argv[argc++] = "BLOCK";
			argv[argc++] = block;
		}
		argv[argc++] = "STREAMS";
		argv[argc++] = s->key;
		argv[argc++] = pending ? "0" : ">";
		r = redisCommandArgv(s->c, argc, argv, NULL);
		pthread_mutex_lock(&s->lock);
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			if (r)
				freeReplyObject(r);
			break;
		}
		pthread_mutex_unlock(&s->lock);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			/* NOGROUP: the stream was deleted; reconnecting recreates it */
			if (!down)
				log_err("stream %s: XREADGROUP: %s; activations wait in Redis until it is back",
					s->key, r ? r->str : s->c->errstr);
			down = true;
			if (r)
				freeReplyObject(r);
			drop_conn(s);
			if (pause_ms(s, STREAM_RETRY_MS))
				break;
			continue;
		}
		ret = parse_read(r, &b, &n);
		freeReplyObject(r);
		if (ret < 0) {
			log_err("stream %s: unexpected XREADGROUP reply: %s", s->key, strerror(-ret));
			drop_conn(s);
			if (pause_ms(s, STREAM_RETRY_MS))
				break;
			continue;
		}
		if (!n) {
			pending = false;	/* caught up: now wait for new entries */
			continue;
		}
		if (!post(s, b, n)) {
			entries_free(b, n);
			break;
		}
		if (ack(s, b, n, &n_acked) < 0)
			drop_conn(s);
		entries_free(b, n);
		if (n_acked < n) {
			/* a failure to apply: keep the order, try them again */
			pending = true;
			if (pause_ms(s, STREAM_RETRY_MS))
				break;
		}
	}
	drop_conn(s);
	return NULL;
}

/* ---- open and close ----------------------------------------------------- */

void stream_close(struct stream *s)
{
	if (!s)
		return;
	if (s->thread_ok) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		/* wake a blocking XREADGROUP now rather than after BLOCK ms */
		if (s->c)
			shutdown(s->c->fd, SHUT_RDWR);
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	if (s->efd >= 0) {
		loop_fd_del(s->a->loop, &s->h);
		close(s->efd);
	}
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	wgotp_redis_target_fini(&s->t);
	free(s->key);
	free(s->group);
	free(s);
}

int stream_open(struct activator *a, struct stream **out, struct wgotp_error *err)
{
	const struct wgotp_config *cfg = a->cfg;
	struct stream *s;
	char host[256] = "";
	int ret;

	*out = NULL;
	if (!cfg->activator_stream || !*cfg->activator_stream)
		return wgotp_error_set(err, EINVAL, "%s: [Activator] Mode = redis needs a Stream", cfg->path);
	s = calloc(1, sizeof(*s));
	if (!s)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	s->a = a;
	s->efd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	ret = wgotp_redis_target_init(&s->t, cfg, err);
	if (ret < 0)
		goto cleanup;
	if (!cfg->gateway || !*cfg->gateway)
		gethostname(host, sizeof(host) - 1);
	s->key = strdup(cfg->activator_stream);
	s->group = strdup(cfg->gateway && *cfg->gateway ? cfg->gateway : host);
	if (!s->key || !s->group || !*s->group) {
		ret = wgotp_error_set(err, ENOMEM, "stream: no gateway name (set [Activator] Gateway)");
		goto cleanup;
	}
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		ret = wgotp_error_set(err, errno, "stream: eventfd: %s", strerror(errno));
		goto cleanup;
	}
	s->h.fd = s->efd;
	s->h.cb = on_batch;
	ret = loop_fd_add(a->loop, &s->h, EPOLLIN);
	if (ret < 0) {
		close(s->efd);
		s->efd = -1;
		ret = wgotp_error_set(err, -ret, "stream: epoll: %s", strerror(-ret));
		goto cleanup;
	}
	ret = pthread_create(&s->thread, NULL, reader, s);
	if (ret) {
		ret = wgotp_error_set(err, ret, "stream: thread: %s", strerror(ret));
		goto cleanup;
	}
	s->thread_ok = true;
	log_info("stream %s: gateway %s reads it through redis %s", s->key, s->group, s->t.where);
	*out = s;
	s = NULL;
	ret = 0;
cleanup:
	stream_close(s);
	return ret;
}
