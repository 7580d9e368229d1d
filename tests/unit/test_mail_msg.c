/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The code mail: templates, header checks, RFC 5322 and Graph JSON forms. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <json-c/json.h>

#include "mail_buf.h"
#include "mail_msg.h"
#include "secret.h"
#include "tap.h"
#include "testutil.h"

static const struct wgotp_mail_code code = {
	.to = "alice@example.com", .code = "042917", .lifetime = 300, .now = 1741079100,
};

/* The value of header name in an RFC 5322 text (first occurrence, one line). */
static char *header(const char *text, const char *name)
{
	static char val[1024];
	size_t n = strlen(name);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (l[0] == '\r' || l[0] == '\n')
			break;
		if (!strncasecmp(l, name, n) && l[n] == ':') {
			const char *e = strpbrk(l, "\r\n");

			snprintf(val, sizeof(val), "%.*s", (int)(e - l - n - 2), l + n + 2);
			return val;
		}
	}
	return NULL;
}

static void test_checks(void)
{
	struct wgotp_error err;

	ok(wgotp_mail_address_ok("alice@example.com"), "plain address accepted");
	ok(wgotp_mail_address_ok("a.b+tag@sub.example.org"), "address with + and dots");
	ok(!wgotp_mail_address_ok("alice@example.com\r\nBcc: eve@evil.test"), "address with CRLF refused");
	ok(!wgotp_mail_address_ok("Alice <alice@example.com>"), "display name form refused");
	ok(!wgotp_mail_address_ok("alice@@example.com"), "two @ refused");
	ok(!wgotp_mail_address_ok("@example.com"), "empty local part refused");
	ok(!wgotp_mail_address_ok("alice@"), "empty domain refused");
	ok(!wgotp_mail_address_ok("a,b@example.com"), "comma refused");
	ok(!wgotp_mail_address_ok("al ice@example.com"), "space refused");

	ok(wgotp_mail_header_ok("Your VPN code"), "header value ok");
	ok(wgotp_mail_header_ok("Ihr VPN-Code \xc3\xbc"), "UTF-8 header value ok");
	ok(!wgotp_mail_header_ok("x\r\nBcc: eve@evil.test"), "CRLF in a header value refused");
	ok(!wgotp_mail_header_ok("x\nBcc: eve@evil.test"), "LF in a header value refused");
	ok(!wgotp_mail_header_ok("x\rBcc: eve@evil.test"), "CR in a header value refused");
	ok(!wgotp_mail_header_ok("x\x01y"), "control character refused");
	ok(!wgotp_mail_header_ok("x\xc3"), "truncated UTF-8 refused");

	ok(wgotp_utf8_valid("\xe2\x82\xac\xf0\x9f\x94\x91", 7), "euro sign and emoji are UTF-8");
	ok(!wgotp_utf8_valid("\xc0\xaf", 2), "overlong form refused");
	ok(!wgotp_utf8_valid("\xed\xa0\x80", 3), "surrogate refused");
	ok(!wgotp_utf8_valid("\xf4\x90\x80\x80", 4), "beyond U+10FFFF refused");

	is_int(wgotp_mail_template_check("Code %{code} for %{address}, %% off", true, &err), 0,
	       "known placeholders accepted");
	is_int(wgotp_mail_template_check("Code %{cod}", true, &err), -EINVAL, "a typo is refused");
	ok(strstr(err.msg, "%{cod}") != NULL, "the message names it: %s", err.msg);
	is_int(wgotp_mail_template_check("Code\nBcc: eve@evil.test", true, &err), -EINVAL,
	       "a subject template with a line break is refused");
	is_int(wgotp_mail_template_check("line 1\nline 2 %{code}\n", false, &err), 0,
	       "a body template may have line breaks");
	is_int(wgotp_mail_template_check("bad \xff", false, &err), -EINVAL, "invalid UTF-8 refused");
}

static void test_expand(void)
{
	struct wgotp_mail_vars v = {
		.code = "123456", .lifetime = 300, .address = "bob@example.com", .host = "vpn1",
	};
	struct wgotp_error err;
	char *out = NULL, words[64];

	is_int(wgotp_mail_expand("%{code}|%{lifetime}|%{minutes}|%{address}|%{host}|%%|%x|100%", &v,
				 &out, &err), 0, "expand");
	is_str(out, "123456|5 minutes|5|bob@example.com|vpn1|%|%x|100%", "every placeholder");
	wgotp_free_str(out);
	v.lifetime = 90;
	is_int(wgotp_mail_expand("%{lifetime} = %{minutes} min", &v, &out, &err), 0, "expand 90 s");
	is_str(out, "90 seconds = 2 min", "seconds in words, minutes rounded up");
	wgotp_free_str(out);
	wgotp_mail_lifetime_words(3600, words, sizeof(words));
	is_str(words, "1 hour", "one hour");
	wgotp_mail_lifetime_words(60, words, sizeof(words));
	is_str(words, "1 minute", "one minute");
	is_int(wgotp_mail_expand("code %{code", &v, &out, &err), -EINVAL, "an unterminated placeholder fails");
	is_int(wgotp_mail_expand("%{nope}", &v, &out, &err), -EINVAL, "expanding an unknown placeholder fails");
	ok(out == NULL, "and yields nothing");
}

static void test_compose_rfc5322(void)
{
	struct wgotp_mail_message msg;
	struct wgotp_mail_code bad = code;
	struct wgotp_error err;
	char *text = NULL, *h;
	size_t len;

	is_int(wgotp_mail_compose("VPN code for %{address}", "Code: %{code}\nValid %{lifetime}.\n",
				  "vpn@example.com", "gw1", &code, &msg, &err), 0, "compose");
	is_str(msg.subject, "VPN code for alice@example.com", "subject expanded");
	is_str(msg.body, "Code: 042917\nValid 5 minutes.\n", "body expanded");
	ok(msg.message_id && strlen(msg.message_id) == 2 + 32 + 1 + strlen("example.com") &&
	   strstr(msg.message_id, "@example.com>"), "Message-ID <32 hex@from domain>: %s", msg.message_id);

	is_int(wgotp_mail_rfc5322(&msg, "\r\n", &text, &len, &err), 0, "RFC 5322 with CRLF");
	is_str(header(text, "Date"), "Tue, 04 Mar 2025 09:05:00 +0000", "Date from the code's clock");
	is_str(header(text, "From"), "vpn@example.com", "From");
	is_str(header(text, "To"), "alice@example.com", "To");
	is_str(header(text, "Subject"), "VPN code for alice@example.com", "ASCII subject as is");
	is_str(header(text, "MIME-Version"), "1.0", "MIME-Version");
	is_str(header(text, "Content-Type"), "text/plain; charset=UTF-8", "Content-Type with charset");
	is_str(header(text, "Content-Transfer-Encoding"), "7bit", "ASCII body is 7bit");
	is_str(header(text, "Message-ID"), msg.message_id, "Message-ID header");
	ok(strstr(text, "\r\n\r\nCode: 042917\r\nValid 5 minutes.\r\n") != NULL, "body after a blank line, CRLF");
	ok(!strstr(text, "\r\r") && !strstr(strstr(text, "\r\n\r\n"), "\n\n"), "no bare line ends");
	for (const char *p = text; (p = strchr(p, '\n')); p++)
		if (p[-1] != '\r') {
			ok(0, "LF without CR at %ld", (long)(p - text));
			break;
		}
	wgotp_freezero(text, len);

	is_int(wgotp_mail_rfc5322(&msg, "\n", &text, &len, &err), 0, "RFC 5322 with LF (sendmail)");
	ok(!strchr(text, '\r'), "no CR at all for sendmail");
	wgotp_freezero(text, len);

	/* A value changed after compose (a bug elsewhere) is still refused. */
	free(msg.subject);
	msg.subject = strdup("x\r\nBcc: eve@evil.test");
	is_int(wgotp_mail_rfc5322(&msg, "\r\n", &text, &len, &err), -EINVAL,
	       "a subject with CRLF is refused when the message is built");
	ok(text == NULL, "and nothing is built");
	is_int(wgotp_mail_graph_json(&msg, &text, &len, &err), -EINVAL, "and for Graph too");
	wgotp_mail_message_clear(&msg);

	bad.to = "alice@example.com\r\nBcc: eve@evil.test";
	is_int(wgotp_mail_compose(NULL, NULL, "vpn@example.com", "gw1", &bad, &msg, &err), -EINVAL,
	       "a recipient with CRLF is refused");
	bad = code;
	is_int(wgotp_mail_compose(NULL, NULL, "vpn@example.com\nBcc: x@y.z", "gw1", &bad, &msg, &err),
	       -EINVAL, "a From with LF is refused");
	is_int(wgotp_mail_compose("%{host}", NULL, "vpn@example.com", "gw1\r\nBcc: x@y.z", &bad, &msg,
				  &err), 0, "a host name with CRLF is replaced");
	is_str(msg.subject, "localhost", "by localhost");
	wgotp_mail_message_clear(&msg);

	/* UTF-8: subject as encoded words, body as quoted-printable. */
	is_int(wgotp_mail_compose("Ihr Zugangscode f\xc3\xbcr das VPN \xe2\x80\x93 g\xc3\xbcltig %{lifetime} \xe2\x80\x93 bitte nicht weitergeben",
				  "Gr\xc3\xbc\xc3\x9f""e, Ihr Code: %{code} = gut\n"
				  "trailing space \n"
				  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\n",
				  "vpn@example.com", "gw1", &code, &msg, &err), 0, "compose UTF-8");
	is_int(wgotp_mail_rfc5322(&msg, "\r\n", &text, &len, &err), 0, "RFC 5322 UTF-8");
	h = header(text, "Subject");
	ok(h && !strncmp(h, "=?UTF-8?B?", 10), "subject is an encoded word: %s", h);
	is_str(header(text, "Content-Transfer-Encoding"), "quoted-printable", "UTF-8 body is QP");
	ok(strstr(text, "Gr=C3=BC=C3=9Fe, Ihr Code: 042917 =3D gut\r\n") != NULL, "QP encodes UTF-8 and '='");
	ok(strstr(text, "trailing space=20\r\n") != NULL, "QP encodes a trailing space");
	{
		const char *body = strstr(text, "\r\n\r\n") + 4;
		int longest = 0, col = 0;

		for (const char *p = body; *p; p++) {
			col = *p == '\r' ? 0 : (*p == '\n' ? col : col + 1);
			if (col > longest)
				longest = col;
		}
		ok(longest <= 76, "QP lines at most 76 characters (%d)", longest);
		/* Folded subject: every encoded word at most 75 characters. */
		for (const char *w = strstr(text, "=?UTF-8?B?"); w; w = strstr(w + 1, "=?UTF-8?B?")) {
			const char *e = strstr(w, "?=");

			if (e && e - w + 2 > 75)
				ok(0, "encoded word longer than 75");
		}
	}
	wgotp_freezero(text, len);
	wgotp_mail_message_clear(&msg);
}

static void test_graph_json(void)
{
	struct wgotp_mail_message msg;
	struct wgotp_error err;
	struct json_object *root, *m, *v;
	char *json = NULL;
	size_t len;

	is_int(wgotp_mail_compose("Code \"%{code}\" \\ \xc3\xa9", "Line1\n\tLine2 %{code}\n",
				  "vpn@example.com", "gw1", &code, &msg, &err), 0, "compose");
	is_int(wgotp_mail_graph_json(&msg, &json, &len, &err), 0, "Graph JSON");
	root = json_tokener_parse(json);
	ok(root != NULL, "it is JSON: %s", json);
	ok(json_object_object_get_ex(root, "message", &m), "message");
	ok(json_object_object_get_ex(m, "subject", &v) &&
	   !strcmp(json_object_get_string(v), "Code \"042917\" \\ \xc3\xa9"), "subject round-trips");
	ok(json_object_object_get_ex(m, "body", &v) &&
	   !strcmp(json_object_get_string(json_object_object_get(v, "contentType")), "Text") &&
	   !strcmp(json_object_get_string(json_object_object_get(v, "content")), "Line1\n\tLine2 042917\n"),
	   "text body round-trips");
	ok(json_object_object_get_ex(m, "toRecipients", &v) && json_object_array_length(v) == 1 &&
	   !strcmp(json_object_get_string(json_object_object_get(json_object_object_get(
		   json_object_array_get_idx(v, 0), "emailAddress"), "address")), "alice@example.com"),
	   "one recipient");
	ok(json_object_object_get_ex(root, "saveToSentItems", &v) &&
	   json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v), "saveToSentItems false");
	json_object_put(root);
	wgotp_freezero(json, len);
	wgotp_mail_message_clear(&msg);
}

static void test_template_file(void)
{
	char *dir = tu_tmpdir(), *p, *out = NULL;
	struct wgotp_error err;
	char big[WGOTP_MAIL_TEMPLATE_MAX + 2];

	p = tu_write(dir, "body.txt", "Hello\r\nYour code: %{code}\r\n", 0644);
	is_int(wgotp_mail_template_load(p, &out, &err), 0, "load a CRLF template");
	is_str(out, "Hello\nYour code: %{code}\n", "CRLF became LF");
	free(out);
	free(p);
	p = tu_write(dir, "typo.txt", "Your code: %{kode}\n", 0644);
	is_int(wgotp_mail_template_load(p, &out, &err), -EINVAL, "a typo in a file is refused");
	ok(strstr(err.msg, "typo.txt") && strstr(err.msg, "%{kode}"), "naming file and placeholder: %s", err.msg);
	free(p);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	p = tu_write(dir, "big.txt", big, 0644);
	is_int(wgotp_mail_template_load(p, &out, &err), -EFBIG, "an oversized template is refused");
	free(p);
	is_int(wgotp_mail_template_load("/nonexistent/body.txt", &out, &err), -ENOENT, "a missing file");
	/* A NUL byte would cut the template short without a word (found by
	 * fuzz_mail_template). */
	p = tu_write(dir, "nul.txt", "Your code: %{code}\n", 0644);
	{
		FILE *f = fopen(p, "a");

		ok(f && fwrite("\0more\n", 1, 6, f) == 6 && fclose(f) == 0, "append a NUL byte");
	}
	out = NULL;
	is_int(wgotp_mail_template_load(p, &out, &err), -EINVAL, "a template with a NUL byte is refused");
	ok(!out && strstr(err.msg, "nul.txt") && strstr(err.msg, "NUL"), "naming the file: %s", err.msg);
	free(p);
	tu_rmdir(dir);
}

static void test_buf(void)
{
	struct wgotp_buf b = { 0 };
	unsigned char *dec = NULL;
	size_t declen = 0;
	char *s;

	wgotp_buf_add_base64(&b, "any carnal pleasure.", 20, false);
	wgotp_buf_adds(&b, "|");
	wgotp_buf_add_base64(&b, "\xfb\xff", 2, true);
	wgotp_buf_adds(&b, "|");
	wgotp_buf_add_form(&b, "a b&c=d/é");
	is_int(wgotp_buf_take(&b, &s, NULL), 0, "buffer");
	is_str(s, "YW55IGNhcm5hbCBwbGVhc3VyZS4=|-_8|a%20b%26c%3Dd%2F%C3%A9", "base64, base64url, form");
	free(s);
	is_int(wgotp_base64url_decode("-_8", 3, &dec, &declen), 0, "base64url decode");
	ok(declen == 2 && dec[0] == 0xfb && dec[1] == 0xff, "decoded");
	free(dec);
	is_int(wgotp_base64url_decode("a+b/", 4, &dec, &declen), -EINVAL, "standard alphabet refused");
	b.max = 4;
	wgotp_buf_adds(&b, "12345");
	is_int(wgotp_buf_take(&b, &s, NULL), -EFBIG, "a buffer over its limit fails");
}

/* The warning before a session ends: its own placeholders, not the code's. */
static void test_warn(void)
{
	struct wgotp_mail_warn w = {
		.to = "bob@example.com", .device = "laptop", .end_text = "17:45",
		.date_text = "2026-03-29", .end = 1774800000, .now = 1774800000 - 900,
	};
	struct wgotp_mail_message msg;
	struct wgotp_error err;
	char *dir = tu_tmpdir(), *p;

	is_int(wgotp_mail_compose_warn(NULL, NULL, "vpn@example.com", "vpn1", &w, &msg, &err), 0,
	       "compose the default warning");
	is_str(msg.subject, "Your VPN session on laptop ends at 17:45", "  subject names device and end");
	ok(strstr(msg.body, "ends at 17:45 (2026-03-29), in 15 minutes.") != NULL, "  body: %s", msg.body);
	ok(strstr(msg.body, "vpn1") != NULL, "  and the host");
	wgotp_mail_message_clear(&msg);
	is_int(wgotp_mail_compose_warn("%{device} until %{end}, %{left} left", "%{address} %{date}\n",
				       "vpn@example.com", "vpn1", &w, &msg, &err), 0, "custom templates");
	is_str(msg.subject, "laptop until 17:45, 15 minutes left", "  subject expanded");
	is_str(msg.body, "bob@example.com 2026-03-29\n", "  body expanded");
	wgotp_mail_message_clear(&msg);
	ok(wgotp_mail_compose_warn(NULL, NULL, "vpn@example.com", "vpn1", &w, &msg, &err) == 0 &&
	   !strstr(msg.body, "extend it on"), "without [Portal] PublicURL: no link");
	wgotp_mail_message_clear(&msg);
	w.link = "https://vpn.example.com";
	is_int(wgotp_mail_compose_warn(NULL, NULL, "vpn@example.com", "vpn1", &w, &msg, &err), 0,
	       "with the portal's PublicURL");
	ok(strstr(msg.body, "extend it on https://vpn.example.com with a new code") != NULL,
	   "  the default body gives the extend link");
	wgotp_mail_message_clear(&msg);
	is_int(wgotp_mail_compose_warn(NULL, "Extend: %{link}\n", "vpn@example.com", "vpn1", &w, &msg,
				       &err), 0, "%%{link} in a custom template");
	is_str(msg.body, "Extend: https://vpn.example.com\n", "  expanded");
	wgotp_mail_message_clear(&msg);
	w.link = NULL;
	is_int(wgotp_mail_warn_template_check("ends %{code}", true, &err), -EINVAL,
	       "%%{code} is refused in a warning template");
	ok(strstr(err.msg, "%{device}") != NULL, "  the message lists the warning's placeholders: %s", err.msg);
	is_int(wgotp_mail_template_check("%{device}", true, &err), -EINVAL,
	       "%%{device} is refused in a code template");
	is_int(wgotp_mail_compose_warn("%{end}\nBcc: x@evil", NULL, "vpn@example.com", "vpn1", &w, &msg,
				       &err), -EINVAL, "a subject with a line break is refused");
	w.device = "lap\r\ntop";
	is_int(wgotp_mail_compose_warn(NULL, NULL, "vpn@example.com", "vpn1", &w, &msg, &err), -EINVAL,
	       "a device name with CR LF is refused");
	p = tu_write(dir, "warn.txt", "Bye at %{end}\r\n", 0644);
	{
		char *out = NULL;

		is_int(wgotp_mail_warn_template_load(p, &out, &err), 0, "a warning body file loads");
		is_str(out, "Bye at %{end}\n", "  CRLF made LF");
		free(out);
		is_int(wgotp_mail_template_load(p, &out, &err), -EINVAL, "  but not as a code template");
	}
	free(p);
	tu_rmdir(dir);
}

int main(void)
{
	test_warn();
	test_checks();
	test_expand();
	test_compose_rfc5322();
	test_graph_json();
	test_template_file();
	test_buf();
	return done_testing();
}
