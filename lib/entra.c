// SPDX-License-Identifier: GPL-2.0-or-later
/* The members of an Entra ID group through Microsoft Graph (entra.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "directory.h"
#include "entra.h"
#include "log.h"
#include "mail_buf.h"
#include "mail_http.h"
#include "mail_transport.h"
#include "oauth.h"
#include "secret.h"

bool wgotp_entra_group_id_ok(const char *id)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	const char *p = id;

	if (!id)
		return false;
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		for (int i = 0; i < groups[g]; i++, p++)
			if (!isxdigit((unsigned char)*p))
				return false;
		if (g + 1 < sizeof(groups) / sizeof(groups[0]) && *p++ != '-')
			return false;
	}
	return *p == '\0';
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int wgotp_entra_parse_page(const char *json, size_t len, wgotp_entra_member_cb cb, void *arg,
			   char **next, struct wgotp_error *err)
{
	struct json_object *root, *value, *v;
	char email[WGOTP_EMAIL_MAX + 1];
	const char *link;
	size_t n;
	int ret = 0;

	*next = NULL;
	root = wgotp_json_parse(json, len);
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "value", &value) ||
	    !json_object_is_type(value, json_type_array)) {
		ret = wgotp_error_set(err, EPROTO, "Graph: the answer is not a list of members");
		goto cleanup;
	}
	n = json_object_array_length(value);
	for (size_t i = 0; i < n && !ret; i++) {
		struct json_object *o = json_object_array_get_idx(value, i);
		struct wgotp_entra_member m = { .enabled = true };
		const char *type, *addr;

		if (!json_object_is_type(o, json_type_object)) {
			ret = wgotp_error_set(err, EPROTO, "Graph: member %zu is not an object", i + 1);
			break;
		}
		type = str_of(o, "@odata.type");
		if (!type || strcmp(type, "#microsoft.graph.user"))
			continue;	/* a nested group or a device: its users come on their own */
		m.id = str_of(o, "id");
		m.name = str_of(o, "displayName");
		if (json_object_object_get_ex(o, "accountEnabled", &v) && json_object_is_type(v, json_type_boolean))
			m.enabled = json_object_get_boolean(v);
		addr = str_of(o, "mail");
		if (!addr || !wgotp_email_valid(addr))
			addr = str_of(o, "userPrincipalName");
		if (addr && wgotp_email_valid(addr)) {
			size_t k;

			for (k = 0; addr[k] && k < sizeof(email) - 1; k++)
				email[k] = (char)tolower((unsigned char)addr[k]);
			email[k] = '\0';
			m.email = email;
		}
		ret = cb(arg, &m);
	}
	link = ret ? NULL : str_of(root, "@odata.nextLink");
	if (link) {
		*next = strdup(link);
		if (!*next)
			ret = wgotp_error_set(err, ENOMEM, "out of memory");
	}
cleanup:
	json_object_put(root);
	return ret;
}

/* Graph's error, or what the status says. */
static int page_error(const struct wgotp_http_response *r, const char *group, struct wgotp_error *err)
{
	char code[64] = "", msg[256] = "";
	int errnum;

	wgotp_graph_parse_error(r->body ? r->body : "", r->len, code, sizeof(code), msg, sizeof(msg));
	switch (r->status) {
	case 404:
		return wgotp_error_set(err, ENOENT, "Entra ID group %s does not exist (deleted?): Graph %s",
				       group, code[0] ? code : "404");
	case 401:
	case 403:
		errnum = EACCES;
		break;
	case 429:
	case 503:
		return wgotp_error_set(err, EBUSY, "Graph is throttling (HTTP %ld, Retry-After %lld s)%s",
				       r->status, (long long)r->retry_after,
				       r->retry_fits ? " after every retry" : "; the wait does not fit the time budget");
	default:
		errnum = EIO;
	}
	return wgotp_error_set(err, errnum, "Graph group members: HTTP %ld %s%s%s%s", r->status, code,
			       code[0] ? ": " : "", msg,
			       r->status == 403 ? " (the app needs the GroupMember.Read.All application permission)" : "");
}

int wgotp_entra_group_members(const struct wgotp_config *cfg, struct wgotp_store *store,
			      const char *group, wgotp_entra_member_cb cb, void *arg,
			      struct wgotp_error *err)
{
	struct wgotp_oauth oauth = { 0 };
	struct wgotp_http_response r = { .retry_after = -1 };
	struct wgotp_http_request req = { .ca_file = cfg->mail_ca_file };
	struct wgotp_buf first = { 0 };
	struct wgotp_deadline dl;
	char *url = NULL, *next = NULL, *token = NULL, *base = NULL;
	bool have_oauth = false;
	int ret, pages = 0;

	if (!wgotp_entra_group_id_ok(group))
		return wgotp_error_set(err, EINVAL, "\"%s\" is not an Entra ID group id (a GUID)", group);
	if (!cfg->graph_url || !wgotp_http_url_ok(cfg->graph_url))
		return wgotp_error_set(err, EINVAL, "[Graph] URL must be an https:// URL");
	ret = wgotp_oauth_init(&oauth, cfg, store, err);
	if (ret < 0)
		goto cleanup;
	have_oauth = true;
	/* A nextLink is followed only under [Graph] URL: the token goes
	 * nowhere else. */
	if (asprintf(&base, "%s/", cfg->graph_url) < 0) {
		base = NULL;
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	wgotp_buf_addf(&first, "%s/v1.0/groups/%s/transitiveMembers?$select=id,mail,userPrincipalName,"
		       "displayName,accountEnabled&$top=999", cfg->graph_url, group);
	ret = wgotp_buf_take(&first, &url, NULL);
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "out of memory");
		goto cleanup;
	}
	while (url) {
		if (++pages > WGOTP_ENTRA_MAX_PAGES) {
			ret = wgotp_error_set(err, E2BIG, "Graph: more than %d pages of members", WGOTP_ENTRA_MAX_PAGES);
			goto cleanup;
		}
		if (strncmp(url, base, strlen(base))) {
			ret = wgotp_error_set(err, EPROTO, "Graph: a next page outside [Graph] URL is not followed");
			goto cleanup;
		}
		req.url = url;
		wgotp_deadline_start(&dl, WGOTP_ENTRA_PAGE_MS);
		for (int attempt = 0; attempt < 2; attempt++) {
			ret = wgotp_oauth_token(&oauth, cfg->graph_scope, (int64_t)time(NULL), attempt > 0, &dl,
						&token, err);
			if (ret < 0)
				goto cleanup;
			req.bearer = token;
			ret = wgotp_http_post_patient(&req, &dl, "Graph group members", &r, err);
			wgotp_free_str(token);
			token = NULL;
			if (ret < 0)
				goto cleanup;
			if (r.status != 401)
				break;
			if (!attempt)
				log_warn("entra: Graph refused the access token (401); asking for a new one");
		}
		if (r.status != 200) {
			ret = page_error(&r, group, err);
			goto cleanup;
		}
		ret = wgotp_entra_parse_page(r.body, r.len, cb, arg, &next, err);
		if (ret)
			goto cleanup;
		free(url);
		url = next;
		next = NULL;
		wgotp_http_response_clear(&r);
	}
	ret = 0;
cleanup:
	wgotp_http_response_clear(&r);
	wgotp_buf_free(&first);
	wgotp_free_str(token);
	if (have_oauth)
		wgotp_oauth_clear(&oauth);
	free(url);
	free(next);
	free(base);
	return ret;
}
