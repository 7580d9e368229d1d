/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket: a Unix stream socket, mode 0660 (group: the first
 * AllowedGroups entry), many clients at once, one JSON request per line.
 * A client whose uid (SO_PEERCRED) is not in AllowedUsers and none of
 * whose groups (SO_PEERGROUPS) is in AllowedGroups gets one "forbidden"
 * reply and is disconnected. A line over the size limit gets "too_large"
 * and the connection closes; an idle client is dropped.
 */
#ifndef WGA_CTLSOCK_H
#define WGA_CTLSOCK_H

#include <stddef.h>
#include <sys/socket.h>

#include "conf.h"
#include "loop.h"

#define CTL_MAX_CLIENTS 1024
#define CTL_IDLE_SEC 30

/* Handle one request line; return the malloc'ed reply line. */
typedef char *(*ctl_handler)(void *arg, const char *msg, size_t len, const struct ucred *cred,
			     size_t *reply_len);

struct ctlsock;

/* Bind cfg->activator_socket (a stale socket is replaced; a live daemon
 * on it is an error: -EADDRINUSE). */
int ctl_open(const struct wgotp_config *cfg, struct loop *loop, ctl_handler fn, void *arg,
	     struct ctlsock **out, struct wgotp_error *err);
/* Close every client and the socket, unlink the path. */
void ctl_close(struct ctlsock *cs);

#endif
