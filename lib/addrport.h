/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A listening address as the configuration writes it: "127.0.0.1:9588",
 * "[::1]:9588". Numeric only (no name lookup at start-up), port 1..65535.
 */
#ifndef WGOTP_ADDRPORT_H
#define WGOTP_ADDRPORT_H

#include <stdbool.h>
#include <sys/socket.h>

/* 0, or -EINVAL when s is not ADDRESS:PORT. out may be NULL. */
int wgotp_addrport_parse(const char *s, struct sockaddr_storage *out, socklen_t *len);

/* Is the address a loopback one (127.0.0.0/8, ::1)? */
bool wgotp_addrport_loopback(const struct sockaddr_storage *ss);

#endif
