// SPDX-License-Identifier: GPL-2.0-or-later
/* wgotp-portal's own figures for Prometheus: see stats.h. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.h"

static const int statuses[] = { 200, 204, 302, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415,
				429, 431, 500, 503 };
#define N_STATUS (sizeof(statuses) / sizeof(statuses[0]))

/* Every error code the portal sends (doc/portal-api.md); "other" last. */
static const char *const codes[] = {
	"bad_request", "bad_code", "bad_duration", "csrf", "internal", "method_not_allowed",
	"no_challenge", "no_grant", "not_found", "not_signed_in", "payload_too_large",
	"rate_limited", "rejected", "timeout", "unavailable", "unknown_device",
	"unsupported_media_type", "other",
};
#define N_CODES (sizeof(codes) / sizeof(codes[0]))

static struct {
	uint64_t replies[2][N_STATUS + 1];	/* [page, api][status; other] */
	uint64_t errors[N_CODES];
} st;

static int64_t started;

static void add(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void portal_stats_reply(bool api, int status)
{
	size_t i;

	for (i = 0; i < N_STATUS; i++)
		if (statuses[i] == status)
			break;
	add(&st.replies[api ? 1 : 0][i]);
}

void portal_stats_error(const char *code)
{
	size_t i;

	for (i = 0; i < N_CODES - 1; i++)
		if (code && !strcmp(codes[i], code))
			break;
	add(&st.errors[i]);
}

void portal_stats_init(void)
{
	started = (int64_t)time(NULL);
}

char *portal_stats_render(unsigned int open, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fprintf(f, "# HELP wgotp_portal_build_info A constant 1, labelled with the version.\n"
		"# TYPE wgotp_portal_build_info gauge\nwgotp_portal_build_info{version=\"%s\"} 1\n",
		PACKAGE_VERSION);
	fprintf(f, "# HELP wgotp_portal_start_time_seconds When wgotp-portal started, in seconds "
		"since the epoch.\n# TYPE wgotp_portal_start_time_seconds gauge\n"
		"wgotp_portal_start_time_seconds %" PRId64 "\n", started);
	fprintf(f, "# HELP wgotp_portal_connections Connections open now, on every listener.\n"
		"# TYPE wgotp_portal_connections gauge\nwgotp_portal_connections %u\n", open);
	fprintf(f, "# HELP wgotp_portal_replies_total Replies, by kind (api: the JSON API; page: "
		"the page and its files) and HTTP status.\n# TYPE wgotp_portal_replies_total counter\n");
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i <= N_STATUS; i++) {
			uint64_t n = get(&st.replies[k][i]);
			char code[8];

			if (!n)
				continue;
			if (i < N_STATUS)
				snprintf(code, sizeof(code), "%d", statuses[i]);
			else
				snprintf(code, sizeof(code), "other");
			fprintf(f, "wgotp_portal_replies_total{kind=\"%s\",code=\"%s\"} %" PRIu64 "\n",
				k ? "api" : "page", code, n);
		}
	fprintf(f, "# HELP wgotp_portal_refusals_total Requests refused, by the error code of the "
		"reply (doc/portal-api.md).\n# TYPE wgotp_portal_refusals_total counter\n");
	for (size_t i = 0; i < N_CODES; i++)
		fprintf(f, "wgotp_portal_refusals_total{error=\"%s\"} %" PRIu64 "\n", codes[i],
			get(&st.errors[i]));
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
