/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authenticate: one call into lib/'s flow per round.
 *
 *   no State      wgotp_begin: User-Password is a TOTP code (single pass),
 *                 or empty / email user / single_pass = no: a challenge
 *   State         wgotp_answer: User-Password is the code
 *
 * Our State is "wgotp:" + the flow's challenge id. The challenge lives in
 * our store (ChallengeLifetime, CodeLifetime), not in the core's State
 * cache, whose 60 s limit does not apply to it.
 */
#include "rlm_wgotp.h"

#include "secret.h"

static rlm_rcode_t do_challenge(rlm_wgotp_t const *inst, REQUEST *request, struct wgotp_result const *res)
{
	char state[RLM_WGOTP_STATE_LEN + 1];
	VALUE_PAIR *vp;

	snprintf(state, sizeof(state), "%s%s", RLM_WGOTP_STATE_PREFIX, res->challenge_id);
	fr_pair_delete_by_num(&request->reply->vps, PW_STATE, 0, TAG_ANY);
	vp = fr_pair_afrom_num(request->reply, PW_STATE, 0);
	if (!vp)
		return RLM_MODULE_FAIL;
	fr_pair_value_memcpy(vp, (uint8_t const *) state, RLM_WGOTP_STATE_LEN);
	fr_pair_add(&request->reply->vps, vp);
	if (rlm_wgotp_reply_string(request, PW_REPLY_MESSAGE, res->prompt) < 0)
		return RLM_MODULE_FAIL;
	/* Prompt = No-Echo: the NAS need not show what is typed. */
	rlm_wgotp_reply_integer(request, NULL, PW_PROMPT, 0);
	request->reply->code = PW_CODE_ACCESS_CHALLENGE;
	RDEBUG("Challenge (%s)", wgotp_reason_str(res->reason));
	return RLM_MODULE_HANDLED;
}

static rlm_rcode_t do_accept(rlm_wgotp_t *inst, REQUEST *request, struct wgotp_result const *res)
{
	rlm_wgotp_accept_t *acc;

	acc = talloc_zero(request, rlm_wgotp_accept_t);
	if (!acc)
		return RLM_MODULE_FAIL;
	strlcpy(acc->user, res->user, sizeof(acc->user));
	strlcpy(acc->public_key, res->device, sizeof(acc->public_key));
	acc->duration = res->duration;
	acc->expires = res->expires;
	if (request_data_add(request, inst, RLM_WGOTP_DATA_ACCEPT, acc, true) < 0) {
		talloc_free(acc);
		return RLM_MODULE_FAIL;
	}
	if (rlm_wgotp_reply_accept(inst, request, acc) < 0)
		return RLM_MODULE_FAIL;
	RDEBUG("Accept for %s (%" PRId64 " s)", acc->user, acc->duration);
	return RLM_MODULE_OK;
}

rlm_rcode_t rlm_wgotp_authenticate(void *instance, REQUEST *request)
{
	rlm_wgotp_t *inst = instance;
	struct rlm_wgotp_attrs a;
	struct wgotp_result res;
	struct wgotp_user override;
	struct wgotp_request req;
	char client[INET6_ADDRSTRLEN];
	char const *why;
	rlm_rcode_t rcode = RLM_MODULE_INVALID;
	int ret;

	memset(&res, 0, sizeof(res));
	if (rlm_wgotp_request_attrs(inst, request, &a, &why) != RLM_WGOTP_ATTRS_OK) {
		REDEBUG("Malformed request: %s", why);
		goto cleanup;
	}
	if (!request->packet->src_ipaddr.af ||
	    !inet_ntop(request->packet->src_ipaddr.af, &request->packet->src_ipaddr.ipaddr, client,
		       sizeof(client)))
		strlcpy(client, "?", sizeof(client));

	req = (struct wgotp_request) {
		.user = a.user,
		.code = (inst->single_pass || a.has_state) && a.has_code ? a.code : NULL,
		.origin = "radius",
		.client = client,
		.device = a.public_key[0] ? a.public_key : NULL,
		.duration = a.duration,
	};
	if (rlm_wgotp_request_override(inst, request, a.user, &override))
		req.user_override = &override;

	rlm_wgotp_log_request(request);
	if (a.has_state)
		ret = wgotp_answer(inst->flow, a.challenge_id, a.has_code ? a.code : "", &req, &res);
	else
		ret = wgotp_begin(inst->flow, &req, &res);
	rlm_wgotp_log_request(NULL);
	if (ret < 0) {
		REDEBUG("wgotp: %s", strerror(-ret));
		rcode = RLM_MODULE_FAIL;
		goto cleanup;
	}

	switch (res.verdict) {
	case WGOTP_ACCEPT:
		rcode = do_accept(inst, request, &res);
		break;
	case WGOTP_CHALLENGE:
		rcode = do_challenge(inst, request, &res);
		break;
	case WGOTP_REJECT:
		REDEBUG("Rejected: %s", wgotp_reason_str(res.reason));
		rlm_wgotp_reply_string(request, PW_REPLY_MESSAGE, wgotp_reason_message(res.reason));
		rcode = RLM_MODULE_REJECT;
		break;
	}
cleanup:
	rlm_wgotp_attrs_wipe(&a);
	return rcode;
}
