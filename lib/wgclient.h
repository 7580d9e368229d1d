/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Provisioning a WireGuard client (wgotpctl device add, the portal): a key
 * pair as wg genkey / wg pubkey make it, the next free address of
 * [Network] AddressPool, and the wg-quick configuration of the client.
 *
 * The private key is a secret that wgotp never stores: callers wipe it
 * (and every text holding it) with wgotp_wipe / wgotp_freezero.
 *
 * Not done yet (issue 17, needs the portal): [Portal] ShowNewDeviceConfig
 * = yes|no (default no), the employee seeing their new device's config and
 * QR once at first sign-in. That would keep the private key on the server
 * until then, which the admin must choose; wgotp_client_config() is what
 * the portal would call.
 */
#ifndef WGOTP_WGCLIENT_H
#define WGOTP_WGCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "encoding.h"
#include "error.h"

/* X25519 through OpenSSL; the private key clamped as wg genkey does. */
int wgotp_wg_keypair(uint8_t priv[WGOTP_KEY_LEN], uint8_t pub[WGOTP_KEY_LEN], struct wgotp_error *err);
/* The public key of a private one (wg pubkey). */
int wgotp_wg_pubkey(const uint8_t priv[WGOTP_KEY_LEN], uint8_t pub[WGOTP_KEY_LEN], struct wgotp_error *err);

/*
 * The next free host address of pool ("10.8.0.0/24, fd00:8::/64", as
 * [Network] AddressPool): the lowest host number n >= 2 (1 is the
 * server's, the network and broadcast addresses are never used) such that
 * neither 10.8.0.n/32 nor fd00:8::n/128 overlaps an allowed IP of any
 * device in dir. Written as "10.8.0.2/32,fd00:8::2/128" into out.
 * -ENOSPC when the pool is full, -EINVAL when pool is not one, err set.
 * Callers hold the users.json lock from here to the save, so that two
 * never pick the same address.
 */
int wgotp_pool_next(const char *pool, const struct wgotp_directory *dir, char *out, size_t len,
		    struct wgotp_error *err);

/*
 * The wg-quick configuration of a client: [Interface] PrivateKey (private
 * key base64, or NULL: a placeholder line to fill in), Address (the
 * device's allowed IPs), DNS; [Peer] PublicKey (server_key), AllowedIPs
 * ([Network] ClientAllowedIPs, else the pool), Endpoint,
 * PersistentKeepalive. *out is malloc'ed; free it with wgotp_freezero
 * (strlen + 1). -EINVAL with err set when [Network] lacks Endpoint.
 */
int wgotp_client_config(const struct wgotp_config *cfg, const char *server_key,
			const struct wgotp_device *dev, const char *private_key, char **out,
			struct wgotp_error *err);

#endif
