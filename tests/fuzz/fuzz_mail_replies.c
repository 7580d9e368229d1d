// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: what the mail transports parse from the network: the
 * token endpoint's reply, Graph's error reply, a Retry-After value.
 * Includes the parsers' .c files directly so they are instrumented.
 * Build from a configured tree BUILD:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I BUILD -I lib \
 *     tests/fuzz/fuzz_mail_replies.c \
 *     BUILD/lib/.libs/libwgotp.a $(pkg-config --libs json-c libcrypto libcurl sqlite3 liboath) \
 *     -lpthread -o fuzz_mail_replies
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail_graph.c"
#include "mail_http.c"
#include "oauth.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wgotp_error err;
	char code[64], msg[300], *tok = NULL, *z;
	int64_t exp = 0, secs = 0;

	if (wgotp_oauth_parse_token((const char *)data, size, &tok, &exp, &err) == 0) {
		/* What is accepted must be safe in an Authorization header. */
		if (!tok || !wgotp_oauth_token_ok(tok) || strpbrk(tok, "\r\n ") || exp <= 0)
			__builtin_trap();
		wgotp_free_str(tok);
	} else if (tok) {
		__builtin_trap();
	}
	if (wgotp_graph_parse_error((const char *)data, size, code, sizeof(code), msg, sizeof(msg)) == 0 &&
	    (strlen(code) >= sizeof(code) || strpbrk(code, "\r\n") || strpbrk(msg, "\r\n")))
		__builtin_trap();
	z = strndup((const char *)data, size);
	if (z) {
		if (wgotp_http_parse_retry_after(z, 1700000000, &secs) == 0 && secs < 0)
			__builtin_trap();
		free(z);
	}
	return 0;
}
