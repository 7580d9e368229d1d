/* SPDX-License-Identifier: GPL-2.0-or-later */
/* users.json.idx: written by wgotp_dir_save, one user read through it,
 * and every file it does not describe read whole (lib/dirindex.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "directory.h"
#include "dirindex.h"
#include "tap.h"
#include "testutil.h"

static char K1[45], K2[45];

static char *idx_of(const char *path)
{
	char *p;

	if (asprintf(&p, "%s.idx", path) < 0)
		abort();
	return p;
}

/* Rewrite the file in place (same inode), as an editor that truncates. */
static void rewrite_in_place(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len)
		abort();
	close(fd);
}

static bool wgotpctl_count_ok(const struct wgotp_directory *l)
{
	return wgotp_dirindex_count(l->index) == 5;
}

int main(void)
{
	char *tmp = tu_tmpdir(), *path, *ipath;
	struct wgotp_directory *d = wgotp_dir_new(), *l = NULL, *f = NULL;
	struct wgotp_dir_cache *c = NULL;
	const struct wgotp_directory *snap;
	struct wgotp_error err;
	struct wgotp_user *u, *owner = NULL;
	struct wgotp_device *dev;
	struct stat st;
	uint8_t k[32];
	int fd;

	memset(k, 1, 32);
	wgotp_key_to_base64(K1, k);
	memset(k, 2, 32);
	wgotp_key_to_base64(K2, k);
	if (asprintf(&path, "%s/users.json", tmp) < 0 || !d)
		abort();
	ipath = idx_of(path);

	is_int(wgotp_dir_user_add(d, "alice@example.com", WGOTP_METHOD_TOTP, "Alice", true, &err), 0, "add alice");
	is_int(wgotp_user_set_totp(wgotp_dir_find(d, "alice@example.com"), "JBSWY3DPEHPK3PXP",
				   WGOTP_TOTP_ACTIVE), 0, "alice's secret");
	is_int(wgotp_dir_user_add(d, "Bob@Example.com", WGOTP_METHOD_EMAIL, NULL, true, &err), 0, "add bob");
	is_int(wgotp_dir_user_add(d, "carol@example.com", WGOTP_METHOD_TOTP, NULL, false, &err), 0, "add carol");
	is_int(wgotp_dir_device_add(d, "alice@example.com", "laptop", K1, "10.8.0.2/32", &err), 0, "alice's laptop");
	is_int(wgotp_dir_device_add(d, "bob@example.com", "phone", K2, "10.8.0.3/32", &err), 0, "bob's phone");
	is_int(wgotp_dir_save(d, path, &err), 0, "save");
	ok(stat(ipath, &st) == 0, "save wrote %s", ipath);
	ok(st.st_mode == (S_IFREG | 0640), "  mode 0640 (%o)", (unsigned int)st.st_mode);

	/* Read through the index: one user at a time. */
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load through the index");
	ok(l && l->index && l->n_users == 0, "  nothing parsed up front");
	is_int(wgotp_dirindex_count(l->index), 3, "  three users indexed");
	u = wgotp_dir_find(l, "ALICE@example.com");
	ok(u && !strcmp(u->email, "alice@example.com") && u->method == WGOTP_METHOD_TOTP &&
	   u->totp_secret && !strcmp(u->totp_secret, "JBSWY3DPEHPK3PXP") &&
	   u->totp_state == WGOTP_TOTP_ACTIVE && u->n_devices == 1 &&
	   !strcmp(u->devices[0].public_key, K1) && u->name && !strcmp(u->name, "Alice"),
	   "find alice (any case): her fields as saved");
	ok(wgotp_dir_find(l, "alice@example.com") == u, "  the same user the second time");
	u = wgotp_dir_find(l, "bob@example.com");
	ok(u && u->method == WGOTP_METHOD_EMAIL && u->n_devices == 1, "find bob");
	u = wgotp_dir_find(l, "carol@example.com");
	ok(u && !u->require_otp && u->n_devices == 0, "find carol");
	ok(!wgotp_dir_find(l, "dave@example.com") && !wgotp_dir_find(l, "alice@example.co") &&
	   !wgotp_dir_find(l, "") && !wgotp_dir_find(l, "zzz@example.com"), "unknown names: none");
	dev = wgotp_dir_find_key(l, K2, &owner);
	ok(dev && owner && !strcmp(owner->email, "bob@example.com") && !strcmp(dev->name, "phone"),
	   "find_key through the index (the whole file, once)");

	/* users.json edited by hand in place: an index opened before notices
	 * (a user already read stays, as in any snapshot), and a new load
	 * parses the file whole. */
	wgotp_dir_free(l);
	l = NULL;
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load through the index again");
	rewrite_in_place(path, "{ \"version\": 1, \"users\": {\n"
			 " \"zed@example.com\": { \"method\": \"email\" },\n"
			 " \"alice@example.com\": { \"method\": \"email\" } } }\n");
	u = wgotp_dir_find(l, "carol@example.com");
	ok(!u, "an index opened before an in-place edit reads nothing of the new file");
	wgotp_dir_free(l);
	l = NULL;
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load after a hand edit");
	ok(l && !l->index && l->n_users == 2, "  parsed whole: the index no longer matches");
	u = wgotp_dir_find(l, "alice@example.com");
	ok(u && u->method == WGOTP_METHOD_EMAIL, "  the edited alice");
	ok(!wgotp_dir_find(l, "carol@example.com"), "  carol is gone");
	wgotp_dir_free(l);
	l = NULL;

	/* Saved again: indexed again. A damaged index: parsed whole. */
	is_int(wgotp_dir_save(d, path, &err), 0, "save again");
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load");
	ok(l && l->index, "  through the new index");
	wgotp_dir_free(l);
	l = NULL;
	fd = open(ipath, O_WRONLY);
	if (fd < 0 || ftruncate(fd, 40) < 0)
		abort();
	close(fd);
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load with a truncated index");
	ok(l && !l->index && l->n_users == 3 && wgotp_dir_find(l, "carol@example.com"),
	   "  parsed whole, carol found");
	wgotp_dir_free(l);
	l = NULL;
	unlink(ipath);
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load with no index");
	ok(l && !l->index && l->n_users == 3, "  parsed whole");
	wgotp_dir_free(l);
	l = NULL;

	/* A file written by hand gets an index with wgotp_dirindex_build
	 * (after a full validation); an invalid one does not. */
	free(tu_write(tmp, "users.json", "{ \"version\": 1, \"users\": {\n"
		      " \"Erin@Example.com\": { \"method\": \"totp\", \"totp_secret\": \"JBSWY3DPEHPK3PXP\",\n"
		      "   \"totp_state\": \"active\", \"devices\": [] },\n"
		      " \"frank@example.com\": { \"method\": \"email\", \"name\": \"F \\\"quoted\\\" {}\" } } }\n",
		      0640));
	is_int(wgotp_dirindex_build(path, &err), 0, "build an index for a hand-written file");
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load it");
	ok(l && l->index, "  through the index");
	u = wgotp_dir_find(l, "erin@example.com");
	ok(u && u->totp_secret && u->totp_state == WGOTP_TOTP_ACTIVE, "  erin (a capitalised key)");
	u = wgotp_dir_find(l, "frank@example.com");
	ok(u && u->name && !strcmp(u->name, "F \"quoted\" {}"), "  frank (quotes and braces in a string)");
	wgotp_dir_free(l);
	l = NULL;
	free(tu_write(tmp, "users.json", "{ \"version\": 1, \"users\": { \"x@example.com\": { \"method\": \"fax\" } } }\n",
		      0640));
	ok(wgotp_dirindex_build(path, &err) < 0 && stat(ipath, &st) < 0, "an invalid file gets no index");

	/* The cache of the login flow follows saves through the index. */
	is_int(wgotp_dir_save(d, path, &err), 0, "save");
	is_int(wgotp_dir_cache_new_indexed(path, &c, &err), 0, "indexed cache");
	wgotp_dir_cache_set_interval_ms(c, 0);
	snap = wgotp_dir_cache_get(c);
	ok(snap && snap->index && wgotp_dir_find(snap, "bob@example.com"), "  bob through the index");
	wgotp_dir_cache_put(c, snap);
	is_int(wgotp_dir_user_add(d, "dave@example.com", WGOTP_METHOD_EMAIL, NULL, true, &err), 0, "add dave");
	is_int(wgotp_dir_save(d, path, &err), 0, "save");
	snap = wgotp_dir_cache_get(c);
	ok(snap && snap->index && wgotp_dir_find(snap, "dave@example.com") &&
	   wgotp_dirindex_count(snap->index) == 4, "  reloaded: dave, through the new index");
	wgotp_dir_cache_put(c, snap);
	wgotp_dir_cache_free(c);
	is_int(wgotp_dir_cache_new(path, &c, &err), 0, "plain cache");
	snap = wgotp_dir_cache_get(c);
	ok(snap && !snap->index && snap->n_users == 4, "  parsed whole (wg-activator walks users[])");
	wgotp_dir_cache_put(c, snap);
	wgotp_dir_cache_free(c);

	/* user add through the index: the new member appended, the index
	 * with it, nothing else rewritten. */
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load for an add");
	ok(l && l->index, "  through the index");
	is_int(wgotp_dir_user_add(l, "BOB@example.com", WGOTP_METHOD_TOTP, NULL, true, &err), -EEXIST,
	       "  a duplicate (any case) is refused through the index");
	is_int(wgotp_dir_user_add(l, "Gina@Example.com", WGOTP_METHOD_TOTP, "Gina", true, &err), 0, "  add gina");
	is_int(wgotp_dirindex_commit_add(l, path, &err), 0, "  commit: %s", err.msg);
	wgotp_dir_free(l);
	l = NULL;
	is_int(wgotp_dir_load(path, &f, &err), 0, "the file parses whole: %s", err.msg);
	ok(f && f->n_users == 5 && wgotp_dir_find(f, "gina@example.com") && wgotp_dir_find(f, "dave@example.com") &&
	   wgotp_dir_find(f, "alice@example.com")->n_devices == 1, "  five users, gina among them, alice intact");
	u = wgotp_dir_find(f, "gina@example.com");
	ok(u && u->method == WGOTP_METHOD_TOTP && u->name && !strcmp(u->name, "Gina") && u->enabled &&
	   u->totp_state == WGOTP_TOTP_NONE, "  gina as wgotp_dir_user_add made her");
	wgotp_dir_free(f);
	f = NULL;
	is_int(wgotp_dirindex_load(path, &l, &err), 0, "load");
	ok(l && l->index && wgotpctl_count_ok(l), "  through the new index, five users");
	ok(wgotp_dir_find(l, "gina@example.com") && wgotp_dir_find(l, "alice@example.com") &&
	   wgotp_dir_find(l, "dave@example.com"), "  gina, alice and dave found through it");
	/* users.json changed after the load: the add is refused, the file kept */
	is_int(wgotp_dir_user_add(l, "hal@example.com", WGOTP_METHOD_EMAIL, NULL, true, &err), 0, "add hal");
	is_int(wgotp_dir_save(d, path, &err), 0, "meanwhile, another save");
	is_int(wgotp_dirindex_commit_add(l, path, &err), -ESTALE, "  the add is refused: %s", err.msg);
	wgotp_dir_free(l);
	l = NULL;
	is_int(wgotp_dir_load(path, &f, &err), 0, "load");
	ok(f && f->n_users == 4 && !wgotp_dir_find(f, "hal@example.com"), "  the other save's file, untouched");

	wgotp_dir_free(f);
	wgotp_dir_free(d);
	free(path);
	free(ipath);
	tu_rmdir(tmp);
	return done_testing();
}
