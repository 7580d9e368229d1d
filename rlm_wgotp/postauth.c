/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * post-auth: after our Accept, activate the device(s) through
 * wg-activator. If that fails the Accept becomes a Reject (fail closed,
 * reject_on_activation_failure = yes) with the reason in the log.
 */
#include "rlm_wgotp.h"

#include "activator_client.h"

rlm_rcode_t rlm_wgotp_post_auth(void *instance, REQUEST *request)
{
	rlm_wgotp_t *inst = instance;
	rlm_wgotp_accept_t *acc;
	struct wgotp_error err = { .msg = "" };
	int64_t expires = 0;
	rlm_rcode_t rcode = RLM_MODULE_NOOP;
	int ret;

	acc = request_data_get(request, inst, RLM_WGOTP_DATA_ACCEPT);
	if (!acc || request->reply->code != PW_CODE_ACCESS_ACCEPT || !inst->activate)
		goto cleanup;

	rlm_wgotp_log_request(request);
	ret = wgotp_activator_activate(inst->cfg, acc->user, NULL, acc->public_key[0] ? acc->public_key : NULL,
				       acc->duration, "radius", &expires, &err);
	rlm_wgotp_log_request(NULL);
	if (ret < 0) {
		if (!inst->reject_on_activation_failure) {
			RWDEBUG("Activation of %s failed: %s (accepting: reject_on_activation_failure = no)",
				acc->user, err.msg);
			rcode = RLM_MODULE_OK;
			goto cleanup;
		}
		REDEBUG("Activation of %s failed: %s", acc->user, err.msg);
		rlm_wgotp_reply_clear_accept(inst, request);
		rlm_wgotp_reply_string(request, PW_REPLY_MESSAGE,
				       "The VPN could not be enabled: please try again later");
		rcode = RLM_MODULE_REJECT;
		goto cleanup;
	}
	/* The daemon's expiry wins: an existing longer session is not
	 * shortened, permanent devices have none. */
	if (expires != acc->expires) {
		acc->expires = expires;
		if (rlm_wgotp_reply_accept(inst, request, acc) < 0) {
			rcode = RLM_MODULE_FAIL;
			goto cleanup;
		}
	}
	RDEBUG("Activated %s%s%s", acc->user, acc->public_key[0] ? " device " : "", acc->public_key);
	rcode = RLM_MODULE_UPDATED;
cleanup:
	return rcode;
}
