/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading our attributes from a REQUEST, and writing the Accept reply. */
#include <arpa/inet.h>
#include <time.h>

#include "rlm_wgotp.h"

static void find_value(VALUE_PAIR *vps, DICT_ATTR const *da, struct rlm_wgotp_value *v)
{
	vp_cursor_t cursor;
	VALUE_PAIR *vp;

	memset(v, 0, sizeof(*v));
	for (vp = fr_cursor_init(&cursor, &vps); vp; vp = fr_cursor_next(&cursor)) {
		if (vp->da != da)
			continue;
		if (v->count++ == 0) {
			v->data = vp->da->type == PW_TYPE_STRING ? (uint8_t const *) vp->vp_strvalue
								  : vp->vp_octets;
			v->len = vp->vp_length;
		}
	}
}

enum rlm_wgotp_attrs_status rlm_wgotp_request_attrs(rlm_wgotp_t const *inst, REQUEST *request,
						    struct rlm_wgotp_attrs *out, char const **why)
{
	VALUE_PAIR *vps = request->packet->vps;
	struct rlm_wgotp_wire w = {
		.require_message_authenticator = inst->require_message_authenticator,
	};
	struct rlm_wgotp_value dur;
	VALUE_PAIR *vp;

	find_value(vps, dict_attrbyvalue(PW_USER_NAME, 0), &w.user_name);
	find_value(vps, dict_attrbyvalue(PW_USER_PASSWORD, 0), &w.password);
	find_value(vps, dict_attrbyvalue(PW_STATE, 0), &w.state);
	find_value(vps, inst->da_public_key, &w.public_key);
	find_value(vps, inst->da_duration, &dur);
	w.duration_count = dur.count;
	if (dur.count) {
		vp = fr_pair_find_by_da(vps, inst->da_duration, TAG_ANY);
		w.duration = vp ? vp->vp_integer : 0;
	}
	w.message_authenticator = fr_pair_find_by_num(vps, PW_MESSAGE_AUTHENTICATOR, 0, TAG_ANY) != NULL;
	return rlm_wgotp_attrs_parse(&w, out, why);
}

/*
 * The user as an earlier module (ldap, sql, files) found it. Its identity
 * (u->email, canonicalised by lib/) is WGOTP-Email, the directory's word,
 * when set; else the name that module looked up: Stripped-User-Name when
 * a realm module made one (what ldap's and sql's default filters use),
 * else User-Name. Never User-Name beside a Stripped-User-Name:
 * "alice@attacker.example" stripped to "alice" must not get alice's code
 * mailed to attacker.example, nor a replay step and guess budget per realm.
 */
bool rlm_wgotp_request_override(rlm_wgotp_t const *inst, REQUEST *request, char const *user,
				struct wgotp_user *u)
{
	VALUE_PAIR *email, *method, *secret, *allowed, *stripped;

	email = fr_pair_find_by_da(request->config, inst->da_email, TAG_ANY);
	method = fr_pair_find_by_da(request->config, inst->da_method, TAG_ANY);
	secret = fr_pair_find_by_da(request->config, inst->da_totp_secret, TAG_ANY);
	allowed = fr_pair_find_by_da(request->config, inst->da_allowed, TAG_ANY);
	if (!email && !method && !secret && !allowed)
		return false;

	memset(u, 0, sizeof(*u));
	stripped = fr_pair_find_by_num(request->packet->vps, PW_STRIPPED_USER_NAME, 0, TAG_ANY);
	u->email = (char *) (email ? email->vp_strvalue : stripped ? stripped->vp_strvalue : user);
	if (method)
		u->method = method->vp_integer == RLM_WGOTP_METHOD_EMAIL ? WGOTP_METHOD_EMAIL
									: WGOTP_METHOD_TOTP;
	else
		u->method = secret ? WGOTP_METHOD_TOTP : WGOTP_METHOD_EMAIL;
	u->totp_secret = secret ? (char *) secret->vp_strvalue : NULL;
	u->totp_state = secret ? WGOTP_TOTP_ACTIVE : WGOTP_TOTP_NONE;
	u->enabled = allowed ? allowed->vp_integer != 0 : true;
	u->require_otp = true;
	return true;
}

int rlm_wgotp_reply_string(REQUEST *request, unsigned int attr, char const *value)
{
	VALUE_PAIR *vp;

	fr_pair_delete_by_num(&request->reply->vps, attr, 0, TAG_ANY);
	vp = fr_pair_afrom_num(request->reply, attr, 0);
	if (!vp)
		return -ENOMEM;
	fr_pair_value_strcpy(vp, value);
	fr_pair_add(&request->reply->vps, vp);
	return 0;
}

int rlm_wgotp_reply_integer(REQUEST *request, DICT_ATTR const *da, unsigned int attr, uint32_t value)
{
	VALUE_PAIR *vp;

	if (!da)
		da = dict_attrbyvalue(attr, 0);
	if (!da)
		return -ENOENT;
	fr_pair_delete_by_da(&request->reply->vps, da);
	vp = fr_pair_afrom_da(request->reply, da);
	if (!vp)
		return -ENOMEM;
	if (da->type == PW_TYPE_DATE)
		vp->vp_date = value;
	else
		vp->vp_integer = value;
	vp->vp_length = 4;
	fr_pair_add(&request->reply->vps, vp);
	return 0;
}

void rlm_wgotp_reply_clear_accept(rlm_wgotp_t const *inst, REQUEST *request)
{
	fr_pair_delete_by_num(&request->reply->vps, PW_SESSION_TIMEOUT, 0, TAG_ANY);
	fr_pair_delete_by_num(&request->reply->vps, PW_FRAMED_IP_ADDRESS, 0, TAG_ANY);
	fr_pair_delete_by_num(&request->reply->vps, PW_REPLY_MESSAGE, 0, TAG_ANY);
	fr_pair_delete_by_da(&request->reply->vps, inst->da_expires);
}

/* The IPv4 host address of the device when the accept is for exactly
 * one device: the one asked for, or the user's only device. */
static bool device_ipv4(rlm_wgotp_t const *inst, rlm_wgotp_accept_t const *acc, struct in_addr *out)
{
	const struct wgotp_directory *dir;
	const struct wgotp_user *u;
	const struct wgotp_device *d = NULL;
	struct wgotp_user *owner = NULL;
	bool found = false;
	size_t i;

	dir = wgotp_flow_dir_get(inst->flow);
	if (!dir)
		return false;
	if (acc->public_key[0]) {
		d = wgotp_dir_find_key(dir, acc->public_key, &owner);
		if (d && strcasecmp(owner->email, acc->user) != 0)
			d = NULL;
	} else {
		u = wgotp_dir_find(dir, acc->user);
		if (u && u->n_devices == 1)
			d = &u->devices[0];
	}
	for (i = 0; d && i < d->n_allowed_ips; i++) {
		if (d->allowed_ips[i].family == AF_INET && d->allowed_ips[i].prefix == 32) {
			*out = d->allowed_ips[i].addr.v4;
			found = true;
			break;
		}
	}
	wgotp_flow_dir_put(inst->flow, dir);
	return found;
}

int rlm_wgotp_reply_accept(rlm_wgotp_t const *inst, REQUEST *request, rlm_wgotp_accept_t const *acc)
{
	char msg[128], when[64];
	struct in_addr ip;
	VALUE_PAIR *vp;
	time_t t = acc->expires;
	struct tm tm;
	int64_t now = wgotp_flow_now(inst->flow);
	int ret = -ENOMEM;

	rlm_wgotp_reply_clear_accept(inst, request);
	if (acc->expires > 0) {
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		snprintf(msg, sizeof(msg), "VPN access granted until %s", when);
		if (rlm_wgotp_reply_integer(request, NULL, PW_SESSION_TIMEOUT,
					    acc->expires > now ? (uint32_t) (acc->expires - now) : 1) < 0 ||
		    rlm_wgotp_reply_integer(request, inst->da_expires, 0, (uint32_t) acc->expires) < 0)
			goto cleanup;
	} else {
		snprintf(msg, sizeof(msg), "VPN access granted");
	}
	if (rlm_wgotp_reply_string(request, PW_REPLY_MESSAGE, msg) < 0)
		goto cleanup;
	if (device_ipv4(inst, acc, &ip)) {
		vp = fr_pair_afrom_num(request->reply, PW_FRAMED_IP_ADDRESS, 0);
		if (!vp)
			goto cleanup;
		vp->vp_ipaddr = ip.s_addr;
		vp->vp_length = 4;
		fr_pair_add(&request->reply->vps, vp);
	}
	ret = 0;
cleanup:
	return ret;
}
