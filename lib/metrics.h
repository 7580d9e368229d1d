/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The login flow's figures for Prometheus. The processes that decide are
 * short-lived or foreign (a FreeRADIUS thread, PAM in each sshd child,
 * wgotpctl, the portal), so they add to a small memory-mapped file of
 * counters ([Metrics] File, beside the store by default) with atomic
 * instructions, and wg-activator, which lives, reads it when it is
 * scraped (wg-activator/metrics.c).
 *
 * The file holds integers only: no lock, no pointer, no length that a
 * reader follows. Whoever may write it (the store's group) can make the
 * figures wrong and nothing else; a reader checks the header against its
 * own layout and refuses a file of another shape.
 *
 * Counting never fails a login: a front end whose file cannot be opened
 * counts nothing (and says so once, at open). Thread-safe.
 */
#ifndef WGOTP_METRICS_H
#define WGOTP_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conf.h"
#include "error.h"

enum wgotp_metrics_origin {
	WGOTP_MO_RADIUS,
	WGOTP_MO_PAM,
	WGOTP_MO_ADMIN,
	WGOTP_MO_PORTAL,
	WGOTP_MO_OTHER,
	WGOTP_MO_N,
};

enum wgotp_metrics_result {
	WGOTP_MR_ACCEPT,
	WGOTP_MR_CHALLENGE,
	WGOTP_MR_REJECT,
	WGOTP_MR_ERROR,
	WGOTP_MR_N,
};

#define WGOTP_METRICS_METHODS 2		/* enum wgotp_method: totp, email */
#define WGOTP_METRICS_REASONS 24	/* >= WGOTP_N_REASONS; the last is "error" */
#define WGOTP_METRICS_TRANSPORTS 4	/* enum wgotp_mail_transport */
/* Upper bounds of the mail latency buckets, in milliseconds (+Inf last). */
#define WGOTP_METRICS_MAIL_BUCKETS 9
extern const int64_t wgotp_metrics_mail_bounds_ms[WGOTP_METRICS_MAIL_BUCKETS - 1];

/* What the file holds, as a reader sees it (a copy, taken counter by
 * counter: each is exact, the set is not one instant). */
struct wgotp_metrics_data {
	uint64_t decisions[WGOTP_MO_N][WGOTP_METRICS_METHODS][WGOTP_MR_N][WGOTP_METRICS_REASONS];
	uint64_t mail_sent[WGOTP_METRICS_TRANSPORTS];
	uint64_t mail_failed[WGOTP_METRICS_TRANSPORTS];
	uint64_t mail_bucket[WGOTP_METRICS_TRANSPORTS][WGOTP_METRICS_MAIL_BUCKETS];	/* not cumulative */
	uint64_t mail_sum_us[WGOTP_METRICS_TRANSPORTS];
};

struct wgotp_metrics;

/* The file for cfg: [Metrics] File, or "metrics" in the directory of
 * [Store] Path. Written to out (PATH_MAX). */
int wgotp_metrics_path(const struct wgotp_config *cfg, char *out, size_t len);

/*
 * Map the file at path, creating it (mode 0660; as root with the owner
 * and group of its directory) when it does not exist. -EPERM when others
 * may read or write it, -EINVAL when it is not a metrics file of this
 * layout (err says which, and what to do).
 */
int wgotp_metrics_open(const char *path, struct wgotp_metrics **out, struct wgotp_error *err);
void wgotp_metrics_close(struct wgotp_metrics *m);	/* accepts NULL */

/* "radius", "pam", "admin", "portal"; anything else is "other". */
enum wgotp_metrics_origin wgotp_metrics_origin(const char *origin);

/* Count one decision of the flow (m may be NULL: nothing). reason is an
 * enum wgotp_reason, or -1 for an error. */
void wgotp_metrics_decision(struct wgotp_metrics *m, const char *origin, int method,
			    enum wgotp_metrics_result result, int reason);
/* Count one mail sent (ok) or not, and how long the transport took. */
void wgotp_metrics_mail(struct wgotp_metrics *m, int transport, bool ok, int64_t usec);

/* Copy every counter out. */
void wgotp_metrics_read(const struct wgotp_metrics *m, struct wgotp_metrics_data *out);

#endif
