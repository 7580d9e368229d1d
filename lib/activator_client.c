// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The client of wg-activator (see activator_client.h and
 * doc/activator-protocol.md). Runs inside FreeRADIUS and sshd: no global
 * state, no SIGPIPE, no abort.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "activator_client.h"

#define REPLY_MAX (64 << 20)	/* a list of many sessions */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int timeout_of(int ms, int def)
{
	return ms > 0 ? ms : def;
}

/* Connect within the connect timeout: a full backlog makes a blocking
 * AF_UNIX connect wait, bounded by SO_SNDTIMEO. */
static int act_connect(const struct wgotp_line_peer *pe, struct wgotp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int ms = timeout_of(pe->connect_timeout_ms, 2000);
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	const char *path = pe->path, *name = pe->name;
	int fd = -1, ret;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
		ret = wgotp_error_set(err, EINVAL, "%s: invalid socket path \"%s\"",
				      name, path ? path : "");
		goto cleanup;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = wgotp_error_set(err, errno, "%s: socket: %s", name, strerror(errno));
		goto cleanup;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EAGAIN || e == EINPROGRESS || e == ETIMEDOUT)
			ret = wgotp_error_set(err, ETIMEDOUT,
					      "%s at %s: no connection within %d ms (overloaded?)",
					      name, path, ms);
		else if (e == ENOENT || e == ECONNREFUSED)
			ret = wgotp_error_set(err, e, "%s is not running (%s: %s)",
					      name, path, strerror(e));
		else
			ret = wgotp_error_set(err, e, "%s at %s: %s", name, path, strerror(e));
		goto cleanup;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		ret = wgotp_error_set(err, errno, "%s: fcntl: %s", name, strerror(errno));
		goto cleanup;
	}
	ret = fd;
	fd = -1;
cleanup:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Wait for events on fd until deadline (monotonic ms): 0 or -ETIMEDOUT. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int reply_timeout(const struct wgotp_line_peer *pe, int ms, struct wgotp_error *err)
{
	return wgotp_error_set(err, ETIMEDOUT, "%s at %s: no reply within %d ms",
			       pe->name, pe->path, ms);
}

/* Send req (consumed), receive one reply line and parse it. */
int wgotp_line_call(const struct wgotp_line_peer *pe, json_object *req, json_object **reply,
		    struct wgotp_error *err)
{
	int ms = timeout_of(pe->reply_timeout_ms, 5000);
	const char *name = pe->name;
	const char *text;
	char *line = NULL, *in = NULL, *nl = NULL;
	size_t len, off = 0, in_len = 0, in_cap = 0;
	int64_t deadline;
	json_tokener *tok = NULL;
	bool closed_early = false;
	int fd = -1, ret;

	*reply = NULL;
	if (!req) {
		ret = wgotp_error_set(err, ENOMEM, "%s: out of memory", name);
		goto cleanup;
	}
	json_object_object_add(req, "version", json_object_new_int(pe->version));
	text = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	if (!text || len + 1 >= pe->max_msg) {
		ret = wgotp_error_set(err, text ? EINVAL : ENOMEM, "%s: cannot encode request", name);
		goto cleanup;
	}
	line = malloc(len + 1);
	if (!line) {
		ret = wgotp_error_set(err, ENOMEM, "%s: out of memory", name);
		goto cleanup;
	}
	memcpy(line, text, len);
	line[len++] = '\n';

	ret = act_connect(pe, err);
	if (ret < 0)
		goto cleanup;
	fd = ret;
	deadline = mono_ms() + ms;

	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ret = wait_fd(fd, POLLOUT, deadline);
			if (ret < 0) {
				ret = reply_timeout(pe, ms, err);
				goto cleanup;
			}
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			/* The daemon refused us and closed (forbidden): its
			 * reply may be waiting; read it below. */
			closed_early = true;
			break;
		}
		if (n < 0) {
			ret = wgotp_error_set(err, errno, "%s: send: %s", name, strerror(errno));
			goto cleanup;
		}
		off += (size_t)n;
	}

	while (!nl) {
		ssize_t n;

		if (in_cap - in_len < 4097) {
			size_t cap = in_cap ? 2 * in_cap : 8192;
			char *p;

			if (cap > REPLY_MAX) {
				ret = wgotp_error_set(err, EPROTO, "%s: reply too long", name);
				goto cleanup;
			}
			p = realloc(in, cap);
			if (!p) {
				ret = wgotp_error_set(err, ENOMEM, "%s: out of memory", name);
				goto cleanup;
			}
			in = p;
			in_cap = cap;
		}
		n = recv(fd, in + in_len, in_cap - in_len - 1, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ret = wait_fd(fd, POLLIN, deadline);
			if (ret < 0) {
				ret = reply_timeout(pe, ms, err);
				goto cleanup;
			}
			continue;
		}
		if (n <= 0) {
			if (closed_early)
				ret = wgotp_error_set(err, EACCES,
						      "%s closed the connection (is this uid/gid in AllowedUsers/AllowedGroups?)", name);
			else
				ret = wgotp_error_set(err, n == 0 ? EPROTO : errno,
						      "%s closed the connection without a reply", name);
			goto cleanup;
		}
		nl = memchr(in + in_len, '\n', (size_t)n);
		in_len += (size_t)n;
	}

	tok = json_tokener_new();
	if (!tok) {
		ret = wgotp_error_set(err, ENOMEM, "%s: out of memory", name);
		goto cleanup;
	}
	*reply = json_tokener_parse_ex(tok, in, (int)(nl - in));
	if (!*reply || !json_object_is_type(*reply, json_type_object)) {
		json_object_put(*reply);
		*reply = NULL;
		ret = wgotp_error_set(err, EPROTO, "%s: the reply is not a JSON object", name);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (tok)
		json_tokener_free(tok);
	if (fd >= 0)
		close(fd);
	free(line);
	free(in);
	json_object_put(req);
	return ret;
}

static const struct {
	const char *name;
	int err;
} errors[] = {
	{ "bad_json", EINVAL }, { "too_large", EINVAL }, { "bad_version", EPROTO },
	{ "unknown_op", EINVAL }, { "bad_request", EINVAL }, { "bad_key", EINVAL },
	{ "bad_cidr", EINVAL }, { "bad_duration", EINVAL }, { "unknown_user", ESRCH },
	{ "unknown_device", ENODEV }, { "forbidden", EACCES }, { "wireguard", EIO },
	{ "store", EIO }, { "internal", EIO },
};

/* The reply's status: 0 when ok, else -errno with the daemon's message. */
static int reply_status(json_object *reply, struct wgotp_error *err)
{
	json_object *v;
	const char *code = "internal", *msg = "";

	if (!json_object_object_get_ex(reply, "version", &v) ||
	    json_object_get_int(v) != WGOTP_ACTIVATOR_PROTO_VERSION)
		return wgotp_error_set(err, EPROTO, "wg-activator speaks another protocol version");
	if (!json_object_object_get_ex(reply, "ok", &v) || !json_object_is_type(v, json_type_boolean))
		return wgotp_error_set(err, EPROTO, "wg-activator: reply without \"ok\"");
	if (json_object_get_boolean(v))
		return 0;
	if (json_object_object_get_ex(reply, "error", &v) && json_object_is_type(v, json_type_string))
		code = json_object_get_string(v);
	if (json_object_object_get_ex(reply, "message", &v) && json_object_is_type(v, json_type_string))
		msg = json_object_get_string(v);
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (!strcmp(errors[i].name, code))
			return wgotp_error_set(err, errors[i].err, "wg-activator: %s: %s", code, msg);
	return wgotp_error_set(err, EIO, "wg-activator: %.64s: %s", code, msg);
}

/* Send req (consumed) and read a successful reply: 0 with *reply, or
 * -errno: the daemon could not be reached, or refused with its message.
 * The caller puts *reply in both cases. */
static int act_request(const struct wgotp_config *cfg, json_object *req, json_object **reply,
		       struct wgotp_error *err)
{
	const struct wgotp_line_peer pe = {
		.path = cfg->activator_socket, .name = "wg-activator",
		.connect_timeout_ms = cfg->activator_connect_timeout_ms,
		.reply_timeout_ms = cfg->activator_reply_timeout_ms,
		.version = WGOTP_ACTIVATOR_PROTO_VERSION, .max_msg = WGOTP_ACTIVATOR_MAX_MSG,
	};
	int ret = wgotp_line_call(&pe, req, reply, err);

	return ret < 0 ? ret : reply_status(*reply, err);
}

static json_object *new_req(const char *op)
{
	json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "op", json_object_new_string(op));
	return o;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	if (o && v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static int64_t get_i64(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static void get_str(json_object *o, const char *k, char *out, size_t len)
{
	json_object *v;

	out[0] = '\0';
	if (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, len, "%s", json_object_get_string(v));
}

/* Mode = redis: queue req (consumed) on the stream instead. */
static int act_queue(const struct wgotp_config *cfg, json_object *req, struct wgotp_error *err)
{
	const char *text;
	size_t len;
	int ret;

	if (!req)
		return wgotp_error_set(err, ENOMEM, "wg-activator: out of memory");
	json_object_object_add(req, "version", json_object_new_int(WGOTP_ACTIVATOR_PROTO_VERSION));
	text = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &len);
	if (!text || len + 1 >= WGOTP_ACTIVATOR_MAX_MSG) {
		ret = wgotp_error_set(err, text ? EINVAL : ENOMEM, "wg-activator: cannot encode request");
		goto cleanup;
	}
#ifdef HAVE_REDIS
	ret = wgotp_activator_xadd(cfg, text, len, err);
#else
	ret = wgotp_error_set(err, ENOTSUP, "[Activator] Mode = redis, but this build has no Redis support");
#endif
cleanup:
	json_object_put(req);
	return ret;
}

int wgotp_activator_activate(const struct wgotp_config *cfg, const char *user,
			     const char *device, const char *public_key, int64_t duration,
			     const char *origin, int64_t *expires, struct wgotp_error *err)
{
	struct wgotp_activation a = {
		.user = user, .device = device, .public_key = public_key, .origin = origin,
		.duration = duration,
	};

	return wgotp_activator_activate_ex(cfg, &a, expires, err);
}

int wgotp_activator_activate_ex(const struct wgotp_config *cfg, const struct wgotp_activation *a,
				int64_t *expires, struct wgotp_error *err)
{
	const char *user = a->user, *device = a->device, *public_key = a->public_key;
	int64_t duration = a->duration;
	json_object *req = NULL, *reply = NULL;
	int ret;

	if (!user || !*user || (device && public_key) || duration < 0) {
		ret = wgotp_error_set(err, EINVAL, "wg-activator: invalid activation request");
		goto cleanup;
	}
	req = new_req("activate");
	add_str(req, "user", user);
	add_str(req, "device", device);
	add_str(req, "public_key", public_key);
	add_str(req, "origin", a->origin);
	if (req && duration)
		json_object_object_add(req, "duration", json_object_new_int64(duration));
	if (req && a->shorten)
		json_object_object_add(req, "shorten", json_object_new_boolean(1));
	if (cfg->activator_mode == WGOTP_ACTIVATOR_REDIS) {
		/* refuse here what the daemon would refuse: nobody reads its reply */
		if (duration > cfg->session_max) {
			ret = wgotp_error_set(err, EINVAL, "wg-activator: duration %" PRId64
					      " s is over MaxDuration", duration);
			goto cleanup;
		}
		ret = act_queue(cfg, req, err);
		req = NULL;
		if (ret == 0 && expires)
			*expires = (int64_t)time(NULL) + wgotp_config_session_duration(cfg, duration);
		goto cleanup;
	}
	ret = act_request(cfg, req, &reply, err);
	req = NULL;
	if (ret < 0)
		goto cleanup;
	if (expires)
		*expires = get_i64(reply, "expires");
cleanup:
	json_object_put(req);
	json_object_put(reply);
	return ret;
}

int wgotp_activator_deactivate(const struct wgotp_config *cfg, const char *user,
			       const char *device, int *n_ended, struct wgotp_error *err)
{
	json_object *req = NULL, *reply = NULL;
	int ret;

	if (!user || !*user) {
		ret = wgotp_error_set(err, EINVAL, "wg-activator: no user to deactivate");
		goto cleanup;
	}
	req = new_req("deactivate");
	add_str(req, "user", user);
	add_str(req, "device", device);
	if (cfg->activator_mode == WGOTP_ACTIVATOR_REDIS) {
		ret = act_queue(cfg, req, err);
		req = NULL;
		if (ret == 0 && n_ended)
			*n_ended = 0;
		goto cleanup;
	}
	ret = act_request(cfg, req, &reply, err);
	req = NULL;
	if (ret < 0)
		goto cleanup;
	if (n_ended)
		*n_ended = (int)get_i64(reply, "ended");
cleanup:
	json_object_put(req);
	json_object_put(reply);
	return ret;
}

int wgotp_activator_list(const struct wgotp_config *cfg, const char *user,
			 wgotp_session_cb cb, void *arg, struct wgotp_error *err)
{
	json_object *req = NULL, *reply = NULL, *arr;
	int ret;

	req = new_req("list");
	add_str(req, "user", user);
	ret = act_request(cfg, req, &reply, err);
	req = NULL;
	if (ret < 0)
		goto cleanup;
	if (!json_object_object_get_ex(reply, "sessions", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		ret = wgotp_error_set(err, EPROTO, "wg-activator: list reply without sessions");
		goto cleanup;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *ips;
		struct wgotp_session s;
		size_t off = 0;

		memset(&s, 0, sizeof(s));
		get_str(o, "user", s.user, sizeof(s.user));
		get_str(o, "device", s.device, sizeof(s.device));
		get_str(o, "public_key", s.public_key, sizeof(s.public_key));
		get_str(o, "origin", s.origin, sizeof(s.origin));
		s.created = get_i64(o, "created");
		s.expires = get_i64(o, "expires");
		if (json_object_object_get_ex(o, "allowed_ips", &ips) &&
		    json_object_is_type(ips, json_type_array)) {
			for (size_t k = 0; k < json_object_array_length(ips); k++) {
				const char *p = json_object_get_string(json_object_array_get_idx(ips, k));
				int n = snprintf(s.allowed_ips + off, sizeof(s.allowed_ips) - off, "%s%s",
						 k ? "," : "", p ? p : "");

				if (n < 0 || (size_t)n >= sizeof(s.allowed_ips) - off)
					break;
				off += (size_t)n;
			}
		}
		ret = cb(arg, &s);
		if (ret)
			goto cleanup;
	}
	ret = 0;
cleanup:
	json_object_put(req);
	json_object_put(reply);
	return ret;
}

int wgotp_activator_ping(const struct wgotp_config *cfg, struct wgotp_activator_status *status,
			 struct wgotp_error *err)
{
	json_object *reply = NULL;
	int ret;

	ret = act_request(cfg, new_req("ping"), &reply, err);
	if (ret < 0)
		goto cleanup;
	if (status) {
		memset(status, 0, sizeof(*status));
		status->version = (int)get_i64(reply, "version");
		get_str(reply, "interface", status->interface, sizeof(status->interface));
		get_str(reply, "backend", status->backend, sizeof(status->backend));
		status->sessions = get_i64(reply, "sessions");
		status->uptime = get_i64(reply, "uptime");
		get_str(reply, "public_key", status->public_key, sizeof(status->public_key));
	}
cleanup:
	json_object_put(reply);
	return ret;
}
