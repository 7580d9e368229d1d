/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pam_wgotp internals shared between its files. */
#ifndef PAM_WGOTP_H
#define PAM_WGOTP_H

#include <stdbool.h>
#include <security/pam_modules.h>

/* lib/'s log sink: pam_syslog on pamh while a call is under way
 * (debug: also debug lines). The test build also copies every line to
 * stderr, for tests that read the log. */
void pam_wgotp_log_begin(pam_handle_t *pamh, bool debug);
void pam_wgotp_log_end(void);

#endif
