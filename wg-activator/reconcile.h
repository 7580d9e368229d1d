/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reconcile: what must change so the interface matches the sessions.
 * rc_plan() is pure (directory, sessions, peers and now in; changes out),
 * so it is unit-tested without WireGuard. The rules:
 *
 *  - a session whose user is gone or disabled, whose device is gone or
 *    has another key now, or that has expired, ends: its peer is removed
 *    (if present), then the session is deleted;
 *  - a session of a permanent device (its user enabled, the device
 *    needing no code: wgotp_device_needs_otp) is deleted (no session is
 *    needed);
 *  - a session whose allowed IPs wgotp_session_ips() refuses (a piece
 *    that is no prefix, a prefix that is not its device's in users.json)
 *    is not applied and ends like a stale one: the store is not trusted
 *    for what goes onto the interface;
 *  - a live session whose peer is missing gets it (re-)added, with its
 *    allowed IPs as wgotp_session_ips() re-formats them;
 *  - a peer whose key is a managed device (one that needs a code, or
 *    whose user is disabled) and has no live session is removed;
 *  - a permanent device is always present: added if missing;
 *  - a peer whose key is no enrolled device is never touched.
 */
#ifndef WGA_RECONCILE_H
#define WGA_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "directory.h"
#include "store.h"
#include "wg.h"

/* The directory's device keys, sorted for lookups by key. */
struct dir_key {
	uint8_t key[WGOTP_KEY_LEN];
	const struct wgotp_user *user;
	const struct wgotp_device *device;
};

struct dir_index {
	struct dir_key *keys;
	size_t n;
};

int dir_index_build(const struct wgotp_directory *dir, struct dir_index *out);
const struct dir_key *dir_index_find(const struct dir_index *ix, const uint8_t key[WGOTP_KEY_LEN]);
void dir_index_free(struct dir_index *ix);

/* Is this device configured only while a session lives? (Per device:
 * "otp" in users.json, else the user's require_otp.) */
static inline bool rc_managed(const struct wgotp_user *u, const struct wgotp_device *d)
{
	return !u->enabled || wgotp_device_needs_otp(u, d);
}

struct rc_plan {
	struct wg_peer *changes;	/* one batch for wg_apply() */
	size_t n_changes;
	size_t *ended;			/* indexes of sessions to delete afterwards */
	size_t n_ended;
	size_t *refused;		/* ... of which these asked for more than users.json allows */
	size_t n_refused;
	char **texts;			/* allowed-ips strings the plan owns */
	size_t n_texts;
	/* for the log */
	size_t added, removed, expired, stale, permanent_added;
};

int rc_plan(const struct wgotp_directory *dir, const struct wgotp_session *sessions,
	    size_t n_sessions, const struct wg_peer_list *peers, int64_t now,
	    struct rc_plan *out);
void rc_plan_free(struct rc_plan *p);
/* Was session idx refused (its allowed IPs), rather than stale or expired? */
bool rc_refused(const struct rc_plan *p, size_t idx);

#endif
