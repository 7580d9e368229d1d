// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The index of users.json (see dirindex.h). File format, host byte
 * order (the index is a cache of the machine that wrote it; another
 * machine's fails the magic or the identity check and is not used):
 *
 *   struct ix_head, then n struct ix_ent sorted by key, then the keys
 *   (lower-cased emails, not NUL-terminated) one after the other.
 *
 * Readers map the index; users.json is read with pread (a file truncated
 * in place under a mapping would raise SIGBUS in freeradius), after an
 * fstat that must still match the index, and the member read must start
 * with the key the index gives.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirindex.h"
#include "file.h"
#include "secret.h"

#define IX_MAGIC "WGOTPIX1"
#define IX_FILE_MAX (64 * 1024 * 1024)	/* as users.json (DIR_FILE_MAX) */

struct ix_head {
	char magic[8];
	uint64_t dev, ino, size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint64_t n;		/* entries */
	uint64_t keys_len;	/* bytes of keys after the entries */
};

struct ix_ent {
	uint64_t key_off;	/* into the keys */
	uint64_t key_len;
	uint64_t file_key_off;	/* into users.json: the member's key, its opening quote */
	uint64_t obj_off;	/* into users.json: the user's object, braces included */
	uint64_t obj_len;
};

struct wgotp_dirindex {
	pthread_mutex_t lock;
	char *path;
	const uint8_t *map;	/* the index */
	size_t map_len;
	int fd;			/* users.json, read with pread: a file truncated in
				 * place must not turn into a SIGBUS */
	struct ix_head id;	/* its identity when opened */
	const struct ix_ent *ents;
	const char *keys;
	size_t keys_len;
	size_t n;
	struct wgotp_directory **users;	/* per entry: the one-user directory parsed */
	struct wgotp_directory *full;
};

/* ---- scanning users.json for the byte range of each user ---- */

struct span {
	size_t key, key_len, obj, obj_len;
};

static size_t ws(const char *p, size_t i, size_t len)
{
	while (i < len && p[i] && strchr(" \t\r\n", p[i]))
		i++;
	return i;
}

/* A string at p[i] == '"': the index after it; *esc: it has a backslash. */
static int str_end(const char *p, size_t i, size_t len, size_t *end, bool *esc)
{
	*esc = false;
	for (i++; i < len; i++) {
		if (p[i] == '\\') {
			*esc = true;
			i++;
		} else if (p[i] == '"') {
			*end = i + 1;
			return 0;
		}
	}
	return -EINVAL;
}

/* Any value at p[i]: the index after it. */
static int value_end(const char *p, size_t i, size_t len, size_t *end)
{
	int depth = 0;
	bool esc;

	if (i >= len)
		return -EINVAL;
	if (p[i] != '{' && p[i] != '[' && p[i] != '"') {
		/* a scalar */
		while (i < len && p[i] && !strchr(",}] \t\r\n", p[i]))
			i++;
		*end = i;
		return 0;
	}
	while (i < len) {
		if (p[i] == '"') {
			if (str_end(p, i, len, &i, &esc) < 0)
				return -EINVAL;
			if (depth == 0) {
				*end = i;
				return 0;
			}
			continue;
		}
		if (p[i] == '{' || p[i] == '[') {
			depth++;
		} else if (p[i] == '}' || p[i] == ']') {
			if (--depth == 0) {
				*end = i + 1;
				return 0;
			}
		}
		i++;
	}
	return -EINVAL;
}

/* The members of the top-level "users" object: *spans (malloc'd), *n.
 * -ENOTSUP for a key with an escape (no index; the full parse reads it). */
static int scan(const char *p, size_t len, struct span **spans, size_t *n)
{
	struct span *s = NULL, *t;
	size_t i, k, ke, cap = 0, cnt = 0;
	bool esc, users;
	int ret = -EINVAL;

	*spans = NULL;
	*n = 0;
	i = ws(p, 0, len);
	if (i >= len || p[i] != '{')
		goto cleanup;
	for (i = ws(p, i + 1, len); i < len && p[i] != '}'; i = ws(p, i, len)) {
		if (p[i] != '"' || str_end(p, i, len, &ke, &esc) < 0)
			goto cleanup;
		users = !esc && ke - i == 7 && !memcmp(p + i, "\"users\"", 7);
		i = ws(p, ke, len);
		if (i >= len || p[i] != ':')
			goto cleanup;
		i = ws(p, i + 1, len);
		if (!users) {
			if (value_end(p, i, len, &i) < 0)
				goto cleanup;
		} else {
			if (i >= len || p[i] != '{')
				goto cleanup;
			for (i = ws(p, i + 1, len); i < len && p[i] != '}'; i = ws(p, i, len)) {
				if (p[i] != '"' || str_end(p, i, len, &ke, &esc) < 0)
					goto cleanup;
				if (esc) {
					ret = -ENOTSUP;
					goto cleanup;
				}
				k = i;
				i = ws(p, ke, len);
				if (i >= len || p[i] != ':')
					goto cleanup;
				i = ws(p, i + 1, len);
				if (i >= len || p[i] != '{')
					goto cleanup;
				if (cnt == cap) {
					cap = cap ? cap * 2 : 1024;
					t = realloc(s, cap * sizeof(*s));
					if (!t) {
						ret = -ENOMEM;
						goto cleanup;
					}
					s = t;
				}
				s[cnt].key = k + 1;
				s[cnt].key_len = ke - k - 2;
				s[cnt].obj = i;
				if (value_end(p, i, len, &i) < 0)
					goto cleanup;
				s[cnt].obj_len = i - s[cnt].obj;
				cnt++;
				i = ws(p, i, len);
				if (i < len && p[i] == ',')
					i++;
			}
			if (i >= len)
				goto cleanup;
			i++;
		}
		i = ws(p, i, len);
		if (i < len && p[i] == ',')
			i++;
	}
	*spans = s;
	*n = cnt;
	s = NULL;
	ret = 0;
cleanup:
	free(s);
	return ret;
}

/* ---- writing ---- */

static char *ix_path(const char *path)
{
	char *p;

	return asprintf(&p, "%s.idx", path) < 0 ? NULL : p;
}

static const char *sort_base;

static int cmp_span(const void *a_, const void *b_)
{
	const struct span *a = a_, *b = b_;
	size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
	int c = strncasecmp(sort_base + a->key, sort_base + b->key, n);

	return c ? c : (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

static int write_all(int fd, const void *p_, size_t len)
{
	const char *p = p_;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

int wgotp_dirindex_write(const char *path, const char *text, size_t len)
{
	struct span *s = NULL;
	struct ix_head h;
	struct ix_ent e;
	struct stat st;
	char *ip = NULL, *tmp = NULL, *buf = NULL, *keys = NULL;
	size_t n = 0, blen = 0, klen = 0, off;
	int fd = -1, ifd = -1, ret;

	ip = ix_path(path);
	if (!ip)
		return -ENOMEM;
	/* What is at path now must be what was written: its content, read
	 * through the descriptor whose identity goes into the index. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		goto cleanup;
	}
	/* text, and at most a newline after it (wgotp_dir_save's) */
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size < len || (size_t)st.st_size > len + 1) {
		ret = -ESTALE;
		goto cleanup;
	}
	buf = malloc(len + 2);
	if (!buf) {
		ret = -ENOMEM;
		goto cleanup;
	}
	while (blen < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + blen, (size_t)st.st_size - blen);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : -ESTALE;
			goto cleanup;
		}
		blen += (size_t)r;
	}
	if (memcmp(buf, text, len) != 0 || (blen > len && buf[len] != '\n')) {
		ret = -ESTALE;
		goto cleanup;
	}
	ret = scan(text, len, &s, &n);
	if (ret < 0)
		goto cleanup;
	pthread_mutex_lock(&sort_lock);
	sort_base = text;
	qsort(s, n, sizeof(*s), cmp_span);
	pthread_mutex_unlock(&sort_lock);
	for (size_t i = 0; i < n; i++)
		klen += s[i].key_len;
	keys = malloc(klen + 1);
	if (!keys) {
		ret = -ENOMEM;
		goto cleanup;
	}
	off = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < s[i].key_len; j++) {
			char c = text[s[i].key + j];

			keys[off + j] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
		}
		off += s[i].key_len;
	}
	if (asprintf(&tmp, "%s.tmp.XXXXXX", ip) < 0) {
		tmp = NULL;
		ret = -ENOMEM;
		goto cleanup;
	}
	ifd = mkostemp(tmp, O_CLOEXEC);
	if (ifd < 0) {
		ret = -errno;
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	/* The emails are the directory's: the same mode, owner and group. */
	if (fchmod(ifd, 0640) < 0 || fchown(ifd, st.st_uid, st.st_gid) < 0) {
		ret = -errno;
		goto cleanup;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IX_MAGIC, 8);
	h.dev = st.st_dev;
	h.ino = st.st_ino;
	h.size = (uint64_t)st.st_size;
	h.mtime_sec = (uint64_t)st.st_mtim.tv_sec;
	h.mtime_nsec = (uint64_t)st.st_mtim.tv_nsec;
	h.ctime_sec = (uint64_t)st.st_ctim.tv_sec;
	h.ctime_nsec = (uint64_t)st.st_ctim.tv_nsec;
	h.n = n;
	h.keys_len = klen;
	ret = write_all(ifd, &h, sizeof(h));
	off = 0;
	for (size_t i = 0; !ret && i < n; i++) {
		e = (struct ix_ent) { off, s[i].key_len, s[i].key - 1, s[i].obj, s[i].obj_len };
		off += s[i].key_len;
		ret = write_all(ifd, &e, sizeof(e));
	}
	ret = ret ?: write_all(ifd, keys, klen);
	if (!ret && fsync(ifd) < 0)
		ret = -errno;
	if (ret)
		goto cleanup;
	ret = close(ifd) < 0 ? -errno : 0;
	ifd = -1;
	if (!ret && rename(tmp, ip) < 0)
		ret = -errno;
	if (!ret) {
		free(tmp);
		tmp = NULL;
	}
cleanup:
	if (ifd >= 0)
		close(ifd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	if (ret < 0)
		unlink(ip);	/* no index beats a wrong one */
	if (fd >= 0)
		close(fd);
	if (buf)
		wgotp_freezero(buf, len + 2);
	free(keys);
	free(s);
	free(ip);
	return ret;
}

int wgotp_dirindex_build(const char *path, struct wgotp_error *err)
{
	struct wgotp_directory *dir = NULL;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	ret = wgotp_file_read(path, IX_FILE_MAX, &buf, &len, err);
	if (ret)
		goto cleanup;
	ret = wgotp_dir_parse(path, buf, len, &dir, err);
	if (ret) {
		char *ip = ix_path(path);

		if (ip)
			unlink(ip);	/* whatever it described, it is not this */
		free(ip);
		goto cleanup;
	}
	ret = wgotp_dirindex_write(path, buf, len);
	if (ret)
		ret = wgotp_error_set(err, -ret, "%s.idx: %s", path, strerror(-ret));
cleanup:
	wgotp_dir_free(dir);
	if (buf)
		wgotp_freezero(buf, len + 1);
	return ret;
}

/* ---- reading ---- */

static int map_fd(int fd, size_t len, const void **out)
{
	void *p;

	if (len == 0) {
		*out = "";
		return 0;
	}
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

/* The index of path, when it describes the file there now; -ESTALE (or
 * another negative errno) when not. */
static int ix_open(const char *path, struct wgotp_dirindex **out)
{
	struct wgotp_dirindex *x = NULL;
	const struct ix_head *h;
	struct stat st, ist;
	char *ip = NULL;
	const void *p = NULL;
	int fd = -1, ifd = -1, ret;

	*out = NULL;
	ip = ix_path(path);
	x = calloc(1, sizeof(*x));
	if (!ip || !x || !(x->path = strdup(path))) {
		ret = -ENOMEM;
		goto cleanup;
	}
	ifd = open(ip, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (ifd < 0) {
		ret = -errno;
		goto cleanup;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0 || fstat(ifd, &ist) < 0) {
		ret = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode) || !S_ISREG(ist.st_mode) || (size_t)ist.st_size < sizeof(*h) ||
	    (uint64_t)ist.st_size > IX_FILE_MAX || (uint64_t)st.st_size > IX_FILE_MAX) {
		ret = -ESTALE;
		goto cleanup;
	}
	ret = map_fd(ifd, (size_t)ist.st_size, &p);
	if (ret < 0)
		goto cleanup;
	x->map = p;
	x->map_len = (size_t)ist.st_size;
	h = (const struct ix_head *)x->map;
	if (memcmp(h->magic, IX_MAGIC, 8) != 0 || h->dev != (uint64_t)st.st_dev ||
	    h->ino != (uint64_t)st.st_ino || h->size != (uint64_t)st.st_size ||
	    h->mtime_sec != (uint64_t)st.st_mtim.tv_sec || h->mtime_nsec != (uint64_t)st.st_mtim.tv_nsec ||
	    h->ctime_sec != (uint64_t)st.st_ctim.tv_sec || h->ctime_nsec != (uint64_t)st.st_ctim.tv_nsec ||
	    h->n > (x->map_len - sizeof(*h)) / sizeof(struct ix_ent) ||
	    h->keys_len != x->map_len - sizeof(*h) - h->n * sizeof(struct ix_ent)) {
		ret = -ESTALE;
		goto cleanup;
	}
	x->n = (size_t)h->n;
	x->ents = (const struct ix_ent *)(x->map + sizeof(*h));
	x->keys = (const char *)(x->ents + x->n);
	x->keys_len = (size_t)h->keys_len;
	x->id = *h;
	x->users = calloc(x->n ? x->n : 1, sizeof(*x->users));
	if (!x->users || pthread_mutex_init(&x->lock, NULL)) {
		free(x->users);
		x->users = NULL;
		ret = -ENOMEM;
		goto cleanup;
	}
	x->fd = fd;
	fd = -1;
	*out = x;
	x = NULL;
	ret = 0;
cleanup:
	if (x) {
		if (x->map && x->map_len)
			munmap((void *)x->map, x->map_len);
		free(x->path);
		free(x);
	}
	if (fd >= 0)
		close(fd);
	if (ifd >= 0)
		close(ifd);
	free(ip);
	return ret;
}

int wgotp_dirindex_load(const char *path, struct wgotp_directory **out, struct wgotp_error *err)
{
	struct wgotp_dirindex *x = NULL;
	struct wgotp_directory *d;

	*out = NULL;
	if (ix_open(path, &x) < 0 || x->n == 0) {	/* no users: nothing to gain */
		wgotp_dirindex_free(x);
		return wgotp_dir_load(path, out, err);
	}
	d = wgotp_dir_new();
	if (!d) {
		wgotp_dirindex_free(x);
		return wgotp_error_set(err, ENOMEM, "%s: out of memory", path);
	}
	d->index = x;
	*out = d;
	return 0;
}

size_t wgotp_dirindex_count(const struct wgotp_dirindex *idx)
{
	return idx ? idx->n : 0;
}

/* The entry of key (lower case, len bytes), or -1. */
static ssize_t ix_search(const struct wgotp_dirindex *x, const char *key, size_t len)
{
	size_t lo = 0, hi = x->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, kl = (size_t)x->ents[mid].key_len;
		const char *k = x->keys + x->ents[mid].key_off;
		int c;

		if (kl > x->keys_len || x->ents[mid].key_off > x->keys_len - kl)
			return -1;	/* damaged */
		c = memcmp(key, k, len < kl ? len : kl);
		if (!c)
			c = (len > kl) - (len < kl);
		if (!c)
			return (ssize_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* users.json is still the file the index describes. */
static bool same_file(const struct wgotp_dirindex *x)
{
	struct stat st;

	return fstat(x->fd, &st) == 0 && x->id.size == (uint64_t)st.st_size &&
	       x->id.mtime_sec == (uint64_t)st.st_mtim.tv_sec &&
	       x->id.mtime_nsec == (uint64_t)st.st_mtim.tv_nsec &&
	       x->id.ctime_sec == (uint64_t)st.st_ctim.tv_sec &&
	       x->id.ctime_nsec == (uint64_t)st.st_ctim.tv_nsec;
}

static int pread_all(int fd, char *p, size_t len, off_t off)
{
	while (len) {
		ssize_t r = pread(fd, p, len, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ESTALE;
		p += r;
		len -= (size_t)r;
		off += r;
	}
	return 0;
}

struct wgotp_user *wgotp_dirindex_find(struct wgotp_dirindex *x, const char *email)
{
	static const char head[] = "{\"version\":1,\"users\":{\"";	/* the last quote is the file's */
	struct wgotp_directory *one = NULL;
	struct wgotp_error err = { "" };
	const struct ix_ent *e;
	char key[WGOTP_EMAIL_MAX + 1], *doc = NULL, *m;
	size_t len, dlen = 0, mlen;
	ssize_t i;

	if (!x || !email)
		return NULL;
	len = strnlen(email, sizeof(key));
	if (len >= sizeof(key))
		return NULL;
	for (size_t j = 0; j <= len; j++)
		key[j] = email[j] >= 'A' && email[j] <= 'Z' ? (char)(email[j] - 'A' + 'a') : email[j];
	i = ix_search(x, key, len);
	if (i < 0)
		return NULL;
	pthread_mutex_lock(&x->lock);
	one = x->users[i];
	pthread_mutex_unlock(&x->lock);
	if (one)
		return one->n_users ? &one->users[0] : NULL;
	e = &x->ents[i];
	if (!same_file(x) || e->file_key_off > e->obj_off || e->obj_len > x->id.size ||
	    e->obj_off > x->id.size - e->obj_len || e->obj_off - e->file_key_off > len + 64 ||
	    e->obj_off + e->obj_len - e->file_key_off < len + 2)
		return NULL;
	/* { "version": 1, "users": { "<key>": <the object> } }, the member
	 * read from users.json and its key checked against the index's */
	mlen = (size_t)(e->obj_off + e->obj_len - e->file_key_off);
	dlen = sizeof(head) - 2 + mlen + 2;
	doc = malloc(dlen + 1);
	if (!doc)
		return NULL;
	memcpy(doc, head, sizeof(head) - 2);
	m = doc + sizeof(head) - 2;
	if (pread_all(x->fd, m, mlen, (off_t)e->file_key_off) < 0 || m[0] != '"' ||
	    strncasecmp(m + 1, key, len) != 0 || m[1 + len] != '"') {
		wgotp_freezero(doc, dlen + 1);
		return NULL;
	}
	memcpy(doc + dlen - 2, "}}", 3);
	if (wgotp_dir_parse(x->path, doc, dlen, &one, &err) < 0 || one->n_users != 1) {
		wgotp_dir_free(one);
		one = NULL;
	}
	wgotp_freezero(doc, dlen + 1);
	if (!one)
		return NULL;
	pthread_mutex_lock(&x->lock);
	if (x->users[i]) {
		wgotp_dir_free(one);	/* another thread was first */
		one = x->users[i];
	} else {
		x->users[i] = one;
	}
	pthread_mutex_unlock(&x->lock);
	return &one->users[0];
}

const struct wgotp_directory *wgotp_dirindex_full(struct wgotp_dirindex *x)
{
	struct wgotp_directory *d = NULL;
	struct wgotp_error err = { "" };
	size_t len;
	char *buf;

	if (!x)
		return NULL;
	pthread_mutex_lock(&x->lock);
	d = x->full;
	pthread_mutex_unlock(&x->lock);
	if (d)
		return d;
	/* Parsed without the lock: lookups of single users go on meanwhile. */
	if (!same_file(x) || !(buf = malloc((len = (size_t)x->id.size) + 1)))
		return NULL;
	if (pread_all(x->fd, buf, len, 0) < 0 || wgotp_dir_parse(x->path, buf, len, &d, &err) < 0)
		d = NULL;
	wgotp_freezero(buf, len + 1);
	if (!d)
		return NULL;
	pthread_mutex_lock(&x->lock);
	if (x->full)
		wgotp_dir_free(d);	/* another thread was first */
	else
		x->full = d;
	d = x->full;
	pthread_mutex_unlock(&x->lock);
	return d;
}

void wgotp_dirindex_free(struct wgotp_dirindex *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++)
		wgotp_dir_free(x->users[i]);
	free(x->users);
	wgotp_dir_free(x->full);
	if (x->map_len)
		munmap((void *)x->map, x->map_len);
	close(x->fd);
	pthread_mutex_destroy(&x->lock);
	free(x->path);
	free(x);
}

/* ---- adding a user without rewriting through a full parse ---- */

/* The member text ("email": {...}) of u, as wgotp_dir_save writes it: a
 * one-user directory saved beside path and read back (so it follows
 * whatever wgotp_dir_save writes for a user). */
static int member_text(const char *path, struct wgotp_user *u, char **out, size_t *out_len,
		       struct wgotp_error *err)
{
	struct wgotp_directory one = { .users = u, .n_users = 1 };
	struct span *s = NULL;
	char *tmp = NULL, *tip = NULL, *buf = NULL;
	size_t len = 0, n = 0;
	int fd, ret;

	*out = NULL;
	if (asprintf(&tmp, "%s.add.XXXXXX", path) < 0) {
		tmp = NULL;
		ret = wgotp_error_set(err, ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	fd = mkstemp(tmp);	/* a name of our own, replaced by the save */
	if (fd < 0) {
		ret = wgotp_error_set(err, errno, "%s: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	close(fd);
	tip = ix_path(tmp);
	ret = tip ? wgotp_dir_save(&one, tmp, err) : wgotp_error_set(err, ENOMEM, "out of memory");
	ret = ret ?: wgotp_file_read(tmp, IX_FILE_MAX, &buf, &len, err);
	if (ret)
		goto cleanup;
	ret = scan(buf, len, &s, &n);
	if (ret < 0 || n != 1) {
		ret = wgotp_error_set(err, EINVAL, "%s: cannot read back the new user", tmp);
		goto cleanup;
	}
	*out_len = s[0].obj + s[0].obj_len - (s[0].key - 1);
	*out = malloc(*out_len + 1);
	if (!*out) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	memcpy(*out, buf + s[0].key - 1, *out_len);
	(*out)[*out_len] = '\0';
	ret = 0;
cleanup:
	if (tmp)
		unlink(tmp);
	if (tip)
		unlink(tip);
	if (buf)
		wgotp_freezero(buf, len + 1);
	free(s);
	free(tmp);
	free(tip);
	return ret;
}

/* len bytes of in at off to out's position: in the kernel where it can,
 * else through buf (the whole file, read once). */
static int copy_range(int in, off_t off, int out, size_t len, char **buf, size_t size)
{
	while (len) {
		loff_t o = off;
		ssize_t n = copy_file_range(in, &o, out, NULL, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
		len -= (size_t)n;
	}
	if (!len)
		return 0;
	if (!*buf) {
		*buf = malloc(size + 1);
		if (!*buf)
			return -ENOMEM;
		if (pread_all(in, *buf, size, 0) < 0)
			return -EIO;
	}
	return write_all(out, *buf + off, len);
}

int wgotp_dirindex_commit_add(const struct wgotp_directory *dir, const char *path,
			      struct wgotp_error *err)
{
	struct wgotp_dirindex *x = dir ? dir->index : NULL;
	struct ix_head h;
	struct ix_ent e;
	struct stat st, st2;
	char *old = NULL, *member = NULL, *tmp = NULL, *ip = NULL, *dname = NULL, *slash, *tip = NULL;
	char *ibuf = NULL, *kp;
	struct ix_ent *ents;
	size_t mlen = 0, end = 0, klen, pos, off, olen, ibuf_len;
	bool renamed = false;
	int fd = -1, ifd = -1, dfd = -1, ret;

	if (!x || dir->n_users != 1)
		return wgotp_error_set(err, EINVAL, "%s: not one user added through the index", path);
	if (!same_file(x) || x->n == 0)
		return wgotp_error_set(err, ESTALE, "%s: changed since it was read", path);
	ret = member_text(path, &dir->users[0], &member, &mlen, err);
	if (ret)
		goto cleanup;
	/* The new member goes after the last one in the file. */
	for (size_t i = 0; i < x->n; i++) {
		const struct ix_ent *o = &x->ents[i];

		if (o->obj_len > x->id.size || o->obj_off > x->id.size - o->obj_len ||
		    o->key_len > x->keys_len || o->key_off > x->keys_len - o->key_len) {
			ret = wgotp_error_set(err, ESTALE, "%s.idx: damaged", path);
			goto cleanup;
		}
		if (o->obj_off + o->obj_len > end)
			end = (size_t)(o->obj_off + o->obj_len);
	}
	olen = (size_t)x->id.size;
	if (end > olen || olen + 2 + mlen > IX_FILE_MAX) {
		ret = wgotp_error_set(err, EFBIG, "%s: would grow past %d bytes", path, IX_FILE_MAX);
		goto cleanup;
	}

	/* users.json, atomically, as wgotp_dir_save does it */
	dname = strdup(path);
	ip = ix_path(path);
	if (!dname || !ip || asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		ret = wgotp_error_set(err, ENOMEM, "%s: out of memory", path);
		goto cleanup;
	}
	slash = strrchr(dname, '/');
	if (!slash)
		strcpy(dname, ".");
	else if (slash == dname)
		dname[1] = '\0';
	else
		*slash = '\0';
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = wgotp_error_set(err, errno, "%s: cannot create a temporary file: %s", path,
				      strerror(errno));
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	if (fstat(x->fd, &st) < 0 || fchmod(fd, 0640) < 0 ||
	    ((st.st_uid != geteuid() || st.st_gid != getegid()) && fchown(fd, st.st_uid, st.st_gid) < 0)) {
		ret = wgotp_error_set(err, errno, "%s: mode, owner and group: %s", tmp, strerror(errno));
		goto cleanup;
	}
	ret = copy_range(x->fd, 0, fd, end, &old, olen);
	ret = ret ?: write_all(fd, ",\n", 2);
	ret = ret ?: write_all(fd, member, mlen);
	ret = ret ?: copy_range(x->fd, (off_t)end, fd, olen - end, &old, olen);
	if (!ret && !same_file(x))
		ret = -ESTALE;	/* changed while being copied */
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret) {
		ret = wgotp_error_set(err, -ret, "%s: write: %s", tmp, strerror(-ret));
		goto cleanup;
	}
	if (fstat(fd, &st) < 0 || close(fd) < 0) {
		fd = -1;
		ret = wgotp_error_set(err, errno, "%s: %s", tmp, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	unlink(ip);	/* the old index goes first: it never describes the new file */
	if (rename(tmp, path) < 0) {
		ret = wgotp_error_set(err, errno, "%s: rename: %s", path, strerror(errno));
		goto cleanup;
	}
	renamed = true;
	dfd = open(dname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		ret = wgotp_error_set(err, errno, "%s: fsync of the directory: %s", dname, strerror(errno));
		goto cleanup;
	}
	ret = 0;

	/* The index: the old entries (their offsets unchanged: the new
	 * member is after all of them) and the new one in its place. A
	 * failure here only costs the readers a full parse. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st2) < 0 || st2.st_ino != st.st_ino || st2.st_dev != st.st_dev)
		goto cleanup;
	klen = strlen(dir->users[0].email);
	pos = 0;
	while (pos < x->n) {	/* the first entry after the new key */
		const struct ix_ent *o = &x->ents[pos];
		size_t n = klen < o->key_len ? klen : (size_t)o->key_len;
		int c = memcmp(x->keys + o->key_off, dir->users[0].email, n);

		if (c > 0 || (c == 0 && o->key_len > klen))
			break;
		pos++;
	}
	if (asprintf(&tip, "%s.tmp.XXXXXX", ip) < 0) {
		tip = NULL;
		goto cleanup;
	}
	ifd = mkostemp(tip, O_CLOEXEC);
	if (ifd < 0) {
		free(tip);
		tip = NULL;
		goto cleanup;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, IX_MAGIC, 8);
	h.dev = st2.st_dev;
	h.ino = st2.st_ino;
	h.size = (uint64_t)st2.st_size;
	h.mtime_sec = (uint64_t)st2.st_mtim.tv_sec;
	h.mtime_nsec = (uint64_t)st2.st_mtim.tv_nsec;
	h.ctime_sec = (uint64_t)st2.st_ctim.tv_sec;
	h.ctime_nsec = (uint64_t)st2.st_ctim.tv_nsec;
	h.n = x->n + 1;
	h.keys_len = x->keys_len + klen;
	ibuf_len = sizeof(h) + h.n * sizeof(struct ix_ent) + h.keys_len;
	ibuf = malloc(ibuf_len);
	if (!ibuf || fchmod(ifd, 0640) < 0 || fchown(ifd, st2.st_uid, st2.st_gid) < 0)
		goto index_failed;
	memcpy(ibuf, &h, sizeof(h));
	ents = (struct ix_ent *)(ibuf + sizeof(h));
	kp = (char *)(ents + h.n);
	off = 0;
	for (size_t i = 0; i <= x->n; i++) {
		const char *k;

		if (i == pos) {
			/* the object starts at the first brace of the member
			 * text: its key is an email, which has none */
			size_t brace = (size_t)(strchr(member, '{') - member);

			e = (struct ix_ent) { 0, klen, end + 2, end + 2 + brace, mlen - brace };
			k = dir->users[0].email;
		} else {
			e = x->ents[i < pos ? i : i - 1];
			k = x->keys + e.key_off;
		}
		memcpy(kp + off, k, (size_t)e.key_len);
		e.key_off = off;
		off += e.key_len;
		memcpy(&ents[i], &e, sizeof(e));
	}
	if (write_all(ifd, ibuf, ibuf_len) < 0)
		goto index_failed;
	if (fsync(ifd) < 0 || close(ifd) < 0) {
		ifd = -1;
		goto index_failed;
	}
	ifd = -1;
	if (rename(tip, ip) == 0) {
		free(tip);
		tip = NULL;
	}
	goto cleanup;
index_failed:
	unlink(ip);
cleanup:
	if (fd >= 0)
		close(fd);
	if (ifd >= 0)
		close(ifd);
	if (dfd >= 0)
		close(dfd);
	if (tmp && !renamed)
		unlink(tmp);
	if (tip) {
		unlink(tip);
		free(tip);
	}
	if (old)
		wgotp_freezero(old, olen + 1);
	free(ibuf);
	if (member)
		wgotp_freezero(member, mlen + 1);
	free(tmp);
	free(ip);
	free(dname);
	return ret;
}
