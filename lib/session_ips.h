/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What a session may put on WireGuard: the one rule of every path that
 * reaches the interface (wg-activator's activate, its reconcile of the
 * stored sessions, the Redis stream). The store is not trusted for it: a
 * stored session is text that a less privileged writer (the freerad group
 * on the SQLite file, anyone on a shared Redis) may have forged, so what
 * goes onto the interface is decided by users.json alone.
 */
#ifndef WGOTP_SESSION_IPS_H
#define WGOTP_SESSION_IPS_H

#include <stddef.h>

#include "directory.h"
#include "error.h"
#include "store.h"

/*
 * Succeeds only when s->user is in the directory, s->device is one of that
 * user's devices, s->public_key is that device's key, and s->allowed_ips
 * is a comma-separated list of one or more prefixes each of which is one
 * of the device's enrolled prefixes (the subset the protocol's
 * "allowed_ips" may ask for). Then out holds the list as the daemon
 * re-formats it (wgotp_cidr_format, comma-separated), the only text that
 * may go to WireGuard. Whether the user is enabled or the session has
 * expired is the caller's rule, not this one.
 *
 * -ENOENT: no such user or device; -EKEYREJECTED: another key; -EINVAL: a
 * piece that is not a prefix, or no prefix; -EPERM: a prefix that is not
 * the device's; -ENOBUFS: out is too small. err says which in words that
 * hold only what the directory or the parser vouch for (no stored text),
 * so it may be logged as it is.
 */
int wgotp_session_ips(const struct wgotp_directory *dir, const struct wgotp_session *s,
		      char *out, size_t outlen, struct wgotp_error *err);

#endif
