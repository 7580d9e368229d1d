// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotp-dird -c FILE [-f] [-d] [--check]: the users.json editor for the
 * portal (dird.h, wgotp-dird(8)). One connection at a time, one request
 * a connection, each bounded in size and time: the callers are the few
 * local services [Dird] AllowedUsers / AllowedGroups name.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dird.h"
#include "frontend.h"
#include "log.h"
#include "secret.h"

#define IO_TIMEOUT_MS 2000

static volatile sig_atomic_t stopping;

static void on_signal(int signo)
{
	(void)signo;
	stopping = 1;
}

static void log_stderr(void *arg, enum wgotp_log_level level, const char *msg)
{
	static const char *const names[] = {
		[WGOTP_LOG_ERR] = "error", [WGOTP_LOG_WARN] = "warning", [WGOTP_LOG_INFO] = "info",
		[WGOTP_LOG_AUDIT] = "audit", [WGOTP_LOG_DEBUG] = "debug",
	};

	(void)arg;
	fprintf(stderr, "wgotp-dird: %s: %s\n", names[level], msg);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int listen_on(const struct wgotp_config *cfg, struct wgotp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = cfg->dird_socket;
	struct stat st;
	mode_t old;
	int fd = -1, ret;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return wgotp_error_set(err, EINVAL, "[Dird] Socket: invalid path");
	memcpy(sa.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return wgotp_error_set(err, EEXIST, "%s exists and is not a socket", path);
		unlink(path);	/* a stale socket: systemd starts one of us */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return wgotp_error_set(err, errno, "socket: %s", strerror(errno));
	old = umask(0117);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0) {
		ret = wgotp_error_set(err, errno, "bind %s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (cfg->n_dird_allowed_gids > 0 && chown(path, (uid_t)-1, cfg->dird_allowed_gids[0]) < 0)
		log_warn("chown %s: %s", path, strerror(errno));
	if (chmod(path, 0660) < 0 || listen(fd, 16) < 0) {
		ret = wgotp_error_set(err, errno, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	ret = fd;
	fd = -1;
cleanup:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* One line from fd within the deadline: its length (newline excluded)
 * or a negative errno (-EMSGSIZE: too long). */
static ssize_t read_line(int fd, char *buf, size_t cap, int64_t deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - mono_ms();
		char *nl;
		ssize_t n;

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ECONNRESET;
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl)
			return nl - buf;
		if (len == cap)
			return -EMSGSIZE;
	}
}

static void write_all(int fd, const char *p, size_t len, int64_t deadline)
{
	while (len > 0 && mono_ms() < deadline) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			poll(&pf, 1, 100);
			continue;
		}
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

static void serve(struct dird *d, int fd)
{
	char *buf = malloc(DIRD_MAX_MSG);
	struct ucred cr = { 0 };
	socklen_t crlen = sizeof(cr);
	int64_t deadline = mono_ms() + IO_TIMEOUT_MS;
	char *reply = NULL;
	size_t reply_len = 0;
	ssize_t n;

	if (!buf)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0)
		goto cleanup;
	/* the line is read first, also from a caller who will be refused: a
	 * socket closed with unread data would reset the connection before
	 * the caller reads why */
	n = read_line(fd, buf, DIRD_MAX_MSG, deadline);
	if (!dird_peer_allowed(d->cfg, fd, &cr)) {
		log_warn("refused uid=%u gid=%u pid=%d: not in [Dird] AllowedUsers/AllowedGroups",
			 (unsigned int)cr.uid, (unsigned int)cr.gid, (int)cr.pid);
		reply = dird_handle(d, &cr, fd, "", 0, &reply_len);	/* "forbidden" */
	} else if (n == -EMSGSIZE) {
		reply = dird_handle(d, &cr, fd, buf, DIRD_MAX_MSG, &reply_len);	/* too_large */
	} else if (n >= 0) {
		reply = dird_handle(d, &cr, fd, buf, (size_t)n, &reply_len);
	}
	if (reply)
		write_all(fd, reply, reply_len, deadline);
cleanup:
	dird_reply_free(reply, reply_len);
	wgotp_freezero(buf, DIRD_MAX_MSG);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: wgotp-dird [-c FILE] [-f] [-d] [--check]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum wgotp_log_level level = WGOTP_LOG_INFO;
	struct wgotp_error err = { "" };
	struct wgotp_config *cfg = NULL;
	struct wgotp_frontend *fe = NULL;
	enum wgotp_frontend_stage stage;
	const char *conf = NULL;
	bool check = false;
	struct sigaction sa = { .sa_handler = on_signal };
	int opt, lfd = -1, status = 1;

	while ((opt = getopt_long(argc, argv, "c:fdh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf = optarg; break;
		case 'f': break;	/* always in the foreground (systemd Type=simple) */
		case 'd': level = WGOTP_LOG_DEBUG; break;
		case 'C': check = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	wgotp_log_set_sink(log_stderr, NULL, level);
	if (wgotp_config_load(wgotp_config_path(conf), &cfg, &err) < 0) {
		log_err("%s", err.msg);
		return 1;
	}
	if (wgotp_frontend_open(cfg, NULL, NULL, &fe, &stage, &err) < 0) {
		log_err("%s", err.msg);
		return 1;
	}
	if (check) {
		printf("wgotp-dird: configuration OK\n");
		status = 0;
		goto cleanup;
	}
	lfd = listen_on(fe->cfg, &err);
	if (lfd < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("listening on %s", fe->cfg->dird_socket);
	{
		struct dird d = { .cfg = fe->cfg, .flow = fe->flow, .store = fe->store };

		while (!stopping) {
			struct pollfd p = { .fd = lfd, .events = POLLIN };
			int fd;

			if (poll(&p, 1, 1000) <= 0)
				continue;
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd < 0)
				continue;
			serve(&d, fd);
			close(fd);
		}
	}
	log_info("stopping");
	unlink(fe->cfg->dird_socket);
	status = 0;
cleanup:
	if (lfd >= 0)
		close(lfd);
	wgotp_frontend_close(fe);
	return status;
}
