/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The code mail: templates, header checks, RFC 5322 and Graph JSON forms.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "encoding.h"
#include "mail_buf.h"
#include "mail_msg.h"
#include "secret.h"

const char wgotp_mail_default_subject[] = "Your VPN code";

const char wgotp_mail_default_body[] =
	"Your code to connect to the VPN is:\n"
	"\n"
	"    %{code}\n"
	"\n"
	"It is valid for %{lifetime} and works once.\n"
	"\n"
	"If you did not just try to connect, do not give this code to anyone\n"
	"and tell your administrator: someone may know your password.\n"
	"\n"
	"-- \n"
	"%{host}\n";

const char wgotp_mail_default_warn_subject[] = "Your VPN session on %{device} ends at %{end}";

const char wgotp_mail_default_warn_body[] =
	"Your VPN session on %{device} ends at %{end} (%{date}), in %{left}.\n"
	"\n"
	"To keep it, connect again with a new code before then: the session is\n"
	"extended without dropping the tunnel.\n"
	"\n"
	"-- \n"
	"%{host}\n";

/* The same, where the portal is ([Portal] PublicURL). */
static const char default_warn_body_link[] =
	"Your VPN session on %{device} ends at %{end} (%{date}), in %{left}.\n"
	"\n"
	"To keep it, extend it on %{link} with a new code, or connect again\n"
	"with one before then: the session is extended without dropping the\n"
	"tunnel.\n"
	"\n"
	"-- \n"
	"%{host}\n";

enum placeholder {
	PH_NONE = -1,
	PH_CODE,
	PH_LIFETIME,
	PH_MINUTES,
	PH_ADDRESS,
	PH_HOST,
	PH_DEVICE,
	PH_END,
	PH_DATE,
	PH_LEFT,
	PH_LINK,
};

static const char *const placeholders[] = {
	[PH_CODE] = "code",
	[PH_LIFETIME] = "lifetime",
	[PH_MINUTES] = "minutes",
	[PH_ADDRESS] = "address",
	[PH_HOST] = "host",
	[PH_DEVICE] = "device",
	[PH_END] = "end",
	[PH_DATE] = "date",
	[PH_LEFT] = "left",
	[PH_LINK] = "link",
};

/* Which placeholders each kind of mail knows. */
#define PH_BIT(p) (1u << (p))
#define MASK_CODE (PH_BIT(PH_CODE) | PH_BIT(PH_LIFETIME) | PH_BIT(PH_MINUTES) | \
		   PH_BIT(PH_ADDRESS) | PH_BIT(PH_HOST))
#define MASK_WARN (PH_BIT(PH_DEVICE) | PH_BIT(PH_END) | PH_BIT(PH_DATE) | PH_BIT(PH_LEFT) | \
		   PH_BIT(PH_LINK) | PH_BIT(PH_ADDRESS) | PH_BIT(PH_HOST))

bool wgotp_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			if (!c)
				return false;
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

bool wgotp_mail_header_ok(const char *v)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
		if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
			return false;
	}
	return wgotp_utf8_valid(v, strlen(v));
}

bool wgotp_mail_address_ok(const char *addr)
{
	const char *at = NULL;
	size_t len = strlen(addr);

	if (len < 3 || len > 254)
		return false;
	for (const char *c = addr; *c; c++) {
		if (*c <= 0x20 || *c >= 0x7f || strchr("()<>[]:;,\\\"", *c))
			return false;
		if (*c == '@') {
			if (at)
				return false;
			at = c;
		}
	}
	return at && at != addr && at[1] && at[1] != '.' && addr[len - 1] != '.';
}

/* At s (just after "%{"), the placeholder of mask and its length up to '}'. */
static enum placeholder placeholder_at(const char *s, unsigned int mask, size_t *taken)
{
	const char *end = strchr(s, '}');

	if (!end)
		return PH_NONE;
	for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++) {
		size_t n = strlen(placeholders[i]);

		if (!(mask & PH_BIT(i)))
			continue;
		if ((size_t)(end - s) == n && !memcmp(s, placeholders[i], n)) {
			*taken = n + 1;
			return (enum placeholder)i;
		}
	}
	return PH_NONE;
}

static int check_kind(const char *tmpl, bool subject, unsigned int mask, struct wgotp_error *err)
{
	size_t len = strlen(tmpl);

	if (!wgotp_utf8_valid(tmpl, len))
		return wgotp_error_set(err, EINVAL, "template is not valid UTF-8");
	for (const char *p = tmpl; *p; p++) {
		size_t taken;

		if (subject && ((*p > 0 && *p < 0x20 && *p != '\t') || *p == 0x7f))
			return wgotp_error_set(err, EINVAL, "subject template has a control character");
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
		} else if (p[1] == '{') {
			if (placeholder_at(p + 2, mask, &taken) == PH_NONE) {
				const char *end = strchr(p, '}');
				int n = end ? (int)(end - p + 1) : (int)strnlen(p, 20);

				return wgotp_error_set(err, EINVAL, mask == MASK_CODE ?
						       "unknown placeholder \"%.*s\" (known: %%{code}, %%{lifetime}, %%{minutes}, %%{address}, %%{host})" :
						       "unknown placeholder \"%.*s\" (known: %%{device}, %%{end}, %%{date}, %%{left}, %%{link}, %%{address}, %%{host})",
						       n > 40 ? 40 : n, p);
			}
			p += 1 + taken;
		}
	}
	return 0;
}

int wgotp_mail_template_check(const char *tmpl, bool subject, struct wgotp_error *err)
{
	return check_kind(tmpl, subject, MASK_CODE, err);
}

int wgotp_mail_warn_template_check(const char *tmpl, bool subject, struct wgotp_error *err)
{
	return check_kind(tmpl, subject, MASK_WARN, err);
}

void wgotp_mail_lifetime_words(int64_t s, char *out, size_t len)
{
	if (s > 0 && s % 3600 == 0)
		snprintf(out, len, "%lld hour%s", (long long)(s / 3600), s == 3600 ? "" : "s");
	else if (s > 0 && s % 60 == 0)
		snprintf(out, len, "%lld minute%s", (long long)(s / 60), s == 60 ? "" : "s");
	else
		snprintf(out, len, "%lld second%s", (long long)s, s == 1 ? "" : "s");
}

static int expand_kind(const char *tmpl, const struct wgotp_mail_vars *v, unsigned int mask,
		       char **out, struct wgotp_error *err)
{
	struct wgotp_buf b = { .max = 4 * WGOTP_MAIL_TEMPLATE_MAX };
	char words[64], minutes[32];
	int ret;

	*out = NULL;
	ret = check_kind(tmpl, false, mask, err);
	if (ret < 0)
		return ret;
	wgotp_mail_lifetime_words(v->lifetime, words, sizeof(words));
	snprintf(minutes, sizeof(minutes), "%lld", (long long)((v->lifetime + 59) / 60));
	for (const char *p = tmpl; *p; p++) {
		size_t taken;
		const char *val = NULL;

		if (p[0] == '%' && p[1] == '%') {
			wgotp_buf_addc(&b, '%');
			p++;
			continue;
		}
		if (p[0] != '%' || p[1] != '{') {
			wgotp_buf_addc(&b, *p);
			continue;
		}
		switch (placeholder_at(p + 2, mask, &taken)) {
		case PH_CODE:		val = v->code; break;
		case PH_LIFETIME:	val = words; break;
		case PH_MINUTES:	val = minutes; break;
		case PH_ADDRESS:	val = v->address; break;
		case PH_HOST:		val = v->host; break;
		case PH_DEVICE:		val = v->device; break;
		case PH_END:		val = v->end; break;
		case PH_DATE:		val = v->date; break;
		case PH_LEFT:		val = words; break;
		case PH_LINK:		val = v->link; break;
		case PH_NONE:		break;
		}
		wgotp_buf_adds(&b, val ? val : "");
		p += 1 + taken;
	}
	ret = wgotp_buf_take(&b, out, NULL);
	if (ret < 0)
		return wgotp_error_set(err, -ret, "cannot expand the mail template: %s",
				       strerror(-ret));
	return 0;
}

int wgotp_mail_expand(const char *tmpl, const struct wgotp_mail_vars *v, char **out,
		      struct wgotp_error *err)
{
	return expand_kind(tmpl, v, MASK_CODE, out, err);
}

static int template_load(const char *path, unsigned int mask, char **out, struct wgotp_error *err);

int wgotp_mail_template_load(const char *path, char **out, struct wgotp_error *err)
{
	return template_load(path, MASK_CODE, out, err);
}

int wgotp_mail_warn_template_load(const char *path, char **out, struct wgotp_error *err)
{
	return template_load(path, MASK_WARN, out, err);
}

static int template_load(const char *path, unsigned int mask, char **out, struct wgotp_error *err)
{
	struct wgotp_buf b = { .max = WGOTP_MAIL_TEMPLATE_MAX };
	struct stat st;
	char chunk[4096], *text = NULL, *w;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return wgotp_error_set(err, errno, "mail template %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = wgotp_error_set(err, EINVAL, "mail template %s: not a regular file", path);
		goto cleanup;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = wgotp_error_set(err, errno, "mail template %s: %s", path, strerror(errno));
			goto cleanup;
		}
		wgotp_buf_add(&b, chunk, (size_t)n);
	}
	ret = wgotp_buf_take(&b, &text, &len);
	if (ret == -EFBIG) {
		ret = wgotp_error_set(err, EFBIG, "mail template %s: larger than %d bytes", path,
				      WGOTP_MAIL_TEMPLATE_MAX);
		goto cleanup;
	} else if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "mail template %s: %s", path, strerror(-ret));
		goto cleanup;
	}
	/* Everything after a NUL would be dropped without a word. */
	if (memchr(text, '\0', len)) {
		ret = wgotp_error_set(err, EINVAL, "mail template %s: has a NUL byte (not a text file)",
				      path);
		goto cleanup;
	}
	/* CRLF -> LF: the transports choose their own line ends. */
	w = text;
	for (const char *r = text; *r; r++) {
		if (r[0] == '\r' && r[1] == '\n')
			continue;
		*w++ = *r;
	}
	*w = '\0';
	ret = check_kind(text, false, mask, err);
	if (ret < 0) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err ? err->msg : "");
		ret = wgotp_error_set(err, -ret, "mail template %s: %s", path, why);
		goto cleanup;
	}
	*out = text;
	text = NULL;
	ret = 0;
cleanup:
	free(text);
	close(fd);
	return ret;
}

void wgotp_mail_date(int64_t t, char *out, size_t len)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm)) {
		snprintf(out, len, "Thu, 01 Jan 1970 00:00:00 +0000");
		return;
	}
	snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void wgotp_mail_message_clear(struct wgotp_mail_message *msg)
{
	wgotp_free_str(msg->from);
	wgotp_free_str(msg->to);
	wgotp_free_str(msg->subject);
	wgotp_free_str(msg->body);
	wgotp_free_str(msg->message_id);
	memset(msg, 0, sizeof(*msg));
}

static int compose_kind(const char *subject_tmpl, const char *body_tmpl, const char *from,
			const char *to, int64_t now, unsigned int mask, struct wgotp_mail_vars *v,
			struct wgotp_mail_message *msg, struct wgotp_error *err);

int wgotp_mail_compose(const char *subject_tmpl, const char *body_tmpl, const char *from,
		       const char *host, const struct wgotp_mail_code *code,
		       struct wgotp_mail_message *msg, struct wgotp_error *err)
{
	struct wgotp_mail_vars v = {
		.code = code->code, .lifetime = code->lifetime, .address = code->to, .host = host,
	};

	memset(msg, 0, sizeof(*msg));
	if (!code->code || !*code->code)
		return wgotp_error_set(err, EINVAL, "no code to send");
	return compose_kind(subject_tmpl ? subject_tmpl : wgotp_mail_default_subject,
			    body_tmpl ? body_tmpl : wgotp_mail_default_body, from, code->to,
			    code->now, MASK_CODE, &v, msg, err);
}

int wgotp_mail_compose_warn(const char *subject_tmpl, const char *body_tmpl, const char *from,
			    const char *host, const struct wgotp_mail_warn *w,
			    struct wgotp_mail_message *msg, struct wgotp_error *err)
{
	struct wgotp_mail_vars v = {
		.lifetime = w->end > w->now ? w->end - w->now : 0, .address = w->to, .host = host,
		.device = w->device, .end = w->end_text, .date = w->date_text,
		.link = w->link && *w->link ? w->link : "",
	};

	memset(msg, 0, sizeof(*msg));
	if (!w->device || !wgotp_mail_header_ok(w->device) || !w->end_text || !w->date_text)
		return wgotp_error_set(err, EINVAL, "no device or end time to send");
	return compose_kind(subject_tmpl ? subject_tmpl : wgotp_mail_default_warn_subject,
			    body_tmpl ? body_tmpl : *v.link ? default_warn_body_link :
			    wgotp_mail_default_warn_body, from, w->to,
			    w->now, MASK_WARN, &v, msg, err);
}

static int compose_kind(const char *subject_tmpl, const char *body_tmpl, const char *from,
			const char *to, int64_t now, unsigned int mask, struct wgotp_mail_vars *v,
			struct wgotp_mail_message *msg, struct wgotp_error *err)
{
	const char *host = v->host;
	uint8_t rnd[16];
	char hex[33];
	int ret;

	if (!to || !wgotp_mail_address_ok(to))
		return wgotp_error_set(err, EINVAL, "refusing to mail an invalid recipient address");
	if (!from || !wgotp_mail_address_ok(from))
		return wgotp_error_set(err, EINVAL, "[Mail] From is not a valid address");
	if (!host || !wgotp_mail_header_ok(host))
		host = "localhost";
	v->host = host;

	ret = expand_kind(subject_tmpl, v, mask, &msg->subject, err);
	if (ret < 0)
		goto cleanup;
	if (!wgotp_mail_header_ok(msg->subject)) {
		ret = wgotp_error_set(err, EINVAL,
				      "refusing a subject with a line break or control character (header injection)");
		goto cleanup;
	}
	if (strlen(msg->subject) > WGOTP_MAIL_SUBJECT_MAX) {
		ret = wgotp_error_set(err, EINVAL, "the subject is longer than %d bytes",
				      WGOTP_MAIL_SUBJECT_MAX);
		goto cleanup;
	}
	ret = expand_kind(body_tmpl, v, mask, &msg->body, err);
	if (ret < 0)
		goto cleanup;

	ret = wgotp_random(rnd, sizeof(rnd));
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "no random bytes for the Message-ID");
		goto cleanup;
	}
	wgotp_hex_encode(rnd, sizeof(rnd), hex);
	msg->from = strdup(from);
	msg->to = strdup(to);
	if (asprintf(&msg->message_id, "<%s@%s>", hex, strchr(from, '@') + 1) < 0)
		msg->message_id = NULL;
	if (!msg->from || !msg->to || !msg->message_id) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	msg->date = now;
	ret = 0;
cleanup:
	if (ret < 0)
		wgotp_mail_message_clear(msg);
	return ret;
}

static bool is_ascii(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
	}
	return true;
}

/* A subject as RFC 2047 "B" encoded words of at most 75 characters each,
 * never splitting a UTF-8 sequence, folded onto continuation lines. */
static void add_encoded_words(struct wgotp_buf *b, const char *s, const char *eol)
{
	size_t len = strlen(s), pos = 0;

	while (pos < len) {
		size_t n = len - pos > 45 ? 45 : len - pos;	/* 45 bytes -> 60 base64 */

		while (pos + n < len && ((unsigned char)s[pos + n] & 0xc0) == 0x80)
			n--;
		if (pos)
			wgotp_buf_addf(b, "%s ", eol);
		wgotp_buf_adds(b, "=?UTF-8?B?");
		wgotp_buf_add_base64(b, s + pos, n, false);
		wgotp_buf_adds(b, "?=");
		pos += n;
	}
}

/* Quoted-printable (RFC 2045 6.7), soft breaks before 76 characters. */
static void add_quoted_printable(struct wgotp_buf *b, const char *s, const char *eol)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		char enc[3];
		size_t n;

		if (*c == '\n') {
			wgotp_buf_adds(b, eol);
			col = 0;
			continue;
		}
		/* Space or tab before a line end must be encoded. */
		if ((*c >= 33 && *c <= 126 && *c != '=') ||
		    ((*c == ' ' || *c == '\t') && c[1] && c[1] != '\n')) {
			enc[0] = (char)*c;
			n = 1;
		} else {
			enc[0] = '=';
			enc[1] = hex[*c >> 4];
			enc[2] = hex[*c & 15];
			n = 3;
		}
		if (col + n > 75) {
			wgotp_buf_addf(b, "=%s", eol);
			col = 0;
		}
		wgotp_buf_add(b, enc, n);
		col += n;
	}
}

static bool has_long_line(const char *s, size_t max)
{
	size_t col = 0;

	for (; *s; s++) {
		col = *s == '\n' ? 0 : col + 1;
		if (col > max)
			return true;
	}
	return false;
}

int wgotp_mail_rfc5322(const struct wgotp_mail_message *msg, const char *eol, char **out,
		       size_t *len, struct wgotp_error *err)
{
	struct wgotp_buf b = { 0 };
	bool qp = !is_ascii(msg->body) || has_long_line(msg->body, 998) || strchr(msg->body, '\r');
	char date[64];
	int ret;

	*out = NULL;
	*len = 0;
	if (!wgotp_mail_address_ok(msg->from) || !wgotp_mail_address_ok(msg->to) ||
	    !wgotp_mail_header_ok(msg->subject) || !wgotp_mail_header_ok(msg->message_id))
		return wgotp_error_set(err, EINVAL,
				       "refusing a header value with a line break or control character (header injection)");
	wgotp_mail_date(msg->date, date, sizeof(date));
	wgotp_buf_addf(&b, "Date: %s%s", date, eol);
	wgotp_buf_addf(&b, "From: %s%s", msg->from, eol);
	wgotp_buf_addf(&b, "To: %s%s", msg->to, eol);
	wgotp_buf_adds(&b, "Subject: ");
	if (is_ascii(msg->subject) && !strstr(msg->subject, "=?"))
		wgotp_buf_adds(&b, msg->subject);
	else
		add_encoded_words(&b, msg->subject, eol);
	wgotp_buf_adds(&b, eol);
	wgotp_buf_addf(&b, "Message-ID: %s%s", msg->message_id, eol);
	wgotp_buf_addf(&b, "MIME-Version: 1.0%s", eol);
	wgotp_buf_addf(&b, "Content-Type: text/plain; charset=UTF-8%s", eol);
	wgotp_buf_addf(&b, "Content-Transfer-Encoding: %s%s", qp ? "quoted-printable" : "7bit", eol);
	/* RFC 3834: no vacation replies to a machine. */
	wgotp_buf_addf(&b, "Auto-Submitted: auto-generated%s", eol);
	wgotp_buf_adds(&b, eol);
	if (qp) {
		add_quoted_printable(&b, msg->body, eol);
	} else {
		for (const char *c = msg->body; *c; c++) {
			if (*c == '\n')
				wgotp_buf_adds(&b, eol);
			else
				wgotp_buf_addc(&b, *c);
		}
	}
	if (b.len < strlen(eol) || strcmp(b.p + b.len - strlen(eol), eol))
		wgotp_buf_adds(&b, eol);
	ret = wgotp_buf_take(&b, out, len);
	if (ret < 0)
		return wgotp_error_set(err, -ret, "cannot build the message: %s", strerror(-ret));
	return 0;
}

int wgotp_mail_graph_json(const struct wgotp_mail_message *msg, char **out, size_t *len,
			  struct wgotp_error *err)
{
	struct wgotp_buf b = { 0 };
	int ret;

	*out = NULL;
	*len = 0;
	if (!wgotp_mail_address_ok(msg->to) || !wgotp_mail_header_ok(msg->subject) ||
	    !wgotp_utf8_valid(msg->body, strlen(msg->body)))
		return wgotp_error_set(err, EINVAL,
				       "refusing a header value with a line break or control character (header injection)");
	wgotp_buf_adds(&b, "{\"message\":{\"subject\":\"");
	wgotp_buf_add_json(&b, msg->subject);
	wgotp_buf_adds(&b, "\",\"body\":{\"contentType\":\"Text\",\"content\":\"");
	wgotp_buf_add_json(&b, msg->body);
	wgotp_buf_adds(&b, "\"},\"toRecipients\":[{\"emailAddress\":{\"address\":\"");
	wgotp_buf_add_json(&b, msg->to);
	wgotp_buf_adds(&b, "\"}}]},");
	wgotp_buf_adds(&b, "\"saveToSentItems\":false}");
	ret = wgotp_buf_take(&b, out, len);
	if (ret < 0)
		return wgotp_error_set(err, -ret, "cannot build the message: %s", strerror(-ret));
	return 0;
}
