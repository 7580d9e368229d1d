/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sendmail transport: the RFC 5322 message piped to PATH -t -i, started
 * with an argument vector (posix_spawn, no shell) and a minimal
 * environment. Its standard input is a socket, so a sendmail that exits
 * early cannot raise SIGPIPE in the host process (freeradius, sshd). The
 * whole exchange is bounded by the time budget; a sendmail that outlives
 * it is killed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mail_transport.h"
#include "oauth.h"
#include "secret.h"

struct sendmail {
	char *path;
};

static void reap(pid_t pid, const struct wgotp_deadline *dl, int *status, bool *killed)
{
	struct timespec nap = { .tv_nsec = 5 * 1000000L };
	pid_t r;

	*killed = false;
	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (r == 0 && wgotp_deadline_left_ms(dl) <= 0) {
			kill(pid, SIGKILL);
			*killed = true;
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return;
		}
		nanosleep(&nap, NULL);
	}
	if (r < 0)
		*status = -1;	/* ECHILD: someone else reaped it (SIGCHLD ignored) */
}

static int sendmail_send(void *state, const struct wgotp_mail_message *msg, int64_t now,
			 const struct wgotp_deadline *dl, struct wgotp_error *err)
{
	struct sendmail *s = state;
	char *const argv[] = { s->path, "-t", "-i", NULL };
	char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	bool fa_ready = false, killed = false, timed_out = false;
	int sv[2] = { -1, -1 }, ep[2] = { -1, -1 }, status = 0, ret;
	char *text = NULL, out[512], line[200];
	size_t len = 0, sent = 0, outlen = 0;
	pid_t pid = -1;

	ret = wgotp_mail_rfc5322(msg, "\n", &text, &len, err);
	if (ret < 0)
		return ret;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0) {
		ret = wgotp_error_set(err, errno, "sendmail: %s", strerror(errno));
		goto cleanup;
	}
	ret = posix_spawn_file_actions_init(&fa);
	if (ret) {
		ret = wgotp_error_set(err, ret, "sendmail: %s", strerror(ret));
		goto cleanup;
	}
	fa_ready = true;
	if ((ret = posix_spawn_file_actions_adddup2(&fa, sv[1], 0)) ||
	    (ret = posix_spawn_file_actions_adddup2(&fa, ep[1], 1)) ||
	    (ret = posix_spawn_file_actions_adddup2(&fa, ep[1], 2))
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	    || (ret = posix_spawn_file_actions_addclosefrom_np(&fa, 3))
#endif
	   ) {
		ret = wgotp_error_set(err, ret, "sendmail: %s", strerror(ret));
		goto cleanup;
	}
	ret = posix_spawn(&pid, s->path, &fa, NULL, argv, envp);
	if (ret) {
		pid = -1;
		ret = wgotp_error_set(err, ret, "sendmail %s: %s", s->path, strerror(ret));
		goto cleanup;
	}
	close(sv[1]);
	close(ep[1]);
	sv[1] = ep[1] = -1;

	/* Write the message and collect its output until it closes both. */
	while (ep[0] >= 0) {
		struct pollfd p[2] = {
			{ .fd = ep[0], .events = POLLIN },
			{ .fd = sv[0], .events = POLLOUT },
		};
		long left = wgotp_deadline_left_ms(dl);
		int n;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		n = poll(p, sv[0] >= 0 ? 2 : 1, (int)(left > 1000 ? 1000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = wgotp_error_set(err, errno, "sendmail: poll: %s", strerror(errno));
			goto cleanup;
		}
		if (sv[0] >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = send(sv[0], text + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0)
				sent += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == len) {
				shutdown(sv[0], SHUT_WR);
				close(sv[0]);
				sv[0] = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[512];
			ssize_t r = read(ep[0], buf, sizeof(buf));

			if (r > 0 && outlen < sizeof(out) - 1) {
				size_t take = (size_t)r < sizeof(out) - 1 - outlen ?
					      (size_t)r : sizeof(out) - 1 - outlen;

				memcpy(out + outlen, buf, take);
				outlen += take;
			}
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
				close(ep[0]);
				ep[0] = -1;
			}
		}
	}
	out[outlen] = '\0';
	reap(pid, dl, &status, &killed);
	pid = -1;
	wgotp_oauth_sanitize(out, line, sizeof(line));
	if (timed_out || killed)
		ret = wgotp_error_set(err, ETIMEDOUT, "sendmail %s: not done within the mail time budget%s",
				      s->path, killed ? " (killed)" : "");
	else if (status == -1)
		ret = wgotp_error_set(err, ECHILD, "sendmail %s: exit status lost (is SIGCHLD ignored?)",
				      s->path);
	else if (WIFSIGNALED(status))
		ret = wgotp_error_set(err, EIO, "sendmail %s: killed by signal %d%s%s", s->path,
				      WTERMSIG(status), line[0] ? ": " : "", line);
	else if (WEXITSTATUS(status) != 0)
		ret = wgotp_error_set(err, EIO, "sendmail %s: exit status %d%s%s", s->path,
				      WEXITSTATUS(status), line[0] ? ": " : "", line);
	else if (sent != len)
		ret = wgotp_error_set(err, EIO, "sendmail %s: exited before reading the whole message",
				      s->path);
	else
		ret = 0;
cleanup:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (fa_ready)
		posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	wgotp_freezero(text, len);
	return ret;
}

static void sendmail_free(void *state)
{
	struct sendmail *s = state;

	if (!s)
		return;
	free(s->path);
	free(s);
}

int wgotp_mail_sendmail_new(const struct wgotp_config *cfg, struct wgotp_mail_sender *out,
			    struct wgotp_error *err)
{
	struct sendmail *s;
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (!cfg->sendmail_path || cfg->sendmail_path[0] != '/')
		return wgotp_error_set(err, EINVAL, "[Sendmail] Path must be an absolute path");
	if (stat(cfg->sendmail_path, &st) < 0)
		return wgotp_error_set(err, errno, "[Sendmail] Path %s: %s", cfg->sendmail_path,
				       strerror(errno));
	if (!S_ISREG(st.st_mode) || access(cfg->sendmail_path, X_OK) < 0)
		return wgotp_error_set(err, EACCES, "[Sendmail] Path %s: not an executable file",
				       cfg->sendmail_path);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(cfg->sendmail_path))) {
		free(s);
		return wgotp_error_set(err, ENOMEM, "out of memory");
	}
	out->name = "sendmail";
	out->send = sendmail_send;
	out->free = sendmail_free;
	out->state = s;
	return 0;
}
