/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The HTTP side of wgotp-portal: one libmicrohttpd daemon per Listen. */
#ifndef WGOTP_PORTAL_SERVER_H
#define WGOTP_PORTAL_SERVER_H

#include "portal.h"

struct portal_server;

/* Read the certificate and key (the key refused when readable by others
 * or writable by group or others) and check the listeners; nothing is
 * bound yet. */
int portal_server_new(struct portal *p, struct portal_server **out, struct wgotp_error *err);
/* Bind every Listen and start serving (threads of libmicrohttpd). */
int portal_server_start(struct portal_server *s, struct wgotp_error *err);
void portal_server_free(struct portal_server *s);	/* stops; accepts NULL */
/* Connections open now, on every listener (for /metrics). */
unsigned int portal_server_connections(struct portal_server *s);

#endif
