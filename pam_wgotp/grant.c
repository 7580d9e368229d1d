/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Grants in the store (grant.h). The value is text, one field a line:
 *
 *   v1 \n user \n device \n duration \n service
 *
 * The key is "pam-grant:" and the id; the id itself is never logged.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "grant.h"
#include "secret.h"

#define KEY_PREFIX "pam-grant:"
#define VALUE_MAX (3 + sizeof(((struct pam_wgotp_grant *)0)->user) + \
		   sizeof(((struct pam_wgotp_grant *)0)->device) + 24 + \
		   sizeof(((struct pam_wgotp_grant *)0)->service))

static bool id_ok(const char *id)
{
	size_t i;

	if (!id || strlen(id) != PAM_WGOTP_GRANT_ID_LEN)
		return false;
	for (i = 0; i < PAM_WGOTP_GRANT_ID_LEN; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	return true;
}

/* A field may hold anything but the separator, and must fit. */
static bool field_ok(const char *f, size_t size)
{
	size_t n = strnlen(f, size);

	return n < size && !memchr(f, '\n', n);
}

static int key_of(const char *id, char *key, size_t len)
{
	if (!id_ok(id))
		return -EINVAL;
	snprintf(key, len, KEY_PREFIX "%s", id);
	return 0;
}

int pam_wgotp_grant_put(struct wgotp_store *st, const struct pam_wgotp_grant *g, int64_t now,
			char id[PAM_WGOTP_GRANT_ID_LEN + 1])
{
	uint8_t raw[PAM_WGOTP_GRANT_ID_LEN / 2];
	char key[sizeof(KEY_PREFIX) + PAM_WGOTP_GRANT_ID_LEN], val[VALUE_MAX];
	int n, ret;

	id[0] = '\0';
	if (!g->user[0] || !field_ok(g->user, sizeof(g->user)) ||
	    !field_ok(g->device, sizeof(g->device)) || !field_ok(g->service, sizeof(g->service)) ||
	    g->duration < 0)
		return -EINVAL;
	ret = wgotp_random(raw, sizeof(raw));
	if (ret < 0)
		goto cleanup;
	wgotp_hex_encode(raw, sizeof(raw), id);
	key_of(id, key, sizeof(key));
	n = snprintf(val, sizeof(val), "v1\n%s\n%s\n%" PRId64 "\n%s", g->user, g->device,
		     g->duration, g->service);
	if (n < 0 || (size_t)n >= sizeof(val)) {
		ret = -EINVAL;
		goto cleanup;
	}
	ret = st->ops->kv_put(st->state, key, val, now + PAM_WGOTP_GRANT_TTL);
cleanup:
	if (ret < 0)
		wgotp_wipe(id, PAM_WGOTP_GRANT_ID_LEN + 1);
	wgotp_wipe(raw, sizeof(raw));
	wgotp_wipe(key, sizeof(key));
	return ret;
}

/* The next line of *p into dst (size bytes with its NUL); *p moves on. */
static int next_field(char **p, char *dst, size_t size, bool last)
{
	char *nl = last ? NULL : strchr(*p, '\n');
	size_t n = nl ? (size_t)(nl - *p) : strlen(*p);

	if ((!last && !nl) || (last && strchr(*p, '\n')) || n >= size)
		return -EBADMSG;
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p += n + (nl ? 1 : 0);
	return 0;
}

static int parse(char *val, struct pam_wgotp_grant *g)
{
	char version[4], dur[24], *p = val, *end;
	long long d;

	memset(g, 0, sizeof(*g));
	if (next_field(&p, version, sizeof(version), false) < 0 || strcmp(version, "v1") ||
	    next_field(&p, g->user, sizeof(g->user), false) < 0 || !g->user[0] ||
	    next_field(&p, g->device, sizeof(g->device), false) < 0 ||
	    next_field(&p, dur, sizeof(dur), false) < 0 ||
	    next_field(&p, g->service, sizeof(g->service), true) < 0)
		return -EBADMSG;
	errno = 0;
	d = strtoll(dur, &end, 10);
	if (!dur[0] || *end || errno || d < 0)
		return -EBADMSG;
	g->duration = d;
	return 0;
}

int pam_wgotp_grant_take(struct wgotp_store *st, const char *id, int64_t now,
			 struct pam_wgotp_grant *out)
{
	char key[sizeof(KEY_PREFIX) + PAM_WGOTP_GRANT_ID_LEN];
	char *val = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = key_of(id, key, sizeof(key));
	if (ret < 0)
		return ret;
	if (!st->ops->kv_take)
		return -ENOTSUP;
	ret = st->ops->kv_take(st->state, key, now, &val);
	if (ret < 0)
		goto cleanup;
	ret = parse(val, out);
	if (ret < 0)
		memset(out, 0, sizeof(*out));
cleanup:
	wgotp_free_str(val);
	wgotp_wipe(key, sizeof(key));
	return ret;
}

int pam_wgotp_grant_drop(struct wgotp_store *st, const char *id)
{
	char key[sizeof(KEY_PREFIX) + PAM_WGOTP_GRANT_ID_LEN];
	int ret;

	ret = key_of(id, key, sizeof(key));
	if (ret == 0)
		ret = st->ops->kv_del(st->state, key);
	wgotp_wipe(key, sizeof(key));
	return ret;
}
