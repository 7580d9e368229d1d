/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mailer the login flow calls: compose the code mail from the
 * templates, hand it to the configured transport within the time budget.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curl_lazy.h"
#include "mail.h"
#include "mail_msg.h"
#include "mail_transport.h"
#include "secret.h"

struct mailer {
	struct wgotp_mail_sender t;
	char *from;
	char *subject;		/* template */
	char *body;		/* template */
	char *warn_subject;	/* template */
	char *warn_body;	/* template */
	char *link;		/* [Portal] PublicURL, in the warning */
	char host[256];
	long timeout_ms;
};

static int mailer_send(void *arg, const struct wgotp_mail_code *m, struct wgotp_error *err)
{
	struct mailer *ml = arg;
	struct wgotp_mail_message msg = { 0 };
	struct wgotp_deadline dl;
	int ret;

	wgotp_deadline_start(&dl, ml->timeout_ms);
	ret = wgotp_mail_compose(ml->subject, ml->body, ml->from, ml->host, m, &msg, err);
	if (ret < 0)
		return ret;
	ret = ml->t.send(ml->t.state, &msg, m->now, &dl, err);
	wgotp_mail_message_clear(&msg);
	return ret;
}

static int mailer_send_warn(void *arg, const struct wgotp_mail_warn *m, struct wgotp_error *err)
{
	struct mailer *ml = arg;
	struct wgotp_mail_message msg = { 0 };
	struct wgotp_mail_warn w = *m;
	struct wgotp_deadline dl;
	int ret;

	if (!w.link)
		w.link = ml->link;
	wgotp_deadline_start(&dl, ml->timeout_ms);
	ret = wgotp_mail_compose_warn(ml->warn_subject, ml->warn_body, ml->from, ml->host, &w,
				      &msg, err);
	if (ret < 0)
		return ret;
	ret = ml->t.send(ml->t.state, &msg, m->now, &dl, err);
	wgotp_mail_message_clear(&msg);
	return ret;
}

int wgotp_mailer_send_text(const struct wgotp_mailer *m, const char *to, const char *subject,
			   const char *body, int64_t now, struct wgotp_error *err)
{
	/* no placeholder in the text: the code is never expanded */
	const struct wgotp_mail_code mc = { .to = to, .code = "-", .now = now };
	struct mailer *ml;
	struct wgotp_mail_message msg = { 0 };
	struct wgotp_deadline dl;
	int ret;

	if (!m || m->send_code != mailer_send)
		return wgotp_error_set(err, ENOSYS, "no mail transport");
	if (strstr(subject, "%{") || strstr(body, "%{"))
		return wgotp_error_set(err, EINVAL, "the text holds a placeholder");
	ml = m->arg;
	wgotp_deadline_start(&dl, ml->timeout_ms);
	ret = wgotp_mail_compose(subject, body, ml->from, ml->host, &mc, &msg, err);
	if (ret < 0)
		return ret;
	ret = ml->t.send(ml->t.state, &msg, now, &dl, err);
	wgotp_mail_message_clear(&msg);
	return ret;
}

static void mailer_free(void *arg)
{
	struct mailer *ml = arg;

	if (!ml)
		return;
	if (ml->t.free)
		ml->t.free(ml->t.state);
	free(ml->from);
	free(ml->subject);
	free(ml->body);
	free(ml->warn_subject);
	free(ml->warn_body);
	free(ml->link);
	free(ml);
}

const char *wgotp_mailer_transport(const struct wgotp_mailer *m)
{
	if (!m || m->send_code != mailer_send)
		return NULL;
	return ((const struct mailer *)m->arg)->t.name;
}

int wgotp_mailer_from_config(const struct wgotp_config *cfg, struct wgotp_store *store,
			     struct wgotp_mailer *out, struct wgotp_error *err)
{
	struct mailer *ml = NULL;
	char why[sizeof(err->msg)];
	int ret;

	memset(out, 0, sizeof(*out));
	if (cfg->mail_transport == WGOTP_MAIL_NONE)
		return wgotp_error_set(err, ENOSYS,
				       "[Mail] Transport is none: email codes cannot be delivered (set graph, smtp or sendmail)");
	if (!cfg->mail_from || !wgotp_mail_address_ok(cfg->mail_from))
		return wgotp_error_set(err, EINVAL, "[Mail] From must be a plain address (user@example.com)");
	ml = calloc(1, sizeof(*ml));
	if (!ml)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	ml->timeout_ms = cfg->mail_timeout_ms > 0 ? cfg->mail_timeout_ms : 8000;
	if (gethostname(ml->host, sizeof(ml->host) - 1) < 0 || !ml->host[0])
		snprintf(ml->host, sizeof(ml->host), "localhost");

	ml->from = strdup(cfg->mail_from);
	ml->subject = strdup(cfg->mail_subject && *cfg->mail_subject ?
			     cfg->mail_subject : wgotp_mail_default_subject);
	if (!ml->from || !ml->subject) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	ret = wgotp_mail_template_check(ml->subject, true, err);
	if (ret < 0) {
		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		ret = wgotp_error_set(err, -ret, "[Mail] Subject: %s", why);
		goto cleanup;
	}
	if (cfg->mail_body_file) {
		ret = wgotp_mail_template_load(cfg->mail_body_file, &ml->body, err);
		if (ret < 0)
			goto cleanup;
	} else if (!(ml->body = strdup(wgotp_mail_default_body))) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}

	/* The warning's templates: checked here too, so that a typo fails
	 * every program that loads them at start, not the first warning. */
	ml->warn_subject = strdup(cfg->mail_warn_subject && *cfg->mail_warn_subject ?
				  cfg->mail_warn_subject : wgotp_mail_default_warn_subject);
	if (!ml->warn_subject) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	ret = wgotp_mail_warn_template_check(ml->warn_subject, true, err);
	if (ret < 0) {
		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		ret = wgotp_error_set(err, -ret, "[Mail] WarnSubject: %s", why);
		goto cleanup;
	}
	if (cfg->mail_warn_body_file) {
		ret = wgotp_mail_warn_template_load(cfg->mail_warn_body_file, &ml->warn_body, err);
		if (ret < 0)
			goto cleanup;
	}
	if (cfg->portal_public_url && *cfg->portal_public_url) {
		ml->link = strdup(cfg->portal_public_url);
		if (!ml->link) {
			ret = wgotp_error_set(err, ENOMEM, "out of memory");
			goto cleanup;
		}
	}

	switch (cfg->mail_transport) {
	case WGOTP_MAIL_GRAPH:
		ret = wgotp_mail_graph_new(cfg, store, &ml->t, err);
		break;
	case WGOTP_MAIL_SMTP:
		ret = wgotp_mail_smtp_new(cfg, store, &ml->t, err);
		break;
	case WGOTP_MAIL_SENDMAIL:
		ret = wgotp_mail_sendmail_new(cfg, &ml->t, err);
		break;
	default:
		ret = wgotp_error_set(err, EINVAL, "[Mail] Transport: unknown transport %d",
				      (int)cfg->mail_transport);
		break;
	}
	if (ret < 0)
		goto cleanup;
	out->send_code = mailer_send;
	out->send_warn = mailer_send_warn;
	out->free = mailer_free;
	out->arg = ml;
	ml = NULL;
	ret = 0;
cleanup:
	mailer_free(ml);
	return ret;
}

int wgotp_mail_preload(const struct wgotp_config *cfg, struct wgotp_error *err)
{
	const struct wgotp_curl *cu;

	if (cfg->mail_transport != WGOTP_MAIL_GRAPH && cfg->mail_transport != WGOTP_MAIL_SMTP)
		return 0;
	return wgotp_curl_get(&cu, err);
}
