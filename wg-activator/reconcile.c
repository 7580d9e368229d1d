// SPDX-License-Identifier: GPL-2.0-or-later
/* The reconcile plan (see reconcile.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reconcile.h"
#include "session_ips.h"
#include "table.h"

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, WGOTP_KEY_LEN);
}

int dir_index_build(const struct wgotp_directory *dir, struct dir_index *out)
{
	size_t n = 0;

	out->keys = NULL;
	out->n = 0;
	for (size_t u = 0; u < dir->n_users; u++)
		n += dir->users[u].n_devices;
	if (!n)
		return 0;
	out->keys = calloc(n, sizeof(*out->keys));
	if (!out->keys)
		return -ENOMEM;
	for (size_t u = 0; u < dir->n_users; u++) {
		for (size_t d = 0; d < dir->users[u].n_devices; d++) {
			struct dir_key *k = &out->keys[out->n++];

			memcpy(k->key, dir->users[u].devices[d].key, WGOTP_KEY_LEN);
			k->user = &dir->users[u];
			k->device = &dir->users[u].devices[d];
		}
	}
	qsort(out->keys, out->n, sizeof(*out->keys), key_cmp);
	return 0;
}

const struct dir_key *dir_index_find(const struct dir_index *ix, const uint8_t key[WGOTP_KEY_LEN])
{
	return ix->n ? bsearch(key, ix->keys, ix->n, sizeof(*ix->keys), key_cmp) : NULL;
}

void dir_index_free(struct dir_index *ix)
{
	free(ix->keys);
	ix->keys = NULL;
	ix->n = 0;
}

static bool has_key(const uint8_t (*keys)[WGOTP_KEY_LEN], size_t n, const uint8_t *key)
{
	return n && bsearch(key, keys, n, WGOTP_KEY_LEN, key_cmp);
}

static void add_change(struct rc_plan *p, const uint8_t *key, bool remove, const char *ips)
{
	struct wg_peer *c = &p->changes[p->n_changes++];

	memcpy(c->key, key, WGOTP_KEY_LEN);
	c->remove = remove;
	c->allowed_ips = ips;
}

int rc_plan(const struct wgotp_directory *dir, const struct wgotp_session *sessions,
	    size_t n_sessions, const struct wg_peer_list *peers, int64_t now,
	    struct rc_plan *out)
{
	struct dir_index ix = { 0 };
	uint8_t (*present)[WGOTP_KEY_LEN] = NULL;	/* interface peers, sorted */
	uint8_t (*live)[WGOTP_KEY_LEN] = NULL;		/* keys of live sessions, sorted */
	uint8_t (*gone)[WGOTP_KEY_LEN] = NULL;		/* keys of ended sessions, sorted */
	size_t n_gone = 0, n_live = 0, n_dev = 0, max_changes;
	uint8_t key[WGOTP_KEY_LEN];
	char canon[sizeof(((struct wgotp_session *)0)->allowed_ips)], *text;
	int ret = -ENOMEM;

	memset(out, 0, sizeof(*out));
	ret = dir_index_build(dir, &ix);
	if (ret < 0)
		goto cleanup;
	for (size_t u = 0; u < dir->n_users; u++)
		n_dev += dir->users[u].n_devices;
	ret = -ENOMEM;
	max_changes = n_sessions + peers->n + n_dev + 1;
	out->changes = calloc(max_changes, sizeof(*out->changes));
	out->ended = calloc(n_sessions + 1, sizeof(*out->ended));
	out->refused = calloc(n_sessions + 1, sizeof(*out->refused));
	out->texts = calloc(n_dev + n_sessions + 1, sizeof(*out->texts));
	present = calloc(peers->n + 1, WGOTP_KEY_LEN);
	live = calloc(n_sessions + 1, WGOTP_KEY_LEN);
	gone = calloc(n_sessions + 1, WGOTP_KEY_LEN);
	if (!out->changes || !out->ended || !out->refused || !out->texts || !present || !live || !gone)
		goto cleanup;
	if (peers->n)
		memcpy(present, peers->keys, peers->n * WGOTP_KEY_LEN);
	qsort(present, peers->n, WGOTP_KEY_LEN, key_cmp);

	/* Sessions: live ones get their peer, the others end. */
	for (size_t i = 0; i < n_sessions; i++) {
		const struct wgotp_session *s = &sessions[i];
		const struct wgotp_user *u = wgotp_dir_find(dir, s->user);
		const struct wgotp_device *d = u ? wgotp_user_find_device(u, s->device) : NULL;
		bool valid_key = wgotp_key_from_base64(key, s->public_key) == 0;

		if (u && d && valid_key && !rc_managed(u, d)) {
			/* permanent device: the session is moot, the peer stays */
			out->ended[out->n_ended++] = i;
			out->stale++;
			continue;
		}
		if (!u || !d || !valid_key || !u->enabled ||
		    memcmp(d->key, key, WGOTP_KEY_LEN) != 0 || s->expires <= now) {
			if (s->expires <= now)
				out->expired++;
			else
				out->stale++;
			if (valid_key)
				memcpy(gone[n_gone++], key, WGOTP_KEY_LEN);
			out->ended[out->n_ended++] = i;
			continue;
		}
		/* What the store says goes onto the interface only as far as
		 * users.json allows it: a session that asks for more is not
		 * applied and ends like a stale one (its peer goes). */
		if (wgotp_session_ips(dir, s, canon, sizeof(canon), NULL) < 0) {
			out->stale++;
			out->refused[out->n_refused++] = i;
			memcpy(gone[n_gone++], key, WGOTP_KEY_LEN);
			out->ended[out->n_ended++] = i;
			continue;
		}
		memcpy(live[n_live++], key, WGOTP_KEY_LEN);
		if (!has_key((const void *)present, peers->n, key)) {
			text = strdup(canon);
			if (!text)
				goto cleanup;
			out->texts[out->n_texts++] = text;
			add_change(out, key, false, text);
			out->added++;
		}
	}
	qsort(live, n_live, WGOTP_KEY_LEN, key_cmp);
	qsort(gone, n_gone, WGOTP_KEY_LEN, key_cmp);

	/* Peers: a managed device's peer lives only with a session; the peer
	 * of an ended session goes even when its device left the directory;
	 * permanent devices and keys we never managed are left alone. */
	for (size_t i = 0; i < peers->n; i++) {
		const uint8_t *pk = present[i];
		const struct dir_key *k = dir_index_find(&ix, pk);

		if (has_key((const void *)live, n_live, pk))
			continue;
		if (k ? !rc_managed(k->user, k->device) : !has_key((const void *)gone, n_gone, pk))
			continue;
		add_change(out, pk, true, NULL);
		out->removed++;
	}

	/* Permanent devices. */
	for (size_t u = 0; u < dir->n_users; u++) {
		const struct wgotp_user *usr = &dir->users[u];

		for (size_t d = 0; d < usr->n_devices; d++) {
			const struct wgotp_device *dev = &usr->devices[d];

			if (rc_managed(usr, dev))
				continue;
			if (has_key((const void *)present, peers->n, dev->key))
				continue;
			text = malloc(sizeof(((struct wgotp_session *)0)->allowed_ips));
			if (!text)
				goto cleanup;
			out->texts[out->n_texts++] = text;
			if (ips_format(dev->allowed_ips, dev->n_allowed_ips, text,
				       sizeof(((struct wgotp_session *)0)->allowed_ips)) < 0) {
				ret = -ENOBUFS;
				goto cleanup;
			}
			add_change(out, dev->key, false, text);
			out->permanent_added++;
		}
	}
	ret = 0;
cleanup:
	if (ret < 0)
		rc_plan_free(out);
	free(present);
	free(live);
	free(gone);
	dir_index_free(&ix);
	return ret;
}

bool rc_refused(const struct rc_plan *p, size_t idx)
{
	/* refused[] is in increasing order */
	size_t lo = 0, hi = p->n_refused;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->refused[mid] == idx)
			return true;
		if (p->refused[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void rc_plan_free(struct rc_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_texts; i++)
		free(p->texts[i]);
	free(p->texts);
	free(p->refused);
	free(p->changes);
	free(p->ended);
	memset(p, 0, sizeof(*p));
}
