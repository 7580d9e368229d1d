// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The wg(8) backend, for kernel WireGuard: `wg show IF peers` and
 * `wg set IF peer KEY allowed-ips A,B peer KEY2 remove ...`, started with
 * posix_spawn, an argument vector and a fixed environment; never a shell.
 * A wg that does not finish within the reply timeout is killed.
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wg.h"

#define CLI_PEERS_PER_RUN 1000	/* keeps argv far below ARG_MAX */
#define CLI_OUTPUT_MAX (64 << 20)

struct cli {
	char *wg;
	char ifname[16];
	int timeout_ms;
};

struct out {
	char *p;
	size_t len, cap;
};

static int out_read(struct out *o, int fd)
{
	ssize_t n;

	if (o->cap - o->len < 4097) {
		size_t cap = o->cap ? 2 * o->cap : 8192;
		char *p;

		if (cap > CLI_OUTPUT_MAX)
			return -EFBIG;
		p = realloc(o->p, cap);
		if (!p)
			return -ENOMEM;
		o->p = p;
		o->cap = cap;
	}
	n = read(fd, o->p + o->len, o->cap - o->len - 1);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	o->len += (size_t)n;
	o->p[o->len] = '\0';
	return n == 0 ? 0 : 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run argv, collect stdout and stderr; 0 only when wg exits 0. */
static int run_wg(struct cli *c, char *const argv[], struct out *sout, struct wgotp_error *err)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	posix_spawn_file_actions_t fa;
	int pout[2] = { -1, -1 }, perr[2] = { -1, -1 };
	struct out serr = { 0 };
	pid_t pid = -1;
	int status, ret, open_fds = 2;
	int64_t deadline = now_ms() + c->timeout_ms;

	posix_spawn_file_actions_init(&fa);
	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		ret = wgotp_error_set(err, errno, "pipe: %s", strerror(errno));
		goto cleanup;
	}
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	ret = posix_spawn(&pid, c->wg, &fa, NULL, argv, envp);
	if (ret != 0) {
		pid = -1;
		ret = wgotp_error_set(err, ret, "cannot run %s: %s", c->wg, strerror(ret));
		goto cleanup;
	}
	close(pout[1]);
	close(perr[1]);
	pout[1] = perr[1] = -1;

	while (open_fds > 0) {
		struct pollfd pfd[2] = { { pout[0], POLLIN, 0 }, { perr[0], POLLIN, 0 } };
		int64_t left = deadline - now_ms();

		if (left <= 0) {
			ret = wgotp_error_set(err, ETIMEDOUT, "%s did not finish within %d ms",
					      c->wg, c->timeout_ms);
			kill(pid, SIGKILL);
			goto cleanup;
		}
		if (poll(pfd, 2, (int)left) < 0 && errno != EINTR) {
			ret = wgotp_error_set(err, errno, "poll: %s", strerror(errno));
			kill(pid, SIGKILL);
			goto cleanup;
		}
		for (int i = 0; i < 2; i++) {
			int *fd = i ? &perr[0] : &pout[0];

			if (*fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ret = out_read(i ? &serr : sout, *fd);
			if (ret < 0) {
				wgotp_error_set(err, -ret, "reading from %s: %s", c->wg, strerror(-ret));
				kill(pid, SIGKILL);
				goto cleanup;
			}
			if (ret == 0) {
				close(*fd);
				*fd = -1;
				open_fds--;
			}
		}
	}
	ret = 0;
cleanup:
	if (pid > 0) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (ret == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			char *nl;

			if (serr.p && (nl = strchr(serr.p, '\n')))
				*nl = '\0';
			ret = wgotp_error_set(err, EIO, "%s %s %s failed: %s", c->wg, argv[1], c->ifname,
					      serr.p && *serr.p ? serr.p : "non-zero exit");
		}
	}
	for (int i = 0; i < 2; i++) {
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	free(serr.p);
	posix_spawn_file_actions_destroy(&fa);
	return ret;
}

static int cli_open(const struct wgotp_config *cfg, void **state, struct wgotp_error *err)
{
	struct cli *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	c->wg = strdup(cfg->wg_command ? cfg->wg_command : "/usr/bin/wg");
	if (!c->wg) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	if (c->wg[0] != '/') {
		ret = wgotp_error_set(err, EINVAL, "WgCommand must be an absolute path: %s", c->wg);
		goto cleanup;
	}
	snprintf(c->ifname, sizeof(c->ifname), "%s", cfg->interface);
	c->timeout_ms = cfg->activator_reply_timeout_ms > 0 ? cfg->activator_reply_timeout_ms : 5000;
	*state = c;
	c = NULL;
	ret = 0;
cleanup:
	if (c)
		free(c->wg);
	free(c);
	return ret;
}

static void cli_close(void *state)
{
	struct cli *c = state;

	if (!c)
		return;
	free(c->wg);
	free(c);
}

static int cli_list(void *state, struct wg_peer_list *list, struct wgotp_error *err)
{
	struct cli *c = state;
	char *argv[] = { c->wg, "show", c->ifname, "peers", NULL };
	struct out o = { 0 };
	uint8_t key[WGOTP_KEY_LEN];
	char *line, *save = NULL;
	int ret;

	list->keys = NULL;
	list->n = 0;
	ret = run_wg(c, argv, &o, err);
	if (ret < 0)
		goto cleanup;
	for (line = o.p ? strtok_r(o.p, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		if (wgotp_key_from_base64(key, line) < 0) {
			ret = wgotp_error_set(err, EPROTO, "%s show: unexpected output", c->wg);
			goto cleanup;
		}
		ret = wg_peer_list_add(list, key);
		if (ret < 0) {
			wgotp_error_set(err, ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	ret = 0;
cleanup:
	if (ret < 0)
		wg_peer_list_free(list);
	free(o.p);
	return ret;
}

static int cli_pubkey(void *state, uint8_t key[WGOTP_KEY_LEN], struct wgotp_error *err)
{
	struct cli *c = state;
	char *argv[] = { c->wg, "show", c->ifname, "public-key", NULL };
	struct out o = { 0 };
	int ret;

	ret = run_wg(c, argv, &o, err);
	if (ret < 0)
		goto cleanup;
	if (o.p)
		o.p[strcspn(o.p, "\n")] = '\0';
	if (!o.p || wgotp_key_from_base64(key, o.p) < 0)
		ret = wgotp_error_set(err, ENOKEY, "%s show %s public-key: no key", c->wg, c->ifname);
cleanup:
	free(o.p);
	return ret;
}

/* Every argument is one this backend formatted: the key from its bytes,
 * the allowed IPs re-formatted from what parsed (wg_ips_canon), so wg(8)
 * never sees a byte of a change's text. A change that does not parse
 * refuses the whole batch before any wg runs. */
static int cli_apply(void *state, const struct wg_peer *ch, size_t n, struct wgotp_error *err)
{
	struct cli *c = state;
	size_t per = 3 + 4 * CLI_PEERS_PER_RUN + 1;
	char **argv = calloc(per, sizeof(*argv));
	char (*b64)[WGOTP_KEY_B64_LEN + 1] = calloc(CLI_PEERS_PER_RUN, sizeof(*b64));
	char **ips = calloc(n + 1, sizeof(*ips));
	struct out o = { 0 };
	int ret = 0;

	if (!argv || !b64 || !ips) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (ch[i].remove)
			continue;
		ret = wg_ips_canon(ch[i].allowed_ips, &ips[i]);
		if (ret == -EINVAL) {
			ret = wgotp_error_set(err, EINVAL, "%s set: change %zu of %zu: allowed IPs that "
					      "are not a list of prefixes; nothing run", c->wg, i + 1, n);
			goto cleanup;
		}
		if (ret < 0) {
			ret = wgotp_error_set(err, ENOMEM, "out of memory");
			goto cleanup;
		}
	}
	for (size_t done = 0; done < n && ret == 0; ) {
		size_t a = 0;

		argv[a++] = c->wg;
		argv[a++] = "set";
		argv[a++] = c->ifname;
		for (size_t i = 0; i < CLI_PEERS_PER_RUN && done < n; i++, done++) {
			wgotp_key_to_base64(b64[i], ch[done].key);
			argv[a++] = "peer";
			argv[a++] = b64[i];
			if (ch[done].remove) {
				argv[a++] = "remove";
			} else {
				argv[a++] = "allowed-ips";
				argv[a++] = ips[done];
			}
		}
		argv[a] = NULL;
		o.len = 0;
		ret = run_wg(c, argv, &o, err);
	}
cleanup:
	for (size_t i = 0; ips && i < n; i++)
		free(ips[i]);
	free(ips);
	free(o.p);
	free(argv);
	free(b64);
	return ret;
}

const struct wg_ops wg_cli_ops = {
	.name = "wg",
	.open = cli_open,
	.close = cli_close,
	.list = cli_list,
	.apply = cli_apply,
	.pubkey = cli_pubkey,
};
