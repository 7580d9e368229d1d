/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mail worker: warning mails ([Session] WarnBefore) are sent by one
 * thread of their own, so the event loop never waits on a transport
 * (DNS, TLS, a slow relay: up to [Mail] Timeout each). The loop submits
 * a job and goes on; the worker sends it with its own mailer and store
 * handle, queues the result and wakes the loop through an eventfd, where
 * done() runs. Jobs hold copies, never pointers into the session table.
 */
#ifndef WGA_WARN_H
#define WGA_WARN_H

#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "error.h"
#include "loop.h"

struct warn_job {
	char user[WGOTP_EMAIL_MAX + 1];		/* the session's, also the address */
	char device[WGOTP_DEVICE_NAME_MAX + 1];
	int64_t expires;			/* the deadline warned of */
	char end[8], date[16];			/* its local time */
	int ret;				/* result: 0 sent, else -errno */
	char err[256];				/* why not (no secret) */
	struct warn_job *next;
};

struct warner;
typedef void (*warn_done_fn)(void *arg, struct warn_job *job);	/* loop thread; job freed after */

/* Build the mailer and open the worker's store (before privileges are
 * dropped: credential files); no thread yet. */
int warner_open(const struct wgotp_config *cfg, struct loop *loop, warn_done_fn done, void *arg,
		struct warner **out, struct wgotp_error *err);
/* Start the thread (after privileges are dropped: capabilities are per thread). */
int warner_start(struct warner *w, struct wgotp_error *err);
/* Hand a job (malloc'ed) to the worker; it is always answered through done(). */
void warner_submit(struct warner *w, struct warn_job *job);
/* Stop the thread (a send under way finishes first); pending jobs are dropped. */
void warner_close(struct warner *w);

#endif
