// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The portal's /metrics listener ([Portal] MetricsListen): a daemon of
 * libmicrohttpd of its own, plain HTTP, one thread, few connections and
 * short timeouts, no request body, only GET or HEAD of /metrics.
 */
#include "config.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrport.h"
#include "log.h"
#include "server.h"
#include "stats.h"

static struct MHD_Daemon *metricsd;
static struct portal_server *server;

static enum MHD_Result on_metrics(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int status = MHD_HTTP_OK;
	char *body = NULL;
	size_t len = 0;

	(void)cls;
	(void)version;
	(void)upload;
	if (!*con_cls) {	/* the head first; no body is read */
		*con_cls = (void *)1;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
	else if (strcmp(url, "/metrics"))
		status = MHD_HTTP_NOT_FOUND;
	else
		body = portal_stats_render(portal_server_connections(server), &len);
	if (status == MHD_HTTP_OK && !body)
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	resp = body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
		    : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	if (body)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; version=0.0.4; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int portal_metrics_start(struct portal_server *s, const char *addr, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	server = s;
	if (!addr || !*addr)
		return 0;
	if (wgotp_addrport_parse(addr, &ss, NULL) < 0) {
		snprintf(why, whylen, "[Portal] MetricsListen: \"%s\" is not ADDRESS:PORT", addr);
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* A scrape is small and rare: one thread, few connections, short
	 * timeouts, no request body. */
	metricsd = MHD_start_daemon(flags, 0, NULL, NULL, on_metrics, NULL,
				    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&ss,
				    MHD_OPTION_CONNECTION_LIMIT, 8U,
				    MHD_OPTION_CONNECTION_TIMEOUT, 5U,
				    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192,
				    MHD_OPTION_END);
	if (!metricsd) {
		snprintf(why, whylen, "[Portal] MetricsListen %s: cannot listen there", addr);
		return -1;
	}
	if (!wgotp_addrport_loopback(&ss))
		log_info("metrics on http://%s/metrics, not a loopback address: anyone who reaches it "
			 "sees the figures (no user names)", addr);
	return 0;
}

void portal_metrics_stop(void)
{
	if (metricsd)
		MHD_stop_daemon(metricsd);
	metricsd = NULL;
}
