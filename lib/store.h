/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The state store: one interface, two backends (sqlite, redis). It holds
 * what must be shared by every process and server: pending challenges,
 * the last TOTP step per user, failure and mail-send counters, sessions,
 * and the mail token cache. Every read-modify-write is atomic. Time is
 * always passed in (`now`, seconds since the epoch): the store has no
 * clock of its own, so tests run at exact instants.
 *
 * Every function returns 0 or a negative errno; -EIO (or -EBUSY after the
 * busy timeout) means the store could not be reached or written: the
 * caller fails closed.
 */
#ifndef WGOTP_STORE_H
#define WGOTP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "error.h"
#include "otp.h"

#define WGOTP_CHALLENGE_ID_LEN 32	/* hex of 16 random bytes */
#define WGOTP_ORIGIN_MAX 16

struct wgotp_challenge {
	char id[WGOTP_CHALLENGE_ID_LEN + 1];
	char user[WGOTP_EMAIL_MAX + 1];		/* lower case */
	enum wgotp_method method;
	bool decoy;			/* unknown user: can never succeed */
	uint8_t code_mac[WGOTP_MAC_LEN];	/* email: HMAC of the code; else zero */
	int64_t created;
	int64_t expires;
	int tries;			/* answers already checked */
	int64_t duration;		/* session length asked for (0: default) */
	char device[WGOTP_KEY_B64_LEN + 1];	/* public key asked for, or "" */
	char origin[WGOTP_ORIGIN_MAX];	/* "radius", "pam", "admin" */
};

struct wgotp_session {
	char user[WGOTP_EMAIL_MAX + 1];
	char device[WGOTP_DEVICE_NAME_MAX + 1];
	char public_key[WGOTP_KEY_B64_LEN + 1];
	char allowed_ips[512];		/* "10.8.0.2/32,fd00::2/128" */
	int64_t created;
	int64_t expires;
	char origin[WGOTP_ORIGIN_MAX];
};

struct wgotp_store;

/* One TOTP code offered for a user (wgotp_store_totp_attempt). */
struct wgotp_totp_attempt {
	const char *user;		/* the replay step's key */
	const char *fail_key;		/* the user's failure counter */
	const uint64_t *steps;		/* the window's steps the code matches, ascending */
	size_t n_steps;			/* 0: a wrong code (or a decoy's) */
	int64_t now;
	int64_t window;			/* [RateLimit] Window */
	int64_t max_failures;		/* [RateLimit] MaxFailures */
};

/* Called for each session; a non-zero return stops the walk and is
 * returned by session_list. */
typedef int (*wgotp_session_cb)(void *arg, const struct wgotp_session *s);

struct wgotp_store_ops {
	const char *name;
	int (*open)(const struct wgotp_config *cfg, void **state, struct wgotp_error *err);
	void (*close)(void *state);

	/* Challenges. put fails with -EEXIST on a duplicate id. */
	int (*challenge_put)(void *st, const struct wgotp_challenge *c);
	/* Atomically: if the challenge exists, has not expired and has had
	 * fewer than max_tries answers, count this answer and copy it out
	 * (tries already incremented). -ENOENT unknown, -ETIME expired,
	 * -EMLINK tries used up (the challenge is then deleted). */
	int (*challenge_try)(void *st, const char *id, int64_t now, int max_tries,
			     struct wgotp_challenge *out);
	/* The newest live challenge of a user with this method, for resending
	 * limits: -ENOENT when there is none. */
	int (*challenge_latest)(void *st, const char *user, enum wgotp_method method,
				int64_t now, struct wgotp_challenge *out);
	int (*challenge_del)(void *st, const char *id);
	/* Remove expired challenges, counters and cache entries. */
	int (*expire)(void *st, int64_t now);

	/* TOTP replay: atomically, if step > the stored step (or none),
	 * store step and return 0; else -EALREADY. */
	int (*totp_use_step)(void *st, const char *user, uint64_t step);
	int (*totp_last_step)(void *st, const char *user, uint64_t *step);	/* 0 if none */
	/* One TOTP attempt as one atomic operation (wgotp_store_totp_attempt
	 * below); NULL, or -ENOTSUP for a call, where the backend cannot. */
	int (*totp_attempt)(void *st, const struct wgotp_totp_attempt *a, uint64_t *used);

	/* Fixed-window counters (rate limits). hit: atomically, start a new
	 * window of `window` seconds if the current one is over, add 1, and
	 * return the count in the window. get: the count (0 if none or over). */
	int (*counter_hit)(void *st, const char *key, int64_t now, int64_t window, int64_t *count);
	/* take: the same, but only while the window counts fewer than limit
	 * (>= 1): otherwise nothing is added, *count is the count and the
	 * result -EDQUOT. A slot reserved before the work it limits, so that
	 * concurrent callers never get past the limit together. */
	int (*counter_take)(void *st, const char *key, int64_t now, int64_t window, int64_t limit,
			    int64_t *count);
	int (*counter_get)(void *st, const char *key, int64_t now, int64_t *count);
	int (*counter_reset)(void *st, const char *key);

	/* Sessions, keyed by (user, device). put replaces. */
	int (*session_put)(void *st, const struct wgotp_session *s);
	int (*session_get)(void *st, const char *user, const char *device, struct wgotp_session *out);
	int (*session_del)(void *st, const char *user, const char *device);
	int (*session_list)(void *st, wgotp_session_cb cb, void *arg);

	/* Small shared cache (mail tokens). get: -ENOENT if absent or expired;
	 * *val is malloc'ed, NUL-terminated, freed by the caller (wipe it). */
	int (*kv_put)(void *st, const char *key, const char *val, int64_t expires);
	int (*kv_get)(void *st, const char *key, int64_t now, char **val);
	int (*kv_del)(void *st, const char *key);
	/* Get and delete in one atomic step: of two callers that take the same
	 * key, one gets the value and the other -ENOENT. -ENOENT also if absent
	 * or expired (an expired entry is deleted all the same). *val as for
	 * kv_get. Single-use tokens (the PAM grant, pam_wgotp/grant.c). */
	int (*kv_take)(void *st, const char *key, int64_t now, char **val);
};

struct wgotp_store {
	const struct wgotp_store_ops *ops;
	void *state;
};

extern const struct wgotp_store_ops wgotp_store_sqlite_ops;
#ifdef HAVE_REDIS
extern const struct wgotp_store_ops wgotp_store_redis_ops;
#endif

/*
 * A TOTP code, judged and recorded in one step: when the user's failures
 * in the window already reach max_failures, -EDQUOT and nothing changes
 * (refused unjudged); else the lowest of steps above the stored step is
 * stored, the failures are cleared, *used is that step and the result 0;
 * else the failure is counted and the result is -EALREADY when the code
 * matched only used steps (a replay) or -EACCES (no match). Whatever the
 * concurrency, a burst of guesses gets max_failures judged and a code one
 * session. Backends do it in one lock cycle (SQLite's counter table) or
 * one script (Redis); elsewhere the same rules come from counter_take,
 * totp_use_step and counter_reset, each atomic.
 */
int wgotp_store_totp_attempt(struct wgotp_store *st, const struct wgotp_totp_attempt *a,
			     uint64_t *used);

/* Open the backend the configuration names. */
int wgotp_store_open(const struct wgotp_config *cfg, struct wgotp_store **out, struct wgotp_error *err);
void wgotp_store_close(struct wgotp_store *s);

#endif
