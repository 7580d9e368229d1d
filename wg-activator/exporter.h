/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wg-activator's Prometheus endpoint ([Metrics] Listen, off by default):
 * the daemon's own figures (activations, expiries and their lateness,
 * deactivations, reconcile runs and repairs, store errors, live sessions
 * by badge, build info) and the login flow's, which the front ends count
 * in the shared metrics file (lib/metrics.h).
 *
 * The loop thread counts with atomic adds and never waits for a scrape:
 * one thread of its own answers GET /metrics, one connection at a time,
 * each bounded in size and time (a client that sends nothing is dropped
 * after MT_IO_TIMEOUT_MS), and touches only those atomics, the shared
 * file and the directory cache (which is thread-safe).
 */
#ifndef WGA_EXPORTER_H
#define WGA_EXPORTER_H

#include <stdint.h>

#include "activator.h"
#include "metrics.h"

enum act_event {
	ACT_EV_ACTIVATE,		/* a session started */
	ACT_EV_EXTEND,			/* a live session's deadline moved */
	ACT_EV_DEACTIVATE,		/* a session ended on request */
	ACT_EV_N,
};

/* Count an event of a front end's request ("radius", "pam", ...). */
void act_metrics_event(enum act_event ev, const char *origin, uint64_t n);
/* A session expired: its peer left lateness_ns after its deadline. */
void act_metrics_expiry(int64_t lateness_ns);
/* One reconcile run and what it repaired. */
void act_metrics_reconcile(uint64_t added, uint64_t removed);
void act_metrics_store_error(void);
/* The live sessions now (the loop calls it after every change). */
void act_metrics_live(uint64_t n);

struct act_metrics_server;

/* Start the endpoint on cfg->metrics_listen (a no-op when empty). */
int act_metrics_start(struct activator *a, struct act_metrics_server **out,
		      struct wgotp_error *err);
void act_metrics_stop(struct act_metrics_server *s);	/* accepts NULL */

/* The whole exposition, as GET /metrics answers it (malloc'ed). */
char *act_metrics_render(struct activator *a, const struct wgotp_metrics *login, size_t *len);

#endif
