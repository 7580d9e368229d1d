// SPDX-License-Identifier: GPL-2.0-or-later
/* The mail worker thread (see warn.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "mail.h"
#include "store.h"
#include "warn.h"

struct warner {
	struct loop *loop;
	struct loop_fd efd;		/* the worker -> loop wake-up */
	warn_done_fn done;
	void *arg;
	struct wgotp_store *store;	/* the worker's own handle (token cache) */
	struct wgotp_mailer mailer;
	pthread_t thread;
	bool started, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct warn_job *todo, **todo_tail;	/* FIFO */
	struct warn_job *finished;		/* any order */
};

static void *worker(void *arg)
{
	struct warner *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct warn_job *j;
		struct wgotp_mail_warn m;
		struct wgotp_error err = { "" };
		uint64_t one = 1;

		while (!w->todo && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		j = w->todo;
		w->todo = j->next;
		if (!w->todo)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->mu);

		m = (struct wgotp_mail_warn) {
			.to = j->user, .device = j->device, .end_text = j->end, .date_text = j->date,
			.end = j->expires, .now = loop_now() / NSEC_PER_SEC,
		};
		j->ret = w->mailer.send_warn(w->mailer.arg, &m, &err);
		snprintf(j->err, sizeof(j->err), "%s", err.msg);

		pthread_mutex_lock(&w->mu);
		j->next = w->finished;
		w->finished = j;
		/* EAGAIN: the counter is already non-zero, the loop wakes anyway */
		if (write(w->efd.fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("mail worker eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void on_efd(struct loop *l, struct loop_fd *h, uint32_t events)
{
	struct warner *w = sched_container_of(h, struct warner, efd);
	struct warn_job *j, *next;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("mail worker eventfd: %s", strerror(errno));
	pthread_mutex_lock(&w->mu);
	j = w->finished;
	w->finished = NULL;
	pthread_mutex_unlock(&w->mu);
	for (; j; j = next) {
		next = j->next;
		w->done(w->arg, j);
		free(j);
	}
}

int warner_open(const struct wgotp_config *cfg, struct loop *loop, warn_done_fn done, void *arg,
		struct warner **out, struct wgotp_error *err)
{
	struct warner *w = calloc(1, sizeof(*w));
	int ret;

	*out = NULL;
	if (!w)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	w->loop = loop;
	w->done = done;
	w->arg = arg;
	w->todo_tail = &w->todo;
	w->efd.fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	ret = wgotp_store_open(cfg, &w->store, err);
	if (ret < 0)
		goto cleanup;
	ret = wgotp_mailer_from_config(cfg, w->store, &w->mailer, err);
	if (ret < 0)
		goto cleanup;
	ret = wgotp_mail_preload(cfg, err);	/* a missing libcurl fails the start, not a warning */
	if (ret < 0)
		goto cleanup;
	w->efd.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd.fd < 0) {
		ret = wgotp_error_set(err, errno, "eventfd: %s", strerror(errno));
		goto cleanup;
	}
	w->efd.cb = on_efd;
	if (loop) {
		ret = loop_fd_add(loop, &w->efd, EPOLLIN);
		if (ret < 0) {
			ret = wgotp_error_set(err, -ret, "epoll: %s", strerror(-ret));
			goto cleanup;
		}
	}
	*out = w;
	w = NULL;
	ret = 0;
cleanup:
	warner_close(w);
	return ret;
}

int warner_start(struct warner *w, struct wgotp_error *err)
{
	int ret = pthread_create(&w->thread, NULL, worker, w);

	if (ret)
		return wgotp_error_set(err, ret, "mail worker thread: %s", strerror(ret));
	w->started = true;
	return 0;
}

void warner_submit(struct warner *w, struct warn_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->mu);
	*w->todo_tail = job;
	w->todo_tail = &job->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void free_list(struct warn_job *j)
{
	while (j) {
		struct warn_job *next = j->next;

		free(j);
		j = next;
	}
}

void warner_close(struct warner *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	if (w->efd.fd >= 0) {
		if (w->loop)
			loop_fd_del(w->loop, &w->efd);
		close(w->efd.fd);
	}
	free_list(w->todo);
	free_list(w->finished);
	if (w->mailer.free)
		w->mailer.free(w->mailer.arg);
	if (w->store)
		wgotp_store_close(w->store);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
