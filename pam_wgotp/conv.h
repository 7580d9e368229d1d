/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The PAM conversation: one prompt with echo off, one info line. */
#ifndef PAM_WGOTP_CONV_H
#define PAM_WGOTP_CONV_H

#include <security/pam_modules.h>

/*
 * Ask with echo off. Returns PAM_SUCCESS with *answer malloc'ed (wipe
 * and free it with wgotp_free_str), PAM_CONV_ERR when the application
 * has no conversation, it failed or gave no answer, PAM_BUF_ERR.
 * Whatever the application returned is wiped before it is freed.
 */
int pam_wgotp_ask(pam_handle_t *pamh, const char *prompt, char **answer);

/* A PAM_TEXT_INFO line; nothing under PAM_SILENT. */
int pam_wgotp_info(pam_handle_t *pamh, int flags, const char *text);

#endif
