/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The event loop: one epoll set for file descriptors, one timerfd armed at
 * the earliest timer (CLOCK_REALTIME, absolute, so a deadline is exact
 * and a clock step is noticed), one signalfd for the signals handled.
 * Single-threaded; callbacks may add and remove handlers and timers,
 * including their own.
 */
#ifndef WGA_LOOP_H
#define WGA_LOOP_H

#include <stdint.h>

#include "sched.h"

#define NSEC_PER_SEC 1000000000LL
#define NSEC_PER_MSEC 1000000LL

struct loop;
struct loop_fd;
struct loop_timer;

typedef void (*loop_fd_cb)(struct loop *l, struct loop_fd *h, uint32_t events);
typedef void (*loop_timer_cb)(struct loop *l, struct loop_timer *t);
typedef void (*loop_signal_cb)(struct loop *l, int signo, void *arg);

/* Embedded in the owner; recover it with sched_container_of(). */
struct loop_fd {
	int fd;
	loop_fd_cb cb;
};

struct loop_timer {
	struct sched_timer st;
	loop_timer_cb cb;
};

int loop_new(struct loop **out);
void loop_free(struct loop *l);	/* does not close registered fds */

/* Wall clock, ns since the epoch. */
int64_t loop_now(void);

int loop_fd_add(struct loop *l, struct loop_fd *h, uint32_t events);
int loop_fd_mod(struct loop *l, struct loop_fd *h, uint32_t events);
/* Stop watching h; pending events for it in this round are dropped. */
void loop_fd_del(struct loop *l, struct loop_fd *h);

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb);
/* deadline: ns since the epoch (loop_now() scale). -ENOMEM. */
int loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t deadline);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);

/* Called when the wall clock was set (settimeofday, an NTP step): the
 * timerfd reports it (TFD_TIMER_CANCEL_ON_SET). Absolute deadlines need
 * nothing (the loop re-arms them as they are); a job armed at "now +
 * interval" may want to re-arm from the new now. */
typedef void (*loop_clock_cb)(struct loop *l, void *arg);
void loop_on_clock_set(struct loop *l, loop_clock_cb cb, void *arg);

/* Handle signo through the loop (it is blocked for the process). */
int loop_signal(struct loop *l, int signo, loop_signal_cb cb, void *arg);

/* Run until loop_quit(); returns the status given to it. */
int loop_run(struct loop *l);
void loop_quit(struct loop *l, int status);

#endif
