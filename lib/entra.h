/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The members of an Entra ID group through Microsoft Graph
 * (GET /v1.0/groups/{id}/transitiveMembers), with the mail transport's
 * app registration ([Graph]: Tenant, ClientId, a client secret or a
 * certificate; doc/entra.md), which also needs the GroupMember.Read.All
 * application permission. Used by wgotpctl sync entra.
 */
#ifndef WGOTP_ENTRA_H
#define WGOTP_ENTRA_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "error.h"
#include "store.h"

#define WGOTP_ENTRA_MAX_PAGES 10000	/* 999 members a page: ~10 million */
#define WGOTP_ENTRA_PAGE_MS 60000	/* the time budget of one page, retries included */

/* One user of the group: email is mail, else userPrincipalName when that
 * is an address, lower case; NULL when neither is (the member is then
 * skipped by the caller). */
struct wgotp_entra_member {
	const char *id;
	const char *email;
	const char *name;		/* displayName, may be NULL */
	bool enabled;			/* accountEnabled (true when absent) */
};

/* Called for each user in the group (groups and devices, which
 * transitiveMembers also lists, are not passed); non-zero stops. */
typedef int (*wgotp_entra_member_cb)(void *arg, const struct wgotp_entra_member *m);

/* A GUID, as Entra ID's object ids are: 8-4-4-4-12 hex digits. */
bool wgotp_entra_group_id_ok(const char *id);

/*
 * One page of the answer (fuzz and unit target): cb for each user, *next
 * the "@odata.nextLink" (malloc'ed) or NULL on the last page. -EPROTO when
 * it is not such a page.
 */
int wgotp_entra_parse_page(const char *json, size_t len, wgotp_entra_member_cb cb, void *arg,
			   char **next, struct wgotp_error *err);

/*
 * Every page, following @odata.nextLink (only links under [Graph] URL:
 * the token goes nowhere else); a 401 gets one new token, 429 and 503 are
 * waited out as Retry-After asks within WGOTP_ENTRA_PAGE_MS (at most
 * WGOTP_HTTP_MAX_ATTEMPTS tries a page). -ENOENT when the group does not
 * exist (404), -EACCES when Graph refuses (403: the permission is
 * missing), -EBUSY when still throttled, -EIO / -EPROTO otherwise; err
 * says which. Nothing is half-delivered to the caller's decisions: the
 * callback collects, the caller acts only on 0.
 */
int wgotp_entra_group_members(const struct wgotp_config *cfg, struct wgotp_store *store,
			      const char *group, wgotp_entra_member_cb cb, void *arg,
			      struct wgotp_error *err);

#endif
