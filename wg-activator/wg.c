// SPDX-License-Identifier: GPL-2.0-or-later
/* Backend choice and the helpers the backends share (see wg.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cidr.h"
#include "wg.h"

int wg_uapi_path(const struct wgotp_config *cfg, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s.sock",
			 cfg->wg_uapi_dir ? cfg->wg_uapi_dir : "/var/run/wireguard", cfg->interface);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int wg_open(const struct wgotp_config *cfg, struct wg **out, struct wgotp_error *err)
{
	struct wg *wg = NULL;
	const struct wg_ops *ops = &wg_cli_ops;
	char path[4096];
	struct stat st;
	int ret;

	if (!cfg->interface || !*cfg->interface || strlen(cfg->interface) > 15 ||
	    strchr(cfg->interface, '/')) {
		ret = wgotp_error_set(err, EINVAL, "invalid interface name \"%s\"",
				      cfg->interface ? cfg->interface : "");
		goto cleanup;
	}
	switch (cfg->wg_backend) {
	case WGOTP_WG_UAPI:
		ops = &wg_uapi_ops;
		break;
	case WGOTP_WG_CLI:
		ops = &wg_cli_ops;
		break;
	case WGOTP_WG_AUTO:
		ret = wg_uapi_path(cfg, path, sizeof(path));
		if (ret < 0) {
			wgotp_error_set(err, -ret, "UAPI socket path too long");
			goto cleanup;
		}
		ops = stat(path, &st) == 0 && S_ISSOCK(st.st_mode) ? &wg_uapi_ops : &wg_cli_ops;
		break;
	}
	wg = calloc(1, sizeof(*wg));
	if (!wg) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	wg->ops = ops;
	ret = ops->open(cfg, &wg->state, err);
	if (ret < 0)
		goto cleanup;
	*out = wg;
	wg = NULL;
	ret = 0;
cleanup:
	free(wg);
	return ret;
}

void wg_close(struct wg *wg)
{
	if (!wg)
		return;
	wg->ops->close(wg->state);
	free(wg);
}

void wg_peer_list_free(struct wg_peer_list *l)
{
	if (!l)
		return;
	free(l->keys);
	l->keys = NULL;
	l->n = 0;
}

int wg_peer_list_add(struct wg_peer_list *l, const uint8_t key[WGOTP_KEY_LEN])
{
	/* capacity: 16, then doubled each time n reaches a power of two */
	if (l->n == 0 || (l->n >= 16 && (l->n & (l->n - 1)) == 0)) {
		size_t cap = l->n ? 2 * l->n : 16;
		void *k = reallocarray(l->keys, cap, WGOTP_KEY_LEN);

		if (!k)
			return -ENOMEM;
		l->keys = k;
	}
	memcpy(l->keys[l->n++], key, WGOTP_KEY_LEN);
	return 0;
}

int wg_ips_canon(const char *allowed_ips, char **out)
{
	const char *cur = allowed_ips ? allowed_ips : "";
	struct wgotp_cidr c;
	size_t n = 1, off = 0, cap;
	char *buf = NULL;
	int r, ret = -EINVAL;

	*out = NULL;
	for (const char *p = cur; *p; p++)
		n += *p == ',';
	/* each canonical prefix fits in 49 bytes, plus its comma */
	cap = n * 50 + 1;
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto cleanup;
	}
	buf[0] = '\0';
	while ((r = wgotp_cidr_list_next(&cur, &c)) > 0) {
		if (off)
			buf[off++] = ',';
		wgotp_cidr_format(&c, buf + off, cap - off);
		off += strlen(buf + off);
	}
	if (r < 0)
		goto cleanup;
	*out = buf;
	buf = NULL;
	ret = 0;
cleanup:
	free(buf);
	return ret;
}
