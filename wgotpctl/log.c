// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Where the library's messages go in wgotpctl: errors and warnings to
 * stderr as "wgotpctl: ...", audit lines (activate, totp confirm) to
 * [General] AuditLog: syslog, stderr or a file.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

static const char *audit_dest;		/* NULL until the configuration is read */
static bool syslog_open;

static void audit_line(const char *msg)
{
	int fd;

	if (!audit_dest || !strcmp(audit_dest, "stderr")) {
		fprintf(stderr, "wgotpctl: %s\n", msg);
		return;
	}
	if (!strcmp(audit_dest, "syslog")) {
		if (!syslog_open) {
			openlog("wgotpctl", LOG_PID, LOG_AUTHPRIV);
			syslog_open = true;
		}
		syslog(LOG_NOTICE, "%s", msg);
		return;
	}
	fd = open(audit_dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		fprintf(stderr, "wgotpctl: warning: AuditLog %s: %m\n", audit_dest);
		return;
	}
	dprintf(fd, "%s\n", msg);
	close(fd);
}

static void sink(void *arg, enum wgotp_log_level level, const char *msg)
{
	switch (level) {
	case WGOTP_LOG_AUDIT:
		audit_line(msg);
		break;
	case WGOTP_LOG_ERR:
		fprintf(stderr, "wgotpctl: %s\n", msg);
		break;
	default:
		fprintf(stderr, "wgotpctl: warning: %s\n", msg);
		break;
	}
}

void ctl_log_init(void)
{
	wgotp_log_set_sink(sink, NULL, WGOTP_LOG_WARN);
}

void ctl_log_config(const struct wgotp_config *cfg)
{
	audit_dest = cfg->audit_log;
}
