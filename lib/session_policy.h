/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The session policy, the one rule every front end (RADIUS, PAM,
 * wgotpctl, the portal) and wg-activator apply: how long a session asked
 * for `requested` seconds at instant `now` lasts, for a user of group
 * `group` (users.json "group"; NULL = none).
 *
 *   1. the limits: [Session] DefaultDuration, MaxDuration, Durations,
 *      NotAfter, WarnBefore, each overridden by the user's [Group NAME];
 *   2. the length: requested (0 = DefaultDuration) capped at MaxDuration,
 *      rounded down to one of Durations (never below the shortest);
 *   3. the cutoff: with NotAfter = HH:MM, no session runs past HH:MM local
 *      time ([Session] TimeZone) of the day the session starts; a login
 *      at or after that instant is refused (-ETIME) until local midnight.
 *
 * Deadlines are instants (seconds since the epoch): a session across a
 * DST change ends after exactly its length, and "18:00" is 18:00 on the
 * wall clock of that day, whatever its offset.
 */
#ifndef WGOTP_SESSION_POLICY_H
#define WGOTP_SESSION_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"

struct wgotp_policy {
	const char *group;		/* the group applied, or NULL */
	int64_t session_default, session_max;
	const int64_t *durations;
	int n_durations;
	int not_after;			/* minutes after local midnight; -1 = none */
	int64_t warn_before;		/* 0 = no warning */
};

/* The limits for group (NULL or "": the [Session] ones). -ENOENT: group
 * names no [Group] section (a login is refused: a typo in users.json must
 * not give a contractor the staff's limits). */
int wgotp_policy_get(const struct wgotp_config *cfg, const char *group, struct wgotp_policy *out);

struct wgotp_deadline_info {
	int64_t duration;		/* after 2. */
	int64_t expires;		/* now + duration, or the cutoff if earlier */
	int64_t cutoff;			/* the NotAfter instant of today, or 0 */
	int64_t warn_at;		/* when to warn, 0 = never (WarnBefore off) */
};

/* 1 to 3 at once. 0, -ENOENT (unknown group) or -ETIME (at or after
 * today's NotAfter: info->cutoff says when that was). */
int wgotp_session_deadline(const struct wgotp_config *cfg, const char *group, int64_t now,
			   int64_t requested, struct wgotp_deadline_info *info);

/* 2. alone. */
int64_t wgotp_policy_duration(const struct wgotp_policy *p, int64_t requested);

/* The NotAfter instant of the local day of now, or 0 without NotAfter. */
int64_t wgotp_policy_cutoff(const struct wgotp_config *cfg, const struct wgotp_policy *p,
			    int64_t now);

/* When to warn before a session that ends at expires: expires - WarnBefore,
 * or 0 when WarnBefore is off. */
int64_t wgotp_policy_warn_at(const struct wgotp_policy *p, int64_t expires);

/* When to send the warning of a session created at `created` that ends at
 * `expires`, seen at `now`: expires - WarnBefore; now when that has passed
 * but the session has not (a daemon that was down sends it late rather
 * than never); 0 for no warning: WarnBefore off, the session over, or a
 * session that was never longer than WarnBefore. */
int64_t wgotp_policy_warn_time(const struct wgotp_policy *p, int64_t created, int64_t expires,
			       int64_t now);

/* A new login on a live session: the deadline never moves earlier,
 * unless shorten (an explicit shorter choice, wgotp_shorten_allowed()). */
int64_t wgotp_session_extend(int64_t old_expires, int64_t new_expires, bool shorten);
/* Who may shorten: only the origins where the user or an admin chose a
 * length on purpose ("admin": wgotpctl, "portal"); never a login. */
bool wgotp_shorten_allowed(const char *origin);

/* t as "17:45" and "2026-03-29" in [Session] TimeZone. */
void wgotp_session_local_time(const struct wgotp_config *cfg, int64_t t, char *hhmm, size_t hlen,
			      char *date, size_t dlen);

#endif
