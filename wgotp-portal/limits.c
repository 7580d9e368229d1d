/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-IP request limits: API requests a minute per client address, in a
 * fixed table of this process (4096 slots, keyed by SipHash under a
 * random key so nobody can aim collisions). A slot taken by another
 * address starts over for the newcomer: a flood of addresses may reset a
 * neighbour's count, but never costs memory. The limits the store shares
 * between processes (per user) are in api.c.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "portal.h"
#include "secret.h"
#include "siphash.h"

#define SLOTS 4096
#define WINDOW 60

struct slot {
	uint64_t tag;
	int64_t start;
	int count;
};

struct portal_limits {
	pthread_mutex_t lock;
	uint8_t key[16];
	struct slot slots[SLOTS];
};

int portal_limits_new(struct portal_limits **out)
{
	struct portal_limits *l = calloc(1, sizeof(*l));
	int ret;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	ret = wgotp_random(l->key, sizeof(l->key));
	if (ret < 0) {
		free(l);
		return ret;
	}
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

void portal_limits_free(struct portal_limits *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int portal_limits_hit(struct portal_limits *l, const char *client, int64_t now, int limit)
{
	uint64_t h;
	struct slot *s;
	int wait = 0;

	if (!l || limit <= 0 || !client)
		return 0;
	h = wgotp_siphash24(l->key, client, strlen(client)) | 1;
	pthread_mutex_lock(&l->lock);
	s = &l->slots[h % SLOTS];
	if (s->tag != h || now - s->start >= WINDOW) {
		s->tag = h;
		s->start = now;
		s->count = 0;
	}
	if (s->count >= limit) {
		wait = (int)(s->start + WINDOW - now);
		if (wait < 1)
			wait = 1;
	} else {
		s->count++;
	}
	pthread_mutex_unlock(&l->lock);
	return wait;
}
