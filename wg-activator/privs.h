/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Least privilege: once the daemon has read its configuration, bound its
 * socket, opened the store and the interface, it keeps CAP_NET_ADMIN and
 * nothing else.
 */
#ifndef WGA_PRIVS_H
#define WGA_PRIVS_H

#include "error.h"

/*
 * Drop every capability but CAP_NET_ADMIN from the bounding, permitted,
 * effective and inheritable sets (ambient capabilities follow), and set
 * no_new_privs. Capabilities are per thread: call it while the process
 * has one thread (later threads inherit the result).
 *
 * A process without CAP_SETPCAP (not root, e.g. started with systemd's
 * AmbientCapabilities) keeps the bounding set it was given; no_new_privs
 * keeps an exec from gaining anything through it. A process without
 * CAP_NET_ADMIN keeps nothing. Either is logged, never an error.
 *
 * Returns 0, or a negative errno with err set when a drop that should have
 * worked failed (the caller must not go on).
 */
int privs_drop(struct wgotp_error *err);

#endif
