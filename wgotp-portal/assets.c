/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The page, its script and its style: a fixed list of files read from
 * [Portal] AssetsDirectory once, at start-up. Serving from memory means
 * no path from a URL ever reaches the file system (no traversal to
 * guard), --check proves they are all there, and a replaced file needs a
 * restart, like the binary.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "portal.h"

static const struct portal_asset list[] = {
	{ "/", "index.html", "text/html; charset=utf-8", NULL, 0 },
	/* an invitation's link: the same page, the token in the fragment */
	{ "/enrol", "index.html", "text/html; charset=utf-8", NULL, 0 },
	{ "/app.js", "app.js", "text/javascript; charset=utf-8", NULL, 0 },
	{ "/style.css", "style.css", "text/css; charset=utf-8", NULL, 0 },
	{ "/favicon.svg", "favicon.svg", "image/svg+xml", NULL, 0 },
};

#define ASSET_MAX (512 * 1024)

int portal_assets_load(struct portal *p, const char *dir, struct wgotp_error *err)
{
	size_t n = sizeof(list) / sizeof(list[0]);
	char path[4096];
	int ret;

	p->assets = calloc(n, sizeof(*p->assets));
	if (!p->assets)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		p->assets[i] = list[i];
		snprintf(path, sizeof(path), "%s/%s", dir, list[i].file);
		ret = wgotp_file_read(path, ASSET_MAX, &p->assets[i].data, &p->assets[i].len, err);
		if (ret < 0) {
			portal_assets_free(p);
			return wgotp_error_set(err, -ret, "[Portal] AssetsDirectory: %s: %s", path,
					       err && err->msg[0] ? err->msg : strerror(-ret));
		}
		p->n_assets = i + 1;
	}
	return 0;
}

void portal_assets_free(struct portal *p)
{
	for (size_t i = 0; i < p->n_assets; i++)
		free(p->assets[i].data);
	free(p->assets);
	p->assets = NULL;
	p->n_assets = 0;
}

const struct portal_asset *portal_asset_find(const struct portal *p, const char *path)
{
	for (size_t i = 0; i < p->n_assets; i++) {
		if (!strcmp(p->assets[i].path, path))
			return &p->assets[i];
	}
	if (!strcmp(path, "/index.html"))
		return p->n_assets ? &p->assets[0] : NULL;
	return NULL;
}
