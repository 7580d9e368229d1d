// SPDX-License-Identifier: GPL-2.0-or-later
/* Time zones from TZif files, without the process's TZ (see tz.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "tz.h"

#ifndef WGOTP_ZONEINFO
#define WGOTP_ZONEINFO "/usr/share/zoneinfo"
#endif
#define TZ_MAX_FILE (512 * 1024)
#define TZ_MAX_TRANSITIONS 4096
#define TZ_MAX_OFFSET (26 * 3600)	/* RFC 8536: within -25:59:59..25:59:59 */

struct tz_rule {
	int month, week, wday;	/* Mm.w.d */
	int32_t time;		/* seconds after local midnight */
};

struct wgotp_tz {
	size_t n;
	int64_t *times;		/* transitions, increasing */
	int32_t *offs;		/* the offset from times[i] on */
	int32_t off0;		/* before the first */
	/* The footer, for instants after the last transition. */
	bool has_footer, has_dst;
	int32_t std_off, dst_off;
	struct tz_rule start, end;
};

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : md[m - 1];
}

/* Midnight (as if UTC) of the day rule r names in year y. */
static int64_t rule_day(int64_t y, const struct tz_rule *r)
{
	int64_t first = days_from_civil(y, r->month, 1);
	int wd1 = (int)(((first % 7) + 7 + 4) % 7);	/* 1970-01-01 was a Thursday */
	int day = 1 + (r->wday - wd1 + 7) % 7 + 7 * (r->week - 1);

	while (day > month_days(y, r->month))
		day -= 7;
	return (first + day - 1) * 86400;
}

static int64_t year_of(int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (!gmtime_r(&tt, &tm))
		return 1970;
	return (int64_t)tm.tm_year + 1900;
}

static int32_t footer_offset(const struct wgotp_tz *tz, int64_t t)
{
	int64_t y, s, e;

	if (!tz->has_dst)
		return tz->std_off;
	y = year_of(t + tz->std_off);
	s = rule_day(y, &tz->start) + tz->start.time - tz->std_off;
	e = rule_day(y, &tz->end) + tz->end.time - tz->dst_off;
	if (s < e)
		return t >= s && t < e ? tz->dst_off : tz->std_off;
	return t >= e && t < s ? tz->std_off : tz->dst_off;	/* southern hemisphere */
}

int32_t wgotp_tz_offset(const struct wgotp_tz *tz, int64_t t)
{
	size_t lo = 0, hi;

	if (!tz) {
		time_t tt = (time_t)t;
		struct tm tm;

		return localtime_r(&tt, &tm) ? (int32_t)tm.tm_gmtoff : 0;
	}
	if (!tz->n)
		return tz->has_footer ? footer_offset(tz, t) : tz->off0;
	if (t < tz->times[0])
		return tz->off0;
	hi = tz->n;
	while (hi - lo > 1) {	/* the last transition <= t */
		size_t mid = lo + (hi - lo) / 2;

		if (tz->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	if (lo == tz->n - 1 && tz->has_footer)
		return footer_offset(tz, t);
	return tz->offs[lo];
}

void wgotp_tz_local(const struct wgotp_tz *tz, int64_t t, struct tm *out)
{
	int32_t off = wgotp_tz_offset(tz, t);
	time_t tt = (time_t)(t + off);

	memset(out, 0, sizeof(*out));
	gmtime_r(&tt, out);
	out->tm_gmtoff = off;
	out->tm_zone = NULL;
}

int64_t wgotp_tz_instant(const struct wgotp_tz *tz, const struct tm *local)
{
	struct tm tm = *local;
	int64_t w, cand[2], best = INT64_MAX;

	tm.tm_isdst = 0;
	w = (int64_t)timegm(&tm);	/* the wall time read as UTC */
	/* The offsets in force a day before and a day after: the instant is
	 * w minus one of them (transitions are more than a day apart). */
	cand[0] = w - wgotp_tz_offset(tz, w - 86400);
	cand[1] = w - wgotp_tz_offset(tz, w + 86400);
	for (int i = 0; i < 2; i++)
		if (cand[i] + wgotp_tz_offset(tz, cand[i]) == w && cand[i] < best)
			best = cand[i];
	return best != INT64_MAX ? best : cand[0];	/* a skipped wall time */
}

/* ---- TZif ------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* [+-]hh[:mm[:ss]] into seconds; advances *s. */
static int posix_time(const char **s, int32_t *out)
{
	const char *p = *s;
	int sign = 1, h = 0, m = 0, sec = 0;

	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p) && h < 1000)
		h = h * 10 + (*p++ - '0');
	if (*p == ':') {
		p++;
		if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
			return -EINVAL;
		m = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (*p == ':') {
			p++;
			if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
				return -EINVAL;
			sec = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
		}
	}
	if (h > 167 || m > 59 || sec > 59)
		return -EINVAL;
	*out = sign * (h * 3600 + m * 60 + sec);
	*s = p;
	return 0;
}

static int posix_name(const char **s)
{
	const char *p = *s;

	if (*p == '<') {
		p = strchr(p, '>');
		if (!p)
			return -EINVAL;
		*s = p + 1;
		return 0;
	}
	while (isalpha((unsigned char)*p))
		p++;
	if (p - *s < 3)
		return -EINVAL;
	*s = p;
	return 0;
}

static int posix_rule(const char **s, struct tz_rule *r)
{
	const char *p = *s;
	char *end;

	if (*p++ != 'M')
		return -EINVAL;		/* Jn and n forms: no zone in use has them */
	r->month = (int)strtol(p, &end, 10);
	if (end == p || *end != '.')
		return -EINVAL;
	p = end + 1;
	r->week = (int)strtol(p, &end, 10);
	if (end == p || *end != '.')
		return -EINVAL;
	p = end + 1;
	r->wday = (int)strtol(p, &end, 10);
	if (end == p)
		return -EINVAL;
	p = end;
	if (r->month < 1 || r->month > 12 || r->week < 1 || r->week > 5 || r->wday < 0 || r->wday > 6)
		return -EINVAL;
	r->time = 7200;
	if (*p == '/') {
		p++;
		if (posix_time(&p, &r->time) < 0)
			return -EINVAL;
	}
	*s = p;
	return 0;
}

/* "CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0", "UTC0", "<+03>-3" */
static int parse_footer(struct wgotp_tz *tz, const char *s)
{
	int32_t v;

	if (posix_name(&s) < 0 || posix_time(&s, &v) < 0 || v > TZ_MAX_OFFSET || v < -TZ_MAX_OFFSET)
		return -EINVAL;
	tz->std_off = -v;
	tz->has_footer = true;
	if (!*s)
		return 0;
	if (posix_name(&s) < 0)
		return -EINVAL;
	tz->has_dst = true;
	tz->dst_off = tz->std_off + 3600;
	if (*s && *s != ',') {
		if (posix_time(&s, &v) < 0 || v > TZ_MAX_OFFSET || v < -TZ_MAX_OFFSET)
			return -EINVAL;
		tz->dst_off = -v;
	}
	/* The implied DST offset (an hour ahead) may pass the bound too. */
	if (tz->dst_off > TZ_MAX_OFFSET || tz->dst_off < -TZ_MAX_OFFSET)
		return -EINVAL;
	if (*s++ != ',' || posix_rule(&s, &tz->start) < 0 || *s++ != ',' ||
	    posix_rule(&s, &tz->end) < 0 || *s)
		return -EINVAL;
	return 0;
}

void wgotp_tz_free(struct wgotp_tz *tz)
{
	if (!tz)
		return;
	free(tz->times);
	free(tz->offs);
	free(tz);
}

int wgotp_tz_parse(const char *name, const unsigned char *buf, size_t len, struct wgotp_tz **out,
		   struct wgotp_error *err)
{
	struct wgotp_tz *tz = NULL;
	const unsigned char *p, *types, *info;
	uint32_t isut, isstd, leaps, timecnt, typecnt, charcnt;
	size_t body, pos;
	char footer[128];
	int ret = -EINVAL;

	*out = NULL;
	if (len < 44 || memcmp(buf, "TZif", 4) != 0 || buf[4] < '2')
		return wgotp_error_set(err, EINVAL, "time zone %s: not a TZif file of version 2 or later",
				       name);
	/* skip the version 1 block: 32-bit times */
	p = buf + 20;
	isut = be32(p), isstd = be32(p + 4), leaps = be32(p + 8);
	timecnt = be32(p + 12), typecnt = be32(p + 16), charcnt = be32(p + 20);
	body = (size_t)timecnt * 5 + (size_t)typecnt * 6 + charcnt + (size_t)leaps * 8 + isstd + isut;
	pos = 44 + body;
	if (timecnt > TZ_MAX_TRANSITIONS || typecnt > 256 || pos + 44 > len ||
	    memcmp(buf + pos, "TZif", 4) != 0)
		goto bad;
	p = buf + pos + 20;
	isut = be32(p), isstd = be32(p + 4), leaps = be32(p + 8);
	timecnt = be32(p + 12), typecnt = be32(p + 16), charcnt = be32(p + 20);
	pos += 44;
	if (timecnt > TZ_MAX_TRANSITIONS || typecnt == 0 || typecnt > 256 || charcnt > 4096 ||
	    leaps > 1024 || isstd > typecnt || isut > typecnt)
		goto bad;
	body = (size_t)timecnt * 9 + (size_t)typecnt * 6 + charcnt + (size_t)leaps * 12 + isstd + isut;
	if (pos + body > len)
		goto bad;
	tz = calloc(1, sizeof(*tz));
	if (!tz || (timecnt && (!(tz->times = calloc(timecnt, sizeof(*tz->times))) ||
				!(tz->offs = calloc(timecnt, sizeof(*tz->offs)))))) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	types = buf + pos + (size_t)timecnt * 8;
	info = types + timecnt;
	for (uint32_t i = 0; i < timecnt; i++) {
		tz->times[i] = be64(buf + pos + (size_t)i * 8);
		if (types[i] >= typecnt || (i && tz->times[i] <= tz->times[i - 1]))
			goto bad;
		tz->offs[i] = (int32_t)be32(info + (size_t)types[i] * 6);
	}
	for (uint32_t i = 0; i < typecnt; i++) {
		int32_t off = (int32_t)be32(info + (size_t)i * 6);

		if (off > TZ_MAX_OFFSET || off < -TZ_MAX_OFFSET)
			goto bad;
	}
	tz->n = timecnt;
	/* before the first transition: the first standard-time type */
	tz->off0 = (int32_t)be32(info);
	for (uint32_t i = 0; i < typecnt; i++) {
		if (!info[(size_t)i * 6 + 4]) {
			tz->off0 = (int32_t)be32(info + (size_t)i * 6);
			break;
		}
	}
	pos += body;
	if (pos < len && buf[pos] == '\n') {
		const unsigned char *nl = memchr(buf + pos + 1, '\n', len - pos - 1);
		size_t fl = nl ? (size_t)(nl - (buf + pos + 1)) : 0;

		if (nl && fl > 0 && fl < sizeof(footer)) {
			memcpy(footer, buf + pos + 1, fl);
			footer[fl] = '\0';
			if (parse_footer(tz, footer) < 0) {
				ret = wgotp_error_set(err, EINVAL, "time zone %s: footer \"%s\" not understood",
						      name, footer);
				goto cleanup;
			}
		}
	}
	*out = tz;
	tz = NULL;
	ret = 0;
	goto cleanup;
bad:
	ret = wgotp_error_set(err, EINVAL, "time zone %s: malformed TZif file", name);
cleanup:
	wgotp_tz_free(tz);
	return ret;
}

int wgotp_tz_load(const char *name, struct wgotp_tz **out, struct wgotp_error *err)
{
	const char *dir = getenv("WGOTP_ZONEINFO");
	char path[4096], *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	if (!name || !*name)
		return 0;
	if (name[0] == '/' || strstr(name, "..") || strlen(name) > 255)
		return wgotp_error_set(err, EINVAL, "time zone \"%s\": not a zone name (Europe/Berlin)",
				       name);
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("/_+-", *c))
			return wgotp_error_set(err, EINVAL,
					       "time zone \"%s\": not a zone name (Europe/Berlin)", name);
	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : WGOTP_ZONEINFO, name);
	ret = wgotp_file_read(path, TZ_MAX_FILE, &buf, &len, err);
	if (ret < 0)
		return ret == -ENOENT ? wgotp_error_set(err, ENOENT, "time zone \"%s\": no such zone (%s)",
							name, path) : ret;
	ret = wgotp_tz_parse(name, (const unsigned char *)buf, len, out, err);
	free(buf);
	return ret;
}
