// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Measurements for wg-activator (driven by the *.sh scripts next to this
 * file; prints figures, asserts nothing):
 *
 *   act_bench users FILE PREFIX N         users.json with N users, one device
 *                                         each (random key, 10.x.y.z/32)
 *   act_bench latency CONF PREFIX N       activate N users one after another
 *                                         through lib/activator_client.c;
 *                                         request -> reply (the daemon replies
 *                                         once the peer is on the interface)
 *   act_bench expiry CONF PREFIX N        activate N users with durations
 *                                         2..5 s, then watch the interface
 *                                         (UAPI, every 2 ms) and report how
 *                                         late each peer left after its expiry
 *   act_bench seed CONF PREFIX N T K      store N live sessions directly, K of
 *                                         them expiring at T, the rest in 1 h
 *   act_bench watch CONF K T              wait until the first K users' peers
 *                                         are gone; print the lateness vs T
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "activator_client.h"
#include "conf.h"
#include "directory.h"
#include "encoding.h"
#include "secret.h"
#include "store.h"
#include "wg.h"

/* the UAPI backend, to watch the interface without a process per look */
#include "wg.c"
#include "wg_uapi.c"
const struct wg_ops wg_cli_ops = { .name = "wg" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, size_t n, const char *unit, double scale)
{
	double sum = 0;

	if (!n) {
		printf("%s: no samples\n", what);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_d);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	printf("%s: n=%zu  p50=%.3f %s  p99=%.3f %s  max=%.3f %s  mean=%.3f %s\n", what, n,
	       v[n / 2] * scale, unit, v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] * scale, unit,
	       v[n - 1] * scale, unit, sum / n * scale, unit);
}

/* The deterministic key of user i (so every subcommand agrees). */
static void key_of(unsigned int i, uint8_t key[WGOTP_KEY_LEN])
{
	for (int k = 0; k < WGOTP_KEY_LEN; k++)
		key[k] = (uint8_t)((i * 2654435761u) >> (k % 4 * 8)) ^ (uint8_t)(k * 37 + 11);
	key[0] = (uint8_t)i;
	key[1] = (uint8_t)(i >> 8);
	key[2] = (uint8_t)(i >> 16);
	key[31] = 0x42;
}

static int cmd_users(const char *file, const char *prefix, unsigned int n)
{
	FILE *f = fopen(file, "w");
	char b64[WGOTP_KEY_B64_LEN + 1];
	uint8_t key[WGOTP_KEY_LEN];

	if (!f)
		return 1;
	fprintf(f, "{ \"version\": 1, \"users\": {\n");
	for (unsigned int i = 1; i <= n; i++) {
		key_of(i, key);
		wgotp_key_to_base64(b64, key);
		fprintf(f, "%s\"%s%u@example.com\": { \"method\": \"totp\", \"totp_state\": \"none\", "
			"\"enabled\": true, \"require_otp\": true, \"devices\": [ { \"name\": \"d\", "
			"\"public_key\": \"%s\", \"allowed_ips\": [\"10.%u.%u.%u/32\"] } ] }\n",
			i > 1 ? "," : "", prefix, i, b64, 100 + i / 65536, (i / 256) % 256, i % 256);
	}
	fprintf(f, "} }\n");
	return fclose(f) ? 1 : 0;
}

static int cmd_latency(const struct wgotp_config *cfg, const char *prefix, unsigned int n)
{
	double *lat = calloc(n, sizeof(*lat));
	struct wgotp_error err;
	char user[128];
	size_t got = 0;

	for (unsigned int i = 1; i <= n; i++) {
		int64_t exp;
		double t0;

		snprintf(user, sizeof(user), "%s%u@example.com", prefix, i);
		t0 = now_s();
		if (wgotp_activator_activate(cfg, user, NULL, NULL, 3600, "admin", &exp, &err) < 0) {
			fprintf(stderr, "activate %s: %s\n", user, err.msg);
			continue;
		}
		lat[got++] = now_s() - t0;
	}
	report("activation latency (request -> peer on the interface)", lat, got, "ms", 1e3);
	free(lat);
	return got == n ? 0 : 1;
}

/* Poll the interface until every key in keys[] is gone; gone_at[i] set. */
static int watch(const struct wgotp_config *cfg, uint8_t (*keys)[WGOTP_KEY_LEN], size_t n,
		 double *gone_at, double give_up)
{
	struct wg *wg = NULL;
	struct wgotp_error err;
	size_t left = n;
	int ret;

	ret = wg_uapi_ops.open(cfg, (void **)&wg, &err);
	if (ret < 0) {
		fprintf(stderr, "uapi: %s\n", err.msg);
		return ret;
	}
	for (size_t i = 0; i < n; i++)
		gone_at[i] = 0;
	while (left && now_s() < give_up) {
		struct wg_peer_list pl = { 0 };
		double t;

		ret = wg_uapi_ops.list(wg, &pl, &err);
		t = now_s();
		if (ret < 0) {
			fprintf(stderr, "uapi: %s\n", err.msg);
			break;
		}
		for (size_t i = 0; i < n; i++) {
			bool present = false;

			if (gone_at[i])
				continue;
			for (size_t k = 0; k < pl.n && !present; k++)
				present = !memcmp(pl.keys[k], keys[i], WGOTP_KEY_LEN);
			if (!present) {
				gone_at[i] = t;
				left--;
			}
		}
		wg_peer_list_free(&pl);
		usleep(2000);
	}
	wg_uapi_ops.close(wg);
	return left ? -ETIMEDOUT : 0;
}

static int cmd_expiry(const struct wgotp_config *cfg, const char *prefix, unsigned int n)
{
	static const int64_t durs[] = { 2, 3, 4, 5 };
	uint8_t (*keys)[WGOTP_KEY_LEN] = calloc(n, WGOTP_KEY_LEN);
	int64_t *expires = calloc(n, sizeof(*expires));
	double *gone = calloc(n, sizeof(*gone)), *late = calloc(n, sizeof(*late));
	struct wgotp_error err;
	char user[128];
	int64_t last = 0;
	int ret;

	for (unsigned int i = 0; i < n; i++) {
		snprintf(user, sizeof(user), "%s%u@example.com", prefix, i + 1);
		key_of(i + 1, keys[i]);
		if (wgotp_activator_activate(cfg, user, NULL, NULL, durs[i % 4], "admin", &expires[i],
					     &err) < 0) {
			fprintf(stderr, "activate %s: %s\n", user, err.msg);
			return 1;
		}
		if (expires[i] > last)
			last = expires[i];
	}
	ret = watch(cfg, keys, n, gone, (double)last + 30);
	for (unsigned int i = 0; i < n; i++)
		late[i] = gone[i] - (double)expires[i];
	report("expiry lateness (peer gone - expiry; watched every ~2 ms plus a UAPI get)", late, n,
	       "ms", 1e3);
	return ret < 0;
}

static int cmd_seed(const struct wgotp_config *cfg, const char *prefix, unsigned int n,
		    int64_t t, unsigned int k)
{
	struct wgotp_store *st = NULL;
	struct wgotp_error err;
	struct wgotp_session s;
	uint8_t key[WGOTP_KEY_LEN];
	int64_t now = (int64_t)now_s();

	if (wgotp_store_open(cfg, &st, &err) < 0) {
		fprintf(stderr, "store: %s\n", err.msg);
		return 1;
	}
	for (unsigned int i = 1; i <= n; i++) {
		memset(&s, 0, sizeof(s));
		snprintf(s.user, sizeof(s.user), "%s%u@example.com", prefix, i);
		snprintf(s.device, sizeof(s.device), "d");
		key_of(i, key);
		wgotp_key_to_base64(s.public_key, key);
		snprintf(s.allowed_ips, sizeof(s.allowed_ips), "10.%u.%u.%u/32", 100 + i / 65536,
			 (i / 256) % 256, i % 256);
		s.created = now;
		s.expires = i <= k ? t : now + 3600;
		snprintf(s.origin, sizeof(s.origin), "admin");
		if (st->ops->session_put(st->state, &s) < 0) {
			fprintf(stderr, "session_put failed\n");
			return 1;
		}
	}
	wgotp_store_close(st);
	return 0;
}

static int cmd_watch(const struct wgotp_config *cfg, unsigned int k, int64_t t)
{
	uint8_t (*keys)[WGOTP_KEY_LEN] = calloc(k, WGOTP_KEY_LEN);
	double *gone = calloc(k, sizeof(*gone));
	int ret;

	for (unsigned int i = 0; i < k; i++)
		key_of(i + 1, keys[i]);
	ret = watch(cfg, keys, k, gone, (double)t + 30);
	for (unsigned int i = 0; i < k; i++)
		gone[i] -= (double)t;
	report("same-second expiry lateness (peer gone - expiry)", gone, k, "ms", 1e3);
	return ret < 0;
}

int main(int argc, char **argv)
{
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err;

	if (argc >= 5 && !strcmp(argv[1], "users"))
		return cmd_users(argv[2], argv[3], (unsigned int)atoi(argv[4]));
	if (argc < 4) {
		fprintf(stderr, "usage: see the top of tests/bench/act_bench.c\n");
		return 2;
	}
	if (wgotp_config_load(argv[2], &cfg, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 2;
	}
	if (!strcmp(argv[1], "latency") && argc >= 5)
		return cmd_latency(cfg, argv[3], (unsigned int)atoi(argv[4]));
	if (!strcmp(argv[1], "expiry") && argc >= 5)
		return cmd_expiry(cfg, argv[3], (unsigned int)atoi(argv[4]));
	if (!strcmp(argv[1], "seed") && argc >= 7)
		return cmd_seed(cfg, argv[3], (unsigned int)atoi(argv[4]), atoll(argv[5]),
				(unsigned int)atoi(argv[6]));
	if (!strcmp(argv[1], "watch") && argc >= 5)
		return cmd_watch(cfg, (unsigned int)atoi(argv[3]), atoll(argv[4]));
	fprintf(stderr, "usage: see the top of tests/bench/act_bench.c\n");
	return 2;
}
