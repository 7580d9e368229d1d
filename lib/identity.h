/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A user's one canonical identity. Every front end's name for a user
 * (RADIUS User-Name, the PAM user after its domain mapping, wgotpctl's
 * argument, a directory's WGOTP-Email) goes through wgotp_identity_canon()
 * before it keys anything: failure counters, replay steps, challenges and
 * mail addresses follow the canonical form, never a spelling from the
 * wire. A name that is not canonical is refused, not repaired: "alice "
 * is not "alice", because a directory that ignores the space (MySQL PAD
 * SPACE collations, LDAP's insignificant spaces) would otherwise hand the
 * same user a second replay step and a second guess budget.
 *
 * Canonical: an email address as wgotp_email_valid() takes it, or a bare
 * user name under the rules of its local part (letters, digits and
 * . _ % + -, no leading, trailing or doubled dot, at most 64 bytes), in
 * lower case. Nothing else: no white space anywhere, no control bytes, no
 * non-ASCII (no Unicode normalisation games), no quoted forms.
 */
#ifndef WGOTP_IDENTITY_H
#define WGOTP_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

/* Write the canonical form of name (upper case letters lowered) to out.
 * 0, -EINVAL when name is not a canonical name in another case, -ENOSPC
 * when out is too small (WGOTP_EMAIL_MAX + 1 always suffices). out is ""
 * on error. */
int wgotp_identity_canon(const char *name, char *out, size_t outlen);

/* An identity that a mail can go to: a canonical email address. */
bool wgotp_identity_mailable(const char *identity);

#endif
