/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Deadlines: a binary min-heap of timers. A timer is embedded in its
 * owner (container_of), knows its own position, so re-arming and
 * cancelling are O(log n). No clock and no callbacks here: the event loop
 * arms one timerfd at sched_next() and the owner decides what to do when
 * a timer is due.
 */
#ifndef WGA_SCHED_H
#define WGA_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_NONE INT64_MAX	/* sched_next() of an empty heap */

struct sched_timer {
	int64_t deadline;	/* any monotone unit; the loop uses ns of CLOCK_REALTIME */
	size_t idx;		/* position in the heap + 1; 0 = not queued */
};

struct sched {
	struct sched_timer **heap;
	size_t n, cap;
};

#define sched_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

void sched_init(struct sched *s);
void sched_fini(struct sched *s);	/* timers are not touched */

static inline bool sched_queued(const struct sched_timer *t)
{
	return t->idx != 0;
}

/* Queue t at deadline, or move it there if already queued. -ENOMEM. */
int sched_set(struct sched *s, struct sched_timer *t, int64_t deadline);
/* Remove t if queued. */
void sched_del(struct sched *s, struct sched_timer *t);
/* Earliest deadline, or SCHED_NONE. */
int64_t sched_next(const struct sched *s);
/* Remove and return the earliest timer if its deadline <= now, else NULL. */
struct sched_timer *sched_pop_due(struct sched *s, int64_t now);
size_t sched_count(const struct sched *s);

#endif
