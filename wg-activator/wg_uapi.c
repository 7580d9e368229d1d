// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The UAPI backend: the cross-platform userspace protocol
 * (https://www.wireguard.com/xplatform/) on UAPIDIR/IF.sock. One kept
 * connection, re-opened once when the implementation was restarted;
 * every change is idempotent, so re-sending a batch is safe.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cidr.h"
#include "secret.h"
#include "wg.h"
#include "wgclient.h"

struct uapi {
	struct sockaddr_un addr;
	int fd;
	int timeout_ms;
};

/* A growing text buffer; the daemon aborts on out-of-memory elsewhere, but
 * here we just report it. */
struct buf {
	char *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->len + more + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

__attribute__((format(printf, 2, 3)))
static int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static void buf_free(struct buf *b)
{
	/* a "get" reply holds the interface's private key */
	if (b->p)
		wgotp_freezero(b->p, b->cap);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void uapi_disconnect(struct uapi *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

static int uapi_connect(struct uapi *u, struct wgotp_error *err)
{
	struct timeval tv = {
		.tv_sec = u->timeout_ms / 1000,
		.tv_usec = (u->timeout_ms % 1000) * 1000,
	};
	int ret;

	u->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (u->fd < 0) {
		ret = wgotp_error_set(err, errno, "socket: %s", strerror(errno));
		goto cleanup;
	}
	setsockopt(u->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(u->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(u->fd, (struct sockaddr *)&u->addr, sizeof(u->addr)) < 0) {
		ret = wgotp_error_set(err, errno, "UAPI socket %s: %s", u->addr.sun_path,
				      strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (ret < 0)
		uapi_disconnect(u);
	return ret;
}

/* Send req, read the reply up to its empty line. -EPIPE: the connection
 * went away (the caller may reconnect and retry). */
static int uapi_xfer(struct uapi *u, const struct buf *req, struct buf *resp,
		     struct wgotp_error *err)
{
	size_t off = 0;
	ssize_t n;
	int ret;

	while (off < req->len) {
		n = send(u->fd, req->p + off, req->len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -EPIPE;
			wgotp_error_set(err, -ret, "UAPI write: %s", strerror(errno));
			goto cleanup;
		}
		off += (size_t)n;
	}
	resp->len = 0;
	for (;;) {
		if (resp->len >= 2 && resp->p[resp->len - 1] == '\n' && resp->p[resp->len - 2] == '\n')
			break;
		if (resp->len == 1 && resp->p[0] == '\n')
			break;
		if (buf_reserve(resp, 65536) < 0) {
			ret = wgotp_error_set(err, ENOMEM, "out of memory");
			goto cleanup;
		}
		n = recv(u->fd, resp->p + resp->len, resp->cap - resp->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ret = wgotp_error_set(err, ETIMEDOUT, "UAPI %s: no reply within %d ms",
					      u->addr.sun_path, u->timeout_ms);
			goto cleanup;
		}
		if (n <= 0) {
			ret = -EPIPE;
			wgotp_error_set(err, EPIPE, "UAPI %s: connection closed", u->addr.sun_path);
			goto cleanup;
		}
		resp->len += (size_t)n;
	}
	resp->p[resp->len] = '\0';
	ret = 0;
cleanup:
	return ret;
}

/* One request with one reconnect; checks the final errno=N line. */
static int uapi_op(struct uapi *u, const struct buf *req, struct buf *resp,
		   struct wgotp_error *err)
{
	const char *e;
	long code;
	int ret;

	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = u->fd < 0;

		if (fresh) {
			ret = uapi_connect(u, err);
			if (ret < 0)
				goto cleanup;
		}
		ret = uapi_xfer(u, req, resp, err);
		if (ret == 0)
			break;
		uapi_disconnect(u);
		if (ret != -EPIPE || fresh)
			goto cleanup;
	}
	if (ret < 0)
		goto cleanup;
	e = strstr(resp->p, "errno=");
	if (!e || (e != resp->p && e[-1] != '\n')) {
		ret = wgotp_error_set(err, EPROTO, "UAPI %s: reply without errno", u->addr.sun_path);
		goto cleanup;
	}
	code = strtol(e + 6, NULL, 10);
	if (code != 0) {
		code = code < 0 ? -code : code;
		ret = wgotp_error_set(err, code > 0 && code < 4096 ? (int)code : EIO,
				      "UAPI %s refused the change: errno=%ld", u->addr.sun_path, code);
		goto cleanup;
	}
	ret = 0;
cleanup:
	return ret;
}

static int uapi_open(const struct wgotp_config *cfg, void **state, struct wgotp_error *err)
{
	struct uapi *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	u->fd = -1;
	u->timeout_ms = cfg->activator_reply_timeout_ms > 0 ? cfg->activator_reply_timeout_ms : 5000;
	u->addr.sun_family = AF_UNIX;
	ret = wg_uapi_path(cfg, u->addr.sun_path, sizeof(u->addr.sun_path));
	if (ret < 0) {
		wgotp_error_set(err, -ret, "UAPI socket path too long");
		goto cleanup;
	}
	/* Not connected yet: the implementation may start after us. */
	*state = u;
	u = NULL;
	ret = 0;
cleanup:
	free(u);
	return ret;
}

static void uapi_close(void *state)
{
	struct uapi *u = state;

	if (!u)
		return;
	uapi_disconnect(u);
	free(u);
}

static int uapi_list(void *state, struct wg_peer_list *out, struct wgotp_error *err)
{
	struct uapi *u = state;
	struct buf req = { 0 }, resp = { 0 };
	uint8_t key[WGOTP_KEY_LEN];
	char *line, *save = NULL;
	int ret;

	out->keys = NULL;
	out->n = 0;
	if (buf_printf(&req, "get=1\n\n") < 0) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	ret = uapi_op(u, &req, &resp, err);
	if (ret < 0)
		goto cleanup;
	for (line = strtok_r(resp.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "public_key=", 11) != 0)
			continue;
		if (wgotp_hex_decode(line + 11, key, sizeof(key)) != WGOTP_KEY_LEN) {
			ret = wgotp_error_set(err, EPROTO, "UAPI: bad public_key line");
			goto cleanup;
		}
		ret = wg_peer_list_add(out, key);
		if (ret < 0) {
			wgotp_error_set(err, ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	if (ret < 0)
		wg_peer_list_free(out);
	buf_free(&req);
	buf_free(&resp);
	return ret;
}

/* get=1 names the private key; the public one is derived from it, and
 * every copy of the private key is wiped. */
static int uapi_pubkey(void *state, uint8_t key[WGOTP_KEY_LEN], struct wgotp_error *err)
{
	struct uapi *u = state;
	struct buf req = { 0 }, resp = { 0 };
	uint8_t priv[WGOTP_KEY_LEN];
	char *line, *save = NULL;
	int ret;

	if (buf_printf(&req, "get=1\n\n") < 0) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	ret = uapi_op(u, &req, &resp, err);
	if (ret < 0)
		goto cleanup;
	ret = wgotp_error_set(err, ENOKEY, "UAPI: the interface has no private key");
	for (line = strtok_r(resp.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "private_key=", 12) != 0)
			continue;
		if (wgotp_hex_decode(line + 12, priv, sizeof(priv)) != WGOTP_KEY_LEN) {
			ret = wgotp_error_set(err, EPROTO, "UAPI: bad private_key line");
			break;
		}
		ret = wgotp_wg_pubkey(priv, key, err);
		break;
	}
cleanup:
	wgotp_wipe(priv, sizeof(priv));
	if (resp.p)
		wgotp_wipe(resp.p, strlen(resp.p));
	buf_free(&req);
	buf_free(&resp);
	return ret;
}

/* "set=1" with one block per peer: -ENOMEM, or -EINVAL (*bad set to the
 * change) when an allowed_ips piece is not a prefix. Every value written
 * is one this function formatted (the key from its bytes, each prefix
 * from what wgotp_cidr_list_next parsed): no text of a change reaches
 * the socket, so no newline in a stored session can start a line. */
static int build_set(struct buf *req, const struct wg_peer *ch, size_t n, size_t *bad)
{
	char hex[2 * WGOTP_KEY_LEN + 1], ip[64];
	struct wgotp_cidr c;
	int ret = buf_printf(req, "set=1\n");

	for (size_t i = 0; i < n && ret == 0; i++) {
		const char *cur = ch[i].allowed_ips ? ch[i].allowed_ips : "";
		int r = 0;

		wgotp_key_to_hex(hex, ch[i].key);
		ret = buf_printf(req, "public_key=%s\n", hex);
		if (ret == 0 && ch[i].remove) {
			ret = buf_printf(req, "remove=true\n");
			continue;
		}
		if (ret == 0)
			ret = buf_printf(req, "replace_allowed_ips=true\n");
		while (ret == 0 && (r = wgotp_cidr_list_next(&cur, &c)) > 0) {
			wgotp_cidr_format(&c, ip, sizeof(ip));
			ret = buf_printf(req, "allowed_ip=%s\n", ip);
		}
		if (ret == 0 && r < 0) {
			*bad = i;
			ret = -EINVAL;
		}
	}
	if (ret == 0)
		ret = buf_printf(req, "\n");
	return ret;
}

static int uapi_apply(void *state, const struct wg_peer *ch, size_t n, struct wgotp_error *err)
{
	struct uapi *u = state;
	struct buf req = { 0 }, resp = { 0 };
	size_t bad = 0;
	int ret;

	ret = build_set(&req, ch, n, &bad);
	if (ret == -EINVAL) {
		wgotp_error_set(err, EINVAL, "UAPI: change %zu of %zu: allowed IPs that are not a "
				"list of prefixes; nothing sent", bad + 1, n);
		goto cleanup;
	}
	if (ret < 0) {
		wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	ret = uapi_op(u, &req, &resp, err);
cleanup:
	buf_free(&req);
	buf_free(&resp);
	return ret;
}

const struct wg_ops wg_uapi_ops = {
	.name = "uapi",
	.open = uapi_open,
	.close = uapi_close,
	.list = uapi_list,
	.apply = uapi_apply,
	.pubkey = uapi_pubkey,
};
