/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every front end opens before it can call the login flow: the
 * configuration (already loaded by the caller, who may adjust it), the
 * state store, the mail transport from [Mail] (none when Transport =
 * none) and the flow over them. One call, one free, and a stage that
 * says what failed, so that a front end can tell an administrator's
 * mistake (configuration, server key, users.json) from a service that
 * cannot be reached (store, mail transport).
 */
#ifndef WGOTP_FRONTEND_H
#define WGOTP_FRONTEND_H

#include "conf.h"
#include "error.h"
#include "flow.h"
#include "store.h"

enum wgotp_frontend_stage {
	WGOTP_FE_OK,
	WGOTP_FE_STORE,		/* the store could not be opened */
	WGOTP_FE_MAILER,	/* [Mail] is wrong or its credentials unreadable */
	WGOTP_FE_FLOW,		/* server key or users.json */
};

struct wgotp_frontend {
	struct wgotp_config *cfg;	/* owned */
	struct wgotp_store *store;
	struct wgotp_flow *flow;
};

/*
 * Open store, mailer and flow over cfg, which the frontend takes over
 * (also on failure). clock may be NULL for time(2). On failure *stage
 * says what failed and err says why; never aborts (-ENOMEM).
 */
int wgotp_frontend_open(struct wgotp_config *cfg, wgotp_clock_fn clock, void *clock_arg,
			struct wgotp_frontend **out, enum wgotp_frontend_stage *stage,
			struct wgotp_error *err);
void wgotp_frontend_close(struct wgotp_frontend *fe);	/* accepts NULL */

#endif
