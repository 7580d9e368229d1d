/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Everything the portal parses from the outside, in one file with no
 * dependency on libmicrohttpd (tests/fuzz/fuzz_portal_input.c includes it):
 *
 *  - request bodies: one flat JSON object whose fields are listed in a
 *    schema; an unknown, missing, duplicated or wrongly typed field, a
 *    nested value, a number with a fraction or exponent, a string with a
 *    control character, a NUL or invalid UTF-8, or anything after the
 *    object is refused, with a reason for the 400 reply;
 *  - the Cookie header: the one cookie of a name (twice is refused: a
 *    cookie tossed in from a sibling domain would otherwise win);
 *  - X-Forwarded-For, believed only from TrustedProxies.
 */
#ifndef WGOTP_PORTAL_BODY_H
#define WGOTP_PORTAL_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

enum pj_type {
	PJ_STRING,
	PJ_INT,		/* a JSON integer within int64, no fraction, no exponent */
};

struct pj_field {
	const char *name;
	enum pj_type type;
	bool required;
	size_t max_len;		/* PJ_STRING: bytes, at most */
};

struct pj_value {
	bool present;
	char *str;		/* PJ_STRING: malloc'ed, NUL-terminated (free with pj_values_free) */
	int64_t num;		/* PJ_INT */
};

#define PJ_MAX_FIELDS 8

/* Parse body against the schema (n fields, at most PJ_MAX_FIELDS) into
 * out[n]. 0, or -EINVAL with why filled ("duplicated field \"code\""),
 * or -ENOMEM. out is always safe to pj_values_free. */
int pj_parse(const char *body, size_t len, const struct pj_field *schema, size_t n,
	     struct pj_value *out, char *why, size_t whylen);
void pj_values_free(struct pj_value *v, size_t n);	/* wipes the strings */

/* The value of cookie `name` in a Cookie header into out (outlen bytes):
 * 0, -ENOENT (absent), -EEXIST (present twice), -EINVAL (malformed or too
 * long). */
int cookie_get(const char *header, const char *name, char *out, size_t outlen);

/*
 * The client address: the peer's, unless the peer is one of the trusted
 * proxies, in which case X-Forwarded-For is walked from the right and the
 * first address that is not a trusted proxy is the client. A malformed
 * entry stops the walk (the last good hop is used). out: at least 46 bytes.
 */
void client_address(const char *peer, const char *xff, const struct wgotp_cidr *trusted,
		    int n_trusted, char *out, size_t outlen);
/* Is this address (text) inside one of the prefixes? */
bool addr_in(const char *addr, const struct wgotp_cidr *nets, int n);

#endif
