/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reading a whole file: wgotp.conf, users.json. */
#ifndef WGOTP_FILE_H
#define WGOTP_FILE_H

#include <stddef.h>

#include "error.h"

/*
 * The whole regular file at path, NUL-terminated, at most max bytes. Not a
 * regular file: -EINVAL; larger than max: -EFBIG; grown while being read:
 * -EAGAIN; else the errno of open or read. err names the file. The buffer
 * may hold secrets: free it with wgotp_freezero(*buf, *len + 1).
 */
int wgotp_file_read(const char *path, size_t max, char **buf, size_t *len,
		    struct wgotp_error *err);

#endif
