/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The transports behind wgotp_mailer (mail.c): each takes a composed
 * message and delivers it within the deadline.
 */
#ifndef WGOTP_MAIL_TRANSPORT_H
#define WGOTP_MAIL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "error.h"
#include "mail_http.h"
#include "mail_msg.h"
#include "store.h"

struct wgotp_mail_sender {
	const char *name;
	/* 0 once the message was accepted for delivery; else a negative
	 * errno with err set (never the code or a secret). */
	int (*send)(void *state, const struct wgotp_mail_message *msg, int64_t now,
		    const struct wgotp_deadline *dl, struct wgotp_error *err);
	void (*free)(void *state);
	void *state;
};

int wgotp_mail_graph_new(const struct wgotp_config *cfg, struct wgotp_store *store,
			 struct wgotp_mail_sender *out, struct wgotp_error *err);
int wgotp_mail_smtp_new(const struct wgotp_config *cfg, struct wgotp_store *store,
			struct wgotp_mail_sender *out, struct wgotp_error *err);
int wgotp_mail_sendmail_new(const struct wgotp_config *cfg, struct wgotp_mail_sender *out,
			    struct wgotp_error *err);

/*
 * Graph's error reply {"error": {"code": ..., "message": ...}} (fuzz
 * target): 0 with both copied (sanitised, cut to fit), -EPROTO when the
 * body is not such an object.
 */
int wgotp_graph_parse_error(const char *json, size_t len, char *code, size_t codelen,
			    char *msg, size_t msglen);

#endif
