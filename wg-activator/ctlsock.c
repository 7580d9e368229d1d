// SPDX-License-Identifier: GPL-2.0-or-later
/* The control socket (see ctlsock.h). */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlsock.h"
#include "log.h"
#include "peercred.h"
#include "proto.h"

struct conn {
	struct loop_fd h;
	struct loop_timer idle;
	struct ctlsock *cs;
	struct ucred cred;
	char *in;			/* PROTO_MAX_MSG bytes */
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	bool closing;			/* close once out is sent */
	struct conn *prev, *next;
};

struct ctlsock {
	struct loop_fd h;
	struct loop *loop;
	const struct wgotp_config *cfg;
	ctl_handler fn;
	void *arg;
	char *path;
	struct conn *conns;
	size_t n_conns;
};

static void conn_free(struct conn *c)
{
	struct ctlsock *cs = c->cs;

	loop_fd_del(cs->loop, &c->h);
	loop_timer_disarm(cs->loop, &c->idle);
	close(c->h.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		cs->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	cs->n_conns--;
	free(c->in);
	free(c->out);
	free(c);
}

static void *xmalloc_or_die(void *p)
{
	if (!p) {
		log_err("out of memory");
		abort();
	}
	return p;
}

static void queue(struct conn *c, char *line, size_t len)
{
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = line;
		c->out_len = len;
		c->out_off = 0;
		return;
	}
	c->out = xmalloc_or_die(realloc(c->out, c->out_len + len));
	memcpy(c->out + c->out_len, line, len);
	c->out_len += len;
	free(line);
}

static void queue_error(struct conn *c, enum proto_status st, const char *msg)
{
	size_t len;
	char *line = proto_reply_finish(proto_error_reply(NULL, st, msg), &len);

	queue(c, xmalloc_or_die(line), len);
}

/* Write what we can; 0, or -1 when the connection is gone. */
static int flush(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->h.fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -1;
		c->out_off += (size_t)n;
	}
	return 0;
}

/* Read, answer complete lines; -1 when the connection must go now. */
static int serve(struct conn *c)
{
	for (;;) {
		ssize_t n;
		char *nl;

		/* Back-pressure: no new requests while replies wait. */
		if (c->out_off < c->out_len || c->closing)
			return 0;
		n = recv(c->h.fd, c->in + c->in_len, PROTO_MAX_MSG - c->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		c->in_len += (size_t)n;
		while ((nl = memchr(c->in, '\n', c->in_len))) {
			size_t len = (size_t)(nl - c->in), rlen;
			char *reply = c->cs->fn(c->cs->arg, c->in, len, &c->cred, &rlen);

			queue(c, reply, rlen);
			memmove(c->in, nl + 1, c->in_len - len - 1);
			c->in_len -= len + 1;
		}
		if (c->in_len == PROTO_MAX_MSG) {
			log_info("control: uid=%u: message over %d bytes, disconnecting",
				 (unsigned int)c->cred.uid, PROTO_MAX_MSG);
			queue_error(c, PROTO_E_TOO_LARGE, "message longer than 65535 bytes and a newline");
			c->closing = true;
			return 0;
		}
	}
}

static void update_events(struct conn *c)
{
	uint32_t ev = c->out_off < c->out_len ? EPOLLOUT : EPOLLIN;

	loop_fd_mod(c->cs->loop, &c->h, ev | EPOLLRDHUP);
}

static void on_conn(struct loop *l, struct loop_fd *h, uint32_t events)
{
	struct conn *c = sched_container_of(h, struct conn, h);

	if (loop_timer_arm(l, &c->idle, loop_now() + CTL_IDLE_SEC * NSEC_PER_SEC) < 0)
		abort();
	if ((events & EPOLLOUT) && flush(c) < 0)
		goto gone;
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP | EPOLLERR)) && serve(c) < 0) {
		/* peer closed: send what is left, best effort */
		flush(c);
		goto gone;
	}
	if (flush(c) < 0)
		goto gone;
	if (c->closing && c->out_off == c->out_len)
		goto gone;
	update_events(c);
	return;
gone:
	conn_free(c);
}

static void on_idle(struct loop *l, struct loop_timer *t)
{
	struct conn *c = sched_container_of(t, struct conn, idle);

	log_debug("control: uid=%u idle for %d s, disconnecting", (unsigned int)c->cred.uid,
		  CTL_IDLE_SEC);
	conn_free(c);
}

static bool allowed(const struct wgotp_config *cfg, int fd, const struct ucred *cr)
{
	return wgotp_peer_allowed(fd, cr, cfg->allowed_uids, cfg->n_allowed_uids, cfg->allowed_gids,
				  cfg->n_allowed_gids);
}

static void on_accept(struct loop *l, struct loop_fd *h, uint32_t events)
{
	struct ctlsock *cs = sched_container_of(h, struct ctlsock, h);

	for (int burst = 0; burst < 64; burst++) {
		socklen_t len = sizeof(struct ucred);
		struct conn *c;
		int fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("control: accept: %s", strerror(errno));
			return;
		}
		if (cs->n_conns >= CTL_MAX_CLIENTS) {
			log_warn("control: %d clients connected, refusing one more", CTL_MAX_CLIENTS);
			close(fd);
			continue;
		}
		c = xmalloc_or_die(calloc(1, sizeof(*c)));
		c->in = xmalloc_or_die(malloc(PROTO_MAX_MSG));
		c->h.fd = fd;
		c->h.cb = on_conn;
		c->cs = cs;
		loop_timer_init(&c->idle, on_idle);
		c->next = cs->conns;
		if (cs->conns)
			cs->conns->prev = c;
		cs->conns = c;
		cs->n_conns++;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0 ||
		    !allowed(cs->cfg, fd, &c->cred)) {
			log_warn("control: refused uid=%u gid=%u pid=%d: not in AllowedUsers/AllowedGroups",
				 (unsigned int)c->cred.uid, (unsigned int)c->cred.gid, (int)c->cred.pid);
			queue_error(c, PROTO_E_FORBIDDEN, "this uid/gid may not use wg-activator");
			c->closing = true;
			flush(c);
			if (c->out_off == c->out_len) {
				conn_free(c);
				continue;
			}
		}
		if (loop_fd_add(l, &c->h, EPOLLIN | EPOLLRDHUP) < 0 ||
		    loop_timer_arm(l, &c->idle, loop_now() + CTL_IDLE_SEC * NSEC_PER_SEC) < 0) {
			conn_free(c);
			continue;
		}
		update_events(c);
	}
}

int ctl_open(const struct wgotp_config *cfg, struct loop *loop, ctl_handler fn, void *arg,
	     struct ctlsock **out, struct wgotp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctlsock *cs = NULL;
	const char *path = cfg->activator_socket;
	struct stat st;
	mode_t old_umask;
	int fd = -1, probe = -1, ret;

	if (!path || strlen(path) >= sizeof(sa.sun_path)) {
		ret = wgotp_error_set(err, ENAMETOOLONG, "socket path too long: %s", path ? path : "");
		goto cleanup;
	}
	memcpy(sa.sun_path, path, strlen(path));

	/* A stale socket is replaced; a live one means another daemon. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			ret = wgotp_error_set(err, EEXIST, "%s exists and is not a socket", path);
			goto cleanup;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			ret = wgotp_error_set(err, EADDRINUSE, "another wg-activator listens on %s", path);
			goto cleanup;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = wgotp_error_set(err, errno, "socket: %s", strerror(errno));
		goto cleanup;
	}
	old_umask = umask(0117);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (ret < 0) {
		ret = wgotp_error_set(err, errno, "bind %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (cfg->n_allowed_gids > 0 && chown(path, (uid_t)-1, cfg->allowed_gids[0]) < 0)
		log_warn("chown %s to gid %u: %s", path, (unsigned int)cfg->allowed_gids[0],
			 strerror(errno));
	if (chmod(path, 0660) < 0 || listen(fd, SOMAXCONN) < 0) {
		ret = wgotp_error_set(err, errno, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	cs = calloc(1, sizeof(*cs));
	if (!cs || !(cs->path = strdup(path))) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	cs->h.fd = fd;
	cs->h.cb = on_accept;
	cs->loop = loop;
	cs->cfg = cfg;
	cs->fn = fn;
	cs->arg = arg;
	ret = loop_fd_add(loop, &cs->h, EPOLLIN);
	if (ret < 0) {
		wgotp_error_set(err, -ret, "epoll: %s", strerror(-ret));
		goto cleanup;
	}
	fd = -1;
	*out = cs;
	cs = NULL;
	ret = 0;
cleanup:
	if (probe >= 0)
		close(probe);
	if (fd >= 0) {
		close(fd);
		if (ret < 0 && ret != -EADDRINUSE && ret != -EEXIST)
			unlink(path);
	}
	if (cs)
		free(cs->path);
	free(cs);
	return ret;
}

void ctl_close(struct ctlsock *cs)
{
	if (!cs)
		return;
	while (cs->conns)
		conn_free(cs->conns);
	loop_fd_del(cs->loop, &cs->h);
	close(cs->h.fd);
	unlink(cs->path);
	free(cs->path);
	free(cs);
}
