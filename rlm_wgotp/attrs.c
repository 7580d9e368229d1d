/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checks on the wire attributes of an Access-Request (see attrs.h). */
#include <string.h>

#include "attrs.h"
#include "secret.h"

/* Printable ASCII or UTF-8 continuation/lead bytes: no NUL, no control
 * character, no DEL. What a user name and a code may hold. */
static bool text_ok(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

static bool lower_hex(const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static enum rlm_wgotp_attrs_status invalid(const char **why, const char *msg)
{
	*why = msg;
	return RLM_WGOTP_ATTRS_INVALID;
}

enum rlm_wgotp_attrs_status rlm_wgotp_attrs_parse(const struct rlm_wgotp_wire *w,
						  struct rlm_wgotp_attrs *out, const char **why)
{
	static const char prefix[] = RLM_WGOTP_STATE_PREFIX;
	const size_t plen = sizeof(prefix) - 1;
	uint8_t key[WGOTP_KEY_LEN];
	char b64[WGOTP_KEY_B64_LEN + 1];

	memset(out, 0, sizeof(*out));
	*why = "ok";

	/* BlastRADIUS (CVE-2024-3596): without Message-Authenticator the
	 * reply can be forged by whoever sits on the path. */
	if (w->require_message_authenticator && !w->message_authenticator) {
		*why = "Access-Request without Message-Authenticator";
		return RLM_WGOTP_ATTRS_NO_MSG_AUTH;
	}

	if (!w->user_name.data || w->user_name.count == 0) {
		*why = "no User-Name";
		return RLM_WGOTP_ATTRS_NO_USER;
	}
	if (w->user_name.count > 1)
		return invalid(why, "more than one User-Name");
	if (w->user_name.len == 0 || w->user_name.len > WGOTP_EMAIL_MAX)
		return invalid(why, "User-Name empty or longer than 254 bytes");
	if (!text_ok(w->user_name.data, w->user_name.len))
		return invalid(why, "User-Name holds control characters");
	memcpy(out->user, w->user_name.data, w->user_name.len);
	out->user[w->user_name.len] = '\0';

	if (w->password.count > 1)
		return invalid(why, "more than one User-Password");
	if (w->password.data && w->password.count == 1) {
		if (w->password.len > RLM_WGOTP_PASSWORD_MAX)
			return invalid(why, "User-Password longer than 128 bytes");
		if (!text_ok(w->password.data, w->password.len))
			return invalid(why, "User-Password holds control characters");
		memcpy(out->code, w->password.data, w->password.len);
		out->code[w->password.len] = '\0';
		out->has_code = w->password.len > 0;
	}

	if (w->state.count > 1)
		return invalid(why, "more than one State");
	if (w->state.data && w->state.count == 1) {
		if (w->state.len != RLM_WGOTP_STATE_LEN || memcmp(w->state.data, prefix, plen) != 0 ||
		    !lower_hex(w->state.data + plen, WGOTP_CHALLENGE_ID_LEN))
			return invalid(why, "State is not a wgotp challenge");
		memcpy(out->challenge_id, w->state.data + plen, WGOTP_CHALLENGE_ID_LEN);
		out->challenge_id[WGOTP_CHALLENGE_ID_LEN] = '\0';
		out->has_state = true;
	}

	if (w->public_key.count > 1)
		return invalid(why, "more than one WGOTP-Public-Key");
	if (w->public_key.data && w->public_key.count == 1) {
		if (w->public_key.len != WGOTP_KEY_B64_LEN)
			return invalid(why, "WGOTP-Public-Key is not a 44-character WireGuard key");
		memcpy(b64, w->public_key.data, WGOTP_KEY_B64_LEN);
		b64[WGOTP_KEY_B64_LEN] = '\0';
		if (wgotp_key_from_base64(key, b64) < 0)
			return invalid(why, "WGOTP-Public-Key is not a valid WireGuard key");
		wgotp_wipe(key, sizeof(key));
		memcpy(out->public_key, b64, sizeof(b64));
	}

	if (w->duration_count > 1)
		return invalid(why, "more than one WGOTP-Session-Duration");
	if (w->duration_count == 1) {
		if (w->duration == 0 || w->duration > RLM_WGOTP_DURATION_ABSURD)
			return invalid(why, "WGOTP-Session-Duration is 0 or longer than a year");
		out->duration = w->duration;
	}
	return RLM_WGOTP_ATTRS_OK;
}

void rlm_wgotp_attrs_wipe(struct rlm_wgotp_attrs *a)
{
	wgotp_wipe(a->code, sizeof(a->code));
	a->has_code = false;
}
