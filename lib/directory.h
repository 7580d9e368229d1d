/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The directory of users: users.json, written atomically by wgotpctl,
 * read by every other part. Format:
 *
 * { "version": 1,
 *   "users": {
 *     "alice@example.com": {
 *       "name": "Alice Example",
 *       "group": "staff",			// optional: [Group staff] limits
 *       "method": "totp",			// "totp" | "email"
 *       "totp_secret": "JBSWY3DPEHPK3PXP",	// base32, only for totp
 *       "totp_state": "active",		// "none" | "pending" | "active"
 *       "enabled": true,
 *       "require_otp": true,		// the default of devices without "otp"
 *       "synced": "member",		// optional: kept by "wgotpctl sync entra":
 *					// "member" | "left" (disabled by the sync)
 *       "devices": [
 *         { "name": "laptop", "public_key": "<44 chars base64>",
 *           "allowed_ips": ["10.8.0.2/32", "fd00::2/128"],
 *           "otp": "none" } ] } } }	// optional: "required" | "none"
 *
 * A device with "otp": "none" is permanent (always on the interface while
 * its user is enabled); "required" is added only after a code; without
 * "otp" the user's require_otp decides (files older than per-device 2FA
 * keep their meaning).
 *
 * Emails are the keys, lower-cased. Load validates everything: a user or
 * device that fails validation fails the whole load, naming the user.
 */
#ifndef WGOTP_DIRECTORY_H
#define WGOTP_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "encoding.h"
#include "error.h"

#define WGOTP_EMAIL_MAX 254
#define WGOTP_DEVICE_NAME_MAX 64
#define WGOTP_TOTP_SECRET_MAX 64	/* bytes, decoded */

enum wgotp_method {
	WGOTP_METHOD_TOTP,
	WGOTP_METHOD_EMAIL,
};

enum wgotp_totp_state {
	WGOTP_TOTP_NONE,
	WGOTP_TOTP_PENDING,	/* enrolled, not yet confirmed with a code */
	WGOTP_TOTP_ACTIVE,
};

/* A device's own 2FA setting; INHERIT: the user's require_otp. */
enum wgotp_dev_otp {
	WGOTP_DEV_OTP_INHERIT,
	WGOTP_DEV_OTP_REQUIRED,
	WGOTP_DEV_OTP_NONE,
};

/* Users that wgotpctl sync entra manages. */
enum wgotp_sync {
	WGOTP_SYNC_NONE,	/* not synced: the sync never touches it */
	WGOTP_SYNC_MEMBER,	/* added by the sync, in the group at the last run */
	WGOTP_SYNC_LEFT,	/* disabled by the sync: left the group */
};

struct wgotp_device {
	char *name;
	char public_key[WGOTP_KEY_B64_LEN + 1];
	uint8_t key[WGOTP_KEY_LEN];
	struct wgotp_cidr *allowed_ips;
	size_t n_allowed_ips;
	enum wgotp_dev_otp otp;
};

/* A pending invitation to enrol (lib/invite.h); mac[0] == 0: none. */
struct wgotp_invite {
	char mac[65];			/* hex HMAC of the token */
	int64_t expires;
	bool opened;			/* the secret was handed out once */
	int tries;			/* wrong codes so far */
};

struct wgotp_user {
	char *email;			/* lower case */
	char *name;			/* may be NULL */
	char *group;			/* [Group NAME] in wgotp.conf, or NULL */
	enum wgotp_method method;
	char *totp_secret;		/* base32, NULL unless enrolled */
	enum wgotp_totp_state totp_state;
	bool enabled;
	bool require_otp;
	struct wgotp_device *devices;
	size_t n_devices;
	enum wgotp_sync sync;
	struct wgotp_invite invite;	/* "invite", written by wgotpctl and wgotp-dird */
};

/* Does this device need a code before it goes onto the interface? */
static inline bool wgotp_device_needs_otp(const struct wgotp_user *u, const struct wgotp_device *d)
{
	return d->otp == WGOTP_DEV_OTP_INHERIT ? u->require_otp : d->otp == WGOTP_DEV_OTP_REQUIRED;
}

struct wgotp_directory {
	struct wgotp_user *users;	/* sorted by email */
	size_t n_users;
	struct wgotp_dirindex *index;	/* read through users.json.idx (dirindex.h), users on demand */
};

/* Load and validate. A missing file is -ENOENT. */
int wgotp_dir_load(const char *path, struct wgotp_directory **out, struct wgotp_error *err);
/* Parse from memory (name for messages). Fuzz target entry. */
int wgotp_dir_parse(const char *name, const char *json, size_t len,
		    struct wgotp_directory **out, struct wgotp_error *err);
/* Validate again (after edits) and write atomically: a temporary file in
 * the same directory, fsync, rename, fsync of the directory; mode 0640. */
int wgotp_dir_save(const struct wgotp_directory *dir, const char *path, struct wgotp_error *err);
struct wgotp_directory *wgotp_dir_new(void);
void wgotp_dir_free(struct wgotp_directory *dir);	/* wipes secrets */

/* Case-insensitive; NULL when absent. */
struct wgotp_user *wgotp_dir_find(const struct wgotp_directory *dir, const char *email);
/* The device with this base64 public key, and its owner, or NULL. */
struct wgotp_device *wgotp_dir_find_key(const struct wgotp_directory *dir, const char *public_key,
					struct wgotp_user **owner);
struct wgotp_device *wgotp_user_find_device(const struct wgotp_user *u, const char *name);

/* Edits (used by wgotpctl); each validates its input and refuses
 * duplicates: -EEXIST, -ENOENT, -EINVAL with err set. */
int wgotp_dir_user_add(struct wgotp_directory *dir, const char *email, enum wgotp_method method,
		       const char *name, bool require_otp, struct wgotp_error *err);
int wgotp_dir_user_del(struct wgotp_directory *dir, const char *email, struct wgotp_error *err);
int wgotp_dir_device_add(struct wgotp_directory *dir, const char *email, const char *name,
			 const char *public_key, const char *allowed_ips /* "a/32,b/128" */,
			 struct wgotp_error *err);
/* Rename a device (the new name valid and unused): -ENOENT, -EEXIST, -EINVAL. */
int wgotp_dir_device_rename(struct wgotp_directory *dir, const char *email, const char *old_name,
			    const char *new_name, struct wgotp_error *err);
int wgotp_dir_device_del(struct wgotp_directory *dir, const char *email, const char *name,
			 struct wgotp_error *err);
/* Replace the user's TOTP secret (base32, NULL to clear) and state. */
int wgotp_user_set_totp(struct wgotp_user *u, const char *secret_b32, enum wgotp_totp_state st);

/* Validation helpers, shared with the front ends. */
bool wgotp_email_valid(const char *email);
bool wgotp_device_name_valid(const char *name);
/* "a***e@example.com": first and last character of the local part. */
void wgotp_email_mask(const char *email, char *out, size_t outlen);

/*
 * A directory that reloads itself when users.json changes (inode, size,
 * mtime), safe to share between threads: wgotp_dir_cache_get() returns a
 * reference to an immutable snapshot, released with wgotp_dir_cache_put().
 * When a reload fails the previous snapshot stays in use and the error is
 * logged once.
 */
struct wgotp_dir_cache;
int wgotp_dir_cache_new(const char *path, struct wgotp_dir_cache **out, struct wgotp_error *err);
/* The same, whose snapshots read users through users.json.idx when it
 * matches the file (dirindex.h): wgotp_dir_find and wgotp_dir_find_key
 * only, no walking of users[] (n_users is 0). For the login flow. */
int wgotp_dir_cache_new_indexed(const char *path, struct wgotp_dir_cache **out,
				struct wgotp_error *err);
void wgotp_dir_cache_free(struct wgotp_dir_cache *c);
const struct wgotp_directory *wgotp_dir_cache_get(struct wgotp_dir_cache *c);
void wgotp_dir_cache_put(struct wgotp_dir_cache *c, const struct wgotp_directory *d);
/* How often users.json is stat()ed (default 1000 ms; 0: on every get).
 * For tests. */
void wgotp_dir_cache_set_interval_ms(struct wgotp_dir_cache *c, int ms);
/* Snapshots alive: the current one and replaced ones still referenced.
 * For tests. */
size_t wgotp_dir_cache_live(struct wgotp_dir_cache *c);

#endif
