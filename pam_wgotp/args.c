/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Arguments. Every argument is known or the module fails closed: a typo
 * in "nullok" must not silently turn a gate into no gate, nor the other
 * way round.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "conf.h"

/* "key=value": the value when arg starts with key and '=', else NULL. */
static const char *value_of(const char *arg, const char *key)
{
	size_t n = strlen(key);

	if (strncmp(arg, key, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

static bool domain_valid(const char *d)
{
	if (!*d || *d == '.' || strlen(d) > 253)
		return false;
	for (; *d; d++) {
		unsigned char c = (unsigned char)*d;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

int pam_wgotp_args_parse(int argc, const char **argv, struct pam_wgotp_args *a,
			 char *why, size_t whylen)
{
	const char *v;
	bool bad;
	int i;

	memset(a, 0, sizeof(*a));
	a->config = WGOTP_DEFAULT_CONF;
	a->prompt = PAM_WGOTP_DEFAULT_PROMPT;
	why[0] = '\0';
	for (i = 0; i < argc; i++) {
		const char *arg = argv[i];

		if (!arg)
			continue;
		bad = false;
		if ((v = value_of(arg, "config"))) {
			bad = *v != '/';
			a->config = v;
		} else if ((v = value_of(arg, "domain"))) {
			bad = !domain_valid(v);
			a->domain = v;
		} else if ((v = value_of(arg, "prompt"))) {
			bad = !*v || strlen(v) > 200;
			a->prompt = v;
		} else if ((v = value_of(arg, "duration"))) {
			bad = wgotp_parse_duration(v, &a->duration) < 0 || a->duration <= 0;
		} else if (!strcmp(arg, "debug")) {
			a->debug = true;
		} else if (!strcmp(arg, "nullok")) {
			a->nullok = true;
		} else if (!strcmp(arg, "activate")) {
			a->activate = true;
		} else if (!strcmp(arg, "deactivate_on_close")) {
			a->deactivate_on_close = true;
		} else if (!strcmp(arg, "use_first_pass") || !strcmp(arg, "try_first_pass")) {
			enum pam_wgotp_first_pass fp = arg[0] == 'u' ? PAM_WGOTP_USE_FIRST_PASS :
							PAM_WGOTP_TRY_FIRST_PASS;

			if (a->first_pass != PAM_WGOTP_PROMPT && a->first_pass != fp) {
				snprintf(why, whylen, "use_first_pass and try_first_pass exclude each other");
				return -EINVAL;
			}
			a->first_pass = fp;
		} else {
			snprintf(why, whylen, "unknown argument \"%.64s\"", arg);
			return -EINVAL;
		}
		if (!bad)
			continue;
		snprintf(why, whylen, "bad value in \"%.64s\"%s", arg,
			 !strncmp(arg, "config=", 7) ? " (an absolute path)" :
			 !strncmp(arg, "duration=", 9) ? " (30m, 8h, 1d ...)" :
			 !strncmp(arg, "domain=", 7) ? " (a DNS domain)" : "");
		return -EINVAL;
	}
	if (a->duration && !a->activate) {
		snprintf(why, whylen, "duration= needs activate");
		return -EINVAL;
	}
	return 0;
}

int pam_wgotp_map_user(const struct pam_wgotp_args *a, const char *user, char *out, size_t outlen)
{
	int n;

	if (!user || !*user)
		return -EINVAL;
	if (strchr(user, '@') || !a->domain)
		n = snprintf(out, outlen, "%s", user);
	else
		n = snprintf(out, outlen, "%s@%s", user, a->domain);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}
