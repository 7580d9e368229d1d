// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: wg-activator's control protocol parser and the reply
 * formatter. Includes proto.c directly (wireguard-tools src/fuzz style).
 * Build from a configured tree BUILD:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I BUILD -I lib \
 *     -iquote wg-activator tests/fuzz/fuzz_activator_proto.c \
 *     BUILD/lib/.libs/libwgotp.a $(pkg-config --libs json-c libcrypto libcurl sqlite3 liboath) \
 *     -lpthread -o fuzz_activator_proto
 */
#include "config.h"

#include "proto.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request req;
	struct proto_error perr;
	size_t len;
	char *line;
	int ret;

	ret = proto_parse_request((const char *)data, size, &req, &perr);
	line = proto_reply_finish(ret < 0 ? proto_error_reply(&req, perr.status, perr.msg)
				  : proto_reply_new(&req), &len);
	if (line && (len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1)))
		__builtin_trap();	/* a reply must be exactly one line */
	free(line);
	proto_request_release(&req);
	return 0;
}
