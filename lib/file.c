/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "secret.h"

int wgotp_file_read(const char *path, size_t max, char **buf, size_t *len,
		    struct wgotp_error *err)
{
	struct stat st;
	char *p = NULL;
	size_t have = 0, alloc = 0;
	ssize_t r;
	int fd, ret;

	*buf = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = wgotp_error_set(err, errno, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (fstat(fd, &st) < 0) {
		ret = wgotp_error_set(err, errno, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = wgotp_error_set(err, EINVAL, "%s: not a regular file", path);
		goto cleanup;
	}
	if ((size_t)st.st_size > max) {
		ret = wgotp_error_set(err, EFBIG, "%s: larger than %zu bytes", path, max);
		goto cleanup;
	}
	/* One byte more than the size, to see a file that grew meanwhile. */
	alloc = (size_t)st.st_size + 2;
	p = malloc(alloc);
	if (!p) {
		ret = wgotp_error_set(err, ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	while (have < (size_t)st.st_size + 1) {
		r = read(fd, p + have, (size_t)st.st_size + 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = wgotp_error_set(err, errno, "%s: %s", path, strerror(errno));
			goto cleanup;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	if (have > (size_t)st.st_size) {
		ret = wgotp_error_set(err, EAGAIN, "%s: changed while being read", path);
		goto cleanup;
	}
	p[have] = '\0';
	*buf = p;
	*len = have;
	p = NULL;
	ret = 0;
cleanup:
	if (p)
		wgotp_freezero(p, alloc);
	if (fd >= 0)
		close(fd);
	return ret;
}
