// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wgotpctl init [--prefix DIR] [--interface IF] [--group GROUP]
 *
 * A complete, working configuration: DIR/wgotp.conf, DIR/server.key,
 * DIR/users.json (empty), a state directory and the directory of the
 * activator's socket. With --prefix everything lives under DIR and the
 * file names paths relative to itself; without, the system layout
 * (/etc/wgotp, /var/lib/wgotp, /run/wgotp). Modes do not depend on the
 * umask; nothing that exists is overwritten. Prints the wgotp.conf path.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "encoding.h"
#include "secret.h"

#define SERVER_KEY_BYTES 32

struct layout {
	char conf[PATH_MAX];
	char key[PATH_MAX];
	char users[PATH_MAX];
	char state_dir[PATH_MAX];
	char run_dir[PATH_MAX];
	/* as written into wgotp.conf */
	const char *w_key, *w_users, *w_store, *w_socket;
	char abs_socket[PATH_MAX];
	gid_t gid;			/* (gid_t)-1: leave the group alone */
};

static int path_join(char *out, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return ctl_fail(CTL_FAIL, "%s/%s: path too long", dir, name);
	return CTL_OK;
}

/* mkdir -p with mode 0755 for parents that do not exist. */
static int make_parents(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
		return ctl_fail(CTL_FAIL, "%s: path too long", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return ctl_fail(CTL_FAIL, "%s: mkdir: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return ctl_fail(CTL_FAIL, "%s: mkdir: %s", buf, strerror(errno));
	return CTL_OK;
}

/* A directory with exactly this mode (and group) when we create it; one
 * that exists is left as it is. */
static int make_dir(const char *path, mode_t mode, gid_t gid)
{
	if (mkdir(path, 0700) < 0) {
		if (errno == EEXIST)
			return CTL_OK;
		return ctl_fail(CTL_FAIL, "%s: mkdir: %s", path, strerror(errno));
	}
	if ((gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, mode) < 0)
		return ctl_fail(CTL_FAIL, "%s: %s", path, strerror(errno));
	return CTL_OK;
}

/* A new file (never an existing one) with exactly this mode and group. */
static int write_new(const char *path, mode_t mode, gid_t gid, const char *text, size_t len)
{
	ssize_t n;
	size_t off = 0;
	int fd, status = CTL_FAIL;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ctl_fail(CTL_FAIL, "%s: %s", path, strerror(errno));
	if ((gid != (gid_t)-1 && fchown(fd, (uid_t)-1, gid) < 0) || fchmod(fd, mode) < 0) {
		ctl_fail(CTL_FAIL, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ctl_fail(CTL_FAIL, "%s: write: %s", path, strerror(errno));
			goto cleanup;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		ctl_fail(CTL_FAIL, "%s: fsync: %s", path, strerror(errno));
		goto cleanup;
	}
	status = CTL_OK;
cleanup:
	if (close(fd) < 0 && status == CTL_OK)
		status = ctl_fail(CTL_FAIL, "%s: close: %s", path, strerror(errno));
	if (status != CTL_OK)
		unlink(path);
	return status;
}

static int write_key(const struct layout *l)
{
	uint8_t key[SERVER_KEY_BYTES];
	char hex[2 * SERVER_KEY_BYTES + 2];
	int status = CTL_FAIL;

	if (wgotp_random(key, sizeof(key)) < 0) {
		ctl_fail(CTL_FAIL, "no random bytes for the server key");
		goto cleanup;
	}
	wgotp_hex_encode(key, sizeof(key), hex);
	strcat(hex, "\n");
	status = write_new(l->key, 0640, l->gid, hex, strlen(hex));
cleanup:
	wgotp_wipe(key, sizeof(key));
	wgotp_wipe(hex, sizeof(hex));
	return status;
}

static bool user_exists(const char *name)
{
	return getpwnam(name) != NULL;
}

static int write_conf(const struct layout *l, const char *iface, const char *group)
{
	char *text = NULL;
	int n, status;

	n = asprintf(&text,
		     "# wgotp.conf, written by wgotpctl init. Every key and its default:\n"
		     "# wgotp.conf(5). Relative paths are taken from this file's directory.\n"
		     "\n"
		     "[General]\n"
		     "Directory = %s\n"
		     "ServerKeyFile = %s\n"
		     "Issuer = wgotp\n"
		     "# syslog, stderr or a file\n"
		     "AuditLog = syslog\n"
		     "\n"
		     "[Store]\n"
		     "Backend = sqlite\n"
		     "Path = %s\n"
		     "\n"
		     "[Session]\n"
		     "DefaultDuration = 8h\n"
		     "MaxDuration = 24h\n"
		     "Durations = 4h, 8h, 12h, 24h\n"
		     "\n"
		     "[Activator]\n"
		     "Socket = %s\n"
		     "Interface = %s\n"
		     "# Who may ask wg-activator for sessions: FreeRADIUS runs as freerad,\n"
		     "# sshd (PAM) and wgotpctl as root.\n"
		     "AllowedUsers = root%s\n"
		     "AllowedGroups =%s%s\n"
		     "\n"
		     "[Mail]\n"
		     "# graph, smtp or sendmail to send codes to email users; see wgotp.conf(5)\n"
		     "Transport = none\n",
		     l->w_users, l->w_key, l->w_store, l->w_socket, iface,
		     user_exists("freerad") ? ", freerad" : "", group ? " " : "", group ? group : "");
	if (n < 0)
		return ctl_fail(CTL_FAIL, "out of memory");
	status = write_new(l->conf, 0644, l->gid, text, (size_t)n);
	free(text);
	return status;
}

static bool iface_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 16 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++) {
		if (*s == '/' || *s == ':' || (unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	}
	return true;
}

int cmd_init(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "interface", required_argument, NULL, 'i' },
		{ "group", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prefix = NULL, *iface = "wg0", *group = NULL;
	const char *existing[3];
	char base[PATH_MAX];
	struct layout l = { .gid = (gid_t)-1 };
	struct stat st;
	struct group *gr;
	int c, status;

	ctl_getopt_reset();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p': prefix = optarg; break;
		case 'i': iface = optarg; break;
		case 'g': group = optarg; break;
		default: return ctl_bad_option(argv);
		}
	}
	if (optind != argc)
		return ctl_usage("unexpected argument \"%s\"", argv[optind]);
	if (prefix && !*prefix)
		return ctl_usage("--prefix needs a directory");
	if (!iface_valid(iface))
		return ctl_usage("--interface: \"%s\" is not an interface name", iface);
	if (group) {
		gr = getgrnam(group);
		if (!gr)
			return ctl_fail(CTL_FAIL, "--group: no such group \"%s\"", group);
		l.gid = gr->gr_gid;
	}

	if (prefix) {
		status = make_parents(prefix);
		if (status != CTL_OK)
			return status;
		if (!realpath(prefix, base))
			return ctl_fail(CTL_FAIL, "%s: %s", prefix, strerror(errno));
		if (path_join(l.state_dir, base, "state") || path_join(l.run_dir, base, "run") ||
		    path_join(l.abs_socket, base, "run/activator.sock"))
			return CTL_FAIL;
		l.w_key = "server.key";
		l.w_users = "users.json";
		l.w_store = "state/state.db";
		l.w_socket = "run/activator.sock";
	} else {
		snprintf(base, sizeof(base), "/etc/wgotp");
		snprintf(l.state_dir, sizeof(l.state_dir), "/var/lib/wgotp");
		snprintf(l.run_dir, sizeof(l.run_dir), "/run/wgotp");
		snprintf(l.abs_socket, sizeof(l.abs_socket), "/run/wgotp/activator.sock");
		l.w_key = "/etc/wgotp/server.key";
		l.w_users = "/etc/wgotp/users.json";
		l.w_store = "/var/lib/wgotp/state.db";
		l.w_socket = l.abs_socket;
	}
	if (path_join(l.conf, base, "wgotp.conf") || path_join(l.key, base, "server.key") ||
	    path_join(l.users, base, "users.json"))
		return CTL_FAIL;
	if (strlen(l.abs_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return ctl_fail(CTL_FAIL, "%s: too long for a Unix socket path: choose a shorter --prefix",
				l.abs_socket);

	/* Nothing is written when any part of a configuration is there. */
	existing[0] = l.conf;
	existing[1] = l.key;
	existing[2] = l.users;
	for (size_t i = 0; i < 3; i++) {
		if (lstat(existing[i], &st) == 0)
			return ctl_fail(CTL_FAIL, "%s exists: refusing to overwrite a configuration",
					existing[i]);
	}
	if (!prefix) {
		status = make_parents(base);
		if (status != CTL_OK)
			return status;
	}
	/* setgid: the store and its -wal/-shm files, whoever creates them
	 * (root's wg-activator, freerad's FreeRADIUS), belong to the group. */
	status = make_dir(l.state_dir, l.gid != (gid_t)-1 ? 02770 : 0770, l.gid);
	if (status == CTL_OK)
		status = make_dir(l.run_dir, 0750, l.gid);
	if (status == CTL_OK)
		status = write_key(&l);
	if (status == CTL_OK) {
		static const char empty[] = "{\n  \"version\": 1,\n  \"users\": {}\n}\n";

		status = write_new(l.users, 0640, l.gid, empty, sizeof(empty) - 1);
	}
	/* Last: a wgotp.conf that exists names files that exist. */
	if (status == CTL_OK)
		status = write_conf(&l, iface, group);
	if (status != CTL_OK) {
		/* Checked absent above: what is there now is ours. */
		unlink(l.users);
		unlink(l.key);
		return status;
	}
	printf("%s\n", l.conf);
	return CTL_OK;
}
