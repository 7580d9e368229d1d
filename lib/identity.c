/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A user's canonical identity (see identity.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "directory.h"
#include "identity.h"

#define BARE_NAME_MAX 64	/* as an address's local part */

static bool bare_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("._%+-", c));
}

/* A user name without a domain: the local part's rules. */
static bool bare_valid(const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > BARE_NAME_MAX || name[0] == '.' || name[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (!bare_char((unsigned char)name[i]) || (name[i] == '.' && name[i + 1] == '.'))
			return false;
	}
	return true;
}

int wgotp_identity_canon(const char *name, char *out, size_t outlen)
{
	size_t len, i;
	int ret = -EINVAL;

	if (out && outlen)
		out[0] = '\0';
	if (!name || !out)
		goto cleanup;
	len = strnlen(name, WGOTP_EMAIL_MAX + 1);
	if (len > WGOTP_EMAIL_MAX)
		goto cleanup;
	if (strchr(name, '@') ? !wgotp_email_valid(name) : !bare_valid(name, len))
		goto cleanup;
	ret = -ENOSPC;
	if (len >= outlen)
		goto cleanup;
	for (i = 0; i < len; i++)
		out[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	out[len] = '\0';
	ret = 0;
cleanup:
	return ret;
}

bool wgotp_identity_mailable(const char *identity)
{
	return identity && strchr(identity, '@') && wgotp_email_valid(identity);
}
