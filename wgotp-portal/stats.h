/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotp-portal's own figures for Prometheus, served on [Portal]
 * MetricsListen (off by default) by a listener of their own: replies by
 * kind and status, refusals by error code, open connections, build
 * info. The login decisions behind them are counted by the flow in the
 * shared metrics file and served by wg-activator (doc/metrics.md).
 * Labels come from fixed tables, never from a request.
 */
#ifndef PORTAL_STATS_H
#define PORTAL_STATS_H

#include <stdbool.h>
#include <stddef.h>

struct portal_server;

/* A reply went out: api (JSON) or a page/asset, with its status. */
void portal_stats_reply(bool api, int status);
/* A refusal's error code ("csrf", "rate_limited", ...). */
void portal_stats_error(const char *code);

/* The start time, once. */
void portal_stats_init(void);
/* The exposition (malloc'ed); open is the connections open now. */
char *portal_stats_render(unsigned int open, size_t *len);

/* The /metrics listener on addr (ADDRESS:PORT; NULL or "": none), in
 * the binary only (metrics_http.c). -1 with why filled on failure. */
int portal_metrics_start(struct portal_server *s, const char *addr, char *why, size_t whylen);
void portal_metrics_stop(void);

#endif
