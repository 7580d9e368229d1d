// SPDX-License-Identifier: GPL-2.0-or-later
/* SO_PEERCRED checks (peercred.h). */
#include "config.h"

#include "peercred.h"

bool wgotp_peer_allowed(int fd, const struct ucred *cr, const uid_t *uids, int n_uids,
			const gid_t *gids, int n_gids)
{
	gid_t groups[256];
	socklen_t glen = sizeof(groups);
	int ng;

	for (int i = 0; i < n_uids; i++)
		if (uids[i] == cr->uid)
			return true;
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) < 0)
		glen = 0;
	ng = (int)(glen / sizeof(gid_t));
	for (int i = 0; i < n_gids; i++) {
		if (gids[i] == cr->gid)
			return true;
		for (int k = 0; k < ng; k++)
			if (gids[i] == groups[k])
				return true;
	}
	return false;
}
