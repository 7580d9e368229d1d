/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "secret.h"

static int converse(pam_handle_t *pamh, int style, const char *text, struct pam_response **resp)
{
	const struct pam_conv *conv = NULL;
	struct pam_message msg = { .msg_style = style, .msg = text };
	const struct pam_message *msgs[1] = { &msg };
	int ret;

	*resp = NULL;
	ret = pam_get_item(pamh, PAM_CONV, (const void **)&conv);
	if (ret != PAM_SUCCESS || !conv || !conv->conv)
		return PAM_CONV_ERR;
	ret = conv->conv(1, msgs, resp, conv->appdata_ptr);
	if (ret != PAM_SUCCESS)
		return PAM_CONV_ERR;
	return PAM_SUCCESS;
}

static void response_free(struct pam_response *resp)
{
	if (!resp)
		return;
	wgotp_free_str(resp[0].resp);
	free(resp);
}

int pam_wgotp_ask(pam_handle_t *pamh, const char *prompt, char **answer)
{
	struct pam_response *resp = NULL;
	int ret;

	*answer = NULL;
	ret = converse(pamh, PAM_PROMPT_ECHO_OFF, prompt, &resp);
	if (ret != PAM_SUCCESS)
		goto cleanup;
	if (!resp || !resp[0].resp) {
		ret = PAM_CONV_ERR;
		goto cleanup;
	}
	/* Take the answer over: the response is ours to free. */
	*answer = resp[0].resp;
	resp[0].resp = NULL;
	ret = PAM_SUCCESS;
cleanup:
	response_free(resp);
	return ret;
}

int pam_wgotp_info(pam_handle_t *pamh, int flags, const char *text)
{
	struct pam_response *resp = NULL;
	int ret;

	if (flags & PAM_SILENT)
		return PAM_SUCCESS;
	ret = converse(pamh, PAM_TEXT_INFO, text, &resp);
	response_free(resp);
	return ret;
}
