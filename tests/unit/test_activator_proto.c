// SPDX-License-Identifier: GPL-2.0-or-later
/* wg-activator's control protocol parser and reply formatting (proto.c). */
#include "config.h"

#include "proto.c"
#include "tap.h"

#define KEY "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="

static enum proto_status parse(const char *msg, struct proto_request *req)
{
	struct proto_error perr;
	int ret = proto_parse_request(msg, strlen(msg), req, &perr);

	if (ret == 0)
		return PROTO_OK;
	if (!perr.msg[0])
		printf("# no message for a refusal of: %s\n", msg);
	return perr.status;
}

#define refuse(msg, want, name) do { \
	struct proto_request _r; \
	is_str(proto_status_name(parse(msg, &_r)), proto_status_name(want), name); \
	proto_request_release(&_r); \
} while (0)

static void test_valid(void)
{
	struct proto_request r;

	is_int(parse("{\"version\":1,\"op\":\"activate\",\"user\":\"Alice@Example.com\","
		     "\"public_key\":\"" KEY "\",\"allowed_ips\":[\"10.8.0.2/32\",\"fd00::2/128\"],"
		     "\"duration\":28800,\"origin\":\"radius\",\"id\":\"r-1\"}", &r),
	       PROTO_OK, "a full activate parses");
	is_int(r.op, PROTO_OP_ACTIVATE, "op");
	is_str(r.user, "Alice@Example.com", "user kept as sent (the daemon lower-cases)");
	is_str(r.public_key, KEY, "public key");
	is_int(r.n_ips, 2, "two prefixes");
	ok(r.has_ips, "allowed_ips given");
	is_int(r.ips[1].family, AF_INET6, "second is IPv6");
	is_int(r.duration, 28800, "duration");
	is_str(r.origin, "radius", "origin");
	ok(r.id && !strcmp(json_object_get_string(r.id), "r-1"), "id kept for the reply");
	proto_request_release(&r);

	is_int(parse("  {\"op\":\"ping\",\"version\":1}\r", &r), PROTO_OK,
	       "ping, fields in any order, surrounding blanks and CR allowed");
	is_int(r.op, PROTO_OP_PING, "ping op");
	proto_request_release(&r);
	is_int(parse("{\"version\":1,\"op\":\"list\"}", &r), PROTO_OK, "list without user");
	proto_request_release(&r);
	is_int(parse("{\"version\":1,\"op\":\"deactivate\",\"user\":\"a@b.c\",\"device\":\"laptop\"}", &r),
	       PROTO_OK, "deactivate with a device");
	is_str(r.device, "laptop", "device");
	proto_request_release(&r);
}

static void test_refused(void)
{
	char *big;
	struct proto_request r;
	struct proto_error perr;

	refuse("", PROTO_E_JSON, "empty");
	refuse("{", PROTO_E_JSON, "incomplete");
	refuse("{\"version\":1,\"op\":\"ping\"}{}", PROTO_E_JSON, "two objects");
	refuse("\"ping\"", PROTO_E_JSON, "a string, not an object");
	refuse("{\"version\":1,\"op\":\"ping\",}", PROTO_E_JSON, "trailing comma (strict JSON)");
	refuse("[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]", PROTO_E_JSON, "nesting too deep");
	refuse("{\"op\":\"ping\"}", PROTO_E_VERSION, "no version");
	refuse("{\"version\":0,\"op\":\"ping\"}", PROTO_E_VERSION, "version 0");
	refuse("{\"version\":1.0,\"op\":\"ping\"}", PROTO_E_VERSION, "version as a double");
	refuse("{\"version\":1}", PROTO_E_OP, "no op");
	refuse("{\"version\":1,\"op\":7}", PROTO_E_OP, "op not a string");
	refuse("{\"version\":1,\"op\":\"Ping\"}", PROTO_E_OP, "op is case-sensitive");
	refuse("{\"version\":1,\"op\":\"ping\",\"user\":\"a@b.c\"}", PROTO_E_REQUEST, "ping takes no user");
	refuse("{\"version\":1,\"op\":\"activate\"}", PROTO_E_REQUEST, "activate needs a user");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"\"}", PROTO_E_REQUEST, "empty user");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":7}", PROTO_E_REQUEST, "user not a string");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a b@c\"}", PROTO_E_REQUEST, "space in user");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a\\u0000b\"}", PROTO_E_REQUEST, "NUL in user");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"device\":\"d\",\"public_key\":\"" KEY "\"}",
	       PROTO_E_REQUEST, "device and public_key");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"allowed_ips\":[\"10.0.0.1/32\"]}",
	       PROTO_E_REQUEST, "allowed_ips without one device");
	refuse("{\"version\":1,\"op\":\"deactivate\",\"user\":\"a@b.c\",\"duration\":5}", PROTO_E_REQUEST,
	       "deactivate takes no duration");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"public_key\":\"abc\"}", PROTO_E_KEY, "short key");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"public_key\":\"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg\"}",
	       PROTO_E_KEY, "key without padding");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"public_key\":\"xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8D!=\"}",
	       PROTO_E_KEY, "key with a bad character");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"device\":\"d\",\"allowed_ips\":[\"10.0.0.256/32\"]}",
	       PROTO_E_CIDR, "bad IPv4 prefix");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"device\":\"d\",\"allowed_ips\":[\"fd00::1/64\"]}",
	       PROTO_E_CIDR, "host bits set");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"device\":\"d\",\"allowed_ips\":[]}",
	       PROTO_E_REQUEST, "empty allowed_ips");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"device\":\"d\",\"allowed_ips\":\"10.0.0.1/32\"}",
	       PROTO_E_REQUEST, "allowed_ips not an array");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"duration\":-1}", PROTO_E_DURATION, "negative duration");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"duration\":1.5}", PROTO_E_DURATION, "fractional duration");
	refuse("{\"version\":1,\"op\":\"activate\",\"user\":\"a@b.c\",\"duration\":\"8h\"}", PROTO_E_DURATION, "duration string");
	refuse("{\"version\":1,\"op\":\"ping\",\"id\":[1]}", PROTO_E_REQUEST, "id not a scalar");

	big = malloc(PROTO_MAX_MSG + 10);
	memset(big, ' ', PROTO_MAX_MSG + 9);
	big[PROTO_MAX_MSG + 9] = '\0';
	memcpy(big, "{\"version\":1,\"op\":\"ping\"}", 25);
	is_int(proto_parse_request(big, PROTO_MAX_MSG + 9, &r, &perr), -EINVAL, "over 64 KiB refused");
	is_str(proto_status_name(perr.status), "too_large", "... as too_large");
	proto_request_release(&r);
	free(big);

	is_int(proto_parse_request("{\"version\":1,\"op\":\"ping\"}\0x", 27, &r, &perr), -EINVAL,
	       "an embedded NUL byte is refused");
	proto_request_release(&r);

	parse("{\"version\":9,\"op\":\"ping\",\"id\":42}", &r);
	ok(r.id && json_object_get_int(r.id) == 42, "the id survives a refusal, for the error reply");
	proto_request_release(&r);
}

static void test_replies(void)
{
	struct proto_request r;
	struct wgotp_session s = { .created = 10, .expires = 20 };
	json_object *o, *back, *v;
	char *line;
	size_t len;

	parse("{\"version\":1,\"op\":\"ping\",\"id\":\"x\"}", &r);
	line = proto_reply_finish(proto_error_reply(&r, PROTO_E_DEVICE, "no \"phone\"\n"), &len);
	ok(line && len == strlen(line) && line[len - 1] == '\n', "a reply is one line ending in newline");
	ok(line && !memchr(line, '\n', len - 1), "no newline inside (message escaped)");
	back = json_tokener_parse(line);
	ok(back && json_object_object_get_ex(back, "error", &v) &&
	   !strcmp(json_object_get_string(v), "unknown_device"), "error code");
	ok(back && json_object_object_get_ex(back, "ok", &v) && !json_object_get_boolean(v), "ok false");
	ok(back && json_object_object_get_ex(back, "id", &v) && !strcmp(json_object_get_string(v), "x"),
	   "id echoed");
	json_object_put(back);
	free(line);
	proto_request_release(&r);

	strcpy(s.user, "a@b.c");
	strcpy(s.device, "laptop");
	strcpy(s.public_key, KEY);
	strcpy(s.allowed_ips, "10.8.0.2/32,fd00::2/128");
	strcpy(s.origin, "pam");
	o = proto_session_json(&s);
	ok(o && json_object_object_get_ex(o, "allowed_ips", &v) && json_object_array_length(v) == 2,
	   "a session's allowed_ips become an array");
	json_object_put(o);
	is_str(proto_status_name((enum proto_status)999), "internal", "unknown status names as internal");
}

int main(void)
{
	test_valid();
	test_refused();
	test_replies();
	return done_testing();
}
