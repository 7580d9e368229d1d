// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: everything wgotp-portal parses from the outside
 * (wgotp-portal/body.c, included directly): JSON request bodies against
 * each schema, the Cookie header, X-Forwarded-For. Built by `make -C tests
 * fuzz` or tests/fuzz/run-fuzzers (clang, ASan + UBSan).
 *
 * Input: one selector byte, then the text. Selector % 4:
 *   0  a body for the login schema (email, code, duration)
 *   1  a body for the answer schema (code required, duration)
 *   2  a Cookie header, looked up for __Host-wgotp
 *   3  "PEER\nXFF": a peer address and an X-Forwarded-For header
 * Oracles: a body we accept is one JSON object that json-c parses to the
 * same values (a differential check), required fields are there, strings
 * are within their bounds and hold no NUL; a cookie value is within
 * bounds and came from the header; a client address is a parseable
 * address that appears in the input.
 */
#include "config.h"

#include <json-c/json.h>

#include "body.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool cond)
{
	if (!cond)
		__builtin_trap();
}

static const struct pj_field login[] = {
	{ "email", PJ_STRING, true, 254 },
	{ "code", PJ_STRING, false, 16 },
	{ "duration", PJ_INT, false, 0 },
};
static const struct pj_field answer[] = {
	{ "code", PJ_STRING, true, 16 },
	{ "duration", PJ_INT, false, 0 },
};

static void body(const char *text, size_t len, const struct pj_field *schema, size_t n)
{
	struct pj_value v[PJ_MAX_FIELDS];
	char why[160];
	json_object *o, *x;
	json_tokener *tok;

	if (pj_parse(text, len, schema, n, v, why, sizeof(why)) < 0) {
		check(why[0] != '\0');
		for (size_t i = 0; i < n; i++)
			check(!v[i].present && !v[i].str);
		return;
	}
	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, text, (int)len);
	check(o && json_object_is_type(o, json_type_object));
	check(json_tokener_get_parse_end(tok) <= len);
	for (size_t i = 0; i < n; i++) {
		check(!schema[i].required || v[i].present);
		if (!v[i].present) {
			check(!json_object_object_get_ex(o, schema[i].name, NULL));
			continue;
		}
		check(json_object_object_get_ex(o, schema[i].name, &x));
		if (schema[i].type == PJ_STRING) {
			check(v[i].str && strlen(v[i].str) <= schema[i].max_len);
			check(json_object_is_type(x, json_type_string));
			check(!strcmp(json_object_get_string(x), v[i].str));
		} else {
			check(json_object_is_type(x, json_type_int));
			check(json_object_get_int64(x) == v[i].num);
		}
	}
	json_object_put(o);
	json_tokener_free(tok);
	pj_values_free(v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *nl, out[80];
	struct wgotp_cidr nets[2];
	size_t len;
	int ret;

	if (size < 1 || size > 65536)
		return 0;
	len = size - 1;
	text = malloc(len + 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, len);
	text[len] = '\0';
	switch (data[0] % 4) {
	case 0:
		body(text, len, login, 3);
		break;
	case 1:
		body(text, len, answer, 2);
		break;
	case 2:
		if (strlen(text) != len)
			break;	/* a header is a C string */
		ret = cookie_get(text, "__Host-wgotp", out, 65);
		check(ret == 0 || ret == -ENOENT || ret == -EEXIST || ret == -EINVAL);
		if (ret == 0)
			check(strlen(out) <= 64 && strstr(text, out));
		break;
	case 3:
		if (strlen(text) != len)
			break;
		nl = strchr(text, '\n');
		if (!nl)
			break;
		*nl = '\0';
		wgotp_cidr_parse("10.0.0.0/8", &nets[0]);
		wgotp_cidr_parse("fd00::/8", &nets[1]);
		client_address(text, nl + 1, nets, 2, out, sizeof(out));
		check(strlen(out) < sizeof(out));
		if (strlen(text) < sizeof(out) && strcmp(out, text) != 0) {
			struct wgotp_cidr a;

			/* only a trusted peer's header is read, and what comes out is an address */
			check(addr_in(text, nets, 2));
			check(wgotp_cidr_parse(out, &a) == 0);
		}
		break;
	}
	free(text);
	return 0;
}
