/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HTTPS for the mail transports (token endpoint, Graph): libcurl (loaded
 * at the first request, curl_lazy.h), TLS verified, no redirects, no
 * signals, every request bounded by what is left of the send's time
 * budget. Response bodies are kept in wiping buffers; an Authorization
 * header is wiped before it is freed.
 */
#ifndef WGOTP_MAIL_HTTP_H
#define WGOTP_MAIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

#define WGOTP_HTTP_BODY_MAX (256 * 1024)
#define WGOTP_HTTP_MAX_ATTEMPTS 3	/* one try and two after Retry-After */

/* The time budget of one send (CLOCK_MONOTONIC). */
struct wgotp_deadline {
	struct timespec end;
};

void wgotp_deadline_start(struct wgotp_deadline *d, long ms);
/* Milliseconds left; 0 or less once it is over. */
long wgotp_deadline_left_ms(const struct wgotp_deadline *d);

struct wgotp_http_request {
	const char *url;		/* https:// only */
	const char *content_type;
	const char *body;		/* NULL: a GET (Graph reads), no content type */
	size_t body_len;
	const char *bearer;		/* secret: "Authorization: Bearer ..." or NULL */
	const char *ca_file;		/* NULL: the system's CAs */
};

struct wgotp_http_response {
	long status;			/* 0 when no HTTP answer came */
	char *body;			/* NUL-terminated; may hold a token */
	size_t len;
	int64_t retry_after;		/* seconds; -1 when absent */
	bool retry_fits;		/* a 429/503 whose wait did not fit the budget: false */
	char curl_error[256];		/* libcurl's reason when status is 0 */
};

void wgotp_http_response_clear(struct wgotp_http_response *r);

/*
 * POST once (a GET when req->body is NULL). 0 when an HTTP answer came (any status, see r->status);
 * -ETIMEDOUT when the budget ran out, -ECONNREFUSED, -EHOSTUNREACH,
 * -EPROTO (TLS) or -EIO otherwise, with err set.
 */
int wgotp_http_post(const struct wgotp_http_request *req, const struct wgotp_deadline *dl,
		    struct wgotp_http_response *r, struct wgotp_error *err);

/*
 * POST, and after a 429 or 503 wait as Retry-After asks (1 s if it does
 * not say) and try again, as long as the wait and a bit of time for the
 * request fit in the budget, at most WGOTP_HTTP_MAX_ATTEMPTS times. The
 * last answer is returned as it came; r->retry_fits tells whether the
 * caller stopped for lack of budget.
 */
int wgotp_http_post_patient(const struct wgotp_http_request *req, const struct wgotp_deadline *dl,
			    const char *what, struct wgotp_http_response *r,
			    struct wgotp_error *err);

/* Retry-After: delta-seconds or an HTTP date (relative to now; -EINVAL
 * when libcurl, which parses dates, cannot be loaded). */
int wgotp_http_parse_retry_after(const char *v, int64_t now, int64_t *secs);

/* An https:// URL with a host and no space or control character. */
bool wgotp_http_url_ok(const char *url);

#endif
