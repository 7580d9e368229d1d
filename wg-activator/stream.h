/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * [Activator] Mode = redis: the requests queued by RADIUS servers on other
 * hosts (lib/activator_redis.c), read from the Redis stream [Activator]
 * Stream with this gateway's own consumer group ([Activator] Gateway, the
 * host name by default) and acknowledged once applied.
 *
 * A reader thread does the blocking Redis I/O; the event loop applies each
 * entry through act_handle(), exactly as a request on the control socket
 * (so an entry forged into a shared Redis meets the same checks against
 * users.json, wgotp_session_ips() among them), and the loop never waits
 * for Redis. Handover: the thread posts a batch and
 * writes to an eventfd; the loop applies it and hands the verdicts back;
 * the thread XACKs. Nothing is acknowledged before it is applied: after a
 * crash or restart the daemon first re-reads its own pending entries.
 *
 * Verdicts: applied, refused for good (unknown user or device: not served
 * by this gateway; a bad request), moot (an activation older than its own
 * session), all acknowledged; a WireGuard or store failure is not
 * acknowledged and is tried again a second later.
 */
#ifndef WGA_STREAM_H
#define WGA_STREAM_H

#include "activator.h"

struct stream;

int stream_open(struct activator *a, struct stream **out, struct wgotp_error *err);
void stream_close(struct stream *s);	/* accepts NULL */

#endif
