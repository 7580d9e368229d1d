/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client of wg-activator's control socket (doc/activator-protocol.md),
 * used by rlm_wgotp, pam_wgotp and wgotpctl.
 *
 * Every call is blocking and self-contained: it connects to
 * cfg->activator_socket, waits at most cfg->activator_connect_timeout_ms
 * for the connection and cfg->activator_reply_timeout_ms for the reply,
 * sends one request, reads one reply and closes. No global state: safe
 * from many threads at once. Never raises SIGPIPE, never aborts (also not
 * on out-of-memory: -ENOMEM).
 *
 * Return values (err->msg always says what happened, for the log):
 *   0              done
 *   -ENOENT        the socket does not exist: the daemon is not running
 *   -ECONNREFUSED  nobody listens on the socket: the daemon is not running
 *   -EACCES        the socket or the daemon refused our uid/gid
 *   -ETIMEDOUT     no connection or no reply within the timeout
 *   -EINVAL        the daemon refused the request (bad key, bad duration,
 *                  bad field ...); also an argument that is NULL/too long
 *   -ESRCH         unknown user (or the user is disabled)
 *   -ENODEV        unknown device, or the user has no device
 *   -EIO           the daemon could not do it (store or WireGuard failed)
 *   -EPROTO        the reply was not understood (version mismatch ...)
 *   -ENOMEM, other -errno from socket calls
 * On a refusal by the daemon, err->msg carries the daemon's message.
 */
#ifndef WGOTP_ACTIVATOR_CLIENT_H
#define WGOTP_ACTIVATOR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "error.h"
#include "store.h"

#define WGOTP_ACTIVATOR_PROTO_VERSION 1
#define WGOTP_ACTIVATOR_MAX_MSG 65536	/* bytes, one message, newline included */

/*
 * One request, one reply over a unix socket, one JSON object a line (the
 * activator's protocol, and wgotp-dird's): connect within
 * connect_timeout_ms, add "version", send req (consumed), read one line
 * within reply_timeout_ms, parse it into *reply (an object). name is the
 * peer's name in messages. The return values are those listed above for
 * the transport; the caller reads the reply's "error".
 */
struct json_object;
struct wgotp_line_peer {
	const char *path, *name;
	int connect_timeout_ms, reply_timeout_ms;
	int version;
	size_t max_msg;
};
int wgotp_line_call(const struct wgotp_line_peer *pe, struct json_object *req,
		    struct json_object **reply, struct wgotp_error *err);

/*
 * Activate (or extend) the sessions of user's devices.
 *   device      a device name, or NULL: all the user's devices
 *   public_key  base64 key of the device instead of its name, or NULL
 *               (at most one of device and public_key)
 *   duration    seconds asked for; 0 = the configured default. The daemon
 *               applies [Session] policy; a duration < 0 or over
 *               MaxDuration is refused (-EINVAL).
 *   origin      "radius" | "pam" | "admin" (audit only)
 *   expires     if not NULL, receives the expiry (seconds since the epoch)
 *               of the session(s); 0 when the user's devices are permanent
 *               (require_otp = false).
 * A session is never shortened: activating an active session sets its
 * expiry to the later of the old one and now + duration.
 */
int wgotp_activator_activate(const struct wgotp_config *cfg, const char *user,
			     const char *device, const char *public_key, int64_t duration,
			     const char *origin, int64_t *expires, struct wgotp_error *err);

/* The same with every option: shorten = true sets the deadline to now +
 * duration (after policy) even when that is earlier than the running
 * session's; the daemon allows it only for origin "admin" or "portal"
 * (-EACCES otherwise), and audits it as event=extend reason=shortened. */
struct wgotp_activation {
	const char *user, *device, *public_key, *origin;
	int64_t duration;
	bool shorten;
};
int wgotp_activator_activate_ex(const struct wgotp_config *cfg, const struct wgotp_activation *a,
				int64_t *expires, struct wgotp_error *err);

/*
 * [Activator] Mode = redis: activate and deactivate do not wait for the
 * daemon; the request is appended to the Redis stream [Activator] Stream
 * (lib/activator_redis.c), where the wg-activator of each gateway picks it
 * up, even after a restart. 0 then means "queued"; *expires is now + the
 * policy's duration (a longer running session is not known here) and
 * *n_ended is 0. -EIO: Redis could not be reached; -ENOTSUP: built
 * without hiredis. list and ping always use the socket.
 */
int wgotp_activator_xadd(const struct wgotp_config *cfg, const char *req, size_t len,
			 struct wgotp_error *err);

/* End the sessions of user's devices now: device NULL = all of them.
 * *n_ended (if not NULL) receives how many sessions ended (0 is not an
 * error: the user had none). */
int wgotp_activator_deactivate(const struct wgotp_config *cfg, const char *user,
			       const char *device, int *n_ended, struct wgotp_error *err);

/* Live sessions known to the daemon, all users (user NULL) or one: cb is
 * called for each (a non-zero return stops the walk and is returned).
 * Fields not sent by the daemon are empty. */
int wgotp_activator_list(const struct wgotp_config *cfg, const char *user,
			 wgotp_session_cb cb, void *arg, struct wgotp_error *err);

struct wgotp_activator_status {
	int version;			/* protocol version of the daemon */
	char interface[32];
	char backend[16];		/* "uapi" | "wg" */
	int64_t sessions;		/* live sessions */
	int64_t uptime;			/* seconds */
	char public_key[48];		/* the interface's, base64; "" if unknown */
};

/* Is the daemon there and answering? status may be NULL. */
int wgotp_activator_ping(const struct wgotp_config *cfg, struct wgotp_activator_status *status,
			 struct wgotp_error *err);

#endif
