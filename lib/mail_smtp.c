/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SMTP transport (libcurl, loaded at the first send): smtp:// with STARTTLS required, or smtps://;
 * no authentication, AUTH PLAIN/LOGIN with a password read from a file at
 * each send, or XOAUTH2 with a token from the Microsoft identity platform
 * (Exchange Online SMTP AUTH). An XOAUTH2 login that is refused refreshes
 * the token once.
 *
 * libcurl keeps its own copies of the password and the bearer token while
 * the handle lives; they are freed (not wiped) by cu->easy_cleanup().
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl_lazy.h"
#include "log.h"
#include "mail_transport.h"
#include "oauth.h"
#include "secret.h"

#define PASSWORD_MAX 4096

struct smtp {
	char *url;
	enum wgotp_smtp_auth auth;
	char *username;
	char *password_file;
	char *scope;
	char *ca_file;
	bool oauth_ready;
	struct wgotp_oauth oauth;
};

struct upload {
	const char *data;
	size_t len, pos;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t left = u->len - u->pos, take = size * n < left ? size * n : left;

	memcpy(buf, u->data + u->pos, take);
	u->pos += take;
	return take;
}

static size_t on_discard(char *data, size_t size, size_t n, void *arg)
{
	return size * n;
}

/* One SMTP transaction. *login_denied tells the caller a refreshed token
 * might help. */
static int smtp_once(struct smtp *s, const struct wgotp_mail_message *msg, const char *text,
		     size_t len, const char *secret, const struct wgotp_deadline *dl,
		     bool *login_denied, struct wgotp_error *err)
{
	struct upload up = { .data = text, .len = len };
	struct curl_slist *rcpt = NULL;
	char from[300], to[300], ebuf[CURL_ERROR_SIZE] = "";
	long left = wgotp_deadline_left_ms(dl), code = 0;
	const struct wgotp_curl *cu;
	CURL *c = NULL;
	CURLcode cc;
	int ret;

	*login_denied = false;
	if (left <= 0)
		return wgotp_error_set(err, ETIMEDOUT, "the mail time budget ran out");
	ret = wgotp_curl_get(&cu, err);
	if (ret < 0)
		return ret;
	c = cu->easy_init();
	if (!c)
		return wgotp_error_set(err, ENOMEM, "libcurl: cannot create a handle");
	snprintf(from, sizeof(from), "<%s>", msg->from);
	snprintf(to, sizeof(to), "<%s>", msg->to);
	rcpt = cu->slist_append(NULL, to);
	if (!rcpt) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}

	wgotp_curl_setopt_ptr(cu, c, CURLOPT_URL, s->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#else
	wgotp_curl_setopt_long(cu, c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS));
#endif
	wgotp_curl_setopt_long(cu, c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	wgotp_curl_setopt_long(cu, c, CURLOPT_SSL_VERIFYPEER, 1L);
	wgotp_curl_setopt_long(cu, c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->ca_file)
		wgotp_curl_setopt_ptr(cu, c, CURLOPT_CAINFO, s->ca_file);
	wgotp_curl_setopt_long(cu, c, CURLOPT_NOSIGNAL, 1L);
	wgotp_curl_setopt_long(cu, c, CURLOPT_TIMEOUT_MS, left);
	wgotp_curl_setopt_long(cu, c, CURLOPT_CONNECTTIMEOUT_MS, left);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_MAIL_FROM, from);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_MAIL_RCPT, rcpt);
	wgotp_curl_setopt_long(cu, c, CURLOPT_UPLOAD, 1L);
	wgotp_curl_setopt_fn(cu, c, CURLOPT_READFUNCTION, on_read);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_READDATA, &up);
	wgotp_curl_setopt_off(cu, c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	wgotp_curl_setopt_fn(cu, c, CURLOPT_WRITEFUNCTION, on_discard);
	wgotp_curl_setopt_ptr(cu, c, CURLOPT_ERRORBUFFER, ebuf);
	switch (s->auth) {
	case WGOTP_SMTP_AUTH_NONE:
		break;
	case WGOTP_SMTP_AUTH_PLAIN:
		wgotp_curl_setopt_ptr(cu, c, CURLOPT_USERNAME, s->username);
		wgotp_curl_setopt_ptr(cu, c, CURLOPT_PASSWORD, secret);
		break;
	case WGOTP_SMTP_AUTH_XOAUTH2:
		wgotp_curl_setopt_ptr(cu, c, CURLOPT_USERNAME, s->username);
		wgotp_curl_setopt_ptr(cu, c, CURLOPT_XOAUTH2_BEARER, secret);
		wgotp_curl_setopt_ptr(cu, c, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
		break;
	}

	cc = cu->easy_perform(c);
	cu->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (!ebuf[0])
		snprintf(ebuf, sizeof(ebuf), "%s", cu->easy_strerror(cc));
	switch (cc) {
	case CURLE_OK:
		ret = 0;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		ret = wgotp_error_set(err, ETIMEDOUT, "SMTP %s: no answer within the mail time budget (%s)",
				      s->url, ebuf);
		break;
	case CURLE_LOGIN_DENIED:
		*login_denied = true;
		ret = wgotp_error_set(err, EACCES, "SMTP %s: authentication refused (%ld)", s->url, code);
		break;
	case CURLE_USE_SSL_FAILED:
		ret = wgotp_error_set(err, EPROTO, "SMTP %s: the server does not offer STARTTLS", s->url);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
		ret = wgotp_error_set(err, EPROTO, "SMTP %s: TLS: %s", s->url, ebuf);
		break;
	case CURLE_COULDNT_CONNECT:
		ret = wgotp_error_set(err, ECONNREFUSED, "SMTP %s: %s", s->url, ebuf);
		break;
	default:
		ret = wgotp_error_set(err, EIO, "SMTP %s: %s (last reply %ld)", s->url, ebuf, code);
		break;
	}
cleanup:
	cu->slist_free_all(rcpt);
	cu->easy_cleanup(c);
	return ret;
}

static int smtp_send(void *state, const struct wgotp_mail_message *msg, int64_t now,
		     const struct wgotp_deadline *dl, struct wgotp_error *err)
{
	struct smtp *s = state;
	char *text = NULL, *secret = NULL;
	size_t len = 0, secretlen = 0;
	bool denied = false;
	int ret;

	ret = wgotp_mail_rfc5322(msg, "\r\n", &text, &len, err);
	if (ret < 0)
		return ret;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (s->auth == WGOTP_SMTP_AUTH_PLAIN) {
			ret = wgotp_secret_read(s->password_file, PASSWORD_MAX, &secret, &secretlen);
			if (ret < 0) {
				ret = wgotp_error_set(err, -ret, "[SMTP] PasswordFile %s: %s",
						      s->password_file, strerror(-ret));
				goto cleanup;
			}
		} else if (s->auth == WGOTP_SMTP_AUTH_XOAUTH2) {
			ret = wgotp_oauth_token(&s->oauth, s->scope, now, attempt > 0, dl, &secret, err);
			if (ret < 0)
				goto cleanup;
			secretlen = strlen(secret);
		}
		ret = smtp_once(s, msg, text, len, secret, dl, &denied, err);
		wgotp_freezero(secret, secretlen);
		secret = NULL;
		secretlen = 0;
		if (ret == 0 || !denied || s->auth != WGOTP_SMTP_AUTH_XOAUTH2)
			break;
		if (!attempt)
			log_warn("mail: the SMTP server refused the XOAUTH2 token; asking for a new one");
	}
cleanup:
	wgotp_freezero(secret, secretlen);
	wgotp_freezero(text, len);
	return ret;
}

static void smtp_free(void *state)
{
	struct smtp *s = state;

	if (!s)
		return;
	if (s->oauth_ready)
		wgotp_oauth_clear(&s->oauth);
	free(s->url);
	free(s->username);
	free(s->password_file);
	free(s->scope);
	free(s->ca_file);
	free(s);
}

int wgotp_mail_smtp_new(const struct wgotp_config *cfg, struct wgotp_store *store,
			struct wgotp_mail_sender *out, struct wgotp_error *err)
{
	const char *url = cfg->smtp_url;
	const char *user = cfg->smtp_username ? cfg->smtp_username : cfg->mail_from;
	char *pw = NULL;
	size_t pwlen = 0;
	struct smtp *s;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!url || (strncasecmp(url, "smtp://", 7) && strncasecmp(url, "smtps://", 8)))
		return wgotp_error_set(err, EINVAL,
				       "[SMTP] URL must be smtp://HOST[:PORT] (STARTTLS is required) or smtps://HOST[:PORT]");
	for (const char *c = url; *c; c++) {
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return wgotp_error_set(err, EINVAL, "[SMTP] URL has a space or control character");
	}
	if (cfg->smtp_auth != WGOTP_SMTP_AUTH_NONE && (!user || !wgotp_mail_header_ok(user)))
		return wgotp_error_set(err, EINVAL, "[SMTP] Username (or [Mail] From) is needed for Auth");
	if (cfg->smtp_auth == WGOTP_SMTP_AUTH_PLAIN) {
		if (!cfg->smtp_password_file)
			return wgotp_error_set(err, EINVAL, "[SMTP] Auth = plain needs PasswordFile");
		ret = wgotp_secret_read(cfg->smtp_password_file, PASSWORD_MAX, &pw, &pwlen);
		wgotp_freezero(pw, pwlen);
		if (ret == -EPERM)
			return wgotp_error_set(err, EPERM,
					       "[SMTP] PasswordFile %s: readable or writable by others (chmod 600 or 640)",
					       cfg->smtp_password_file);
		if (ret < 0)
			return wgotp_error_set(err, -ret, "[SMTP] PasswordFile %s: %s",
					       cfg->smtp_password_file, strerror(-ret));
	}
	if (cfg->smtp_auth == WGOTP_SMTP_AUTH_XOAUTH2 && (!cfg->smtp_oauth_scope || !*cfg->smtp_oauth_scope))
		return wgotp_error_set(err, EINVAL, "[SMTP] OAuthScope may not be empty");

	s = calloc(1, sizeof(*s));
	if (!s)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	s->auth = cfg->smtp_auth;
	if (s->auth == WGOTP_SMTP_AUTH_XOAUTH2) {
		ret = wgotp_oauth_init(&s->oauth, cfg, store, err);
		if (ret < 0)
			goto cleanup;
		s->oauth_ready = true;
		s->scope = strdup(cfg->smtp_oauth_scope);
	}
	s->url = strdup(url);
	if (user)
		s->username = strdup(user);
	if (cfg->smtp_password_file)
		s->password_file = strdup(cfg->smtp_password_file);
	if (cfg->mail_ca_file)
		s->ca_file = strdup(cfg->mail_ca_file);
	if (!s->url || (user && !s->username) || (s->oauth_ready && !s->scope) ||
	    (cfg->smtp_password_file && !s->password_file) || (cfg->mail_ca_file && !s->ca_file)) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	out->name = "smtp";
	out->send = smtp_send;
	out->free = smtp_free;
	out->state = s;
	s = NULL;
	ret = 0;
cleanup:
	smtp_free(s);
	return ret;
}
