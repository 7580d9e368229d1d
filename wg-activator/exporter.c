// SPDX-License-Identifier: GPL-2.0-or-later
/* wg-activator's Prometheus endpoint: see exporter.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "addrport.h"
#include "exporter.h"
#include "flow.h"
#include "http_head.h"
#include "log.h"
#include "metrics.h"
#include "reconcile.h"

#define MT_HEAD_MAX 4096	/* bytes of request head read, at most */
#define MT_IO_TIMEOUT_MS 2000	/* per read or write of one connection */
#define MT_LATENESS_BUCKETS 9

/* Upper bounds of the expiry lateness buckets, in seconds (+Inf last). */
static const double lateness_bounds[MT_LATENESS_BUCKETS - 1] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5,
};

/* The daemon's own figures: written by the loop thread, read by the
 * endpoint's. */
static struct {
	uint64_t events[ACT_EV_N][WGOTP_MO_N];
	uint64_t expiries;
	uint64_t lateness_bucket[MT_LATENESS_BUCKETS];	/* not cumulative */
	uint64_t lateness_sum_ns;
	uint64_t reconcile_runs, repairs_added, repairs_removed;
	uint64_t store_errors;
	uint64_t live;
} am;

struct act_metrics_server {
	struct activator *a;
	struct wgotp_metrics *login;	/* the front ends' file, or NULL */
	int fd;
	int stop[2];
	pthread_t thread;
	bool running;
};

static void add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void act_metrics_event(enum act_event ev, const char *origin, uint64_t n)
{
	if ((unsigned)ev < ACT_EV_N)
		add(&am.events[ev][wgotp_metrics_origin(origin)], n);
}

void act_metrics_expiry(int64_t lateness_ns)
{
	int b;

	if (lateness_ns < 0)
		lateness_ns = 0;
	for (b = 0; b < MT_LATENESS_BUCKETS - 1; b++)
		if ((double)lateness_ns <= lateness_bounds[b] * 1e9)
			break;
	add(&am.expiries, 1);
	add(&am.lateness_bucket[b], 1);
	add(&am.lateness_sum_ns, (uint64_t)lateness_ns);
}

void act_metrics_reconcile(uint64_t added, uint64_t removed)
{
	add(&am.reconcile_runs, 1);
	add(&am.repairs_added, added);
	add(&am.repairs_removed, removed);
}

void act_metrics_store_error(void)
{
	add(&am.store_errors, 1);
}

void act_metrics_live(uint64_t n)
{
	__atomic_store_n(&am.live, n, __ATOMIC_RELAXED);
}

/* ---- the exposition ---------------------------------------------------- */

static const char *const origin_names[WGOTP_MO_N] = { "radius", "pam", "admin", "portal", "other" };
static const char *const method_names[WGOTP_METRICS_METHODS] = { "totp", "email" };
static const char *const result_names[WGOTP_MR_N] = { "accept", "challenge", "reject", "error" };
static const char *const transport_names[WGOTP_METRICS_TRANSPORTS] = {
	"none", "graph", "smtp", "sendmail",
};

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(FILE *f, const char *name, const char *labels, const double *bounds,
		      const uint64_t *buckets, int n, double sum)
{
	uint64_t cum = 0;

	for (int b = 0; b < n; b++) {
		cum += get(&buckets[b]);
		if (b < n - 1)
			fprintf(f, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels,
				*labels ? "," : "", bounds[b], cum);
		else
			fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels,
				*labels ? "," : "", cum);
	}
	fprintf(f, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", sum);
	fprintf(f, "%s_count%s%s%s %" PRIu64 "\n", name, *labels ? "{" : "", labels,
		*labels ? "}" : "", cum);
}

/* Devices by badge, from the directory as it is now. */
static void badges(struct activator *a, uint64_t *inactive, uint64_t *no2fa)
{
	const struct wgotp_directory *dir = wgotp_dir_cache_get(a->dir);
	uint64_t managed = 0, live = get(&am.live);

	*no2fa = 0;
	for (size_t i = 0; dir && i < dir->n_users; i++) {
		const struct wgotp_user *u = &dir->users[i];

		for (size_t k = 0; k < u->n_devices; k++) {
			if (rc_managed(u, &u->devices[k]))
				managed++;
			else
				(*no2fa)++;
		}
	}
	*inactive = managed > live ? managed - live : 0;
	if (dir)
		wgotp_dir_cache_put(a->dir, dir);
}

static void render_daemon(FILE *f, struct activator *a)
{
	static const char *const ev_names[ACT_EV_N] = {
		"wgotp_activations_total", "wgotp_extensions_total", "wgotp_deactivations_total",
	};
	static const char *const ev_help[ACT_EV_N] = {
		"Sessions started, by the front end that asked.",
		"Live sessions whose deadline a new code moved, by the front end that asked.",
		"Sessions ended on request before their deadline, by the front end that asked.",
	};
	uint64_t inactive, no2fa;

	family(f, "wgotp_build_info", "gauge", "A constant 1, labelled with the version of wgotp.");
	fprintf(f, "wgotp_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	for (int e = 0; e < ACT_EV_N; e++) {
		family(f, ev_names[e], "counter", ev_help[e]);
		for (int o = 0; o < WGOTP_MO_N; o++)
			fprintf(f, "%s{frontend=\"%s\"} %" PRIu64 "\n", ev_names[e], origin_names[o],
				get(&am.events[e][o]));
	}
	family(f, "wgotp_expiries_total", "counter", "Sessions that ended at their deadline.");
	fprintf(f, "wgotp_expiries_total %" PRIu64 "\n", get(&am.expiries));
	family(f, "wgotp_expiry_lateness_seconds", "histogram",
	       "How long after its deadline an expired session's peer left the interface.");
	histogram(f, "wgotp_expiry_lateness_seconds", "", lateness_bounds, am.lateness_bucket,
		  MT_LATENESS_BUCKETS, (double)get(&am.lateness_sum_ns) / 1e9);
	badges(a, &inactive, &no2fa);
	family(f, "wgotp_devices", "gauge",
	       "Enrolled devices by badge: active (a live session), inactive (needs a code, no "
	       "live session), no_2fa (always on the interface).");
	fprintf(f, "wgotp_devices{badge=\"active\"} %" PRIu64 "\n", get(&am.live));
	fprintf(f, "wgotp_devices{badge=\"inactive\"} %" PRIu64 "\n", inactive);
	fprintf(f, "wgotp_devices{badge=\"no_2fa\"} %" PRIu64 "\n", no2fa);
	family(f, "wgotp_reconcile_runs_total", "counter",
	       "Reconciles of the interface with the stored sessions.");
	fprintf(f, "wgotp_reconcile_runs_total %" PRIu64 "\n", get(&am.reconcile_runs));
	family(f, "wgotp_reconcile_repairs_total", "counter",
	       "Peers a reconcile had to add or remove, by action.");
	fprintf(f, "wgotp_reconcile_repairs_total{action=\"added\"} %" PRIu64 "\n",
		get(&am.repairs_added));
	fprintf(f, "wgotp_reconcile_repairs_total{action=\"removed\"} %" PRIu64 "\n",
		get(&am.repairs_removed));
	family(f, "wgotp_activator_store_errors_total", "counter",
	       "Operations of wg-activator on the state store that failed.");
	fprintf(f, "wgotp_activator_store_errors_total %" PRIu64 "\n", get(&am.store_errors));
	family(f, "wgotp_activator_start_time_seconds", "gauge",
	       "When wg-activator started, in seconds since the epoch.");
	fprintf(f, "wgotp_activator_start_time_seconds %" PRId64 "\n", a->started);
}

static void render_login(FILE *f, const struct wgotp_metrics *login)
{
	struct wgotp_metrics_data *d = calloc(1, sizeof(*d));
	double bounds_s[WGOTP_METRICS_MAIL_BUCKETS - 1];
	uint64_t errors[WGOTP_MO_N] = { 0 };

	if (!d)
		return;
	wgotp_metrics_read(login, d);
	family(f, "wgotp_login_decisions_total", "counter",
	       "Decisions of the login flow (a challenge and its answer are two), by front end, "
	       "method, result and reason.");
	for (int o = 0; o < WGOTP_MO_N; o++)
		for (int m = 0; m < WGOTP_METRICS_METHODS; m++)
			for (int r = 0; r < WGOTP_MR_N; r++)
				for (int why = 0; why < WGOTP_METRICS_REASONS; why++) {
					uint64_t n = d->decisions[o][m][r][why];

					if (!n)
						continue;
					if (r == WGOTP_MR_ERROR)
						errors[o] += n;
					fprintf(f, "wgotp_login_decisions_total{frontend=\"%s\",method=\"%s\","
						"result=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
						origin_names[o], method_names[m], result_names[r],
						why < WGOTP_N_REASONS ? wgotp_reason_str((enum wgotp_reason)why)
								      : "error", n);
				}
	family(f, "wgotp_login_errors_total", "counter",
	       "Login steps that ended in an error (the store or the mail transport failed), by "
	       "front end.");
	for (int o = 0; o < WGOTP_MO_N; o++)
		fprintf(f, "wgotp_login_errors_total{frontend=\"%s\"} %" PRIu64 "\n", origin_names[o],
			errors[o]);
	family(f, "wgotp_mail_sends_total", "counter",
	       "Code mails handed to the mail transport, by transport and result.");
	for (int t = 1; t < WGOTP_METRICS_TRANSPORTS; t++) {
		fprintf(f, "wgotp_mail_sends_total{transport=\"%s\",result=\"sent\"} %" PRIu64 "\n",
			transport_names[t], d->mail_sent[t]);
		fprintf(f, "wgotp_mail_sends_total{transport=\"%s\",result=\"failed\"} %" PRIu64 "\n",
			transport_names[t], d->mail_failed[t]);
	}
	for (int b = 0; b < WGOTP_METRICS_MAIL_BUCKETS - 1; b++)
		bounds_s[b] = (double)wgotp_metrics_mail_bounds_ms[b] / 1000.0;
	family(f, "wgotp_mail_send_duration_seconds", "histogram",
	       "How long the mail transport took to take a code mail (or to fail), by transport.");
	for (int t = 1; t < WGOTP_METRICS_TRANSPORTS; t++) {
		char labels[48];

		snprintf(labels, sizeof(labels), "transport=\"%s\"", transport_names[t]);
		histogram(f, "wgotp_mail_send_duration_seconds", labels, bounds_s, d->mail_bucket[t],
			  WGOTP_METRICS_MAIL_BUCKETS, (double)d->mail_sum_us[t] / 1e6);
	}
	free(d);
}

char *act_metrics_render(struct activator *a, const struct wgotp_metrics *login, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	render_daemon(f, a);
	if (login)
		render_login(f, login);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- the endpoint ------------------------------------------------------ */

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void serve(struct act_metrics_server *s, int c)
{
	static const char *const reason[] = { [0] = "OK", [1] = "Bad Request", [2] = "Not Found",
					      [3] = "Method Not Allowed" };
	struct timeval tv = { MT_IO_TIMEOUT_MS / 1000, (MT_IO_TIMEOUT_MS % 1000) * 1000 };
	char head[MT_HEAD_MAX + 1], hdr[256];
	char *body = NULL;
	size_t got = 0, blen = 0;
	int status = 400, is_head = 0, ri, n;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* The head, whole, within the limits. */
	while (got < MT_HEAD_MAX) {
		ssize_t r = read(c, head + got, MT_HEAD_MAX - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		head[got] = '\0';
		if (memmem(head, got, "\r\n\r\n", 4))
			break;
	}
	if (!got || !memmem(head, got, "\r\n\r\n", 4)) {
		if (got < MT_HEAD_MAX)
			goto cleanup;	/* timed out or closed: nothing to say */
	} else {
		status = act_metrics_route(head, got, &is_head);
	}
	if (status == 200) {
		body = act_metrics_render(s->a, s->login, &blen);
		if (!body)
			status = 500;
	}
	ri = status == 200 ? 0 : status == 404 ? 2 : status == 405 ? 3 : 1;
	if (status == 500) {
		n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
			     "Connection: close\r\n\r\n");
	} else if (status == 200) {
		n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 200 OK\r\n"
			     "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n", blen);
	} else {
		n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\n%sContent-Length: 0\r\n"
			     "Connection: close\r\n\r\n", status, reason[ri],
			     status == 405 ? "Allow: GET, HEAD\r\n" : "");
	}
	if (write_all(c, hdr, (size_t)n) == 0 && body && !is_head)
		write_all(c, body, blen);
	/* Unread input would make close() reset the connection and lose the
	 * reply: read what the client still sends, a bounded amount. */
	shutdown(c, SHUT_WR);
	for (size_t drained = 0; drained < 16 * MT_HEAD_MAX;) {
		ssize_t r = read(c, head, MT_HEAD_MAX);

		if (r <= 0)
			break;
		drained += (size_t)r;
	}
cleanup:
	free(body);
}

static void *server_main(void *arg)
{
	struct act_metrics_server *s = arg;
	struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN }, { .fd = s->stop[0], .events = POLLIN } };

	for (;;) {
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err("metrics: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve(s, c);
		close(c);
	}
	return NULL;
}

int act_metrics_start(struct activator *a, struct act_metrics_server **out,
		      struct wgotp_error *err)
{
	const struct wgotp_config *cfg = a->cfg;
	struct act_metrics_server *s;
	struct wgotp_error merr = { "" };
	struct sockaddr_storage ss;
	char path[4096];
	socklen_t slen;
	int one = 1, e, ret;

	*out = NULL;
	if (!cfg->metrics_listen)
		return 0;
	if (wgotp_addrport_parse(cfg->metrics_listen, &ss, &slen) < 0)
		return wgotp_error_set(err, EINVAL, "%s: [Metrics] Listen: \"%s\" is not ADDRESS:PORT",
				       cfg->path, cfg->metrics_listen);
	s = calloc(1, sizeof(*s));
	if (!s)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	s->a = a;
	s->fd = -1;
	s->stop[0] = s->stop[1] = -1;
	if (wgotp_metrics_path(cfg, path, sizeof(path)) == 0 &&
	    wgotp_metrics_open(path, &s->login, &merr) < 0)
		log_warn("%s: the login figures are left out of /metrics", merr.msg);
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->fd, (struct sockaddr *)&ss, slen) < 0 || listen(s->fd, 16) < 0 ||
	    pipe2(s->stop, O_CLOEXEC) < 0) {
		e = errno;
		ret = wgotp_error_set(err, e, "[Metrics] Listen = %s: %s", cfg->metrics_listen,
				      strerror(e));
		goto cleanup;
	}
	e = pthread_create(&s->thread, NULL, server_main, s);
	if (e) {
		ret = wgotp_error_set(err, e, "metrics: thread: %s", strerror(e));
		goto cleanup;
	}
	s->running = true;
	if (!wgotp_addrport_loopback(&ss))
		log_info("metrics: /metrics on %s, not a loopback address: anyone who reaches it "
			 "sees the figures (no user names)", cfg->metrics_listen);
	*out = s;
	s = NULL;
	ret = 0;
cleanup:
	act_metrics_stop(s);
	return ret;
}

void act_metrics_stop(struct act_metrics_server *s)
{
	if (!s)
		return;
	if (s->running) {
		char x = 0;

		if (write(s->stop[1], &x, 1) != 1)
			pthread_cancel(s->thread);
		pthread_join(s->thread, NULL);
	}
	if (s->fd >= 0)
		close(s->fd);
	if (s->stop[0] >= 0)
		close(s->stop[0]);
	if (s->stop[1] >= 0)
		close(s->stop[1]);
	wgotp_metrics_close(s->login);
	free(s);
}
