/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The attributes of an Access-Request as they came off the wire, checked
 * before anything else looks at them. No FreeRADIUS types here: the
 * function takes plain values, so tests/fuzz can call it directly.
 */
#ifndef RLM_WGOTP_ATTRS_H
#define RLM_WGOTP_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "encoding.h"
#include "store.h"

#define RLM_WGOTP_STATE_PREFIX "wgotp:"
#define RLM_WGOTP_STATE_LEN (sizeof(RLM_WGOTP_STATE_PREFIX) - 1 + WGOTP_CHALLENGE_ID_LEN)
#define RLM_WGOTP_PASSWORD_MAX 128		/* RFC 2865 5.2 */
/* A requested session longer than this is not a policy question but a
 * broken or hostile client: rejected, not capped. */
#define RLM_WGOTP_DURATION_ABSURD (366 * 86400)

/* A value as found in the request; NULL when absent. count is how many
 * times the attribute occurred (each of these may occur at most once). */
struct rlm_wgotp_value {
	const uint8_t *data;
	size_t len;
	unsigned count;
};

struct rlm_wgotp_wire {
	struct rlm_wgotp_value user_name;
	struct rlm_wgotp_value password;	/* decrypted User-Password */
	struct rlm_wgotp_value state;
	struct rlm_wgotp_value public_key;	/* WGOTP-Public-Key */
	unsigned duration_count;		/* WGOTP-Session-Duration */
	uint32_t duration;
	bool message_authenticator;
	bool require_message_authenticator;
};

struct rlm_wgotp_attrs {
	char user[WGOTP_EMAIL_MAX + 1];
	char code[RLM_WGOTP_PASSWORD_MAX + 1];	/* wipe after use */
	bool has_code;
	bool has_state;
	char challenge_id[WGOTP_CHALLENGE_ID_LEN + 1];
	char public_key[WGOTP_KEY_B64_LEN + 1];	/* "" when not asked for */
	int64_t duration;			/* 0: the default */
};

enum rlm_wgotp_attrs_status {
	RLM_WGOTP_ATTRS_OK = 0,
	RLM_WGOTP_ATTRS_NO_USER,	/* no User-Name: not ours to judge */
	RLM_WGOTP_ATTRS_NO_MSG_AUTH,	/* BlastRADIUS: Message-Authenticator missing */
	RLM_WGOTP_ATTRS_INVALID,	/* malformed: reject, *why says what */
};

/* Check w and fill out. *why (static text, never a value from the
 * request) says what was wrong. */
enum rlm_wgotp_attrs_status rlm_wgotp_attrs_parse(const struct rlm_wgotp_wire *w,
						  struct rlm_wgotp_attrs *out, const char **why);

/* Wipe the code in a. */
void rlm_wgotp_attrs_wipe(struct rlm_wgotp_attrs *a);

#endif
