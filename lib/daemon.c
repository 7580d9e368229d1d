/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Going to the background: see daemon.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "daemon.h"

int wgotp_daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;
	char st = 1;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &st, 1) != 1)
			st = 1;
		_exit(st);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0)
		return -errno;
	*ready_fd = p[1];
	return 0;
}
