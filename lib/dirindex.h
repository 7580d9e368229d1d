/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An index of users.json, so that a login reads one user and not the
 * whole directory (issue 19).
 *
 * wgotp_dir_save writes it beside the file it saved (PATH.idx, mode
 * 0640, owner and group of users.json, atomically): the lower-cased
 * emails, sorted, each with the byte range of that user's object in
 * users.json, and users.json's device, inode, size, mtime and ctime. A
 * reader maps both files read-only; a lookup is a binary search and the
 * parse of one object (wgotp_dir_parse of a one-user document, so every
 * check of a load applies to it; the cross-user checks ran when the
 * saved directory was validated). An index that does not describe the
 * users.json there now (a hand edit, a copy, an index missing or
 * damaged) is not used: the directory is parsed whole, as before.
 */
#ifndef WGOTP_DIRINDEX_H
#define WGOTP_DIRINDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "directory.h"
#include "error.h"

struct wgotp_dirindex;

/*
 * Write PATH.idx for users.json at PATH, whose content must be the len
 * bytes of text (what wgotp_dir_save just renamed there; a file that
 * differs gets no index). Returns 0 or a negative errno; on any failure
 * PATH.idx is removed, so a reader parses users.json whole.
 */
int wgotp_dirindex_write(const char *path, const char *text, size_t len);

/* Read users.json at path and write its index (after a full parse and
 * validation). For tests and benchmarks that write users.json by hand. */
int wgotp_dirindex_build(const char *path, struct wgotp_error *err);

/*
 * The directory at path: through its index when one matches the file
 * (a directory whose users are read on demand: wgotp_dir_find and
 * wgotp_dir_find_key work, n_users is 0), else parsed whole
 * (wgotp_dir_load).
 */
int wgotp_dirindex_load(const char *path, struct wgotp_directory **out, struct wgotp_error *err);

/*
 * wgotpctl user add on a directory loaded through its index
 * (wgotp_dirindex_load, then wgotp_dir_user_add: its duplicate check
 * goes through the index, and the new user is dir->users[0]): write
 * users.json with the new member after the last one, no full parse and
 * no rewrite of the others, and the index with it. -ESTALE (err set)
 * when users.json changed since it was loaded.
 */
int wgotp_dirindex_commit_add(const struct wgotp_directory *dir, const char *path,
			      struct wgotp_error *err);

/* Hooks of lib/directory.c for a directory read through its index. */
struct wgotp_user *wgotp_dirindex_find(struct wgotp_dirindex *idx, const char *email);
/* Everything, parsed once on first use (a key lookup goes through every
 * user); NULL when that fails. */
const struct wgotp_directory *wgotp_dirindex_full(struct wgotp_dirindex *idx);
size_t wgotp_dirindex_count(const struct wgotp_dirindex *idx);
void wgotp_dirindex_free(struct wgotp_dirindex *idx);

#endif
