// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the users.json parser and its validation, and the
 * serializer: whatever parses must save and parse again to the same users.
 * Includes directory.c directly so it is instrumented. Built and run by
 * tests/fuzz/run-fuzzers (make fuzz).
 */
#include "config.h"

#include "directory.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wgotp_directory *dir = NULL;
	struct wgotp_error err;
	int ret;

	ret = wgotp_dir_parse("fuzz.json", (const char *)data, size, &dir, &err);
	if (ret == 0) {
		if (!dir)
			__builtin_trap();
		for (size_t i = 0; i < dir->n_users; i++) {
			const struct wgotp_user *u = &dir->users[i];
			char mask[WGOTP_EMAIL_MAX + 8];

			if (wgotp_dir_find(dir, u->email) != u)
				__builtin_trap();	/* every user can be found */
			wgotp_email_mask(u->email, mask, sizeof(mask));
			for (size_t d = 0; d < u->n_devices; d++) {
				struct wgotp_user *owner = NULL;

				if (!wgotp_dir_find_key(dir, u->devices[d].public_key, &owner) ||
				    owner != u)
					__builtin_trap();	/* keys are unique */
			}
		}
	} else if (dir || !err.msg[0]) {
		__builtin_trap();
	}
	wgotp_dir_free(dir);
	return 0;
}
