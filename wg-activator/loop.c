// SPDX-License-Identifier: GPL-2.0-or-later
/* epoll + timerfd + signalfd event loop (see loop.h). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

#define LOOP_MAX_EVENTS 64

struct loop_sig {
	loop_signal_cb cb;
	void *arg;
};

struct loop {
	int epfd;
	struct loop_fd timer_h;
	struct loop_fd signal_h;
	struct sched timers;
	int64_t armed;			/* deadline the timerfd is set to */
	bool armed_valid;
	sigset_t sigmask;
	struct loop_sig sigs[_NSIG];
	struct epoll_event events[LOOP_MAX_EVENTS];
	int n_events, cur_event;	/* the round being dispatched */
	loop_clock_cb clock_cb;
	void *clock_arg;
	bool quit;
	int status;
};

int64_t loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void arm_timerfd(struct loop *l)
{
	struct itimerspec its = { 0 };
	int64_t next = sched_next(&l->timers);

	if (l->armed_valid && next == l->armed)
		return;
	if (next != SCHED_NONE) {
		if (next <= 0)
			next = 1;	/* 0 would disarm; any past time fires at once */
		its.it_value.tv_sec = next / NSEC_PER_SEC;
		its.it_value.tv_nsec = next % NSEC_PER_SEC;
	}
	if (timerfd_settime(l->timer_h.fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
			    &its, NULL) < 0) {
		log_err("timerfd_settime: %s", strerror(errno));
		abort();	/* cannot keep time: no deadline would be honoured */
	}
	l->armed = sched_next(&l->timers);
	l->armed_valid = true;
}

static void run_timers(struct loop *l)
{
	struct sched_timer *st;
	int64_t now = loop_now();

	while ((st = sched_pop_due(&l->timers, now))) {
		struct loop_timer *t = sched_container_of(st, struct loop_timer, st);

		t->cb(l, t);
	}
}

static void on_timerfd(struct loop *l, struct loop_fd *h, uint32_t events)
{
	uint64_t n;

	/* ECANCELED means the clock was set: deadlines are absolute, so
	 * re-arming is all it takes. Either way the timerfd is spent. */
	if (read(h->fd, &n, sizeof(n)) < 0) {
		if (errno == ECANCELED) {
			log_info("the wall clock was set: timers re-armed at their instants");
			if (l->clock_cb)
				l->clock_cb(l, l->clock_arg);
		} else if (errno != EAGAIN) {
			log_warn("timerfd: %s", strerror(errno));
		}
	}
	l->armed_valid = false;
	run_timers(l);
}

static void on_signalfd(struct loop *l, struct loop_fd *h, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(h->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo < _NSIG && l->sigs[si.ssi_signo].cb)
			l->sigs[si.ssi_signo].cb(l, (int)si.ssi_signo, l->sigs[si.ssi_signo].arg);
	}
}

int loop_new(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));
	int ret = -ENOMEM;

	if (!l)
		goto cleanup;
	l->epfd = l->timer_h.fd = l->signal_h.fd = -1;
	sched_init(&l->timers);
	l->armed_valid = false;
	sigemptyset(&l->sigmask);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->timer_h.fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	l->signal_h.fd = signalfd(-1, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->epfd < 0 || l->timer_h.fd < 0 || l->signal_h.fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	l->timer_h.cb = on_timerfd;
	l->signal_h.cb = on_signalfd;
	ret = loop_fd_add(l, &l->timer_h, EPOLLIN);
	if (ret < 0)
		goto cleanup;
	ret = loop_fd_add(l, &l->signal_h, EPOLLIN);
	if (ret < 0)
		goto cleanup;
	*out = l;
	l = NULL;
	ret = 0;
cleanup:
	loop_free(l);
	return ret;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->timer_h.fd >= 0)
		close(l->timer_h.fd);
	if (l->signal_h.fd >= 0)
		close(l->signal_h.fd);
	sched_fini(&l->timers);
	free(l);
}

int loop_fd_add(struct loop *l, struct loop_fd *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, h->fd, &ev) < 0 ? -errno : 0;
}

int loop_fd_mod(struct loop *l, struct loop_fd *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, h->fd, &ev) < 0 ? -errno : 0;
}

void loop_fd_del(struct loop *l, struct loop_fd *h)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	/* The owner may free h right after: forget its pending events. */
	for (int i = l->cur_event + 1; i < l->n_events; i++)
		if (l->events[i].data.ptr == h)
			l->events[i].data.ptr = NULL;
}

void loop_timer_init(struct loop_timer *t, loop_timer_cb cb)
{
	t->st.idx = 0;
	t->st.deadline = 0;
	t->cb = cb;
}

int loop_timer_arm(struct loop *l, struct loop_timer *t, int64_t deadline)
{
	return sched_set(&l->timers, &t->st, deadline);
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	sched_del(&l->timers, &t->st);
}

void loop_on_clock_set(struct loop *l, loop_clock_cb cb, void *arg)
{
	l->clock_cb = cb;
	l->clock_arg = arg;
}

int loop_signal(struct loop *l, int signo, loop_signal_cb cb, void *arg)
{
	if (signo <= 0 || signo >= _NSIG)
		return -EINVAL;
	l->sigs[signo].cb = cb;
	l->sigs[signo].arg = arg;
	sigaddset(&l->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
		return -errno;
	if (signalfd(l->signal_h.fd, &l->sigmask, 0) < 0)
		return -errno;
	return 0;
}

void loop_quit(struct loop *l, int status)
{
	l->quit = true;
	l->status = status;
}

int loop_run(struct loop *l)
{
	while (!l->quit) {
		arm_timerfd(l);
		l->cur_event = -1;
		l->n_events = epoll_wait(l->epfd, l->events, LOOP_MAX_EVENTS, -1);
		if (l->n_events < 0) {
			l->n_events = 0;
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (l->cur_event = 0; l->cur_event < l->n_events && !l->quit; l->cur_event++) {
			struct loop_fd *h = l->events[l->cur_event].data.ptr;

			if (h)
				h->cb(l, h, l->events[l->cur_event].events);
		}
		l->n_events = 0;
		/* Timers armed in the past by callbacks run now, not after a
		 * round trip through the timerfd. */
		run_timers(l);
	}
	return l->status;
}
