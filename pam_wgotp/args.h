/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The module's arguments, as written after pam_wgotp.so in /etc/pam.d. */
#ifndef PAM_WGOTP_ARGS_H
#define PAM_WGOTP_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#define PAM_WGOTP_DEFAULT_PROMPT "Verification code: "

enum pam_wgotp_first_pass {
	PAM_WGOTP_PROMPT,		/* always ask */
	PAM_WGOTP_TRY_FIRST_PASS,	/* PAM_AUTHTOK if it looks like a code, else ask */
	PAM_WGOTP_USE_FIRST_PASS,	/* PAM_AUTHTOK only, never ask */
};

struct pam_wgotp_args {
	const char *config;		/* config=FILE (borrowed from argv) */
	const char *domain;		/* domain=DOMAIN: user -> user@DOMAIN */
	const char *prompt;		/* prompt=TEXT */
	bool debug;
	bool nullok;
	bool activate;
	bool deactivate_on_close;
	enum pam_wgotp_first_pass first_pass;
	int64_t duration;		/* duration=8h (seconds; 0 = default) */
};

/*
 * Parse argv into a; on an unknown or bad argument, write a message
 * naming it into why and return -EINVAL (the module then fails closed).
 */
int pam_wgotp_args_parse(int argc, const char **argv, struct pam_wgotp_args *a,
			 char *why, size_t whylen);

/*
 * The directory user for PAM user `user`: "user" as is when it holds an
 * '@' or no domain= is set, else "user@domain". -ENAMETOOLONG when it
 * does not fit, -EINVAL for an empty name.
 */
int pam_wgotp_map_user(const struct pam_wgotp_args *a, const char *user, char *out, size_t outlen);

#endif
