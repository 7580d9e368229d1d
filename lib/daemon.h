/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Going to the background, for the daemons (wg-activator, wgotp-portal):
 * the parent waits until the child says it is ready (or failed), so that
 * an init script or a shell sees the real outcome in the exit status.
 */
#ifndef WGOTP_DAEMON_H
#define WGOTP_DAEMON_H

/*
 * Fork. In the child: 0, a new session, the working directory /, and in
 * *ready_fd the pipe to write one byte to (0: ready) and close; closing
 * it without a byte makes the parent exit 1. The parent never returns: it
 * exits with the byte it reads. -errno when the fork itself fails.
 */
int wgotp_daemonize(int *ready_fd);

#endif
