// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: wgotp-dird's request parser and reply formatter.
 * Includes proto.c directly (wireguard-tools src/fuzz style). Built by
 * `make -C tests fuzz` and tests/fuzz/run-fuzzers.
 */
#include "config.h"

#include "../../wgotp-dird/proto.c"	/* not wg-activator's proto.c */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dird_request req;
	enum dird_status st;
	char msg[256];
	size_t len;
	char *line;

	st = dird_parse((const char *)data, size, &req, msg, sizeof(msg));
	if (st == DIRD_OK && (strlen(req.token) > WGOTP_INVITE_TOKEN_LEN ||
			      strlen(req.user) > WGOTP_EMAIL_MAX || strlen(req.code) > DIRD_CODE_MAX))
		__builtin_trap();
	line = dird_reply(NULL, st, msg, &len);
	if (line && (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1)))
		__builtin_trap();	/* a reply must be exactly one line */
	dird_reply_free(line, len);
	return 0;
}
