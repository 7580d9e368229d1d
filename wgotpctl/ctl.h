/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotpctl: what the commands share. Every command returns an exit
 * status: CTL_OK, CTL_USAGE (bad command line) or CTL_FAIL (anything
 * else), and says what went wrong in one line on stderr ("wgotpctl: ...").
 */
#ifndef WGOTPCTL_CTL_H
#define WGOTPCTL_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "error.h"
#include "store.h"

enum ctl_status {
	CTL_OK = 0,
	CTL_USAGE = 1,
	CTL_FAIL = 2,
};

struct ctl {
	const char *conf_arg;		/* -c FILE, or NULL */
	bool json;			/* --json */
	struct wgotp_config *cfg;	/* once ctl_config() succeeded */
};

struct ctl_cmd {
	const char *name;
	int (*run)(struct ctl *ctl, int argc, char **argv);
	const char *usage;		/* the arguments, for "usage: wgotpctl NAME ..." */
};

/* One line on stderr, "wgotpctl: ...". Returns status. */
int ctl_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line "wgotpctl: CMD: what; usage: CMD USAGE" for the command being
 * run, and CTL_USAGE. */
int ctl_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* After getopt_long returned '?' or ':': the offending option. */
int ctl_bad_option(char **argv);

/* Dispatch argv[0] among cmds (subcommands); NULL-terminated table. */
int ctl_dispatch(struct ctl *ctl, const char *group, const struct ctl_cmd *cmds, int argc, char **argv);

/* Call before a command's first getopt_long (options may follow the
 * operands; getopt's own messages are off: use ctl_bad_option). */
void ctl_getopt_reset(void);
/* Commands whose one option is --force: parse it, leaving optind at the
 * first operand. CTL_OK or a usage status. */
int ctl_force_opt(int argc, char **argv, bool *force);

/* Load the configuration (once); CTL_OK or CTL_FAIL with the message. */
int ctl_config(struct ctl *ctl);

/* users.json under an exclusive lock on its directory (edits by two
 * wgotpctl at once are serialised). ctl_dir_open loads it; ctl_dir_commit
 * saves it atomically; ctl_dir_close releases the lock and frees. */
struct ctl_dir {
	struct wgotp_directory *dir;
	int lock_fd;
};
int ctl_dir_open(struct ctl *ctl, bool for_write, struct ctl_dir *d);
/* For user add: locked, and loaded through users.json.idx when it matches
 * (one user is read, and ctl_dir_commit appends the one user added with
 * wgotp_dir_user_add); else as ctl_dir_open. */
int ctl_dir_open_for_add(struct ctl *ctl, struct ctl_dir *d);
int ctl_dir_commit(struct ctl *ctl, struct ctl_dir *d);
void ctl_dir_close(struct ctl_dir *d);

/* The user or a one-line error ("no such user"). */
struct wgotp_user *ctl_find_user(struct ctl_dir *d, const char *email);

/* Open the state store; CTL_OK or CTL_FAIL with the message. */
int ctl_store(struct ctl *ctl, struct wgotp_store **out);

/* End the live sessions of a user (device NULL: all) before the user or
 * device goes away or is disabled. When wg-activator is not running,
 * refuses (CTL_FAIL) if the store has a live session, unless force. */
int ctl_end_sessions(struct ctl *ctl, const char *user, const char *device, bool force);

/* Before a device (NULL: all of the user's) is deleted, or its user
 * disabled: end its sessions and take its peer off the interface, also
 * when it needs no code (a permanent peer, once its device is gone, would
 * be a key reconcile never touches). For that, users.json is saved with
 * those devices needing a code while wg-activator ends the sessions;
 * their setting is then put back in memory, for the caller's own save.
 * On failure users.json is saved back as it was. CTL_OK or CTL_FAIL. */
int ctl_retire(struct ctl *ctl, struct ctl_dir *d, struct wgotp_user *u, const char *device, bool force);

/* After users.json was saved with a change of a device's 2FA (was: did it
 * need a code before; a new device: true): a device that needs no code now
 * goes onto the interface at once, one that needs a code again leaves it
 * (unless a session is live). wg-activator's reconcile would do the same
 * within [Activator] ReconcileInterval: a daemon that does not answer is a
 * warning only. */
void ctl_apply_device_otp(struct ctl *ctl, const struct wgotp_user *u, const struct wgotp_device *d,
			  bool was);

/* Route the library's log: errors and warnings to stderr, audit lines to
 * [General] AuditLog (syslog, stderr or a file). */
void ctl_log_init(void);
void ctl_log_config(const struct wgotp_config *cfg);

/* "3h05m", "42s". */
void ctl_fmt_left(int64_t seconds, char *buf, size_t len);
/* A duration as an admin writes it: "4h", "90m", "24h", "2d". */
void ctl_fmt_duration(int64_t seconds, char *buf, size_t len);
/* Local time "2025-01-31 18:00:00"; utc: "2025-01-31T17:00:00Z". */
void ctl_fmt_time(int64_t t, bool utc, char *buf, size_t len);

const char *ctl_method_str(enum wgotp_method m);
const char *ctl_totp_state_str(enum wgotp_totp_state s);

/* The commands. */
int cmd_init(struct ctl *ctl, int argc, char **argv);
int cmd_user(struct ctl *ctl, int argc, char **argv);
int cmd_device(struct ctl *ctl, int argc, char **argv);
int cmd_totp(struct ctl *ctl, int argc, char **argv);
int cmd_invite(struct ctl *ctl, int argc, char **argv);
/* A new invitation for EMAIL (cmd_invite.c), mailed or printed. */
int ctl_invite(struct ctl *ctl, const char *email, bool print);
int cmd_sessions(struct ctl *ctl, int argc, char **argv);
int cmd_activate(struct ctl *ctl, int argc, char **argv);
int cmd_deactivate(struct ctl *ctl, int argc, char **argv);
int cmd_mail_test(struct ctl *ctl, int argc, char **argv);
int cmd_check_config(struct ctl *ctl, int argc, char **argv);
int cmd_sync(struct ctl *ctl, int argc, char **argv);

#endif
