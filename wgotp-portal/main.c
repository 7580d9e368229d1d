/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotp-portal: the employees' web front end (email, code, on the VPN).
 * See wgotp-portal(8).
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
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "portal.h"
#include "server.h"
#include "stats.h"

static void log_stderr(void *arg, enum wgotp_log_level level, const char *msg)
{
	static const char *const names[] = {
		[WGOTP_LOG_ERR] = "error", [WGOTP_LOG_WARN] = "warning", [WGOTP_LOG_INFO] = "info",
		[WGOTP_LOG_AUDIT] = "audit", [WGOTP_LOG_DEBUG] = "debug",
	};

	fprintf(stderr, "wgotp-portal: %s: %s\n", names[level], msg);
}

static void log_syslog(void *arg, enum wgotp_log_level level, const char *msg)
{
	static const int prio[] = {
		[WGOTP_LOG_ERR] = LOG_ERR, [WGOTP_LOG_WARN] = LOG_WARNING, [WGOTP_LOG_INFO] = LOG_INFO,
		[WGOTP_LOG_AUDIT] = LOG_NOTICE, [WGOTP_LOG_DEBUG] = LOG_DEBUG,
	};

	syslog(prio[level], "%s", msg);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: wgotp-portal [-c FILE] [-f] [-d] [--check]\n"
		"  -c, --config FILE  configuration (default: $WGOTP_CONF, then %s)\n"
		"  -f, --foreground   stay in the foreground, log to stderr\n"
		"  -d, --debug        log debug messages too\n"
		"      --check        load the configuration, key, certificate, users.json,\n"
		"                     store and pages, then exit\n"
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
	const char *conf_arg = NULL, *path;
	bool foreground = false, check = false;
	enum wgotp_log_level level = WGOTP_LOG_INFO;
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err = { "" };
	struct portal *p = NULL;
	struct portal_server *srv = NULL;
	sigset_t set;
	int ready_fd = -1, opt, sig, ret = 1;

	while ((opt = getopt_long(argc, argv, "c:fdhV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': conf_arg = optarg; break;
		case 'f': foreground = true; break;
		case 'd': level = WGOTP_LOG_DEBUG; break;
		case 'C': check = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("wgotp-portal %s\n", PACKAGE_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	wgotp_log_set_sink(log_stderr, NULL, level);
	path = wgotp_config_path(conf_arg);
	if (wgotp_config_load(path, &cfg, &err) < 0) {
		log_err("%s", err.msg);
		return 1;
	}
	if (portal_new(cfg, NULL, NULL, &p, &err) < 0) {	/* takes cfg */
		log_err("%s", err.msg);
		goto cleanup;
	}
	if (portal_server_new(p, &srv, &err) < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	if (check) {
		printf("%s: configuration, server key, users.json, store, pages%s: ok\n", path,
		       p->tls ? ", certificate and key" : "");
		ret = 0;
		goto cleanup;
	}
	if (!foreground) {
		openlog("wgotp-portal", LOG_PID, LOG_DAEMON);
		wgotp_log_set_sink(log_syslog, NULL, level);
		if (wgotp_daemonize(&ready_fd) < 0) {
			log_err("cannot fork: %s", strerror(errno));
			goto cleanup;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* before the server's threads start, so they inherit the mask */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	portal_stats_init();
	if (portal_server_start(srv, &err) < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	if (portal_metrics_start(srv, cfg->portal_metrics_listen, err.msg, sizeof(err.msg)) < 0) {
		log_err("%s", err.msg);
		goto cleanup;
	}
	log_info("wgotp-portal %s ready (%s)", PACKAGE_VERSION, path);
	if (ready_fd >= 0) {
		char ok = 0;

		if (write(ready_fd, &ok, 1) != 1)
			log_warn("could not tell the parent we are ready");
		close(ready_fd);
		ready_fd = -1;
	}
	for (;;) {
		struct timespec minute = { 60, 0 };

		sig = sigtimedwait(&set, NULL, &minute);
		if (sig < 0) {
			int r = portal_housekeeping(p);

			if (r < 0)
				log_warn("removing expired entries from the store: %s", strerror(-r));
			continue;
		}
		if (sig == SIGHUP) {
			log_info("SIGHUP: users.json is re-read on its own; nothing else to reload");
			continue;
		}
		log_info("signal %d: stopping", sig);
		break;
	}
	ret = 0;
cleanup:
	portal_metrics_stop();
	portal_server_free(srv);
	portal_free(p);
	if (ready_fd >= 0)
		close(ready_fd);
	return ret;
}
