/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libmicrohttpd glue, the only file of the portal that speaks HTTP. As in
 * systemd-journal-gatewayd: the request's state hangs on the connection
 * (con_cls), the body is gathered up to MaxBodySize and refused beyond it
 * at once (413, from Content-Length before a byte of it is read), every
 * reply gets the same security headers, and libmicrohttpd's messages go to
 * our log. Slowloris and floods: a connection cap (MaxConnections), a cap
 * per address (MaxConnectionsPerIP), an idle timeout (RequestTimeout), a
 * whole-request deadline (RequestTimeout again, counted from the first
 * byte of the headers being complete) and a small memory pool per
 * connection (headers and body together).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "file.h"
#include "log.h"
#include "secret.h"
#include "server.h"
#include "stats.h"

#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
#define CERT_MAX (256 * 1024)
#define KEY_MAX (64 * 1024)

struct portal_server {
	struct portal *p;
	struct MHD_Daemon *d[WGOTP_MAX_LISTEN];
	int n;
	char *cert;
	size_t cert_len;
	char *key;
	size_t key_len;
};

struct req {
	char *body;
	size_t len;
	bool too_large;
	bool answered;
	struct timespec start;
};

static double since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/* libmicrohttpd's messages, into ours (its format, its arguments). */
__attribute__((format(printf, 2, 0)))
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	log_warn("http: %s", buf);
}

static enum MHD_Result queue(struct portal_server *s, struct MHD_Connection *conn,
			     struct portal_reply *rp)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char num[24];

	resp = MHD_create_response_from_buffer(rp->body_len, rp->body,
					       rp->body_static ? MHD_RESPMEM_PERSISTENT :
								 MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		portal_reply_free(rp);
		return MHD_NO;
	}
	rp->body = NULL;	/* the response owns it now */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				rp->content_type ? rp->content_type : "application/json");
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				rp->api || !strncmp(rp->content_type ? rp->content_type : "", "text/html", 9) ?
				"no-store" : "no-cache");
	if (s->p->tls)
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	for (int i = 0; i < rp->n_cookies; i++)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, rp->set_cookie[i]);
	if (rp->retry_after > 0) {
		snprintf(num, sizeof(num), "%d", rp->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, num);
	}
	if (rp->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rp->allow);
	ret = MHD_queue_response(conn, (unsigned int)rp->status, resp);
	MHD_destroy_response(resp);
	portal_stats_reply(rp->api, rp->status);
	return ret;
}

/* One fixed error reply, before the handlers see anything. */
static enum MHD_Result queue_error(struct portal_server *s, struct MHD_Connection *conn,
				   struct req *r, int status, const char *code, const char *body)
{
	struct portal_reply rp = {
		.status = status, .content_type = "application/json", .body = (char *)body,
		.body_len = strlen(body), .body_static = true, .api = true,
	};

	r->answered = true;
	portal_stats_error(code);
	return queue(s, conn, &rp);
}

static void peer_address(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, len, "unknown");
	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct portal_server *s = cls;
	const struct wgotp_config *cfg = s->p->fe->cfg;
	struct req *r = *con_cls;
	struct portal_request rq = { 0 };
	struct portal_reply rp;
	char peer[INET6_ADDRSTRLEN], client[INET6_ADDRSTRLEN + 8];
	const char *cl;

	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		*con_cls = r;
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > (unsigned long long)cfg->portal_max_body)
			return queue_error(s, conn, r, 413, "payload_too_large",
					   "{\"error\":\"payload_too_large\",\"message\":\"The request body is too large.\"}");
		return MHD_YES;
	}
	if (r->answered) {
		*upload_size = 0;	/* the rest of a refused body is dropped */
		return MHD_YES;
	}
	if (*upload_size) {
		if (since(&r->start) > (double)cfg->portal_request_timeout)
			return queue_error(s, conn, r, 408, "timeout",
					   "{\"error\":\"timeout\",\"message\":\"The request took too long.\"}");
		if (r->len + *upload_size > (size_t)cfg->portal_max_body) {
			wgotp_freezero(r->body, r->len);
			r->body = NULL;
			r->len = 0;
			return queue_error(s, conn, r, 413, "payload_too_large",
					   "{\"error\":\"payload_too_large\",\"message\":\"The request body is too large.\"}");
		}
		char *nb = realloc(r->body, r->len + *upload_size + 1);

		if (!nb)
			return MHD_NO;
		memcpy(nb + r->len, upload, *upload_size);
		r->body = nb;
		r->len += *upload_size;
		r->body[r->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}

	peer_address(conn, peer, sizeof(peer));
	client_address(peer, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For"),
		       cfg->portal_trusted_proxies, cfg->n_portal_trusted_proxies, client, sizeof(client));
	rq.method = method;
	rq.path = url;
	rq.cookie = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_COOKIE);
	rq.csrf = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, PORTAL_CSRF_HEADER);
	rq.content_type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.body = r->body;
	rq.body_len = r->len;
	rq.client = client;
	portal_handle(s->p, &rq, &rp);
	r->answered = true;
	return queue(s, conn, &rp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	if (!r)
		return;
	wgotp_freezero(r->body, r->len);	/* may hold a code */
	free(r);
	*con_cls = NULL;
}

int portal_server_new(struct portal *p, struct portal_server **out, struct wgotp_error *err)
{
	const struct wgotp_config *cfg = p->fe->cfg;
	struct portal_server *s;
	int ret;

	*out = NULL;
	if (!cfg->n_portal_listen)
		return wgotp_error_set(err, EINVAL, "%s: [Portal] Listen is empty: nothing to serve",
				       cfg->path ? cfg->path : "wgotp.conf");
	s = calloc(1, sizeof(*s));
	if (!s)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	s->p = p;
	if (cfg->portal_cert_file) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			ret = wgotp_error_set(err, ENOTSUP, "this libmicrohttpd has no TLS support");
			goto cleanup;
		}
		ret = wgotp_file_read(cfg->portal_cert_file, CERT_MAX, &s->cert, &s->cert_len, err);
		if (ret < 0)
			goto cleanup;
		ret = wgotp_secret_read(cfg->portal_key_file, KEY_MAX, &s->key, &s->key_len);
		if (ret == -EPERM) {
			ret = wgotp_error_set(err, EPERM,
					      "[Portal] PrivateKeyFile %s: must not be readable by others nor writable by group or others (chmod 600 or 640)",
					      cfg->portal_key_file);
			goto cleanup;
		}
		if (ret < 0) {
			ret = wgotp_error_set(err, -ret, "[Portal] PrivateKeyFile %s: %s",
					      cfg->portal_key_file, strerror(-ret));
			goto cleanup;
		}
		if (!strstr(s->cert, "-----BEGIN CERTIFICATE-----") || !strstr(s->key, "PRIVATE KEY-----")) {
			ret = wgotp_error_set(err, EINVAL,
					      "[Portal] CertificateFile and PrivateKeyFile must be PEM");
			goto cleanup;
		}
	}
	*out = s;
	s = NULL;
	ret = 0;
cleanup:
	portal_server_free(s);
	return ret;
}

int portal_server_start(struct portal_server *s, struct wgotp_error *err)
{
	const struct wgotp_config *cfg = s->p->fe->cfg;
	unsigned int per = (unsigned int)(cfg->portal_max_connections / cfg->n_portal_listen);

	if (per < 1)
		per = 1;
	for (int i = 0; i < cfg->n_portal_listen; i++) {
		const struct wgotp_listen *l = &cfg->portal_listen[i];
		unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
		/* behind a proxy every connection comes from it: no cap per address */
		unsigned int per_ip = cfg->n_portal_trusted_proxies ? 0 : (unsigned int)cfg->portal_max_conn_per_ip;

		if (l->addr.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		if (s->cert)
			flags |= MHD_USE_TLS;
		if (s->cert) {
			s->d[i] = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&l->addr,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->portal_threads,
				MHD_OPTION_CONNECTION_LIMIT, per,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->portal_request_timeout,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16384 + cfg->portal_max_body),
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_HTTPS_MEM_CERT, s->cert,
				MHD_OPTION_HTTPS_MEM_KEY, s->key,
				MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
				MHD_OPTION_END);
		} else {
			s->d[i] = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&l->addr,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->portal_threads,
				MHD_OPTION_CONNECTION_LIMIT, per,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->portal_request_timeout,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16384 + cfg->portal_max_body),
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
		}
		if (!s->d[i])
			return wgotp_error_set(err, EADDRNOTAVAIL, "[Portal] Listen %s: cannot listen there (in use, or not an address of this host)",
					       l->text);
		s->n = i + 1;
		if (s->cert)
			log_info("listening on https://%s", l->text);
		else
			log_warn("listening on http://%s: plain HTTP, on loopback only: put a TLS proxy in front (and set TrustedProxies)",
				 l->text);
	}
	return 0;
}

unsigned int portal_server_connections(struct portal_server *s)
{
	unsigned int n = 0;

	for (int i = 0; s && i < s->n; i++) {
		const union MHD_DaemonInfo *di =
			MHD_get_daemon_info(s->d[i], MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

		if (di)
			n += di->num_connections;
	}
	return n;
}

void portal_server_free(struct portal_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++)
		MHD_stop_daemon(s->d[i]);
	free(s->cert);
	wgotp_freezero(s->key, s->key_len + 1);
	free(s);
}
