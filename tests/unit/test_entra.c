/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Entra ID group members: a page of Graph's answer, group ids. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "entra.h"
#include "tap.h"

struct seen {
	char emails[8][64];
	int n, enabled, no_address;
};

static int cb(void *arg, const struct wgotp_entra_member *m)
{
	struct seen *s = arg;

	if (!m->email) {
		s->no_address++;
		return 0;
	}
	if (s->n < 8)
		snprintf(s->emails[s->n++], sizeof(s->emails[0]), "%s", m->email);
	s->enabled += m->enabled;
	return 0;
}

static int stop(void *arg, const struct wgotp_entra_member *m)
{
	(void)arg;
	(void)m;
	return -ENOMEM;
}

int main(void)
{
	const char *page =
		"{\"@odata.context\": \"x\", \"value\": ["
		"{\"@odata.type\": \"#microsoft.graph.user\", \"id\": \"1\", \"mail\": \"Alice@Example.COM\"},"
		"{\"@odata.type\": \"#microsoft.graph.group\", \"id\": \"2\", \"mail\": \"group@example.com\"},"
		"{\"@odata.type\": \"#microsoft.graph.user\", \"id\": \"3\", \"mail\": null, \"userPrincipalName\": \"bob@example.com\", \"accountEnabled\": false},"
		"{\"@odata.type\": \"#microsoft.graph.user\", \"id\": \"4\", \"mail\": \"not an address\", \"userPrincipalName\": \"x#EXT#@t.onmicrosoft.com\"},"
		"{\"@odata.type\": \"#microsoft.graph.device\", \"id\": \"5\"}"
		"], \"@odata.nextLink\": \"https://graph.microsoft.com/v1.0/groups/g/transitiveMembers?$skiptoken=X\"}";
	struct wgotp_error err = { "" };
	struct seen s = { 0 };
	char *next = NULL;

	ok(wgotp_entra_group_id_ok("0f8fad5b-d9cb-469f-a165-70867728950e"), "a GUID is a group id");
	ok(!wgotp_entra_group_id_ok("0f8fad5b-d9cb-469f-a165-70867728950"), "one digit short is not");
	ok(!wgotp_entra_group_id_ok("0f8fad5b-d9cb-469f-a165-70867728950e/x"), "a path after it is not");
	ok(!wgotp_entra_group_id_ok("0f8fad5bd-9cb-469f-a165-70867728950e"), "dashes in the wrong place are not");
	ok(!wgotp_entra_group_id_ok(""), "empty is not");

	is_int(wgotp_entra_parse_page(page, strlen(page), cb, &s, &next, &err), 0, "a page parses");
	is_int(s.n, 2, "two users with an address (the group and the device are not users)");
	is_str(s.emails[0], "alice@example.com", "mail, in lower case");
	is_str(s.emails[1], "bob@example.com", "no mail: the userPrincipalName");
	is_int(s.enabled, 1, "accountEnabled false is passed on");
	is_int(s.no_address, 1, "a user without an address is passed without one");
	is_str(next, "https://graph.microsoft.com/v1.0/groups/g/transitiveMembers?$skiptoken=X", "the next link");
	free(next);
	next = NULL;
	is_int(wgotp_entra_parse_page("{\"value\": []}", 13, cb, &s, &next, &err), 0, "an empty last page");
	ok(next == NULL, "  has no next link");
	is_int(wgotp_entra_parse_page("{\"error\": {}}", 13, cb, &s, &next, &err), -EPROTO, "an error object is no page");
	is_int(wgotp_entra_parse_page("[1,2", 4, cb, &s, &next, &err), -EPROTO, "truncated JSON is no page");
	is_int(wgotp_entra_parse_page("{\"value\": [1]}", 14, cb, &s, &next, &err), -EPROTO, "a member that is no object");
	is_int(wgotp_entra_parse_page(page, strlen(page), stop, NULL, &next, &err), -ENOMEM, "the callback stops the walk");
	ok(next == NULL, "  and no next link is handed out");
	return done_testing();
}
