// SPDX-License-Identifier: GPL-2.0-or-later
/* A binary min-heap of timers (see sched.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "sched.h"

void sched_init(struct sched *s)
{
	s->heap = NULL;
	s->n = s->cap = 0;
}

void sched_fini(struct sched *s)
{
	for (size_t i = 0; i < s->n; i++)
		s->heap[i]->idx = 0;
	free(s->heap);
	sched_init(s);
}

static void place(struct sched *s, size_t i, struct sched_timer *t)
{
	s->heap[i] = t;
	t->idx = i + 1;
}

static void sift_up(struct sched *s, size_t i)
{
	struct sched_timer *t = s->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (s->heap[parent]->deadline <= t->deadline)
			break;
		place(s, i, s->heap[parent]);
		i = parent;
	}
	place(s, i, t);
}

static void sift_down(struct sched *s, size_t i)
{
	struct sched_timer *t = s->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->n)
			break;
		if (c + 1 < s->n && s->heap[c + 1]->deadline < s->heap[c]->deadline)
			c++;
		if (t->deadline <= s->heap[c]->deadline)
			break;
		place(s, i, s->heap[c]);
		i = c;
	}
	place(s, i, t);
}

int sched_set(struct sched *s, struct sched_timer *t, int64_t deadline)
{
	if (sched_queued(t)) {
		int64_t old = t->deadline;

		t->deadline = deadline;
		if (deadline < old)
			sift_up(s, t->idx - 1);
		else
			sift_down(s, t->idx - 1);
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		struct sched_timer **h = reallocarray(s->heap, cap, sizeof(*h));

		if (!h)
			return -ENOMEM;
		s->heap = h;
		s->cap = cap;
	}
	t->deadline = deadline;
	place(s, s->n++, t);
	sift_up(s, s->n - 1);
	return 0;
}

void sched_del(struct sched *s, struct sched_timer *t)
{
	size_t i;
	struct sched_timer *last;

	if (!sched_queued(t))
		return;
	i = t->idx - 1;
	t->idx = 0;
	last = s->heap[--s->n];
	if (i == s->n)
		return;
	place(s, i, last);
	if (i > 0 && s->heap[(i - 1) / 2]->deadline > last->deadline)
		sift_up(s, i);
	else
		sift_down(s, i);
}

int64_t sched_next(const struct sched *s)
{
	return s->n ? s->heap[0]->deadline : SCHED_NONE;
}

struct sched_timer *sched_pop_due(struct sched *s, int64_t now)
{
	struct sched_timer *t;

	if (!s->n || s->heap[0]->deadline > now)
		return NULL;
	t = s->heap[0];
	sched_del(s, t);
	return t;
}

size_t sched_count(const struct sched *s)
{
	return s->n;
}
