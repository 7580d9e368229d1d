// SPDX-License-Identifier: GPL-2.0-or-later
/* Live sessions in memory (see table.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static uint64_t hash_of(const char *user, const char *device)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */

	for (const char *p = user; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	h = (h ^ 0xff) * 0x100000001b3ULL;
	for (const char *p = device; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return h;
}

void table_init(struct table *t)
{
	memset(t, 0, sizeof(*t));
	sched_init(&t->heap);
	sched_init(&t->warn_heap);
}

void table_fini(struct table *t)
{
	sched_fini(&t->heap);	/* first: they touch the entries */
	sched_fini(&t->warn_heap);
	for (size_t b = 0; b < t->n_buckets; b++) {
		struct live *l = t->buckets[b], *next;

		for (; l; l = next) {
			next = l->next;
			free(l);
		}
	}
	free(t->buckets);
	table_init(t);
}

struct live *table_get(const struct table *t, const char *user, const char *device)
{
	uint64_t h;

	if (!t->n_buckets)
		return NULL;
	h = hash_of(user, device);
	for (struct live *l = t->buckets[h % t->n_buckets]; l; l = l->next)
		if (l->hash == h && !strcmp(l->s.user, user) && !strcmp(l->s.device, device))
			return l;
	return NULL;
}

static int grow(struct table *t)
{
	size_t nb = t->n_buckets ? 2 * t->n_buckets : 256;
	struct live **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_buckets; i++) {
		struct live *l = t->buckets[i], *next;

		for (; l; l = next) {
			next = l->next;
			l->next = b[l->hash % nb];
			b[l->hash % nb] = l;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->n_buckets = nb;
	return 0;
}

int table_put(struct table *t, const struct wgotp_session *s, struct live **out)
{
	struct live *l = table_get(t, s->user, s->device);
	uint8_t key[WGOTP_KEY_LEN];
	int ret;

	if (wgotp_key_from_base64(key, s->public_key) < 0)
		return -EINVAL;
	if (!l) {
		if (t->n >= t->n_buckets) {
			ret = grow(t);
			if (ret < 0)
				return ret;
		}
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		l->hash = hash_of(s->user, s->device);
		ret = sched_set(&t->heap, &l->expiry, s->expires);
		if (ret < 0) {
			free(l);
			return ret;
		}
		l->next = t->buckets[l->hash % t->n_buckets];
		t->buckets[l->hash % t->n_buckets] = l;
		t->n++;
	} else {
		ret = sched_set(&t->heap, &l->expiry, s->expires);
		if (ret < 0)
			return ret;
	}
	l->s = *s;
	memcpy(l->key, key, sizeof(key));
	if (out)
		*out = l;
	return 0;
}

void table_del(struct table *t, struct live *l)
{
	struct live **pp = &t->buckets[l->hash % t->n_buckets];

	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
	sched_del(&t->heap, &l->expiry);
	sched_del(&t->warn_heap, &l->warn);
	t->n--;
	free(l);
}

int64_t table_next_expiry(const struct table *t)
{
	return sched_next(&t->heap);
}

struct live *table_pop_expired(struct table *t, int64_t now)
{
	struct sched_timer *st = sched_pop_due(&t->heap, now);

	return st ? sched_container_of(st, struct live, expiry) : NULL;
}

int table_requeue(struct table *t, struct live *l, int64_t deadline)
{
	return sched_set(&t->heap, &l->expiry, deadline);
}

int table_warn_set(struct table *t, struct live *l, int64_t at)
{
	if (at <= 0) {
		sched_del(&t->warn_heap, &l->warn);
		return 0;
	}
	return sched_set(&t->warn_heap, &l->warn, at);
}

int64_t table_next_warn(const struct table *t)
{
	return sched_next(&t->warn_heap);
}

struct live *table_pop_warn(struct table *t, int64_t now)
{
	struct sched_timer *st = sched_pop_due(&t->warn_heap, now);

	return st ? sched_container_of(st, struct live, warn) : NULL;
}

struct live *table_first(const struct table *t, struct table_iter *it)
{
	it->bucket = 0;
	it->cur = NULL;
	return table_next(t, it);
}

struct live *table_next(const struct table *t, struct table_iter *it)
{
	if (it->cur && it->cur->next) {
		it->cur = it->cur->next;
		return it->cur;
	}
	if (it->cur)
		it->bucket++;
	for (; it->bucket < t->n_buckets; it->bucket++) {
		if (t->buckets[it->bucket]) {
			it->cur = t->buckets[it->bucket];
			return it->cur;
		}
	}
	it->cur = NULL;
	return NULL;
}

int ips_format(const struct wgotp_cidr *ips, size_t n, char *buf, size_t len)
{
	size_t off = 0;
	char one[64];

	if (len == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t k;

		wgotp_cidr_format(&ips[i], one, sizeof(one));
		k = strlen(one);
		if (off + k + (i ? 1 : 0) + 1 > len)
			return -ENOBUFS;
		if (i)
			buf[off++] = ',';
		memcpy(buf + off, one, k + 1);
		off += k;
	}
	return 0;
}
