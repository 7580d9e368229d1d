/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Open configuration, store, mailer and flow in one call (frontend.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frontend.h"
#include "mail.h"

int wgotp_frontend_open(struct wgotp_config *cfg, wgotp_clock_fn clock, void *clock_arg,
			struct wgotp_frontend **out, enum wgotp_frontend_stage *stage,
			struct wgotp_error *err)
{
	struct wgotp_frontend *fe = NULL;
	struct wgotp_mailer mailer = { 0 };
	bool have_mailer = false;
	int ret;

	*out = NULL;
	*stage = WGOTP_FE_OK;
	fe = calloc(1, sizeof(*fe));
	if (!fe) {
		wgotp_config_free(cfg);
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	fe->cfg = cfg;
	ret = wgotp_store_open(cfg, &fe->store, err);
	if (ret < 0) {
		*stage = WGOTP_FE_STORE;
		goto cleanup;
	}
	if (cfg->mail_transport != WGOTP_MAIL_NONE) {
		ret = wgotp_mailer_from_config(cfg, fe->store, &mailer, err);
		if (ret < 0) {
			*stage = WGOTP_FE_MAILER;
			goto cleanup;
		}
		have_mailer = true;
	}
	/* The flow takes the mailer over, also when it fails. */
	ret = wgotp_flow_new(cfg, fe->store, have_mailer ? &mailer : NULL, clock, clock_arg,
			     &fe->flow, err);
	if (ret < 0) {
		*stage = WGOTP_FE_FLOW;
		goto cleanup;
	}
	*out = fe;
	fe = NULL;
	ret = 0;
cleanup:
	wgotp_frontend_close(fe);
	return ret;
}

void wgotp_frontend_close(struct wgotp_frontend *fe)
{
	if (!fe)
		return;
	wgotp_flow_free(fe->flow);
	wgotp_store_close(fe->store);
	wgotp_config_free(fe->cfg);
	free(fe);
}
