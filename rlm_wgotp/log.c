/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/'s log sink. While a request is being worked on (set per thread by
 * rlm_wgotp_log_request), lib/'s messages go to that request's log, so
 * they show in `freeradius -X` beside the request and errors become
 * Module-Failure-Message; otherwise to the server log. Audit lines always
 * go to the server log (L_AUTH), whatever the debug level.
 */
#include "rlm_wgotp.h"

#include "log.h"

static __thread REQUEST *current_request;

void rlm_wgotp_log_request(REQUEST *request)
{
	current_request = request;
}

static void sink(void *arg, enum wgotp_log_level level, char const *msg)
{
	REQUEST *request = current_request;

	switch (level) {
	case WGOTP_LOG_AUDIT:
		radlog(L_AUTH, "%s", msg);
		return;
	case WGOTP_LOG_ERR:
		if (request) {
			REDEBUG("%s", msg);
		} else {
			radlog(L_ERR, "rlm_wgotp: %s", msg);
		}
		return;
	case WGOTP_LOG_WARN:
		if (request) {
			RWDEBUG("%s", msg);
		} else {
			radlog(L_WARN, "rlm_wgotp: %s", msg);
		}
		return;
	case WGOTP_LOG_INFO:
		if (request) {
			RDEBUG("%s", msg);
		} else {
			radlog(L_INFO, "rlm_wgotp: %s", msg);
		}
		return;
	case WGOTP_LOG_DEBUG:
		if (request) {
			RDEBUG2("%s", msg);
		} else {
			DEBUG2("rlm_wgotp: %s", msg);
		}
		return;
	}
}

void rlm_wgotp_log_init(void)
{
	wgotp_log_set_sink(sink, NULL, rad_debug_lvl ? WGOTP_LOG_DEBUG : WGOTP_LOG_INFO);
}
