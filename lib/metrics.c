/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The login flow's figures for Prometheus: see metrics.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

#define MT_MAGIC "WGOTPMT1"
#define MT_VERSION 1
#define MT_MODE 0660

const int64_t wgotp_metrics_mail_bounds_ms[WGOTP_METRICS_MAIL_BUCKETS - 1] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000,
};

/* The shape of the data, so that a build of another layout refuses the
 * file instead of reading one counter as another. */
struct mt_header {
	char magic[8];
	uint32_t version;
	uint32_t dims[7];
	uint64_t data_size;
};

struct mt_file {
	struct mt_header h;
	struct wgotp_metrics_data d;
};

_Static_assert(sizeof(struct mt_header) % 8 == 0, "metrics header alignment");

struct wgotp_metrics {
	struct mt_file *f;
};

static void mt_dims(uint32_t dims[7])
{
	dims[0] = WGOTP_MO_N;
	dims[1] = WGOTP_METRICS_METHODS;
	dims[2] = WGOTP_MR_N;
	dims[3] = WGOTP_METRICS_REASONS;
	dims[4] = WGOTP_METRICS_TRANSPORTS;
	dims[5] = WGOTP_METRICS_MAIL_BUCKETS;
	dims[6] = 0;
}

int wgotp_metrics_path(const struct wgotp_config *cfg, char *out, size_t len)
{
	const char *store = cfg->store_path;
	const char *slash;
	int n;

	if (cfg->metrics_file && *cfg->metrics_file)
		n = snprintf(out, len, "%s", cfg->metrics_file);
	else if (store && (slash = strrchr(store, '/')) != NULL)
		n = snprintf(out, len, "%.*s/metrics", (int)(slash - store), store);
	else
		n = snprintf(out, len, "metrics");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The owner and group of path's directory, for a file root creates. */
static int dir_owner(const char *path, struct stat *st)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash)
		return stat(".", st) < 0 ? -errno : 0;
	if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return stat(slash == path ? "/" : dir, st) < 0 ? -errno : 0;
}

static int mt_format(int fd, const char *path, struct wgotp_error *err)
{
	struct mt_header h;
	struct stat d;
	int e;

	if (fchmod(fd, MT_MODE) < 0 ||
	    (geteuid() == 0 && dir_owner(path, &d) == 0 && fchown(fd, d.st_uid, d.st_gid) < 0)) {
		e = errno;
		return wgotp_error_set(err, e, "metrics: %s: %s", path, strerror(e));
	}
	/* Every block allocated now: a store into a hole on a full disk
	 * would be a SIGBUS, not an error. */
	e = posix_fallocate(fd, 0, (off_t)sizeof(struct mt_file));
	if (e) {
		if (ftruncate(fd, 0) < 0)
			e = errno;
		return wgotp_error_set(err, e, "metrics: cannot allocate %s: %s", path, strerror(e));
	}
	memset(&h, 0, sizeof(h));
	h.version = MT_VERSION;
	mt_dims(h.dims);
	h.data_size = sizeof(struct wgotp_metrics_data);
	memcpy(h.magic, MT_MAGIC, sizeof(h.magic));
	if (pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		e = errno ? errno : EIO;
		return wgotp_error_set(err, e, "metrics: writing %s: %s", path, strerror(e));
	}
	return 0;
}

static bool mt_valid(const struct mt_header *h)
{
	uint32_t dims[7];

	mt_dims(dims);
	return !memcmp(h->magic, MT_MAGIC, sizeof(h->magic)) && h->version == MT_VERSION &&
	       !memcmp(h->dims, dims, sizeof(dims)) &&
	       h->data_size == sizeof(struct wgotp_metrics_data);
}

int wgotp_metrics_open(const char *path, struct wgotp_metrics **out, struct wgotp_error *err)
{
	struct wgotp_metrics *m = NULL;
	struct stat st;
	void *map;
	int fd = -1, e, ret;

	*out = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, MT_MODE);
	if (fd < 0 || flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		e = errno;
		ret = wgotp_error_set(err, e, "metrics: cannot open %s: %s", path, strerror(e));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = wgotp_error_set(err, EINVAL, "metrics: %s is not a regular file", path);
		goto cleanup;
	}
	if (st.st_size != 0 && (st.st_mode & S_IRWXO)) {
		ret = wgotp_error_set(err, EPERM, "metrics: %s is mode %04o: others must have no "
				      "access (chmod 660)", path, (unsigned)(st.st_mode & 07777));
		goto cleanup;
	}
	if (st.st_size == 0) {
		ret = mt_format(fd, path, err);
		if (ret < 0)
			goto cleanup;
	} else if (st.st_size != (off_t)sizeof(struct mt_file)) {
		ret = wgotp_error_set(err, EINVAL, "metrics: %s is not a wgotp metrics file of this "
				      "release (remove it: it is made again, from zero)", path);
		goto cleanup;
	}
	map = mmap(NULL, sizeof(struct mt_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		e = errno;
		ret = wgotp_error_set(err, e, "metrics: mmap %s: %s", path, strerror(e));
		goto cleanup;
	}
	if (!mt_valid(map)) {
		munmap(map, sizeof(struct mt_file));
		ret = wgotp_error_set(err, EINVAL, "metrics: %s is not a wgotp metrics file of this "
				      "release (remove it: it is made again, from zero)", path);
		goto cleanup;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		munmap(map, sizeof(struct mt_file));
		ret = wgotp_error_set(err, ENOMEM, "metrics: out of memory");
		goto cleanup;
	}
	m->f = map;
	*out = m;
	ret = 0;
cleanup:
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
	return ret;
}

void wgotp_metrics_close(struct wgotp_metrics *m)
{
	if (!m)
		return;
	munmap(m->f, sizeof(struct mt_file));
	free(m);
}

enum wgotp_metrics_origin wgotp_metrics_origin(const char *origin)
{
	static const char *const names[WGOTP_MO_OTHER] = { "radius", "pam", "admin", "portal" };

	for (int i = 0; origin && i < WGOTP_MO_OTHER; i++)
		if (!strcmp(origin, names[i]))
			return (enum wgotp_metrics_origin)i;
	return WGOTP_MO_OTHER;
}

static void add(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

void wgotp_metrics_decision(struct wgotp_metrics *m, const char *origin, int method,
			    enum wgotp_metrics_result result, int reason)
{
	if (!m || method < 0 || method >= WGOTP_METRICS_METHODS || (unsigned)result >= WGOTP_MR_N)
		return;
	if (reason < 0 || reason >= WGOTP_METRICS_REASONS - 1)
		reason = WGOTP_METRICS_REASONS - 1;
	add(&m->f->d.decisions[wgotp_metrics_origin(origin)][method][result][reason], 1);
}

void wgotp_metrics_mail(struct wgotp_metrics *m, int transport, bool ok, int64_t usec)
{
	int b;

	if (!m || transport < 0 || transport >= WGOTP_METRICS_TRANSPORTS)
		return;
	if (usec < 0)
		usec = 0;
	add(ok ? &m->f->d.mail_sent[transport] : &m->f->d.mail_failed[transport], 1);
	for (b = 0; b < WGOTP_METRICS_MAIL_BUCKETS - 1; b++)
		if (usec <= wgotp_metrics_mail_bounds_ms[b] * 1000)
			break;
	add(&m->f->d.mail_bucket[transport][b], 1);
	add(&m->f->d.mail_sum_us[transport], (uint64_t)usec);
}

void wgotp_metrics_read(const struct wgotp_metrics *m, struct wgotp_metrics_data *out)
{
	const uint64_t *src = (const uint64_t *)&m->f->d;
	uint64_t *dst = (uint64_t *)out;

	_Static_assert(sizeof(*out) % sizeof(uint64_t) == 0, "metrics data of counters only");
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
