/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mail transports, built from [Mail] Transport: graph (Microsoft 365
 * Graph sendMail), smtp (STARTTLS or SMTPS; plain or XOAUTH2), sendmail.
 * The result is a struct wgotp_mailer (mailer.h) for the login flow.
 *
 * Every send is bounded by [Mail] Timeout (default 8 s): a RADIUS worker
 * never waits longer, and a send that cannot finish in time fails with
 * -ETIMEDOUT. Errors come back in err (the caller logs them; they name
 * Graph's error code and message, never the code or a secret); retries
 * after a 401, 429 or 503 are logged as warnings when they happen.
 *
 * send_code may be called from many threads at once (FreeRADIUS workers):
 * the mailer's state is read-only after it is built; each send has its
 * own libcurl handle or child process. Building a mailer loads nothing:
 * libcurl is loaded at the first send (curl_lazy.h), and a send fails
 * (and the login with it) when it cannot be.
 */
#ifndef WGOTP_MAIL_H
#define WGOTP_MAIL_H

#include "conf.h"
#include "error.h"
#include "mailer.h"
#include "store.h"

/*
 * Check the mail settings, load the templates and credentials and fill
 * *out. store (may be NULL) holds the shared OAuth token cache and must
 * outlive the mailer. WGOTP_MAIL_NONE: -ENOSYS. Free with
 * out->free(out->arg).
 */
int wgotp_mailer_from_config(const struct wgotp_config *cfg, struct wgotp_store *store,
			     struct wgotp_mailer *out, struct wgotp_error *err);

/* Send a fixed text (no template placeholder) through a mailer made
 * here: an invitation (wgotpctl invite). 0 or a negative errno. */
int wgotp_mailer_send_text(const struct wgotp_mailer *m, const char *to, const char *subject,
			   const char *body, int64_t now, struct wgotp_error *err);

/* The transport's name ("graph", "smtp", "sendmail") of a mailer made here. */
const char *wgotp_mailer_transport(const struct wgotp_mailer *m);

/*
 * Load now what the transport loads at its first send (libcurl for graph
 * and smtp; nothing for sendmail and none), so that a server that starts
 * once (rlm_wgotp, wgotpctl check-config) reports a missing library at
 * startup. A PAM login does not: a TOTP login never loads libcurl.
 */
int wgotp_mail_preload(const struct wgotp_config *cfg, struct wgotp_error *err);

#endif
