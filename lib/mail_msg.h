/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The code mail itself, independent of the transport: templates with
 * placeholders, header checks, the RFC 5322 form (SMTP, sendmail) and the
 * JSON form (Microsoft Graph sendMail).
 *
 * Templates are UTF-8 text with these placeholders:
 *   %{code}      the code
 *   %{lifetime}  how long it is valid, in words ("5 minutes")
 *   %{minutes}   the same in whole minutes (rounded up)
 *   %{address}   the recipient's address
 *   %{host}      this host's name
 *   %%           a literal '%'
 * Any other "%{...}" is an error when the template is loaded, so a typo
 * never reaches a user.
 *
 * Every buffer that holds the code is wiped before it is freed.
 */
#ifndef WGOTP_MAIL_MSG_H
#define WGOTP_MAIL_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "mailer.h"

#define WGOTP_MAIL_TEMPLATE_MAX (16 * 1024)	/* a body template file */
#define WGOTP_MAIL_SUBJECT_MAX 900		/* an expanded subject, in bytes */

extern const char wgotp_mail_default_subject[];
extern const char wgotp_mail_default_body[];
/* The warning before a session ends ([Mail] WarnSubject, WarnBodyFile):
 * its templates know %{device}, %{end} ("17:45", the session time zone),
 * %{date} ("2026-03-29"), %{left} ("15 minutes"), %{address}, %{host}. */
extern const char wgotp_mail_default_warn_subject[];
extern const char wgotp_mail_default_warn_body[];

struct wgotp_mail_vars {
	const char *code;
	int64_t lifetime;		/* seconds (the warning: seconds left) */
	const char *address;
	const char *host;
	const char *device, *end, *date;	/* the warning */
	const char *link;			/* the warning: the portal, or "" */
};

/* A message ready for a transport. Every string is owned. */
struct wgotp_mail_message {
	char *from;
	char *to;
	char *subject;			/* UTF-8, one line */
	char *body;			/* UTF-8, '\n' line ends */
	char *message_id;		/* "<hex@domain>" */
	int64_t date;
};

/* true when s is valid UTF-8 (no overlong forms, no surrogates). */
bool wgotp_utf8_valid(const char *s, size_t len);

/* A header value may hold no CR, LF or other control character but tab. */
bool wgotp_mail_header_ok(const char *v);

/* A bare address as the headers and SMTP envelope take it: printable
 * ASCII, one '@', no space or RFC 5322 specials, at most 254 bytes. */
bool wgotp_mail_address_ok(const char *addr);

/* Check a template: valid UTF-8, known placeholders only; a subject
 * template (subject = true) must be one line. 0 or -EINVAL with err set. */
int wgotp_mail_template_check(const char *tmpl, bool subject, struct wgotp_error *err);

/* The same for a warning template (its own placeholders). */
int wgotp_mail_warn_template_check(const char *tmpl, bool subject, struct wgotp_error *err);
int wgotp_mail_warn_template_load(const char *path, char **out, struct wgotp_error *err);
int wgotp_mail_compose_warn(const char *subject_tmpl, const char *body_tmpl, const char *from,
			    const char *host, const struct wgotp_mail_warn *w,
			    struct wgotp_mail_message *msg, struct wgotp_error *err);

/* Expand a template. *out is freed with wgotp_free_str(). */
int wgotp_mail_expand(const char *tmpl, const struct wgotp_mail_vars *v, char **out,
		      struct wgotp_error *err);

/* Read a body template file (at most WGOTP_MAIL_TEMPLATE_MAX bytes),
 * CRLF turned into LF, checked as above. */
int wgotp_mail_template_load(const char *path, char **out, struct wgotp_error *err);

/* "5 minutes", "1 hour", "90 seconds" */
void wgotp_mail_lifetime_words(int64_t seconds, char *out, size_t len);

/* Fill msg from the templates and the code; checks every header value and
 * address (-EINVAL: nothing is sent). Clear with wgotp_mail_message_clear. */
int wgotp_mail_compose(const char *subject_tmpl, const char *body_tmpl, const char *from,
		       const char *host, const struct wgotp_mail_code *code,
		       struct wgotp_mail_message *msg, struct wgotp_error *err);
void wgotp_mail_message_clear(struct wgotp_mail_message *msg);

/* RFC 5322 text with Date, Message-ID, MIME-Version, Content-Type with
 * charset, a non-ASCII subject as RFC 2047 encoded words and a non-ASCII
 * body as quoted-printable. eol is "\r\n" (SMTP) or "\n" (sendmail).
 * *out is freed with wgotp_freezero(*out, *len). */
int wgotp_mail_rfc5322(const struct wgotp_mail_message *msg, const char *eol, char **out,
		       size_t *len, struct wgotp_error *err);

/* The JSON body of Graph's POST /users/{from}/sendMail (text body,
 * saveToSentItems false). Freed with wgotp_freezero(*out, *len). */
int wgotp_mail_graph_json(const struct wgotp_mail_message *msg, char **out, size_t *len,
			  struct wgotp_error *err);

/* RFC 5322 date ("Tue, 04 Mar 2025 09:05:00 +0000"), locale-independent. */
void wgotp_mail_date(int64_t t, char *out, size_t len);

#endif
