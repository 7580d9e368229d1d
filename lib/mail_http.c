/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HTTPS requests for the token endpoint and Graph, bounded by a deadline.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl_lazy.h"
#include "log.h"
#include "mail_buf.h"
#include "mail_http.h"
#include "secret.h"

#define RETRY_DEFAULT_S 1
#define RETRY_MARGIN_MS 200	/* what a request needs at least after a wait */

void wgotp_deadline_start(struct wgotp_deadline *d, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, &d->end);
	d->end.tv_sec += ms / 1000;
	d->end.tv_nsec += (ms % 1000) * 1000000L;
	if (d->end.tv_nsec >= 1000000000L) {
		d->end.tv_sec++;
		d->end.tv_nsec -= 1000000000L;
	}
}

long wgotp_deadline_left_ms(const struct wgotp_deadline *d)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((d->end.tv_sec - now.tv_sec) * 1000 +
		      (d->end.tv_nsec - now.tv_nsec) / 1000000L);
}

bool wgotp_http_url_ok(const char *url)
{
	if (strncasecmp(url, "https://", 8) || !url[8] || url[8] == '/')
		return false;
	for (const char *c = url; *c; c++) {
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return false;
	}
	return true;
}

void wgotp_http_response_clear(struct wgotp_http_response *r)
{
	wgotp_freezero(r->body, r->len);
	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
}

int wgotp_http_parse_retry_after(const char *v, int64_t now, int64_t *secs)
{
	const struct wgotp_curl *cu;
	const char *p = v;
	int64_t n = 0;
	time_t t;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++) {
			if (n > 86400 * 365)
				return -ERANGE;
			n = n * 10 + (*p - '0');
		}
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p)
			return -EINVAL;
		*secs = n;
		return 0;
	}
	/* An HTTP date: libcurl's parser (loaded: a header is being read). */
	if (wgotp_curl_get(&cu, NULL) < 0)
		return -EINVAL;
	t = cu->getdate(p, NULL);
	if (t == (time_t)-1)
		return -EINVAL;
	*secs = (int64_t)t > now ? (int64_t)t - now : 0;
	return 0;
}

struct recv {
	struct wgotp_buf body;
	struct wgotp_http_response *r;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct recv *rc = arg;

	wgotp_buf_add(&rc->body, data, size * n);
	return rc->body.error ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct recv *rc = arg;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	char val[128];
	int64_t secs;

	if (len > sizeof(name) - 1 && len - (sizeof(name) - 1) < sizeof(val) &&
	    !strncasecmp(data, name, sizeof(name) - 1)) {
		memcpy(val, data + sizeof(name) - 1, len - (sizeof(name) - 1));
		val[len - (sizeof(name) - 1)] = '\0';
		if (wgotp_http_parse_retry_after(val, (int64_t)time(NULL), &secs) == 0)
			rc->r->retry_after = secs;
	} else if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		rc->r->retry_after = -1;	/* a new response (after 100 Continue) */
	}
	return len;
}

static int curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		return ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return EHOSTUNREACH;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return EPROTO;
	case CURLE_WRITE_ERROR:
		return EFBIG;
	case CURLE_OUT_OF_MEMORY:
		return ENOMEM;
	default:
		return EIO;
	}
}

int wgotp_http_post(const struct wgotp_http_request *req, const struct wgotp_deadline *dl,
		    struct wgotp_http_response *r, struct wgotp_error *err)
{
	struct recv rc = { .body = { .max = WGOTP_HTTP_BODY_MAX }, .r = r };
	struct curl_slist *hdrs = NULL, *h;
	char *auth = NULL, ctype[128];
	long left = wgotp_deadline_left_ms(dl);
	const struct wgotp_curl *cu;
	CURL *c = NULL;
	CURLcode cc;
	int ret;

	wgotp_http_response_clear(r);
	if (!wgotp_http_url_ok(req->url))
		return wgotp_error_set(err, EINVAL, "%s: only https:// URLs are used", req->url);
	if (left <= 0)
		return wgotp_error_set(err, ETIMEDOUT, "the mail time budget ran out");
	ret = wgotp_curl_get(&cu, err);
	if (ret < 0)
		return ret;
	c = cu->easy_init();
	if (!c)
		return wgotp_error_set(err, ENOMEM, "libcurl: cannot create a handle");

	snprintf(ctype, sizeof(ctype), "Content-Type: %s", req->content_type ? req->content_type : "");
	if ((h = cu->slist_append(hdrs, "Accept: application/json")))
		hdrs = h;
	if (h && req->body && (h = cu->slist_append(hdrs, ctype)))	/* a GET has no body */
		hdrs = h;
	if (h && req->bearer) {
		if (asprintf(&auth, "Authorization: Bearer %s", req->bearer) < 0)
			auth = NULL;
		h = auth ? cu->slist_append(hdrs, auth) : NULL;
		if (h)
			hdrs = h;
	}
	if (!h) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}

	wgotp_curl_setopt_ptr(cu, c, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_PROTOCOLS_STR, "https");
#else
	wgotp_curl_setopt_long(cu, c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	wgotp_curl_setopt_long(cu, c, CURLOPT_NOSIGNAL, 1L);
	wgotp_curl_setopt_long(cu, c, CURLOPT_FOLLOWLOCATION, 0L);
	wgotp_curl_setopt_long(cu, c, CURLOPT_SSL_VERIFYPEER, 1L);
	wgotp_curl_setopt_long(cu, c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (req->ca_file)
		wgotp_curl_setopt_ptr(cu, c, CURLOPT_CAINFO, req->ca_file);
	wgotp_curl_setopt_long(cu, c, CURLOPT_TIMEOUT_MS, left);
	wgotp_curl_setopt_long(cu, c, CURLOPT_CONNECTTIMEOUT_MS, left);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_HTTPHEADER, hdrs);
	if (req->body) {
		wgotp_curl_setopt_long(cu, c, CURLOPT_POST, 1L);
		/* Not COPYPOSTFIELDS: the body may hold a secret and stays ours to wipe. */
		wgotp_curl_setopt_ptr(cu, c, CURLOPT_POSTFIELDS, req->body);
		wgotp_curl_setopt_off(cu, c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else {
		wgotp_curl_setopt_long(cu, c, CURLOPT_HTTPGET, 1L);
	}
	wgotp_curl_setopt_fn(cu, c, CURLOPT_WRITEFUNCTION, on_body);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_WRITEDATA, &rc);
	wgotp_curl_setopt_fn(cu, c, CURLOPT_HEADERFUNCTION, on_header);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_HEADERDATA, &rc);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_ERRORBUFFER, r->curl_error);

	cc = cu->easy_perform(c);
	if (cc != CURLE_OK) {
		if (!r->curl_error[0])
			snprintf(r->curl_error, sizeof(r->curl_error), "%s", cu->easy_strerror(cc));
		if (cc == CURLE_OPERATION_TIMEDOUT)
			ret = wgotp_error_set(err, ETIMEDOUT, "%s: no answer within the mail time budget (%s)",
					      req->url, r->curl_error);
		else
			ret = wgotp_error_set(err, curl_errno(cc), "%s: %s", req->url, r->curl_error);
		goto cleanup;
	}
	cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	ret = wgotp_buf_take(&rc.body, &r->body, &r->len);
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "%s: cannot keep the answer", req->url);
		goto cleanup;
	}
	ret = 0;
cleanup:
	for (h = hdrs; h; h = h->next)
		wgotp_wipe(h->data, strlen(h->data));
	cu->slist_free_all(hdrs);
	wgotp_free_str(auth);
	wgotp_buf_free(&rc.body);
	if (c)
		cu->easy_cleanup(c);
	if (ret < 0) {
		long status = r->status;

		wgotp_http_response_clear(r);
		r->status = status;
	}
	return ret;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int wgotp_http_post_patient(const struct wgotp_http_request *req, const struct wgotp_deadline *dl,
			    const char *what, struct wgotp_http_response *r,
			    struct wgotp_error *err)
{
	int ret;

	for (int attempt = 1;; attempt++) {
		int64_t wait_s;
		long left;

		ret = wgotp_http_post(req, dl, r, err);
		if (ret < 0)
			return ret;
		r->retry_fits = true;
		if (r->status != 429 && r->status != 503)
			return 0;
		wait_s = r->retry_after >= 0 ? r->retry_after : RETRY_DEFAULT_S;
		left = wgotp_deadline_left_ms(dl);
		if (attempt >= WGOTP_HTTP_MAX_ATTEMPTS || wait_s * 1000 + RETRY_MARGIN_MS >= left) {
			r->retry_fits = attempt >= WGOTP_HTTP_MAX_ATTEMPTS;
			return 0;
		}
		log_warn("%s answered %ld; retrying after %lld s as it asks (%ld ms of the budget left)",
			 what, r->status, (long long)wait_s, left);
		sleep_ms((long)wait_s * 1000);
	}
}
