/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * accounting: Acct-Status-Type = Stop with the User-Name (and
 * WGOTP-Public-Key for one device) ends the session(s) through
 * wg-activator. Anything else is not ours (noop). When the daemon cannot
 * be reached the module fails, so no Accounting-Response goes out and
 * the NAS sends the Stop again.
 */
#include "rlm_wgotp.h"

#include "activator_client.h"
#include "identity.h"

/* The device name of a public key, if the key is the user's. */
static int device_name(rlm_wgotp_t const *inst, char const *user, char const *key, char *out, size_t outlen)
{
	const struct wgotp_directory *dir;
	struct wgotp_device *d;
	struct wgotp_user *owner = NULL;
	int ret = -ENODEV;

	dir = wgotp_flow_dir_get(inst->flow);
	if (!dir)
		goto cleanup;
	d = wgotp_dir_find_key(dir, key, &owner);
	if (d && owner && strcmp(owner->email, user) == 0) {
		strlcpy(out, d->name, outlen);
		ret = 0;
	}
cleanup:
	if (dir)
		wgotp_flow_dir_put(inst->flow, dir);
	return ret;
}

rlm_rcode_t rlm_wgotp_accounting(void *instance, REQUEST *request)
{
	rlm_wgotp_t *inst = instance;
	struct rlm_wgotp_wire w = { .require_message_authenticator = false };
	struct rlm_wgotp_attrs a;
	struct wgotp_error err = { .msg = "" };
	char device[WGOTP_DEVICE_NAME_MAX + 1], ident[WGOTP_EMAIL_MAX + 1];
	char const *why, *name;
	VALUE_PAIR *vp, *email, *stripped;
	int n = 0;
	rlm_rcode_t rcode = RLM_MODULE_NOOP;

	memset(&a, 0, sizeof(a));
	if (!inst->deactivate_on_stop)
		goto cleanup;
	vp = fr_pair_find_by_num(request->packet->vps, PW_ACCT_STATUS_TYPE, 0, TAG_ANY);
	if (!vp || vp->vp_integer != PW_STATUS_STOP)
		goto cleanup;

	/* The same checks as for an Access-Request, on the two we read. */
	vp = fr_pair_find_by_num(request->packet->vps, PW_USER_NAME, 0, TAG_ANY);
	if (vp) {
		w.user_name = (struct rlm_wgotp_value) { (uint8_t const *) vp->vp_strvalue, vp->vp_length, 1 };
	}
	vp = fr_pair_find_by_da(request->packet->vps, inst->da_public_key, TAG_ANY);
	if (vp) {
		w.public_key = (struct rlm_wgotp_value) { (uint8_t const *) vp->vp_strvalue, vp->vp_length, 1 };
	}
	switch (rlm_wgotp_attrs_parse(&w, &a, &why)) {
	case RLM_WGOTP_ATTRS_OK:
		break;
	case RLM_WGOTP_ATTRS_NO_USER:
		goto cleanup;
	default:
		REDEBUG("Malformed Accounting-Request: %s", why);
		rcode = RLM_MODULE_INVALID;
		goto cleanup;
	}

	/* Who the sessions belong to, as authorize decided it: the
	 * directory's WGOTP-Email (an ldap/sql run in this section too),
	 * else the name a realm module looked up, else User-Name; in its
	 * canonical form, or it names no one (lib/identity.h). */
	email = fr_pair_find_by_da(request->config, inst->da_email, TAG_ANY);
	stripped = fr_pair_find_by_num(request->packet->vps, PW_STRIPPED_USER_NAME, 0, TAG_ANY);
	name = email ? email->vp_strvalue : stripped ? stripped->vp_strvalue : a.user;
	if (wgotp_identity_canon(name, ident, sizeof(ident)) < 0) {
		RWDEBUG("\"%s\" is not a canonical user name: nothing to deactivate", name);
		rcode = RLM_MODULE_NOOP;
		goto cleanup;
	}

	device[0] = '\0';
	if (a.public_key[0] && device_name(inst, ident, a.public_key, device, sizeof(device)) < 0) {
		RWDEBUG("%s has no device with key %s: nothing to deactivate", ident, a.public_key);
		rcode = RLM_MODULE_NOOP;
		goto cleanup;
	}

	rlm_wgotp_log_request(request);
	if (wgotp_activator_deactivate(inst->cfg, ident, device[0] ? device : NULL, &n, &err) < 0) {
		rlm_wgotp_log_request(NULL);
		REDEBUG("Deactivation of %s failed: %s", ident, err.msg);
		rcode = RLM_MODULE_FAIL;
		goto cleanup;
	}
	rlm_wgotp_log_request(NULL);
	RDEBUG("Deactivated %s%s%s: %d session(s) ended", ident, device[0] ? " device " : "", device, n);
	rcode = n > 0 ? RLM_MODULE_OK : RLM_MODULE_NOOP;
cleanup:
	rlm_wgotp_attrs_wipe(&a);
	return rcode;
}
