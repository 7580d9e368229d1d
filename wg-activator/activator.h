/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's state and its operations: the four requests of the control
 * protocol, expiry, reconcile. The order of writes is the durability
 * rule: a session is stored before its peer is added, and its peer is
 * removed before the session is deleted, so a crash at any point leaves
 * at worst a stored session whose peer the next reconcile settles.
 */
#ifndef WGA_ACTIVATOR_H
#define WGA_ACTIVATOR_H

#include <stdint.h>
#include <sys/socket.h>

#include "conf.h"
#include "directory.h"
#include "loop.h"
#include "store.h"
#include "table.h"
#include "warn.h"
#include "wg.h"

struct activator {
	const struct wgotp_config *cfg;
	struct loop *loop;
	struct wgotp_store *store;
	struct wgotp_dir_cache *dir;
	struct wg *wg;
	struct table table;
	struct loop_timer expiry_timer;		/* at the earliest session expiry */
	struct loop_timer reconcile_timer;	/* every ReconcileInterval */
	struct loop_timer warn_timer;		/* at the earliest warning (WarnBefore) */
	struct warner *warner;			/* the mail worker, NULL without WarnBefore */
	int64_t started;			/* seconds since the epoch */
};

/* Open the store, the directory and the WireGuard backend. */
int act_init(struct activator *a, const struct wgotp_config *cfg, struct loop *loop,
	     struct wgotp_error *err);
void act_fini(struct activator *a);
/* Start the threads (the mail worker), once privileges are dropped. */
int act_start(struct activator *a, struct wgotp_error *err);

/* Settle the interface against the stored sessions (at start, every
 * ReconcileInterval, on SIGHUP) and re-arm the timers. */
int act_reconcile(struct activator *a);

/* One request line in, one reply line out (malloc'ed, ends in '\n'). */
char *act_handle(struct activator *a, const char *msg, size_t len, const struct ucred *cred,
		 size_t *reply_len);

/* Seconds since the epoch. */
int64_t act_now(void);

#endif
