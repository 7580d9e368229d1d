/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Time zones without touching the process: [Session] TimeZone names a
 * zone of the system's tz database (/usr/share/zoneinfo/NAME, TZif
 * version 2 or later, with its POSIX TZ footer for instants after the
 * last transition). No setenv("TZ") or tzset(): this code runs inside
 * FreeRADIUS and sshd, whose other threads read the environment.
 *
 * A NULL zone is the system's local time (localtime_r, mktime).
 * Deadlines are instants (seconds since the epoch); a zone only says
 * which instant a local wall time means.
 */
#ifndef WGOTP_TZ_H
#define WGOTP_TZ_H

#include <stdint.h>
#include <time.h>

#include "error.h"

struct wgotp_tz;

/* Load zone NAME ("Europe/Berlin", "UTC"): a relative path under
 * WGOTP_ZONEINFO (or $WGOTP_ZONEINFO, for tests) without "..". "" or NULL:
 * *out = NULL, the local time. -ENOENT, -EINVAL with err set. */
int wgotp_tz_load(const char *name, struct wgotp_tz **out, struct wgotp_error *err);
/* Parse a TZif image (fuzz target, tests). */
int wgotp_tz_parse(const char *name, const unsigned char *buf, size_t len, struct wgotp_tz **out,
		   struct wgotp_error *err);
void wgotp_tz_free(struct wgotp_tz *tz);

/* The UTC offset (seconds east) in force at instant t. */
int32_t wgotp_tz_offset(const struct wgotp_tz *tz, int64_t t);

/* The local wall time of t: tm fields as localtime_r fills them. */
void wgotp_tz_local(const struct wgotp_tz *tz, int64_t t, struct tm *out);

/* The instant of a local wall time (tm_year, tm_mon, tm_mday, tm_hour,
 * tm_min, tm_sec; the rest ignored). A wall time that happens twice (the
 * hour repeated when DST ends) is its first instant; one that does not
 * happen (skipped when DST starts) is read with the offset before the
 * change, so it lands just after it (02:30 -> 03:30). */
int64_t wgotp_tz_instant(const struct wgotp_tz *tz, const struct tm *local);

#endif
