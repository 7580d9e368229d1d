/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rlm_wgotp: the FreeRADIUS 3.2 glue of wgotp. Every rule lives in lib/
 * (flow.h); this module only reads attributes, calls the flow and writes
 * the reply.
 *
 *   rlm_wgotp.c     module table, configuration, instantiate / detach
 *   log.c           lib/'s log sink: radlog, or the request's debug log
 *   attrs.c         checks on the wire attributes (no FreeRADIUS types)
 *   request.c       reading attributes from a REQUEST, the reply
 *   authorize.c     Auth-Type := <instance> for the users we handle
 *   authenticate.c  single pass, challenge, answer
 *   postauth.c      activate the device(s) after our Accept
 *   accounting.c    Acct-Status-Type = Stop deactivates
 */
#ifndef RLM_WGOTP_H
#define RLM_WGOTP_H

#include <freeradius/radiusd.h>
#include <freeradius/modules.h>

#include "attrs.h"
#include "conf.h"
#include "flow.h"
#include "frontend.h"
#include "store.h"

typedef struct rlm_wgotp_t {
	char const	*name;			//!< Instance name (and our Auth-Type).

	/* Configuration (module_config[] in rlm_wgotp.c). */
	char const	*config_file;		//!< wgotp.conf
	char const	*unknown_user;		//!< unset: as wgotp.conf; noop | email | totp | reject
	bool		require_message_authenticator;
	bool		single_pass;		//!< User-Password in the first round is a TOTP code
	bool		activate;		//!< post-auth activates through wg-activator
	bool		reject_on_activation_failure;	//!< fail closed
	bool		deactivate_on_stop;	//!< accounting Stop deactivates

	/* Built in instantiate. */
	bool		unknown_noop;
	struct wgotp_config	*cfg;
	struct wgotp_frontend	*fe;	/* owns cfg, store and flow below */
	struct wgotp_store	*store;
	struct wgotp_flow	*flow;

	/* dictionary.wgotp */
	DICT_ATTR const	*da_public_key;		//!< WGOTP-Public-Key (request)
	DICT_ATTR const	*da_duration;		//!< WGOTP-Session-Duration (request)
	DICT_ATTR const	*da_expires;		//!< WGOTP-Session-Expires (reply)
	DICT_ATTR const	*da_email;		//!< WGOTP-Email (control)
	DICT_ATTR const	*da_method;		//!< WGOTP-Method (control)
	DICT_ATTR const	*da_totp_secret;	//!< WGOTP-TOTP-Secret (control)
	DICT_ATTR const	*da_allowed;		//!< WGOTP-Allowed (control)
} rlm_wgotp_t;

/* What authenticate leaves for post-auth (request data, talloc'ed on the
 * request): our Accept and what to activate. */
typedef struct rlm_wgotp_accept {
	char		user[WGOTP_EMAIL_MAX + 1];
	char		public_key[WGOTP_KEY_B64_LEN + 1];	//!< "" = every device
	int64_t		duration;
	int64_t		expires;
} rlm_wgotp_accept_t;

#define RLM_WGOTP_DATA_ACCEPT 1

/* WGOTP-Method values (dictionary.wgotp) */
#define RLM_WGOTP_METHOD_TOTP 1
#define RLM_WGOTP_METHOD_EMAIL 2

/* Response-Packet-Type = Do-Not-Respond (FreeRADIUS's
 * dictionary.freeradius.internal; no PW_ name for it in 3.2) */
#define RLM_WGOTP_DO_NOT_RESPOND 256

rlm_rcode_t rlm_wgotp_authorize(void *instance, REQUEST *request);
rlm_rcode_t rlm_wgotp_authenticate(void *instance, REQUEST *request);
rlm_rcode_t rlm_wgotp_post_auth(void *instance, REQUEST *request);
rlm_rcode_t rlm_wgotp_accounting(void *instance, REQUEST *request);

/* log.c */
void rlm_wgotp_log_init(void);
/* lib/'s messages go to this request's log while set (per thread). */
void rlm_wgotp_log_request(REQUEST *request);

/* request.c */
enum rlm_wgotp_attrs_status rlm_wgotp_request_attrs(rlm_wgotp_t const *inst, REQUEST *request,
						    struct rlm_wgotp_attrs *out, char const **why);
/* Directory data that an earlier module (ldap, sql, files) put in the
 * control list; false when there is none. Strings point into the request. */
bool rlm_wgotp_request_override(rlm_wgotp_t const *inst, REQUEST *request, char const *user,
				struct wgotp_user *u);
int rlm_wgotp_reply_string(REQUEST *request, unsigned int attr, char const *value);
int rlm_wgotp_reply_integer(REQUEST *request, DICT_ATTR const *da, unsigned int attr, uint32_t value);
void rlm_wgotp_reply_clear_accept(rlm_wgotp_t const *inst, REQUEST *request);
/* Session-Timeout, Framed-IP-Address, Reply-Message, WGOTP-Session-Expires. */
int rlm_wgotp_reply_accept(rlm_wgotp_t const *inst, REQUEST *request, rlm_wgotp_accept_t const *acc);

#endif
