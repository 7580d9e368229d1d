/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/'s messages go to pam_syslog (the authpriv facility, prefixed with
 * the service and module name). Audit lines are LOG_INFO, always.
 */
#include "config.h"

#include <stdio.h>
#include <syslog.h>
#include <security/pam_ext.h>

#include "log.h"
#include "pam_wgotp.h"

static __thread pam_handle_t *current;

static void sink(void *arg, enum wgotp_log_level level, const char *msg)
{
	int prio = LOG_INFO;

	switch (level) {
	case WGOTP_LOG_ERR:	prio = LOG_ERR; break;
	case WGOTP_LOG_WARN:	prio = LOG_WARNING; break;
	case WGOTP_LOG_INFO:	prio = LOG_INFO; break;
	case WGOTP_LOG_AUDIT:	prio = LOG_INFO; break;
	case WGOTP_LOG_DEBUG:	prio = LOG_DEBUG; break;
	}
#ifdef PAM_WGOTP_TESTING
	fprintf(stderr, "pam_wgotp[%d]: %s\n", prio, msg);
#endif
	if (current)
		pam_syslog(current, prio, "%s", msg);
	else
		syslog(LOG_AUTHPRIV | prio, "pam_wgotp: %s", msg);
}

void pam_wgotp_log_begin(pam_handle_t *pamh, bool debug)
{
	current = pamh;
	wgotp_log_set_sink(sink, NULL, debug ? WGOTP_LOG_DEBUG : WGOTP_LOG_INFO);
}

void pam_wgotp_log_end(void)
{
	current = NULL;
}
