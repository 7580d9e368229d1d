/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who may use a daemon's unix socket: the caller's SO_PEERCRED uid or
 * gid, or one of its groups (SO_PEERGROUPS), against a configured list
 * (wg-activator's [Activator], wgotp-dird's [Dird] AllowedUsers/Groups). */
#ifndef WGOTP_PEERCRED_H
#define WGOTP_PEERCRED_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

/* fd: the connected socket, for the caller's supplementary groups (-1:
 * its primary gid only). */
bool wgotp_peer_allowed(int fd, const struct ucred *cr, const uid_t *uids, int n_uids,
			const gid_t *gids, int n_gids);

#endif
