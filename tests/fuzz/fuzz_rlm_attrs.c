// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: rlm_wgotp's checks on the attributes of an
 * Access-Request as they come off the wire (rlm_wgotp/attrs.c, included
 * directly, wireguard-tools src/fuzz style). Built by `make -C tests fuzz`
 * (clang, -fsanitize=fuzzer,address,undefined), never by default.
 *
 * Input: one flags byte (bit 0: Message-Authenticator present, bit 1:
 * required), then records "TYPE LEN DATA[LEN]" until the input ends:
 *   TYPE % 5 = 0 User-Name, 1 User-Password, 2 State, 3 WGOTP-Public-Key,
 *   4 WGOTP-Session-Duration (the first 4 bytes of DATA, big-endian).
 * An attribute may repeat (count goes up; the last value is kept), as in
 * a packet. On OK, every output field must hold what attrs.h promises;
 * a broken promise traps.
 */
#include "config.h"

#include "attrs.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void take(struct rlm_wgotp_value *v, const uint8_t *p, size_t len)
{
	v->data = p;
	v->len = len;
	v->count++;
}

static void check(bool cond)
{
	if (!cond)
		__builtin_trap();
}

static bool all_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rlm_wgotp_wire w;
	struct rlm_wgotp_attrs a;
	const char *why = NULL;
	enum rlm_wgotp_attrs_status st;
	size_t i = 1, len, n;

	if (size < 1)
		return 0;
	memset(&w, 0, sizeof(w));
	w.message_authenticator = data[0] & 1;
	w.require_message_authenticator = data[0] & 2;
	while (i + 2 <= size) {
		uint8_t type = data[i];

		len = data[i + 1];
		i += 2;
		if (len > size - i)
			len = size - i;
		switch (type % 5) {
		case 0: take(&w.user_name, data + i, len); break;
		case 1: take(&w.password, data + i, len); break;
		case 2: take(&w.state, data + i, len); break;
		case 3: take(&w.public_key, data + i, len); break;
		case 4:
			w.duration_count++;
			w.duration = 0;
			for (n = 0; n < 4 && n < len; n++)
				w.duration = (w.duration << 8) | data[i + n];
			break;
		}
		i += len;
	}

	st = rlm_wgotp_attrs_parse(&w, &a, &why);
	check(why != NULL && strlen(why) > 0);
	if (st == RLM_WGOTP_ATTRS_OK) {
		n = strnlen(a.user, sizeof(a.user));
		check(n > 0 && n < sizeof(a.user) && n == w.user_name.len);
		check(memcmp(a.user, w.user_name.data, n) == 0);
		for (i = 0; i < n; i++)
			check((unsigned char)a.user[i] >= 0x20 && a.user[i] != 0x7f);
		check(strnlen(a.code, sizeof(a.code)) < sizeof(a.code));
		check(a.has_code == (w.password.count == 1 && w.password.len > 0));
		if (a.has_state) {
			check(strlen(a.challenge_id) == WGOTP_CHALLENGE_ID_LEN);
			check(all_lower_hex(a.challenge_id, WGOTP_CHALLENGE_ID_LEN));
		} else {
			check(w.state.count == 0);
		}
		n = strnlen(a.public_key, sizeof(a.public_key));
		check(n == 0 || n == WGOTP_KEY_B64_LEN);
		check(a.duration >= 0 && a.duration <= RLM_WGOTP_DURATION_ABSURD);
		check(w.require_message_authenticator ? w.message_authenticator : true);
	}
	rlm_wgotp_attrs_wipe(&a);
	for (i = 0; i < sizeof(a.code); i++)
		check(a.code[i] == 0);
	check(!a.has_code);
	return 0;
}
