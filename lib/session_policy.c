// SPDX-License-Identifier: GPL-2.0-or-later
/* The session policy (see session_policy.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "session_policy.h"
#include "tz.h"

int wgotp_policy_get(const struct wgotp_config *cfg, const char *group, struct wgotp_policy *out)
{
	const struct wgotp_group *g = NULL;

	out->group = NULL;
	out->session_default = cfg->session_default;
	out->session_max = cfg->session_max;
	out->durations = cfg->session_durations;
	out->n_durations = cfg->n_session_durations;
	out->not_after = cfg->session_not_after;
	out->warn_before = cfg->session_warn_before;
	if (!group || !*group)
		return 0;
	for (int i = 0; i < cfg->n_groups && !g; i++)
		if (!strcmp(cfg->groups[i].name, group))
			g = &cfg->groups[i];
	if (!g)
		return -ENOENT;
	out->group = g->name;
	if (g->set & WGOTP_GROUP_DEFAULT)
		out->session_default = g->session_default;
	if (g->set & WGOTP_GROUP_MAX)
		out->session_max = g->session_max;
	if (g->set & WGOTP_GROUP_DURATIONS) {
		out->durations = g->session_durations;
		out->n_durations = g->n_session_durations;
	}
	if (g->set & WGOTP_GROUP_NOT_AFTER)
		out->not_after = g->session_not_after;
	if (g->set & WGOTP_GROUP_WARN)
		out->warn_before = g->session_warn_before;
	/* A group that lowers MaxDuration under the default keeps it valid. */
	if (out->session_default > out->session_max)
		out->session_default = out->session_max;
	return 0;
}

int64_t wgotp_policy_duration(const struct wgotp_policy *p, int64_t requested)
{
	int64_t d = requested > 0 ? requested : p->session_default;
	int64_t best = p->durations[0];

	if (d > p->session_max)
		d = p->session_max;
	for (int i = 0; i < p->n_durations; i++)
		if (p->durations[i] <= d)
			best = p->durations[i];
	return best;
}

int64_t wgotp_policy_cutoff(const struct wgotp_config *cfg, const struct wgotp_policy *p,
			    int64_t now)
{
	struct tm tm;

	if (p->not_after < 0)
		return 0;
	wgotp_tz_local(cfg->session_tz, now, &tm);
	tm.tm_hour = p->not_after / 60;
	tm.tm_min = p->not_after % 60;
	tm.tm_sec = 0;
	return wgotp_tz_instant(cfg->session_tz, &tm);
}

int64_t wgotp_policy_warn_at(const struct wgotp_policy *p, int64_t expires)
{
	return p->warn_before > 0 && expires > p->warn_before ? expires - p->warn_before : 0;
}

int wgotp_session_deadline(const struct wgotp_config *cfg, const char *group, int64_t now,
			   int64_t requested, struct wgotp_deadline_info *info)
{
	struct wgotp_policy p;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = wgotp_policy_get(cfg, group, &p);
	if (ret < 0)
		return ret;
	info->duration = wgotp_policy_duration(&p, requested);
	info->expires = now + info->duration;
	info->cutoff = wgotp_policy_cutoff(cfg, &p, now);
	if (info->cutoff) {
		if (now >= info->cutoff)
			return -ETIME;
		if (info->expires > info->cutoff)
			info->expires = info->cutoff;
	}
	info->warn_at = wgotp_policy_warn_at(&p, info->expires);
	return 0;
}

void wgotp_session_local_time(const struct wgotp_config *cfg, int64_t t, char *hhmm, size_t hlen,
			      char *date, size_t dlen)
{
	struct tm tm;

	wgotp_tz_local(cfg->session_tz, t, &tm);
	if (hhmm)
		snprintf(hhmm, hlen, "%02d:%02d", tm.tm_hour, tm.tm_min);
	if (date)
		snprintf(date, dlen, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int64_t wgotp_session_extend(int64_t old_expires, int64_t new_expires, bool shorten)
{
	return shorten || new_expires > old_expires ? new_expires : old_expires;
}

bool wgotp_shorten_allowed(const char *origin)
{
	return origin && (!strcmp(origin, "admin") || !strcmp(origin, "portal"));
}

int64_t wgotp_policy_warn_time(const struct wgotp_policy *p, int64_t created, int64_t expires,
			       int64_t now)
{
	int64_t at = wgotp_policy_warn_at(p, expires);

	if (!at || expires <= now || at < created)
		return 0;
	return at < now ? now : at;
}
