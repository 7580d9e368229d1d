// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the mail templates ([Mail] Subject and the BodyFile
 * template) and the messages built from them (lib/mail_msg.c): template
 * check and load, expansion, RFC 5322 text for SMTP and sendmail, the
 * Graph sendMail JSON. Includes the .c files so they are instrumented.
 *
 * Input: one byte for the code's lifetime, then the subject template, a
 * NUL, the body template (loaded from a memfd as from a file, CRLF and
 * all). Built and run by tests/fuzz/run-fuzzers (make fuzz).
 */
#include "config.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mail_buf.c"
#include "mail_msg.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What loading the body must give: each CRLF pair (left to right) as LF,
 * or nothing for a file with a NUL byte. */
static char *expected_body(const char *body, size_t len)
{
	char *out, *w;

	if (memchr(body, '\0', len) || !(out = malloc(len + 1)))
		return NULL;
	w = out;
	for (size_t i = 0; i < len; i++) {
		if (body[i] == '\r' && i + 1 < len && body[i + 1] == '\n')
			continue;
		*w++ = body[i];
	}
	*w = '\0';
	return out;
}

/* The body template as a file: BodyFile is read with open(2). */
static int load_body(const char *body, size_t len, char **out, struct wgotp_error *err)
{
	char path[64];
	int fd, ret;

	fd = memfd_create("body", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (len && write(fd, body, len) != (ssize_t)len)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = wgotp_mail_template_load(path, out, err);
	close(fd);
	return ret;
}

/* SMTP text: CRLF only, lines of at most 998 bytes, and exactly the
 * headers wgotp writes (a template can add none). */
static void check_rfc5322(const char *m, size_t len, const char *eol)
{
	static const char *const names[] = {
		"Date: ", "From: ", "To: ", "Subject: ", "Message-ID: ", "MIME-Version: ",
		"Content-Type: ", "Content-Transfer-Encoding: ", "Auto-Submitted: ",
	};
	size_t line = 0, col = 0, headers = 0;
	bool in_headers = true, crlf = !strcmp(eol, "\r\n");

	if (strlen(m) != len)
		__builtin_trap();	/* no NUL inside */
	for (size_t i = 0; i < len; i++) {
		if (crlf && ((m[i] == '\r') != (i + 1 < len && m[i + 1] == '\n') ||
			     (m[i] == '\n' && (i == 0 || m[i - 1] != '\r'))))
			__builtin_trap();	/* a bare CR or LF */
		if (!crlf && m[i] == '\r')
			__builtin_trap();
		if (m[i] == '\n') {
			if (in_headers && col == (crlf ? 1 : 0))
				in_headers = false;
			col = 0;
			line = i + 1;
			continue;
		}
		if (++col > 998 + (crlf ? 1 : 0))
			__builtin_trap();
		if (in_headers && col == 1 && m[i] != ' ' && m[i] != '\r') {
			size_t k;

			for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
				if (!strncmp(m + line, names[k], strlen(names[k])))
					break;
			}
			if (k == sizeof(names) / sizeof(names[0]) || k != headers)
				__builtin_trap();	/* an injected or misplaced header */
			headers++;
		}
	}
	if (headers != sizeof(names) / sizeof(names[0]) || in_headers)
		__builtin_trap();
}

/* Graph JSON: parses, and says what the message holds. */
static void check_graph_json(const struct wgotp_mail_message *msg, const char *j, size_t len)
{
	struct json_object *root, *m, *body, *v;

	root = json_tokener_parse(j);
	if (!root || strlen(j) != len)
		__builtin_trap();
	if (!json_object_object_get_ex(root, "message", &m) ||
	    !json_object_object_get_ex(m, "subject", &v) ||
	    strcmp(json_object_get_string(v), msg->subject) ||
	    !json_object_object_get_ex(m, "body", &body) ||
	    !json_object_object_get_ex(body, "content", &v) ||
	    strcmp(json_object_get_string(v), msg->body))
		__builtin_trap();
	json_object_put(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wgotp_mail_code code = {
		.to = "alice@example.com", .code = "123456", .now = 1700000000,
	};
	struct wgotp_mail_message msg = { 0 };
	struct wgotp_error err = { "" };
	const char *nul;
	char *subject = NULL, *body = NULL, *want = NULL, *out = NULL;
	size_t body_len, out_len = 0;
	bool subject_ok, body_ok;

	if (size < 1)
		return 0;
	code.lifetime = (int64_t)data[0] * 61;
	data++;
	size--;
	nul = memchr(data, '\0', size);
	subject = strndup((const char *)data, nul ? (size_t)(nul - (const char *)data) : size);
	if (!subject)
		return 0;
	body_len = nul ? size - (size_t)(nul - (const char *)data) - 1 : 0;

	subject_ok = wgotp_mail_template_check(subject, true, &err) == 0;
	wgotp_error_clear(&err);
	body_ok = load_body(nul ? nul + 1 : "", body_len, &body, &err) == 0;
	if (body_ok != !!body)
		__builtin_trap();
	want = expected_body(nul ? nul + 1 : "", body_len);
	if (body && (!want || strcmp(body, want)))
		__builtin_trap();	/* a NUL refused, CRLF loaded as LF */
	if (!body && !err.msg[0])
		__builtin_trap();
	if (!subject_ok || !body_ok)
		goto cleanup;

	if (wgotp_mail_compose(subject, body, "vpn@example.com", "gw.example.com", &code, &msg,
			       &err) < 0) {
		/* The only refusal a checked template may meet: its length. */
		if (!strstr(err.msg, "longer than"))
			__builtin_trap();
		goto cleanup;
	}
	if (!wgotp_mail_header_ok(msg.subject) || strlen(msg.subject) > WGOTP_MAIL_SUBJECT_MAX)
		__builtin_trap();
	if (wgotp_mail_rfc5322(&msg, "\r\n", &out, &out_len, &err) < 0)
		__builtin_trap();
	check_rfc5322(out, out_len, "\r\n");
	wgotp_freezero(out, out_len);
	if (wgotp_mail_rfc5322(&msg, "\n", &out, &out_len, &err) < 0)
		__builtin_trap();
	check_rfc5322(out, out_len, "\n");
	wgotp_freezero(out, out_len);
	if (wgotp_mail_graph_json(&msg, &out, &out_len, &err) < 0)
		__builtin_trap();
	check_graph_json(&msg, out, out_len);
	wgotp_freezero(out, out_len);
cleanup:
	wgotp_mail_message_clear(&msg);
	free(want);
	free(body);
	free(subject);
	return 0;
}
