/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for wgotp_identity_canon (lib/identity.c): a name as
 * it came off the wire. An accepted name comes back in lower case, the
 * same length, a fixed point (its canonical form is itself), free of
 * white space, control bytes and non-ASCII; a refused one leaves "".
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "identity.h"

#define check(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[WGOTP_EMAIL_MAX + 8], out[WGOTP_EMAIL_MAX + 1], again[WGOTP_EMAIL_MAX + 1];
	size_t len, i;
	int ret;

	if (size >= sizeof(in))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	len = strlen(in);
	ret = wgotp_identity_canon(in, out, sizeof(out));
	if (ret < 0) {
		check(ret == -EINVAL);
		check(out[0] == '\0');
		return 0;
	}
	check(ret == 0);
	check(strlen(out) == len && len > 0);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];

		check(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'));
		check(c == (unsigned char)in[i] || c == (unsigned char)in[i] + ('a' - 'A'));
	}
	check(wgotp_identity_canon(out, again, sizeof(again)) == 0 && strcmp(out, again) == 0);
	check(wgotp_identity_mailable(out) == (strchr(out, '@') != NULL));
	return 0;
}
