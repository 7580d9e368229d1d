// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The session policy (lib/session_policy.c) and time zones (lib/tz.c) at
 * exact instants: group overrides, NotAfter cutoffs across the DST
 * changes of Europe/Berlin and America/New_York, skipped and repeated
 * wall times, the TZif footer after the last transition, and the zone
 * code against glibc's localtime_r hour by hour.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "session_policy.h"
#include "tap.h"
#include "tz.h"

#define H 3600

static struct wgotp_config *conf(const char *text, struct wgotp_error *err)
{
	struct wgotp_config *cfg = NULL;

	if (wgotp_config_parse("/t/wgotp.conf", text, strlen(text), &cfg, err) < 0)
		return NULL;
	return cfg;
}

static const char base[] =
	"[Session]\n"
	"DefaultDuration = 8h\n"
	"MaxDuration = 12h\n"
	"Durations = 1h, 4h, 8h, 12h\n";

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
			 .tm_min = mi };

	return (int64_t)timegm(&tm);
}

static int have_zone(const char *z)
{
	struct wgotp_tz *tz = NULL;
	struct wgotp_error err = { "" };
	int ret = wgotp_tz_load(z, &tz, &err);

	wgotp_tz_free(tz);
	return ret == 0;
}

static void test_groups(void)
{
	char text[2048];
	struct wgotp_error err = { "" };
	struct wgotp_config *cfg;
	struct wgotp_deadline_info di;
	struct wgotp_policy p;
	int64_t now = utc(2026, 6, 1, 8, 0);

	snprintf(text, sizeof(text), "%s"
		 "WarnBefore = 15m\n"
		 "[Mail]\nTransport = sendmail\nFrom = vpn@example.com\n"
		 "[Group contractors]\n"
		 "MaxDuration = 4h\n"
		 "Durations = 30m, 2h, 4h\n"
		 "WarnBefore = 5m\n"
		 "[Group staff]\n"
		 "DefaultDuration = 12h\n"
		 "WarnBefore =\n", base);
	cfg = conf(text, &err);
	ok(cfg != NULL, "a configuration with [Group contractors] and [Group staff] (%s)", err.msg);
	if (!cfg)
		return;
	is_int(cfg->n_groups, 2, "  two groups");

	is_int(wgotp_session_deadline(cfg, NULL, now, 0, &di), 0, "no group: [Session]");
	is_int(di.duration, 8 * H, "  DefaultDuration 8h");
	is_int(di.expires, now + 8 * H, "  ends 8 h later");
	is_int(di.warn_at, now + 8 * H - 900, "  warned 15 min before");

	is_int(wgotp_session_deadline(cfg, "contractors", now, 0, &di), 0, "contractors");
	is_int(di.duration, 4 * H, "  the default 8h is capped at the group's MaxDuration 4h");
	is_int(wgotp_session_deadline(cfg, "contractors", now, 3 * H, &di), 0, "contractors ask 3h");
	is_int(di.duration, 2 * H, "  rounded down to the group's Durations (2h)");
	is_int(wgotp_session_deadline(cfg, "contractors", now, 60, &di), 0, "contractors ask 1 min");
	is_int(di.duration, 1800, "  never below the group's shortest (30m)");
	is_int(di.warn_at, now + 1800 - 300, "  the group's WarnBefore (5m)");

	is_int(wgotp_session_deadline(cfg, "staff", now, 0, &di), 0, "staff");
	is_int(di.duration, 12 * H, "  the group's DefaultDuration 12h");
	is_int(di.warn_at, 0, "  WarnBefore empty in the group: no warning");
	is_int(wgotp_session_deadline(cfg, "staff", now, 24 * H, &di), 0, "staff ask 24h");
	is_int(di.duration, 12 * H, "  capped at [Session] MaxDuration (not overridden)");

	is_int(wgotp_session_deadline(cfg, "nosuch", now, 0, &di), -ENOENT,
	       "an unknown group is refused, not given the defaults");
	is_int(wgotp_policy_get(cfg, "", &p), 0, "an empty group is no group");
	ok(p.group == NULL, "  none applied");
	wgotp_config_free(cfg);
}

static void test_conf_errors(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[Group bad name!]\nMaxDuration = 1h\n", "a group name is" },
		{ "[Group a]\n[Group a]\n", "appears twice" },
		{ "[Group a]\nInterface = wg1\n", "unknown key [Group a] Interface" },
		{ "[Group a]\nMaxDuration = 1h\nMaxDuration = 2h\n", "set twice" },
		{ "[Group a]\nMaxDuration = 1h\n", "may not be longer than MaxDuration" },
		{ "[Group a]\nWarnBefore = 5m\n", "needs a [Mail] Transport" },
		{ "[Session]\nNotAfter = 25:00\n", "not a time of day" },
		{ "[Session]\nNotAfter = 8:00\n", "not a time of day" },
		{ "[Session]\nNotAfter = 18:00x\n", "not a time of day" },
		{ "[Session]\nNotAfter = 00:00\n", "would refuse every login" },
		{ "[Group g]\nNotAfter = 00:00\n", "would refuse every login" },
		{ "[Group g]\nMaxDuration = 4x\n", ":2: [Group g] MaxDuration: \"4x\" is not a duration" },
		{ "[Session]\nWarnBefore = 10x\n", "not a duration" },
		{ "[Session]\nTimeZone = ../../etc/passwd\n", "not a zone name" },
		{ "[Session]\nTimeZone = Nowhere/Atlantis\n", "no such zone" },
		{ "[Session]\nWarnBefore = 15m\n", "needs a [Mail] Transport" },
	};
	struct wgotp_error err;
	struct wgotp_config *cfg;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		cfg = conf(bad[i].text, &err);
		ok(!cfg && strstr(err.msg, bad[i].want), "refused: %s", err.msg);
		wgotp_config_free(cfg);
	}
	cfg = conf("[Session]\nNotAfter =\nWarnBefore =\nTimeZone =\n", &err);
	ok(cfg && cfg->session_not_after == -1 && cfg->session_warn_before == 0 && !cfg->session_tz,
	   "empty NotAfter, WarnBefore and TimeZone are off");
	wgotp_config_free(cfg);
}

/* NotAfter = 18:00 in ZONE for a group; a login on each day at exact instants. */
static void test_cutoff(const char *zone)
{
	char text[2048];
	struct wgotp_error err = { "" };
	struct wgotp_config *cfg;
	struct wgotp_deadline_info di;
	struct {
		int y, m, d;	/* the local day */
		int64_t cut;	/* 18:00 local that day, in UTC */
	} days[4];
	bool berlin = !strcmp(zone, "Europe/Berlin");

	if (!have_zone(zone)) {
		ok(1, "# SKIP no zone %s here", zone);
		return;
	}
	/* the days of the spring and autumn changes and the days before:
	 * the offset of 18:00 differs from the one at midnight */
	if (berlin) {
		days[0].y = 2026, days[0].m = 3, days[0].d = 28, days[0].cut = utc(2026, 3, 28, 17, 0);
		days[1].y = 2026, days[1].m = 3, days[1].d = 29, days[1].cut = utc(2026, 3, 29, 16, 0);
		days[2].y = 2026, days[2].m = 10, days[2].d = 24, days[2].cut = utc(2026, 10, 24, 16, 0);
		days[3].y = 2026, days[3].m = 10, days[3].d = 25, days[3].cut = utc(2026, 10, 25, 17, 0);
	} else {
		days[0].y = 2026, days[0].m = 3, days[0].d = 7, days[0].cut = utc(2026, 3, 7, 23, 0);
		days[1].y = 2026, days[1].m = 3, days[1].d = 8, days[1].cut = utc(2026, 3, 8, 22, 0);
		days[2].y = 2026, days[2].m = 10, days[2].d = 31, days[2].cut = utc(2026, 10, 31, 22, 0);
		days[3].y = 2026, days[3].m = 11, days[3].d = 1, days[3].cut = utc(2026, 11, 1, 23, 0);
	}
	snprintf(text, sizeof(text), "%sTimeZone = %s\n[Group day]\nNotAfter = 18:00\n", base, zone);
	cfg = conf(text, &err);
	ok(cfg != NULL, "%s: a group with NotAfter = 18:00 (%s)", zone, err.msg);
	if (!cfg)
		return;
	for (int i = 0; i < 4; i++) {
		int64_t cut = days[i].cut;

		is_int(wgotp_session_deadline(cfg, "day", cut - H, 8 * H, &di), 0,
		       "%s %04d-%02d-%02d: a login at 17:00 local for 8 h", zone, days[i].y, days[i].m,
		       days[i].d);
		is_int(di.expires, cut, "  ends at 18:00 local (%lld)", (long long)cut);
		is_int(di.cutoff, cut, "  the cutoff is that day's 18:00");
		is_int(wgotp_session_deadline(cfg, "day", cut - 1, 8 * H, &di), 0,
		       "  a login one second before 18:00");
		is_int(di.expires, cut, "  gets one second");
		is_int(wgotp_session_deadline(cfg, "day", cut, 8 * H, &di), -ETIME,
		       "  a login at 18:00 exactly is refused");
		is_int(wgotp_session_deadline(cfg, "day", cut + 5 * H, 0, &di), -ETIME,
		       "  and at 23:00");
		/* a login just after local midnight (the morning after) is the
		 * next day's: its cutoff is the next 18:00 */
	}
	/* A session across the change ends after exactly its length: from
	 * 00:00 local the night of the change, 8 h later in seconds. */
	{
		int64_t start = berlin ? utc(2026, 3, 28, 23, 0) : utc(2026, 3, 8, 5, 0);

		is_int(wgotp_session_deadline(cfg, NULL, start, 8 * H, &di), 0,
		       "%s: a session at local midnight of the spring change", zone);
		is_int(di.expires, start + 8 * H, "  ends 8 h of real time later (not 7 or 9)");
		is_int(wgotp_session_deadline(cfg, "day", start, 12 * H, &di), 0,
		       "  with NotAfter, 12 h asked at midnight");
		is_int(di.expires, start + 12 * H, "  ends 12 h later, before the cutoff");
		is_int(days[1].cut - start, 17 * H,
		       "  whose 18:00 is 17 h after a midnight that lost an hour");
		is_int(wgotp_session_deadline(cfg, "day", days[1].cut - 10 * H, 12 * H, &di), 0,
		       "  12 h asked at 08:00 local");
		is_int(di.expires, days[1].cut, "  end at 18:00 local, capped");
	}
	wgotp_config_free(cfg);
}

static void test_tz_edges(void)
{
	struct wgotp_tz *tz = NULL;
	struct wgotp_error err = { "" };
	struct tm tm;

	if (!have_zone("Europe/Berlin")) {
		ok(1, "# SKIP no zone Europe/Berlin here");
		return;
	}
	is_int(wgotp_tz_load("Europe/Berlin", &tz, &err), 0, "load Europe/Berlin (%s)", err.msg);
	/* 2026-03-29 02:30 does not happen: read as CET, it is 03:30 CEST */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 126, tm.tm_mon = 2, tm.tm_mday = 29, tm.tm_hour = 2, tm.tm_min = 30;
	is_int(wgotp_tz_instant(tz, &tm), utc(2026, 3, 29, 1, 30), "a skipped 02:30 lands at 03:30 CEST");
	/* 2026-10-25 02:30 happens twice: the first one (CEST) */
	tm.tm_mon = 9, tm.tm_mday = 25;
	is_int(wgotp_tz_instant(tz, &tm), utc(2026, 10, 25, 0, 30), "a repeated 02:30 is its first instant");
	is_int(wgotp_tz_offset(tz, utc(2026, 3, 29, 0, 59) + 59), 3600, "00:59:59 UTC on the change: CET");
	is_int(wgotp_tz_offset(tz, utc(2026, 3, 29, 1, 0)), 7200, "01:00:00 UTC: CEST");
	is_int(wgotp_tz_offset(tz, utc(2026, 10, 25, 0, 59) + 59), 7200, "autumn 00:59:59 UTC: CEST");
	is_int(wgotp_tz_offset(tz, utc(2026, 10, 25, 1, 0)), 3600, "autumn 01:00:00 UTC: CET");
	/* after the last transition of the file: the footer's rule */
	is_int(wgotp_tz_offset(tz, utc(2061, 7, 1, 12, 0)), 7200, "2061 summer: CEST (footer)");
	is_int(wgotp_tz_offset(tz, utc(2061, 1, 1, 12, 0)), 3600, "2061 winter: CET (footer)");
	is_int(wgotp_tz_offset(tz, utc(2061, 3, 27, 1, 0)), 7200, "2061-03-27 01:00 UTC: CEST (last Sunday)");
	is_int(wgotp_tz_offset(tz, utc(2061, 3, 27, 0, 59)), 3600, "2061-03-27 00:59 UTC: CET");
	wgotp_tz_local(tz, utc(2026, 3, 29, 16, 0), &tm);
	is_int(tm.tm_hour, 18, "16:00 UTC on 2026-03-29 is 18:00 in Berlin");
	wgotp_tz_free(tz);

	is_int(wgotp_tz_parse("x", (const unsigned char *)"TZif2", 5, &tz, &err), -EINVAL,
	       "a truncated TZif file is refused");
	is_int(wgotp_tz_parse("x", (const unsigned char *)"not a zone file at all, no, not at all ...", 44,
			      &tz, &err), -EINVAL, "a non-TZif file is refused");
}

/* The zone code against glibc (with TZ set in this test process only),
 * every hour of 2025 to 2027 and some days up to 2070. */
static void test_against_glibc(const char *zone)
{
	struct wgotp_tz *tz = NULL;
	struct wgotp_error err = { "" };
	int64_t t0 = utc(2025, 1, 1, 0, 0), t1 = utc(2028, 1, 1, 0, 0);
	int bad = 0, n = 0, bad_inst = 0;

	if (!have_zone(zone)) {
		ok(1, "# SKIP no zone %s here", zone);
		return;
	}
	wgotp_tz_load(zone, &tz, &err);
	setenv("TZ", zone, 1);
	tzset();
	for (int64_t t = t0; t < utc(2070, 1, 1, 0, 0); t += t < t1 ? H : 7 * 86400 - H) {
		time_t tt = (time_t)t;
		struct tm g, w;

		localtime_r(&tt, &g);
		if (wgotp_tz_offset(tz, t) != g.tm_gmtoff)
			bad++;
		/* local -> instant -> local is the identity except in the
		 * repeated hour, where it picks the first */
		wgotp_tz_local(tz, t, &w);
		if (wgotp_tz_instant(tz, &w) != t && wgotp_tz_instant(tz, &w) != t - H)
			bad_inst++;
		n++;
	}
	/* and the NULL zone (the process's local time) gives the same */
	is_int(wgotp_tz_offset(NULL, utc(2026, 7, 1, 0, 0)), wgotp_tz_offset(tz, utc(2026, 7, 1, 0, 0)),
	       "%s: the local zone (TZ) agrees with the TZif zone", zone);
	unsetenv("TZ");
	tzset();
	is_int(bad, 0, "%s: the offset is glibc's at each of %d instants", zone, n);
	is_int(bad_inst, 0, "%s: wall time -> instant round trips", zone);
	wgotp_tz_free(tz);
}

/* The warning's instant ([Session] WarnBefore = 15m) at exact instants. */
static void test_warn_time(void)
{
	struct wgotp_policy p = { .warn_before = 900 };
	const int64_t t = 1774800000;	/* a session created at t for 8 h */
	const int64_t end = t + 8 * H;

	is_int(wgotp_policy_warn_time(&p, t, end, t), end - 900, "armed 15 min before the end");
	is_int(wgotp_policy_warn_time(&p, t, end, end - 901), end - 900, "  one second before it: still then");
	is_int(wgotp_policy_warn_time(&p, t, end, end - 900), end - 900, "  at it: now");
	is_int(wgotp_policy_warn_time(&p, t, end, end - 60), end - 60,
	       "seen after its time (a restart): at once");
	is_int(wgotp_policy_warn_time(&p, t, end, end), 0, "at the end: none");
	is_int(wgotp_policy_warn_time(&p, t, end + 3600, t + 3600), end + 3600 - 900,
	       "an extend moves it to the new end");
	is_int(wgotp_policy_warn_time(&p, t, t + 600, t), 0,
	       "a 10 min session with WarnBefore 15m: no warning");
	is_int(wgotp_policy_warn_time(&p, t, t + 900, t), t, "exactly WarnBefore long: at its start");
	p.warn_before = 0;
	is_int(wgotp_policy_warn_time(&p, t, end, t), 0, "WarnBefore off: none");
	/* a session across the spring change: the warning is 15 real minutes
	 * before the instant, whatever the wall clock says */
	p.warn_before = 900;
	is_int(wgotp_policy_warn_time(&p, 1774738800, 1774738800 + 3 * H, 1774738800),
	       1774738800 + 3 * H - 900, "across a DST change: 900 s before the instant");
}

static void test_extend_rules(void)
{
	is_int(wgotp_session_extend(1000, 2000, false), 2000, "a later deadline extends");
	is_int(wgotp_session_extend(2000, 1000, false), 2000, "an earlier one does not shorten");
	is_int(wgotp_session_extend(2000, 2000, false), 2000, "the same stays");
	is_int(wgotp_session_extend(2000, 1000, true), 1000, "shorten sets the earlier one");
	is_int(wgotp_session_extend(1000, 2000, true), 2000, "shorten may also extend");
	ok(wgotp_shorten_allowed("admin"), "admin (wgotpctl) may shorten");
	ok(wgotp_shorten_allowed("portal"), "the portal may shorten");
	ok(!wgotp_shorten_allowed("radius"), "a RADIUS login may not");
	ok(!wgotp_shorten_allowed("pam"), "a PAM login may not");
	ok(!wgotp_shorten_allowed(""), "nor no origin");
	ok(!wgotp_shorten_allowed(NULL), "nor NULL");
	ok(!wgotp_shorten_allowed("Admin"), "origins are exact");
}

int main(void)
{
	test_extend_rules();
	test_warn_time();
	test_groups();
	test_conf_errors();
	test_cutoff("Europe/Berlin");
	test_cutoff("America/New_York");
	test_tz_edges();
	test_against_glibc("Europe/Berlin");
	test_against_glibc("America/New_York");
	test_against_glibc("Australia/Sydney");
	return done_testing();
}
