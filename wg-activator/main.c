// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wg-activator: adds the WireGuard peers of users who passed the one-time
 * code, and removes them when their session ends. See wg-activator(8).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "activator.h"
#include "conf.h"
#include "ctlsock.h"
#include "daemon.h"
#include "directory.h"
#include "log.h"
#include "loop.h"
#include "exporter.h"
#include "privs.h"
#ifdef HAVE_REDIS
#include "stream.h"
#endif

static void log_stderr(void *arg, enum wgotp_log_level level, const char *msg)
{
	static const char *const names[] = {
		[WGOTP_LOG_ERR] = "error", [WGOTP_LOG_WARN] = "warning", [WGOTP_LOG_INFO] = "info",
		[WGOTP_LOG_AUDIT] = "audit", [WGOTP_LOG_DEBUG] = "debug",
	};

	fprintf(stderr, "wg-activator: %s: %s\n", names[level], msg);
}

static void log_syslog(void *arg, enum wgotp_log_level level, const char *msg)
{
	static const int prio[] = {
		[WGOTP_LOG_ERR] = LOG_ERR, [WGOTP_LOG_WARN] = LOG_WARNING, [WGOTP_LOG_INFO] = LOG_INFO,
		[WGOTP_LOG_AUDIT] = LOG_NOTICE, [WGOTP_LOG_DEBUG] = LOG_DEBUG,
	};

	syslog(prio[level], "%s", msg);
}

/* systemd's readiness protocol (Type=notify), without libsystemd. */
static void notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		log_warn("NOTIFY_SOCKET: %s", strerror(errno));
	close(fd);
}

static void on_stop(struct loop *l, int signo, void *arg)
{
	log_info("signal %d: stopping (peers and sessions stay; a restart reconciles)", signo);
	loop_quit(l, 0);
}

static void on_hup(struct loop *l, int signo, void *arg)
{
	log_info("SIGHUP: reconciling");
	act_reconcile(arg);
}

static char *handle(void *arg, const char *msg, size_t len, const struct ucred *cred, size_t *rlen)
{
	return act_handle(arg, msg, len, cred, rlen);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wg-activator [-c FILE] [-f] [-d] [--check]\n"
		"  -c, --config FILE  configuration (default: $WGOTP_CONF, then %s)\n"
		"  -f, --foreground   stay in the foreground, log to stderr\n"
		"  -d, --debug        log debug messages too\n"
		"      --check        validate the configuration and users.json, then exit\n"
		"  -h, --help         this text\n"
		"  -V, --version      print the version\n", WGOTP_DEFAULT_CONF);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf_arg = NULL;
	bool foreground = false, check = false;
	enum wgotp_log_level level = WGOTP_LOG_INFO;
	struct wgotp_config *cfg = NULL;
	struct wgotp_directory *dir = NULL;
	struct wgotp_error err = { "" };
	struct loop *loop = NULL;
	struct ctlsock *ctl = NULL;
	struct activator act = { 0 };
	struct act_metrics_server *metrics = NULL;
#ifdef HAVE_REDIS
	struct stream *stream = NULL;
#endif
	bool act_ready = false;
	int ready_fd = -1, opt, ret = 1;

	while ((opt = getopt_long(argc, argv, "c:fdhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf_arg = optarg; break;
		case 'f': foreground = true; break;
		case 'd': level = WGOTP_LOG_DEBUG; break;
		case 'C': check = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("wg-activator %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	wgotp_log_set_sink(log_stderr, NULL, level);

	if (wgotp_config_load(wgotp_config_path(conf_arg), &cfg, &err) < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	if (check) {
		if (wgotp_dir_load(cfg->directory, &dir, &err) < 0) {
			log_err("%s", err.msg);
			goto cleanup;
		}
		printf("%s: OK (interface %s, socket %s, %zu users)\n", cfg->path, cfg->interface,
		       cfg->activator_socket, dir->n_users);
		ret = 0;
		goto cleanup;
	}

	signal(SIGPIPE, SIG_IGN);
	if (!foreground) {
		if (wgotp_daemonize(&ready_fd) < 0) {
			log_err("fork: %s", strerror(errno));
			goto cleanup;
		}
		openlog("wg-activator", LOG_PID, LOG_DAEMON);
		wgotp_log_set_sink(log_syslog, NULL, level);
		if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout) ||
		    !freopen("/dev/null", "w", stderr))
			log_warn("cannot redirect the standard streams to /dev/null");
	}

	ret = loop_new(&loop);
	if (ret < 0) {
		log_err("event loop: %s", strerror(-ret));
		ret = 1;
		goto cleanup;
	}
	ret = 1;
	if (act_init(&act, cfg, loop, &err) < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	act_ready = true;
	/* Bind before the first reconcile: a second daemon must fail here,
	 * not reconcile beside the first. Clients wait in the backlog. */
	if (ctl_open(cfg, loop, handle, &act, &ctl, &err) < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	if (loop_signal(loop, SIGTERM, on_stop, NULL) < 0 || loop_signal(loop, SIGINT, on_stop, NULL) < 0 ||
	    loop_signal(loop, SIGHUP, on_hup, &act) < 0) {
		log_err("signals: %s", strerror(errno));
		goto cleanup;
	}
	/* Everything that needed root is open: keep CAP_NET_ADMIN only,
	 * before the first thread (the Redis stream reader) starts. */
	if (privs_drop(&err) < 0 || act_start(&act, &err) < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	/* The endpoint's thread, after the drop as every thread. */
	if (act_metrics_start(&act, &metrics, &err) < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	/* A failed first reconcile is logged; the timers retry. */
	act_reconcile(&act);
	/* Requests queued on the Redis stream, once the table is settled. */
	if (cfg->activator_mode == WGOTP_ACTIVATOR_REDIS) {
#ifdef HAVE_REDIS
		if (stream_open(&act, &stream, &err) < 0) {
			log_err("%s", err.msg);
			goto cleanup;
		}
#else
		log_err("%s: [Activator] Mode = redis, but this build has no Redis support", cfg->path);
		goto cleanup;
#endif
	}
	log_info("ready: interface %s (%s backend), socket %s, %zu live session(s)",
		 cfg->interface, wg_backend_name(act.wg), cfg->activator_socket, act.table.n);
	notify_ready();
	if (ready_fd >= 0) {
		char ok = 0;

		if (write(ready_fd, &ok, 1) != 1)
			log_warn("readiness pipe: %s", strerror(errno));
		close(ready_fd);
		ready_fd = -1;
	}
	ret = loop_run(loop) < 0 ? 1 : 0;
cleanup:
	if (ready_fd >= 0)
		close(ready_fd);	/* the parent reads EOF: failure */
#ifdef HAVE_REDIS
	stream_close(stream);
#endif
	act_metrics_stop(metrics);
	ctl_close(ctl);
	if (act_ready)
		act_fini(&act);
	loop_free(loop);
	wgotp_dir_free(dir);
	wgotp_config_free(cfg);
	return ret;
}
