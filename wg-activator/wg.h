/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * WireGuard backends behind one interface (as wireguard-tools' ipc.c):
 *   uapi  the UAPI socket of a userspace implementation, UAPIDIR/IF.sock
 *         (wireguard-go), spoken directly over one kept connection;
 *   wg    wg(8) of wireguard-tools, started with an argument vector and a
 *         clean environment, never through a shell (kernel WireGuard).
 * Backend = auto picks uapi when the socket exists, wg otherwise.
 *
 * Only peers are touched, never the interface's own settings. Every
 * function returns 0 or -errno, with err saying what failed.
 */
#ifndef WGA_WG_H
#define WGA_WG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "encoding.h"
#include "error.h"

/* One change in a batch. */
struct wg_peer {
	uint8_t key[WGOTP_KEY_LEN];
	bool remove;			/* else add, or replace its allowed IPs */
	const char *allowed_ips;	/* "10.8.0.2/32,fd00::2/128", checked with
					 * wgotp_session_ips(); the backends parse
					 * it again and send only what they re-format */
};

/* The public keys of an interface's peers. */
struct wg_peer_list {
	uint8_t (*keys)[WGOTP_KEY_LEN];
	size_t n;
};

struct wg_ops {
	const char *name;
	int (*open)(const struct wgotp_config *cfg, void **state, struct wgotp_error *err);
	void (*close)(void *state);
	int (*list)(void *state, struct wg_peer_list *out, struct wgotp_error *err);
	/* All changes in one operation (wg: as few invocations as the
	 * argument limit allows). Adding a present peer or removing an
	 * absent one is not an error. */
	int (*apply)(void *state, const struct wg_peer *changes, size_t n, struct wgotp_error *err);
	/* The interface's own public key (for client configs); may be NULL. */
	int (*pubkey)(void *state, uint8_t key[WGOTP_KEY_LEN], struct wgotp_error *err);
};

extern const struct wg_ops wg_uapi_ops;
extern const struct wg_ops wg_cli_ops;

struct wg {
	const struct wg_ops *ops;
	void *state;
};

/* Choose the backend for cfg->interface (cfg->wg_backend) and open it. */
int wg_open(const struct wgotp_config *cfg, struct wg **out, struct wgotp_error *err);
void wg_close(struct wg *wg);
void wg_peer_list_free(struct wg_peer_list *l);

static inline const char *wg_backend_name(const struct wg *wg)
{
	return wg->ops->name;
}
static inline int wg_list(struct wg *wg, struct wg_peer_list *out, struct wgotp_error *err)
{
	return wg->ops->list(wg->state, out, err);
}
static inline int wg_apply(struct wg *wg, const struct wg_peer *ch, size_t n, struct wgotp_error *err)
{
	return n ? wg->ops->apply(wg->state, ch, n, err) : 0;
}

static inline int wg_pubkey(struct wg *wg, uint8_t key[WGOTP_KEY_LEN], struct wgotp_error *err)
{
	if (!wg->ops->pubkey)
		return wgotp_error_set(err, ENOTSUP, "%s: cannot read the interface's key", wg->ops->name);
	return wg->ops->pubkey(wg->state, key, err);
}

/* Shared by the backends: append a key to a list (-ENOMEM). */
int wg_peer_list_add(struct wg_peer_list *l, const uint8_t key[WGOTP_KEY_LEN]);
/* The last line of defence of both backends: allowed_ips parsed prefix by
 * prefix and re-formatted into *out (malloc'ed, "" for none); -EINVAL if
 * any piece is not a prefix (nothing is then sent), -ENOMEM. */
int wg_ips_canon(const char *allowed_ips, char **out);
/* UAPIDIR/IF.sock into buf: -ENAMETOOLONG. */
int wg_uapi_path(const struct wgotp_config *cfg, char *buf, size_t len);

#endif
