/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers shared by the unit tests: temporary directories, files,
 * a configuration pointing into them, a settable clock. */
#ifndef WGOTP_TESTUTIL_H
#define WGOTP_TESTUTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR, removed by tu_rmdir(). */
__attribute__((unused))
static char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&p, "%s/wgotp-test.XXXXXX", base) < 0)
		abort();
	if (!mkdtemp(p))
		abort();
	return p;
}

__attribute__((unused))
static void tu_rmdir(char *dir)
{
	char *cmd;

	if (!dir)
		return;
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "# could not remove %s\n", dir);
		free(cmd);
	}
	free(dir);
}

/* Write text to dir/name with mode; returns the malloc'ed path. */
__attribute__((unused))
static char *tu_write(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *p;
	int fd;
	size_t len = strlen(text);

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	fchmod(fd, mode);
	close(fd);
	return p;
}

/* A settable clock for the flow. */
struct tu_clock {
	int64_t now;
};

__attribute__((unused))
static int64_t tu_clock_now(void *arg)
{
	return ((struct tu_clock *)arg)->now;
}

#endif
