/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rlm_wgotp: module table, configuration, instantiate and detach.
 *
 *   modules { wgotp { config = /etc/wgotp/wgotp.conf } }
 *
 * Several instances may coexist (each with its own wgotp.conf, store and
 * flow); the instance name is the Auth-Type it sets.
 */
#include "rlm_wgotp.h"

#include "log.h"
#include "mail.h"

static const CONF_PARSER module_config[] = {
	{ "config", FR_CONF_OFFSET(PW_TYPE_FILE_INPUT, rlm_wgotp_t, config_file), WGOTP_DEFAULT_CONF },
	{ "unknown_user", FR_CONF_OFFSET(PW_TYPE_STRING, rlm_wgotp_t, unknown_user), NULL },
	{ "require_message_authenticator", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_wgotp_t,
							   require_message_authenticator), "yes" },
	{ "single_pass", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_wgotp_t, single_pass), "yes" },
	{ "activate", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_wgotp_t, activate), "yes" },
	{ "reject_on_activation_failure", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_wgotp_t,
							  reject_on_activation_failure), "yes" },
	{ "deactivate_on_stop", FR_CONF_OFFSET(PW_TYPE_BOOLEAN, rlm_wgotp_t, deactivate_on_stop), "yes" },
	CONF_PARSER_TERMINATOR
};

static int mod_bootstrap(CONF_SECTION *conf, void *instance)
{
	rlm_wgotp_t *inst = instance;

	inst->name = cf_section_name2(conf);
	if (!inst->name)
		inst->name = cf_section_name1(conf);
	return 0;
}

static int find_attr(CONF_SECTION *conf, char const *name, DICT_ATTR const **out)
{
	*out = dict_attrbyname(name);
	if (!*out) {
		cf_log_err_cs(conf, "Attribute %s is not in the dictionary: add "
			      "\"$INCLUDE dictionary.wgotp\" to raddb/dictionary", name);
		return -1;
	}
	return 0;
}

/*
 * The mail transport for email codes, built by lib/ from [Mail] (mail.h).
 * Transport = none leaves *have false: the flow then fails email users
 * (RLM_MODULE_FAIL), and we say so once here rather than per request.
 */
static int open_mailer(CONF_SECTION *conf, rlm_wgotp_t *inst, struct wgotp_mailer *out,
		       bool *have, struct wgotp_error *err)
{
	int ret;

	*have = false;
	memset(out, 0, sizeof(*out));
	if (inst->cfg->mail_transport == WGOTP_MAIL_NONE) {
		cf_log_module(conf, "wgotp: %s: [Mail] Transport = none: email users cannot log in",
			      inst->config_file);
		return 0;
	}
	ret = wgotp_mailer_from_config(inst->cfg, inst->store, out, err);
	if (ret < 0)
		return ret;
	*have = true;
	cf_log_module(conf, "wgotp: %s: email codes sent by %s", inst->config_file,
		      wgotp_mailer_transport(out));
	return 0;
}

static int mod_detach(void *instance)
{
	rlm_wgotp_t *inst = instance;

	wgotp_flow_free(inst->flow);
	inst->flow = NULL;
	wgotp_store_close(inst->store);
	inst->store = NULL;
	wgotp_config_free(inst->cfg);
	inst->cfg = NULL;
	return 0;
}

static int mod_instantiate(CONF_SECTION *conf, void *instance)
{
	rlm_wgotp_t *inst = instance;
	struct wgotp_error err = { .msg = "" };
	struct wgotp_mailer mailer;
	bool have_mailer = false;
	int ret = -1;

	rlm_wgotp_log_init();

	if (find_attr(conf, "WGOTP-Public-Key", &inst->da_public_key) < 0 ||
	    find_attr(conf, "WGOTP-Session-Duration", &inst->da_duration) < 0 ||
	    find_attr(conf, "WGOTP-Session-Expires", &inst->da_expires) < 0 ||
	    find_attr(conf, "WGOTP-Email", &inst->da_email) < 0 ||
	    find_attr(conf, "WGOTP-Method", &inst->da_method) < 0 ||
	    find_attr(conf, "WGOTP-TOTP-Secret", &inst->da_totp_secret) < 0 ||
	    find_attr(conf, "WGOTP-Allowed", &inst->da_allowed) < 0)
		goto cleanup;

	if (wgotp_config_load(inst->config_file, &inst->cfg, &err) < 0) {
		cf_log_err_cs(conf, "%s", err.msg);
		goto cleanup;
	}

	if (!inst->unknown_user || !*inst->unknown_user) {
		inst->unknown_noop = false;
	} else if (strcmp(inst->unknown_user, "noop") == 0) {
		inst->unknown_noop = true;
	} else if (strcmp(inst->unknown_user, "email") == 0) {
		inst->cfg->unknown_user = WGOTP_UNKNOWN_EMAIL;
	} else if (strcmp(inst->unknown_user, "totp") == 0) {
		inst->cfg->unknown_user = WGOTP_UNKNOWN_TOTP;
	} else if (strcmp(inst->unknown_user, "reject") == 0) {
		inst->cfg->unknown_user = WGOTP_UNKNOWN_REJECT;
	} else {
		cf_log_err_cs(conf, "unknown_user = \"%s\": expected noop, email, totp or reject",
			      inst->unknown_user);
		goto cleanup;
	}

	if (wgotp_store_open(inst->cfg, &inst->store, &err) < 0) {
		cf_log_err_cs(conf, "%s: cannot open the state store: %s", inst->config_file, err.msg);
		goto cleanup;
	}
	if (open_mailer(conf, inst, &mailer, &have_mailer, &err) < 0) {
		cf_log_err_cs(conf, "%s: %s", inst->config_file, err.msg);
		goto cleanup;
	}
	/* The flow takes the mailer (and zeroes ours) once it holds it. */
	ret = wgotp_flow_new(inst->cfg, inst->store, have_mailer ? &mailer : NULL, NULL, NULL,
			     &inst->flow, &err);
	if (ret < 0) {
		ret = -1;
		cf_log_err_cs(conf, "%s: %s", inst->config_file, err.msg);
		goto cleanup;
	}
	cf_log_module(conf, "wgotp: %s: users %s, %s store", inst->config_file, inst->cfg->directory,
		      inst->store->ops->name);
	ret = 0;
cleanup:
	if (have_mailer && mailer.free)
		mailer.free(mailer.arg);
	if (ret < 0)
		mod_detach(inst);
	return ret;
}

/*
 *	The module name should be the only globally exported symbol.
 */
extern module_t rlm_wgotp;
module_t rlm_wgotp __attribute__((visibility("default"))) = {
	.magic		= RLM_MODULE_INIT,
	.name		= "wgotp",
	.type		= RLM_TYPE_THREAD_SAFE | RLM_TYPE_HUP_SAFE,
	.inst_size	= sizeof(rlm_wgotp_t),
	.config		= module_config,
	.bootstrap	= mod_bootstrap,
	.instantiate	= mod_instantiate,
	.detach		= mod_detach,
	.methods = {
		[MOD_AUTHORIZE]		= rlm_wgotp_authorize,
		[MOD_AUTHENTICATE]	= rlm_wgotp_authenticate,
		[MOD_POST_AUTH]		= rlm_wgotp_post_auth,
		[MOD_ACCOUNTING]	= rlm_wgotp_accounting,
	},
};
