/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotp-portal: the employees' HTTPS front end. Glue only, like rlm_wgotp
 * and pam_wgotp: every decision is lib/'s (the login flow, the store, the
 * activator client, browser sessions in lib/websession.c).
 *
 * The request handlers (api.c) see a request and fill a reply as plain
 * structs, with nothing of libmicrohttpd in them: server.c is the only
 * file that speaks HTTP, and the unit tests drive the handlers directly.
 */
#ifndef WGOTP_PORTAL_H
#define WGOTP_PORTAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frontend.h"
#include "websession.h"

struct json_object;

#define PORTAL_ORIGIN "portal"
#define PORTAL_COOKIE "__Host-wgotp"
#define PORTAL_CSRF_HEADER "X-CSRF-Token"
#define PORTAL_GRANT_LIFETIME 300	/* s: picking a device after a right code */

struct portal_asset {
	const char *path;		/* URL path: "/", "/app.js" */
	const char *file;		/* under AssetsDirectory */
	const char *type;		/* Content-Type */
	char *data;
	size_t len;
};

/* Per-IP request counting (limits.c): a fixed table, so a flood of
 * addresses costs a bounded amount of memory. */
struct portal_limits;

struct portal {
	struct wgotp_frontend *fe;	/* cfg, store, flow */
	struct portal_asset *assets;
	size_t n_assets;
	struct portal_limits *limits;
	bool tls;
	char company[128];
	/* hooks for the unit tests (NULL: the real activator client) */
	int (*activate)(const struct wgotp_config *cfg, const char *user, const char *device,
			const char *public_key, int64_t duration, const char *origin,
			int64_t *expires, struct wgotp_error *err);
	int (*deactivate)(const struct wgotp_config *cfg, const char *user, const char *device,
			  int *n_ended, struct wgotp_error *err);
	int (*dird)(const struct wgotp_config *cfg, struct json_object *req, struct json_object **reply,
		    char *code, size_t code_len, struct wgotp_error *err);
	int (*list)(const struct wgotp_config *cfg, const char *user, wgotp_session_cb cb,
		    void *arg, struct wgotp_error *err);
};

struct portal_request {
	const char *method;
	const char *path;
	const char *cookie;		/* the Cookie header, or NULL */
	const char *csrf;		/* X-CSRF-Token, or NULL */
	const char *content_type;
	const char *body;
	size_t body_len;
	bool body_too_large;
	const char *client;		/* the client's address (after TrustedProxies) */
};

#define PORTAL_MAX_COOKIES 2

struct portal_reply {
	int status;
	const char *content_type;
	char *body;			/* malloc'ed, or an asset's (body_static) */
	size_t body_len;
	bool body_static;
	bool api;			/* Cache-Control: no-store */
	char set_cookie[PORTAL_MAX_COOKIES][200];
	int n_cookies;
	int retry_after;		/* seconds, 429 */
	const char *allow;		/* 405 */
};

/* Open everything (config taken over): assets, store, flow; err says what failed. */
int portal_new(struct wgotp_config *cfg, wgotp_clock_fn clock, void *clock_arg,
	       struct portal **out, struct wgotp_error *err);
void portal_free(struct portal *p);

/* Handle one request; rp is always filled (an error reply at worst). */
void portal_handle(struct portal *p, const struct portal_request *rq, struct portal_reply *rp);
void portal_reply_free(struct portal_reply *rp);

/* Remove expired sign-ins, challenges and counters from the store (the
 * daemon calls it once a minute). */
int portal_housekeeping(struct portal *p);

/* assets.c */
int portal_assets_load(struct portal *p, const char *dir, struct wgotp_error *err);
void portal_assets_free(struct portal *p);
const struct portal_asset *portal_asset_find(const struct portal *p, const char *path);

/* limits.c: 0 when allowed, else the seconds to wait */
int portal_limits_new(struct portal_limits **out);
void portal_limits_free(struct portal_limits *l);
int portal_limits_hit(struct portal_limits *l, const char *client, int64_t now, int limit);

#endif
