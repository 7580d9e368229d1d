/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The live sessions, in memory: a hash table keyed by (user, device) and
 * a min-heap of expiries (sched.h, in seconds). It mirrors the store; the
 * store is the truth and is written first (see ops.c).
 */
#ifndef WGA_TABLE_H
#define WGA_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "encoding.h"
#include "sched.h"
#include "store.h"

struct live {
	struct wgotp_session s;
	uint8_t key[WGOTP_KEY_LEN];	/* s.public_key decoded */
	struct sched_timer expiry;	/* deadline = s.expires */
	/* The warning before the end ([Session] WarnBefore, ops.c). */
	struct sched_timer warn;	/* deadline = when to (re)try, seconds */
	int64_t warned;			/* the s.expires a warning went out for */
	int64_t warn_busy;		/* the s.expires a send is under way for, 0 = none */
	int warn_tries;			/* failed sends for s.expires */
	struct live *next;		/* hash chain */
	uint64_t hash;
};

struct table {
	struct live **buckets;
	size_t n_buckets, n;
	struct sched heap;
	struct sched warn_heap;		/* the warnings, seconds */
};

void table_init(struct table *t);
void table_fini(struct table *t);	/* frees every entry */

struct live *table_get(const struct table *t, const char *user, const char *device);
/* Insert or replace (same user and device); -ENOMEM, -EINVAL (bad key). */
int table_put(struct table *t, const struct wgotp_session *s, struct live **out);
void table_del(struct table *t, struct live *l);
/* Earliest expiry (seconds) or SCHED_NONE. */
int64_t table_next_expiry(const struct table *t);
/* Take the entry expiring first if expired at now (it leaves the heap but
 * stays in the table; table_requeue() puts it back). */
struct live *table_pop_expired(struct table *t, int64_t now);
int table_requeue(struct table *t, struct live *l, int64_t deadline);

/* The warning timer of l: at (seconds), or 0 to cancel. -ENOMEM. */
int table_warn_set(struct table *t, struct live *l, int64_t at);
int64_t table_next_warn(const struct table *t);
/* Take the entry whose warning is due at now (it leaves the warn heap). */
struct live *table_pop_warn(struct table *t, int64_t now);

/* for (struct live *l = table_first(t, &it); l; l = table_next(t, &it)) */
struct table_iter {
	size_t bucket;
	struct live *cur;
};
struct live *table_first(const struct table *t, struct table_iter *it);
struct live *table_next(const struct table *t, struct table_iter *it);

/* "a/32,b/128" from prefixes; -ENOBUFS. */
int ips_format(const struct wgotp_cidr *ips, size_t n, char *buf, size_t len);

#endif
