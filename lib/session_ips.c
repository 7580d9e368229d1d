/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a session may put on WireGuard (see session_ips.h). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "cidr.h"
#include "encoding.h"
#include "session_ips.h"

int wgotp_session_ips(const struct wgotp_directory *dir, const struct wgotp_session *s,
		      char *out, size_t outlen, struct wgotp_error *err)
{
	const struct wgotp_user *u;
	const struct wgotp_device *d;
	uint8_t key[WGOTP_KEY_LEN];
	struct wgotp_cidr c;
	const char *cur;
	char one[64];
	size_t off = 0, n = 0, k;
	bool found;
	int r, ret = -EINVAL;

	if (out && outlen)
		out[0] = '\0';
	if (!dir || !s || !out || !outlen) {
		ret = wgotp_error_set(err, EINVAL, "no session to check");
		goto cleanup;
	}
	/* The names are the lookup keys; only the directory's spelling of
	 * them is written into a message. */
	u = wgotp_dir_find(dir, s->user);
	d = u ? wgotp_user_find_device(u, s->device) : NULL;
	if (!d) {
		ret = wgotp_error_set(err, ENOENT, "no such user or device in the directory");
		goto cleanup;
	}
	if (wgotp_key_from_base64(key, s->public_key) < 0 ||
	    memcmp(key, d->key, WGOTP_KEY_LEN) != 0) {
		ret = wgotp_error_set(err, EKEYREJECTED, "%s/%s: the public key is not the device's",
				      u->email, d->name);
		goto cleanup;
	}
	cur = s->allowed_ips;
	while ((r = wgotp_cidr_list_next(&cur, &c)) > 0) {
		n++;
		found = false;
		for (size_t i = 0; i < d->n_allowed_ips && !found; i++)
			found = wgotp_cidr_equal(&c, &d->allowed_ips[i]);
		wgotp_cidr_format(&c, one, sizeof(one));
		if (!found) {
			ret = wgotp_error_set(err, EPERM, "%s/%s: %s is not one of the device's allowed IPs",
					      u->email, d->name, one);
			goto cleanup;
		}
		k = strlen(one);
		if (off + (off ? 1 : 0) + k + 1 > outlen) {
			ret = wgotp_error_set(err, ENOBUFS, "%s/%s: too many allowed IPs", u->email,
					      d->name);
			goto cleanup;
		}
		if (off)
			out[off++] = ',';
		memcpy(out + off, one, k + 1);
		off += k;
	}
	if (r < 0) {
		ret = wgotp_error_set(err, EINVAL, "%s/%s: allowed IP number %zu is not a prefix",
				      u->email, d->name, n + 1);
		goto cleanup;
	}
	if (!n) {
		ret = wgotp_error_set(err, EINVAL, "%s/%s: no allowed IP", u->email, d->name);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (ret < 0 && out && outlen)
		out[0] = '\0';
	return ret;
}
