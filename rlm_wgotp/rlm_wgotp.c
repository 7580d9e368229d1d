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
#include "frontend.h"
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

static int mod_detach(void *instance)
{
	rlm_wgotp_t *inst = instance;

	if (inst->fe) {
		wgotp_frontend_close(inst->fe);
	} else {
		wgotp_config_free(inst->cfg);	/* loaded, not yet handed over */
	}
	inst->fe = NULL;
	inst->flow = NULL;
	inst->store = NULL;
	inst->cfg = NULL;
	return 0;
}

static int mod_instantiate(CONF_SECTION *conf, void *instance)
{
	rlm_wgotp_t *inst = instance;
	static const char *const transports[] = {
		[WGOTP_MAIL_NONE] = "none", [WGOTP_MAIL_GRAPH] = "Microsoft Graph",
		[WGOTP_MAIL_SMTP] = "SMTP", [WGOTP_MAIL_SENDMAIL] = "sendmail",
	};
	struct wgotp_error err = { .msg = "" };
	enum wgotp_frontend_stage stage = WGOTP_FE_OK;
	struct wgotp_config *cfg;
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

	/* Store, mail transport and flow: the frontend takes the config. */
	cfg = inst->cfg;
	inst->cfg = NULL;
	if (wgotp_frontend_open(cfg, NULL, NULL, &inst->fe, &stage, &err) < 0) {
		cf_log_err_cs(conf, "%s: %s%s", inst->config_file,
			      stage == WGOTP_FE_STORE ? "cannot open the state store: " : "", err.msg);
		goto cleanup;
	}
	inst->cfg = inst->fe->cfg;
	inst->store = inst->fe->store;
	inst->flow = inst->fe->flow;
	/* A server starts once: load libcurl now (and curl_global_init, before
	 * the worker threads), so that a missing one stops the start rather
	 * than every email login. */
	if (wgotp_mail_preload(inst->cfg, &err) < 0) {
		cf_log_err_cs(conf, "%s: [Mail] Transport: %s", inst->config_file, err.msg);
		goto cleanup;
	}
	if (inst->cfg->mail_transport == WGOTP_MAIL_NONE)
		cf_log_module(conf, "wgotp: %s: [Mail] Transport = none: email users cannot log in",
			      inst->config_file);
	else
		cf_log_module(conf, "wgotp: %s: email codes sent by %s", inst->config_file,
			      transports[inst->cfg->mail_transport]);
	cf_log_module(conf, "wgotp: %s: users %s, %s store", inst->config_file, inst->cfg->directory,
		      inst->store->ops->name);
	ret = 0;
cleanup:
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
