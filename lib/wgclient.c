// SPDX-License-Identifier: GPL-2.0-or-later
/* Provisioning a WireGuard client: keys, an address, its config (wgclient.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/evp.h>

#include "cidr.h"
#include "mail_buf.h"
#include "secret.h"
#include "wgclient.h"

#define POOL_SCAN_MAX (1u << 24)	/* host numbers looked at in one pool */

/* ---- keys ---- */

int wgotp_wg_pubkey(const uint8_t priv[WGOTP_KEY_LEN], uint8_t pub[WGOTP_KEY_LEN], struct wgotp_error *err)
{
	EVP_PKEY *pk;
	size_t len = WGOTP_KEY_LEN;
	int ret = 0;

	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WGOTP_KEY_LEN);
	if (!pk)
		return wgotp_error_set(err, EIO, "OpenSSL: cannot make an X25519 key");
	if (EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1 || len != WGOTP_KEY_LEN)
		ret = wgotp_error_set(err, EIO, "OpenSSL: cannot derive the X25519 public key");
	EVP_PKEY_free(pk);
	return ret;
}

int wgotp_wg_keypair(uint8_t priv[WGOTP_KEY_LEN], uint8_t pub[WGOTP_KEY_LEN], struct wgotp_error *err)
{
	int ret;

	ret = wgotp_random(priv, WGOTP_KEY_LEN);
	if (ret < 0)
		return wgotp_error_set(err, -ret, "no random bytes for a key: %s", strerror(-ret));
	/* As wg genkey (curve25519_clamp_secret). */
	priv[0] &= 248;
	priv[31] = (uint8_t)((priv[31] & 127) | 64);
	ret = wgotp_wg_pubkey(priv, pub, err);
	if (ret < 0)
		wgotp_wipe(priv, WGOTP_KEY_LEN);
	return ret;
}

/* ---- the address pool ---- */

typedef unsigned __int128 u128;

static u128 addr_value(const struct wgotp_cidr *c)
{
	const uint8_t *b = c->family == AF_INET ? (const uint8_t *)&c->addr.v4 : c->addr.v6.s6_addr;
	int n = c->family == AF_INET ? 4 : 16;
	u128 v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

static void addr_set(struct wgotp_cidr *c, u128 v)
{
	uint8_t *b = c->family == AF_INET ? (uint8_t *)&c->addr.v4 : c->addr.v6.s6_addr;
	int n = c->family == AF_INET ? 4 : 16;

	for (int i = n - 1; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	c->prefix = (uint8_t)(n * 8);
}

struct pool {
	struct wgotp_cidr net;
	bool set;
	uint32_t first, end;	/* usable host numbers [first, end) */
};

/* Mark in taken[] the host numbers of p that c covers. */
static void mark(const struct pool *p, const struct wgotp_cidr *c, uint8_t *taken, uint32_t end)
{
	int bits = p->net.family == AF_INET ? 32 : 128;
	u128 off, count, last;

	if (!p->set || c->family != p->net.family || !wgotp_cidr_overlap(c, &p->net))
		return;
	if (c->prefix <= p->net.prefix) {
		memset(taken, 1, end);
		return;
	}
	off = addr_value(c) - addr_value(&p->net);
	count = (u128)1 << (bits - c->prefix);	/* c->prefix > p->net.prefix >= 0 */
	if (off >= end)
		return;
	last = off + count > end ? end : off + count;
	memset(taken + (size_t)off, 1, (size_t)(last - off));
}

static int pool_parse(const char *text, struct pool *p4, struct pool *p6, struct wgotp_error *err)
{
	char *copy = strdup(text ? text : ""), *cur = copy, *item;
	struct wgotp_cidr c;
	int ret = 0;

	if (!copy)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	while (!ret && (item = strsep(&cur, ","))) {
		struct pool *p;
		int host_bits;

		item += strspn(item, " \t");
		item[strcspn(item, " \t")] = '\0';
		if (wgotp_cidr_parse(item, &c) < 0) {
			ret = wgotp_error_set(err, EINVAL, "[Network] AddressPool: \"%s\" is not a prefix", item);
			break;
		}
		p = c.family == AF_INET ? p4 : p6;
		if (p->set) {
			ret = wgotp_error_set(err, EINVAL,
					      "[Network] AddressPool: one IPv4 and at most one IPv6 prefix");
			break;
		}
		p->net = c;
		p->set = true;
		host_bits = (c.family == AF_INET ? 32 : 128) - c.prefix;
		p->first = 2;	/* 0 the network, 1 the server */
		if (host_bits > 24)
			p->end = POOL_SCAN_MAX;
		else
			p->end = (1u << host_bits) - (c.family == AF_INET ? 1 : 0);	/* no broadcast */
	}
	if (!ret && !p4->set)
		ret = wgotp_error_set(err, EINVAL, "[Network] AddressPool is not set (it needs an IPv4 prefix)");
	free(copy);
	return ret;
}

int wgotp_pool_next(const char *pool, const struct wgotp_directory *dir, char *out, size_t len,
		    struct wgotp_error *err)
{
	struct pool p4 = { 0 }, p6 = { 0 };
	struct wgotp_cidr a4, a6;
	char t4[64], t6[64], net[64];
	uint8_t *taken = NULL;
	uint32_t end, n;
	int ret;

	ret = pool_parse(pool, &p4, &p6, err);
	if (ret < 0)
		return ret;
	end = p4.end;
	if (p6.set && p6.end < end)
		end = p6.end;
	taken = calloc(end ? end : 1, 1);
	if (!taken)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	for (size_t u = 0; dir && u < dir->n_users; u++) {
		for (size_t d = 0; d < dir->users[u].n_devices; d++) {
			const struct wgotp_device *dv = &dir->users[u].devices[d];

			for (size_t k = 0; k < dv->n_allowed_ips; k++) {
				mark(&p4, &dv->allowed_ips[k], taken, end);
				mark(&p6, &dv->allowed_ips[k], taken, end);
			}
		}
	}
	for (n = p4.first; n < end && taken[n]; n++)
		;
	if (n >= end) {
		wgotp_cidr_format(&p4.net, net, sizeof(net));
		ret = wgotp_error_set(err, ENOSPC,
				      "[Network] AddressPool %s is full: every address is some device's (%u usable)",
				      net, end > p4.first ? end - p4.first : 0);
		goto cleanup;
	}
	a4 = p4.net;
	addr_set(&a4, addr_value(&p4.net) + n);
	wgotp_cidr_format(&a4, t4, sizeof(t4));
	if (p6.set) {
		a6 = p6.net;
		addr_set(&a6, addr_value(&p6.net) + n);
		wgotp_cidr_format(&a6, t6, sizeof(t6));
		ret = snprintf(out, len, "%s,%s", t4, t6);
	} else {
		ret = snprintf(out, len, "%s", t4);
	}
	ret = ret < 0 || (size_t)ret >= len ? wgotp_error_set(err, ENOBUFS, "address too long") : 0;
cleanup:
	free(taken);
	return ret;
}

/* ---- the client's configuration ---- */

/* A comma-separated list of prefixes re-formatted: "a/n, b/m". */
static int add_prefixes(struct wgotp_buf *b, const char *list, const char *what, struct wgotp_error *err)
{
	char *copy = strdup(list), *cur = copy, *item, text[64];
	struct wgotp_cidr c;
	bool first = true;
	int ret = 0;

	if (!copy)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	while ((item = strsep(&cur, ","))) {
		item += strspn(item, " \t");
		item[strcspn(item, " \t")] = '\0';
		if (wgotp_cidr_parse(item, &c) < 0) {
			ret = wgotp_error_set(err, EINVAL, "%s: \"%s\" is not a prefix", what, item);
			break;
		}
		wgotp_cidr_format(&c, text, sizeof(text));
		wgotp_buf_addf(b, "%s%s", first ? "" : ", ", text);
		first = false;
	}
	free(copy);
	return ret;
}

int wgotp_client_config(const struct wgotp_config *cfg, const char *server_key,
			const struct wgotp_device *dev, const char *private_key, char **out,
			struct wgotp_error *err)
{
	struct wgotp_buf b = { 0 };
	uint8_t key[WGOTP_KEY_LEN];
	char text[64];
	size_t len;
	int ret;

	*out = NULL;
	if (!cfg->net_endpoint)
		return wgotp_error_set(err, EINVAL,
				       "%s: [Network] Endpoint is not set (host:port the clients dial)", cfg->path ? cfg->path : "wgotp.conf");
	if (!server_key || wgotp_key_from_base64(key, server_key) < 0)
		return wgotp_error_set(err, EINVAL, "the server's public key is not a WireGuard key");
	if (!cfg->net_client_allowed_ips && !cfg->net_pool)
		return wgotp_error_set(err, EINVAL,
				       "%s: [Network] ClientAllowedIPs and AddressPool are not set: the client would route nothing",
				       cfg->path ? cfg->path : "wgotp.conf");
	wgotp_buf_adds(&b, "[Interface]\n");
	if (private_key) {
		wgotp_buf_addf(&b, "PrivateKey = %s\n", private_key);
	} else {
		wgotp_buf_adds(&b, "# wgotp never stored this device's private key: put it here.\n");
		wgotp_buf_adds(&b, "PrivateKey = PRIVATE_KEY_OF_THIS_DEVICE\n");
	}
	wgotp_buf_adds(&b, "Address = ");
	for (size_t i = 0; i < dev->n_allowed_ips; i++) {
		wgotp_cidr_format(&dev->allowed_ips[i], text, sizeof(text));
		wgotp_buf_addf(&b, "%s%s", i ? ", " : "", text);
	}
	wgotp_buf_adds(&b, "\n");
	if (cfg->net_dns)
		wgotp_buf_addf(&b, "DNS = %s\n", cfg->net_dns);
	wgotp_buf_addf(&b, "\n[Peer]\nPublicKey = %s\nAllowedIPs = ", server_key);
	ret = add_prefixes(&b, cfg->net_client_allowed_ips ? cfg->net_client_allowed_ips : cfg->net_pool,
			   cfg->net_client_allowed_ips ? "[Network] ClientAllowedIPs" : "[Network] AddressPool",
			   err);
	if (ret < 0)
		goto cleanup;
	wgotp_buf_addf(&b, "\nEndpoint = %s\n", cfg->net_endpoint);
	if (cfg->net_keepalive > 0)
		wgotp_buf_addf(&b, "PersistentKeepalive = %d\n", cfg->net_keepalive);
	ret = wgotp_buf_take(&b, out, &len);
	if (ret < 0)
		ret = wgotp_error_set(err, -ret, "out of memory");
cleanup:
	wgotp_buf_free(&b);
	return ret;
}
