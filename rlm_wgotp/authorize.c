/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authorize: check the wire attributes and claim the request
 * (Auth-Type := <instance name>) for the users we handle.
 *
 * A request without Message-Authenticator gets no reply at all (see
 * no_reply below); a malformed one (see attrs.c) is rejected, with the
 * reason in the log. Unknown users are claimed as well, so they get the same
 * treatment as known ones (lib/ answers with a challenge that cannot
 * succeed), unless unknown_user = noop: then they are left to others.
 */
#include "rlm_wgotp.h"

static bool user_known(rlm_wgotp_t const *inst, REQUEST *request, char const *user)
{
	const struct wgotp_directory *dir;
	struct wgotp_user u;
	bool known;

	if (rlm_wgotp_request_override(inst, request, user, &u))
		return true;
	dir = wgotp_flow_dir_get(inst->flow);
	known = dir && wgotp_dir_find(dir, user) != NULL;
	if (dir)
		wgotp_flow_dir_put(inst->flow, dir);
	return known;
}

/*
 * BlastRADIUS (CVE-2024-3596): whoever sits between the NAS and us can
 * turn any reply to a request without Message-Authenticator (a Reject as
 * well as a Challenge) into an Access-Accept. So such a request gets no
 * reply at all: control:Response-Packet-Type = Do-Not-Respond, which the
 * server honours after post-auth (src/main/process.c, request_finish);
 * the reject still runs Post-Auth-Type REJECT and the auth log has it.
 */
static rlm_rcode_t no_reply(REQUEST *request)
{
	VALUE_PAIR *vp;

	fr_pair_delete_by_num(&request->config, PW_RESPONSE_PACKET_TYPE, 0, TAG_ANY);
	vp = radius_pair_create(request, &request->config, PW_RESPONSE_PACKET_TYPE, 0);
	if (!vp)
		return RLM_MODULE_FAIL;
	vp->vp_integer = RLM_WGOTP_DO_NOT_RESPOND;
	return RLM_MODULE_REJECT;
}

rlm_rcode_t rlm_wgotp_authorize(void *instance, REQUEST *request)
{
	rlm_wgotp_t *inst = instance;
	struct rlm_wgotp_attrs a;
	char const *why;
	DICT_VALUE *dval;
	VALUE_PAIR *vp;
	rlm_rcode_t rcode = RLM_MODULE_NOOP;

	memset(&a, 0, sizeof(a));
	if (request->packet->code != PW_CODE_ACCESS_REQUEST)
		goto cleanup;

	switch (rlm_wgotp_request_attrs(inst, request, &a, &why)) {
	case RLM_WGOTP_ATTRS_OK:
		break;
	case RLM_WGOTP_ATTRS_NO_USER:
		RDEBUG2("No User-Name: not a wgotp request");
		goto cleanup;
	case RLM_WGOTP_ATTRS_NO_MSG_AUTH:
		REDEBUG("%s (BlastRADIUS, CVE-2024-3596): dropped, no reply; "
			"require_message_authenticator = no allows it", why);
		rcode = no_reply(request);
		goto cleanup;
	case RLM_WGOTP_ATTRS_INVALID:
		/* A Reject is safe here: the server checked the request's
		 * Message-Authenticator (or the admin turned the check
		 * off), so no one without the secret shaped it. */
		REDEBUG("Malformed request: %s", why);
		rcode = RLM_MODULE_REJECT;
		goto cleanup;
	}

	if (inst->unknown_noop && !a.has_state && !user_known(inst, request, a.user)) {
		RDEBUG2("%s is not a wgotp user: unknown_user = noop", a.user);
		goto cleanup;
	}

	dval = dict_valbyname(PW_AUTH_TYPE, 0, inst->name);
	if (!dval) {
		RWDEBUG("No Auth-Type \"%s\": list %s in the authenticate section", inst->name, inst->name);
		goto cleanup;
	}
	fr_pair_delete_by_num(&request->config, PW_AUTH_TYPE, 0, TAG_ANY);
	vp = radius_pair_create(request, &request->config, PW_AUTH_TYPE, 0);
	if (!vp) {
		rcode = RLM_MODULE_FAIL;
		goto cleanup;
	}
	vp->vp_integer = dval->value;
	RDEBUG2("&control:Auth-Type := %s", inst->name);
	rcode = RLM_MODULE_OK;
cleanup:
	rlm_wgotp_attrs_wipe(&a);
	return rcode;
}
