/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The grant: what a right code in the auth phase allows the session
 * phase to activate. PAM runs every module of a stack even after an
 * earlier one failed (`required`), so pam_sm_authenticate cannot know
 * whether the password before it was right; only a session opened after
 * the whole auth and account stacks succeeded may add a peer.
 *
 * A grant is a short-lived, single-use entry in the shared store, keyed
 * by a random id that reaches the session phase through pam_set_data
 * (same process) and the PAM environment (OpenSSH authenticates
 * keyboard-interactive logins in a child process and hands the PAM
 * environment, not the module data, to the process that opens the
 * session, and only when authentication and account succeeded).
 */
#ifndef PAM_WGOTP_GRANT_H
#define PAM_WGOTP_GRANT_H

#include <stdint.h>

#include "directory.h"
#include "store.h"

#define PAM_WGOTP_GRANT_ENV "WGOTP_GRANT"	/* PAM environment */
#define PAM_WGOTP_GRANT_DATA "pam_wgotp_grant"	/* pam_set_data */
#define PAM_WGOTP_GRANT_TTL 120			/* seconds from auth to session */
#define PAM_WGOTP_GRANT_ID_LEN 32		/* hex of 16 random bytes */
#define PAM_WGOTP_SERVICE_MAX 64

struct pam_wgotp_grant {
	char user[WGOTP_EMAIL_MAX + 1];		/* canonical, from the flow */
	char device[WGOTP_KEY_B64_LEN + 1];	/* public key, or "": all devices */
	int64_t duration;			/* seconds (0: the policy's) */
	char service[PAM_WGOTP_SERVICE_MAX + 1];	/* PAM_SERVICE of the auth */
};

/*
 * Store g, live until now + PAM_WGOTP_GRANT_TTL, under a new random id
 * written to id. -EINVAL for a field that does not fit; the store's errno.
 */
int pam_wgotp_grant_put(struct wgotp_store *st, const struct pam_wgotp_grant *g, int64_t now,
			char id[PAM_WGOTP_GRANT_ID_LEN + 1]);

/*
 * Take the grant id (it is gone afterwards, whatever follows). -EINVAL
 * for an id that is not one of ours, -ENOENT for one unknown, expired or
 * already taken, -EBADMSG for a stored value that does not parse; the
 * store's errno.
 */
int pam_wgotp_grant_take(struct wgotp_store *st, const char *id, int64_t now,
			 struct pam_wgotp_grant *out);

/* Forget a grant not taken (a second authentication on one handle). */
int pam_wgotp_grant_drop(struct wgotp_store *st, const char *id);

#endif
