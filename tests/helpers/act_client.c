// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A command line over lib/activator_client, for the integration tests
 * and benchmarks:
 *   act_client -c CONF ping
 *   act_client -c CONF activate USER [DEVICE|-] [DURATION [ORIGIN [shorten]]]
 *   act_client -c CONF activate-key USER KEY [DURATION]
 *   act_client -c CONF deactivate USER [DEVICE]
 *   act_client -c CONF list [USER]
 * Prints the result on stdout, the error on stderr; exits 0 on success,
 * else 1, with the errno name as the first word on stderr (ENOENT ...).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activator_client.h"
#include "conf.h"

static int print_session(void *arg, const struct wgotp_session *s)
{
	printf("%s %s %s %s %" PRId64 " %s\n", s->user, s->device, s->public_key, s->allowed_ips,
	       s->expires, s->origin);
	return 0;
}

static const char *errname(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EACCES: return "EACCES";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINVAL: return "EINVAL";
	case ESRCH: return "ESRCH";
	case ENODEV: return "ENODEV";
	case EIO: return "EIO";
	case EPROTO: return "EPROTO";
	default: return "E?";
	}
}

int main(int argc, char **argv)
{
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err = { "" };
	struct wgotp_activator_status st;
	int64_t expires = 0;
	int n = 0, ret = -EINVAL;
	const char *cmd;

	if (argc < 4 || strcmp(argv[1], "-c") != 0) {
		fprintf(stderr, "usage: act_client -c CONF ping|activate|activate-key|deactivate|list ...\n");
		return 2;
	}
	if (wgotp_config_load(argv[2], &cfg, &err) < 0) {
		fprintf(stderr, "config: %s\n", err.msg);
		return 2;
	}
	cmd = argv[3];
	if (!strcmp(cmd, "ping")) {
		ret = wgotp_activator_ping(cfg, &st, &err);
		if (ret == 0)
			printf("%s %s %" PRId64 "\n", st.interface, st.backend, st.sessions);
	} else if (!strcmp(cmd, "activate") && argc >= 5) {
		struct wgotp_activation a = {
			.user = argv[4],
			.device = argc >= 6 && strcmp(argv[5], "-") ? argv[5] : NULL,
			.duration = argc >= 7 ? strtoll(argv[6], NULL, 10) : 0,
			.origin = argc >= 8 ? argv[7] : "admin",
			.shorten = argc >= 9 && !strcmp(argv[8], "shorten"),
		};

		ret = wgotp_activator_activate_ex(cfg, &a, &expires, &err);
		if (ret == 0)
			printf("%" PRId64 "\n", expires);
	} else if (!strcmp(cmd, "activate-key") && argc >= 6) {
		ret = wgotp_activator_activate(cfg, argv[4], NULL, argv[5],
					       argc >= 7 ? strtoll(argv[6], NULL, 10) : 0, "admin",
					       &expires, &err);
		if (ret == 0)
			printf("%" PRId64 "\n", expires);
	} else if (!strcmp(cmd, "deactivate") && argc >= 5) {
		ret = wgotp_activator_deactivate(cfg, argv[4], argc >= 6 ? argv[5] : NULL, &n, &err);
		if (ret == 0)
			printf("%d\n", n);
	} else if (!strcmp(cmd, "list")) {
		ret = wgotp_activator_list(cfg, argc >= 5 ? argv[4] : NULL, print_session, NULL, &err);
	} else {
		fprintf(stderr, "unknown command\n");
	}
	if (ret < 0)
		fprintf(stderr, "%s %s\n", errname(-ret), err.msg);
	wgotp_config_free(cfg);
	return ret < 0 ? 1 : 0;
}
