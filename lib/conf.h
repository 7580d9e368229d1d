/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotp.conf: one file read by every part, in the style of WireGuard's own
 * files: [Section], Key = Value, '#' comments. Unknown sections and keys
 * and bad values are errors naming FILE:LINE and the key.
 *
 * Durations accept a number of seconds or a suffixed value (30s, 5m, 8h, 1d).
 */
#ifndef WGOTP_CONF_H
#define WGOTP_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "cidr.h"
#include "error.h"

#define WGOTP_DEFAULT_CONF "/etc/wgotp/wgotp.conf"
#define WGOTP_MAX_DURATIONS 8
#define WGOTP_MAX_ALLOWED_IDS 16
#define WGOTP_MAX_LISTEN 8
#define WGOTP_MAX_PROXIES 16

/* One [Portal] Listen address: "127.0.0.1:8443", "[::1]:8443". */
struct wgotp_listen {
	char text[64];			/* as written, for messages */
	struct sockaddr_storage addr;
	socklen_t len;
	bool loopback;			/* 127.0.0.0/8 or ::1 */
};

enum wgotp_store_backend {
	WGOTP_STORE_SQLITE,
	WGOTP_STORE_REDIS,
};

/* How activate/deactivate reach wg-activator. */
enum wgotp_activator_mode {
	WGOTP_ACTIVATOR_SOCKET,	/* the local control socket, synchronously */
	WGOTP_ACTIVATOR_REDIS,	/* a Redis stream every gateway consumes */
};

enum wgotp_mail_transport {
	WGOTP_MAIL_NONE,	/* email codes cannot be delivered */
	WGOTP_MAIL_GRAPH,
	WGOTP_MAIL_SMTP,
	WGOTP_MAIL_SENDMAIL,
};

enum wgotp_wg_backend {
	WGOTP_WG_AUTO,		/* UAPI socket if present, else wg(8) */
	WGOTP_WG_UAPI,
	WGOTP_WG_CLI,
};

enum wgotp_smtp_auth {
	WGOTP_SMTP_AUTH_NONE,
	WGOTP_SMTP_AUTH_PLAIN,	/* PLAIN or LOGIN, password from a file */
	WGOTP_SMTP_AUTH_XOAUTH2,	/* token from the Microsoft identity platform */
};

/* What an unknown user (or a disabled, unenrolled one) is made to look
 * like: pick the method most users have, so replies do not tell. */
enum wgotp_unknown_user {
	WGOTP_UNKNOWN_EMAIL,	/* a decoy email challenge (no mail is sent) */
	WGOTP_UNKNOWN_TOTP,	/* a decoy TOTP user: challenge, or reject a code */
	WGOTP_UNKNOWN_REJECT,	/* reject at once */
};

#define WGOTP_MAX_GROUPS 64
#define WGOTP_GROUP_NAME_MAX 64

/* What a [Group NAME] section sets (the rest comes from [Session]). */
enum {
	WGOTP_GROUP_DEFAULT = 1 << 0,
	WGOTP_GROUP_MAX = 1 << 1,
	WGOTP_GROUP_DURATIONS = 1 << 2,
	WGOTP_GROUP_NOT_AFTER = 1 << 3,
	WGOTP_GROUP_WARN = 1 << 4,
};

/* [Group NAME]: per-group session limits for the users whose users.json
 * entry has "group": "NAME". */
struct wgotp_group {
	char name[WGOTP_GROUP_NAME_MAX + 1];
	unsigned int set;		/* WGOTP_GROUP_* */
	int64_t session_default;	/* DefaultDuration */
	int64_t session_max;		/* MaxDuration */
	int64_t session_durations[WGOTP_MAX_DURATIONS];	/* Durations */
	int n_session_durations;
	int session_not_after;		/* NotAfter (minutes after midnight; -1 = none) */
	int64_t session_warn_before;	/* WarnBefore (0 = off) */
};

struct wgotp_tz;

struct wgotp_config {
	char *path;			/* the file this was read from */

	/* [General] */
	char *directory;		/* Directory = users.json */
	char *server_key_file;		/* ServerKeyFile = 32+ random bytes */
	char *issuer;			/* Issuer = shown in authenticator apps */
	char *audit_log;		/* AuditLog = "syslog" | "stderr" | a file path */
	enum wgotp_unknown_user unknown_user;	/* UnknownUser = email | totp | reject */

	/* [Store] */
	enum wgotp_store_backend store_backend;	/* Backend = sqlite | redis */
	char *store_path;		/* Path = /var/lib/wgotp/state.db */
	int store_busy_timeout_ms;	/* BusyTimeout = 5000 (ms) */
	int store_counter_slots;	/* CounterSlots = 262144 (sqlite: size of <Path>-counters) */
	char *redis_host;		/* RedisHost */
	int redis_port;			/* RedisPort */
	char *redis_user;		/* RedisUser (ACL) */
	char *redis_password_file;	/* RedisPasswordFile */
	int redis_timeout_ms;		/* RedisTimeout (ms) */
	char *redis_prefix;		/* RedisPrefix = "wgotp:" */
	int redis_connect_timeout_ms;	/* RedisConnectTimeout (ms) */
	char *redis_sentinels;		/* RedisSentinels = host:port, host:port */
	char *redis_master;		/* RedisMasterName (with Sentinels) */
	int redis_wait_replicas;	/* RedisWaitReplicas: WAIT after a TOTP step */

	/* [TOTP] */
	int totp_digits;		/* Digits = 6 (6..8) */
	int totp_period;		/* Period = 30 (s) */
	int totp_window;		/* Window = 1 (steps either side) */
	char *totp_algorithm;		/* Algorithm = SHA1 | SHA256 | SHA512 */

	/* [Email] */
	int email_code_length;		/* CodeLength = 6 (6..10) */
	int64_t email_code_lifetime;	/* CodeLifetime = 5m */
	int email_max_tries;		/* MaxTries = 5 */
	int64_t email_resend_interval;	/* ResendInterval = 1m */
	int email_max_per_hour;		/* MaxPerHour = 5 */

	/* [RateLimit] */
	int ratelimit_max_failures;	/* MaxFailures = 10 */
	int64_t ratelimit_window;	/* Window = 15m */

	/* [Session] */
	int64_t session_default;	/* DefaultDuration = 8h */
	int64_t session_max;		/* MaxDuration = 24h */
	int64_t session_durations[WGOTP_MAX_DURATIONS];	/* Durations = 4h, 8h, 12h, 24h */
	int n_session_durations;	/* a request is rounded down to one of these */
	int64_t challenge_lifetime;	/* ChallengeLifetime = 5m (TOTP challenges) */
	int64_t session_warn_before;	/* WarnBefore = 15m: mail before the end; 0 = off */
	int session_not_after;		/* NotAfter = 18:00 (minutes after local midnight); -1 = none */
	char *session_time_zone;	/* TimeZone = Europe/Berlin; NULL = the system's */
	struct wgotp_tz *session_tz;	/* TimeZone loaded (NULL: local time) */
	struct wgotp_group *groups;	/* [Group NAME] sections */
	int n_groups;

	/* [Network]: what wgotpctl device add writes into a client's config */
	char *net_endpoint;		/* Endpoint = vpn.example.com:51820 */
	char *net_pool;			/* AddressPool = 10.8.0.0/24, fd00:8::/64 */
	char *net_dns;			/* DNS = 10.8.0.1 */
	char *net_client_allowed_ips;	/* ClientAllowedIPs = (default: the pool) */
	int net_keepalive;		/* PersistentKeepalive = 0 (off) .. 65535 s */
	char *net_server_key;		/* ServerPublicKey = (default: from wg-activator) */

	/* [Activator] */
	char *activator_socket;		/* Socket = /run/wgotp/activator.sock */
	char *interface;		/* Interface = wg0 */
	enum wgotp_wg_backend wg_backend;	/* Backend = auto | uapi | wg */
	char *wg_uapi_dir;		/* UAPIDirectory = /var/run/wireguard */
	char *wg_command;		/* WgCommand = /usr/bin/wg */
	uid_t allowed_uids[WGOTP_MAX_ALLOWED_IDS];	/* AllowedUsers = root, freerad */
	int n_allowed_uids;
	gid_t allowed_gids[WGOTP_MAX_ALLOWED_IDS];	/* AllowedGroups = wgotp */
	int n_allowed_gids;
	int64_t reconcile_interval;	/* ReconcileInterval = 1m */
	int activator_connect_timeout_ms;	/* ConnectTimeout = 2000 */
	int activator_reply_timeout_ms;		/* ReplyTimeout = 5000 */
	enum wgotp_activator_mode activator_mode;	/* Mode = socket | redis */
	char *activator_stream;		/* Stream = wgotp:activations (Mode = redis) */
	char *gateway;			/* Gateway = this gateway's name (default: host name) */

	/* [Dird] (wgotp-dird, the users.json editor for the portal) */
	char *dird_socket;		/* Socket = /run/wgotp/dird.sock */
	uid_t dird_allowed_uids[WGOTP_MAX_ALLOWED_IDS];	/* AllowedUsers = root */
	int n_dird_allowed_uids;
	gid_t dird_allowed_gids[WGOTP_MAX_ALLOWED_IDS];	/* AllowedGroups = wgotp */
	int n_dird_allowed_gids;
	int64_t invite_lifetime;	/* InviteLifetime = 72h */

	/* [Metrics] */
	char *metrics_listen;		/* Listen = ADDRESS:PORT of wg-activator's /metrics; "" = off */
	char *metrics_file;		/* File = the login counters; "" = beside [Store] Path */

	/* [Mail] */
	enum wgotp_mail_transport mail_transport;	/* Transport = graph | smtp | sendmail | none */
	char *mail_from;		/* From = address (Graph: the sending mailbox) */
	char *mail_subject;		/* Subject = template */
	char *mail_body_file;		/* BodyFile = template file (optional) */
	char *mail_warn_subject;	/* WarnSubject = template of the warning's subject */
	char *mail_warn_body_file;	/* WarnBodyFile = template of the warning (optional) */
	int mail_timeout_ms;		/* Timeout = 8s, the whole send */
	char *mail_ca_file;		/* CAFile = extra CA bundle (tests, private CAs) */

	/* [Graph] */
	char *graph_tenant;		/* Tenant */
	char *graph_client_id;		/* ClientId */
	char *graph_client_secret_file;	/* ClientSecretFile */
	char *graph_certificate_file;	/* CertificateFile (PEM) */
	char *graph_private_key_file;	/* PrivateKeyFile (PEM) */
	char *graph_authority;		/* Authority = https://login.microsoftonline.com */
	char *graph_url;		/* URL = https://graph.microsoft.com */
	char *graph_scope;		/* Scope = https://graph.microsoft.com/.default */

	/* [SMTP] */
	char *smtp_url;			/* URL = smtp://host:587 or smtps://host:465 */
	enum wgotp_smtp_auth smtp_auth;	/* Auth = none | plain | xoauth2 */
	char *smtp_username;		/* Username */
	char *smtp_password_file;	/* PasswordFile */
	char *smtp_oauth_scope;		/* OAuthScope = https://outlook.office365.com/.default (xoauth2) */

	/* [Sendmail] */
	char *sendmail_path;		/* Path = /usr/sbin/sendmail */

	/* [Portal] (wgotp-portal) */
	struct wgotp_listen portal_listen[WGOTP_MAX_LISTEN];	/* Listen = addr:port, ... */
	int n_portal_listen;
	char *portal_cert_file;		/* CertificateFile (PEM chain) */
	char *portal_key_file;		/* PrivateKeyFile (PEM, a secret file) */
	char *portal_public_url;	/* PublicURL = https://vpn.example.com */
	struct wgotp_cidr portal_trusted_proxies[WGOTP_MAX_PROXIES];	/* TrustedProxies = CIDR, ... */
	int n_portal_trusted_proxies;
	char *portal_company;		/* CompanyName (default: [General] Issuer) */
	char *portal_assets_dir;	/* AssetsDirectory = $(pkgdatadir)/portal */
	int64_t portal_cookie_lifetime;	/* CookieLifetime = 15m */
	int portal_threads;		/* Threads = 4 */
	int portal_max_connections;	/* MaxConnections = 1024 */
	int portal_max_conn_per_ip;	/* MaxConnectionsPerIP = 64 (0: no limit) */
	int portal_max_body;		/* MaxBodySize = 4096 (bytes) */
	int64_t portal_request_timeout;	/* RequestTimeout = 10s */
	int portal_max_requests_per_ip;	/* MaxRequestsPerIP = 300 (API requests a minute; 0: off) */
	int portal_max_logins_per_user;	/* MaxLoginsPerUser = 30 (logins an hour; 0: off) */
	char *portal_metrics_listen;	/* MetricsListen = ADDRESS:PORT of its /metrics; "" = off */

	/* Not a key: the front end's choice. A process that answers one
	 * login and exits (PAM in an sshd child) reads one user through
	 * users.json.idx; one that lives (FreeRADIUS, the portal) keeps the
	 * whole directory in memory, where a lookup is a binary search. */
	bool dir_index;
};

/* Defaults only (what an empty file yields). */
int wgotp_config_defaults(struct wgotp_config **out);

/* Read and validate FILE. On error, err names FILE:LINE and the key. */
int wgotp_config_load(const char *path, struct wgotp_config **out, struct wgotp_error *err);

/* Parse from memory; name is used in messages. (Fuzz target entry.) */
int wgotp_config_parse(const char *name, const char *text, size_t len,
		       struct wgotp_config **out, struct wgotp_error *err);

void wgotp_config_free(struct wgotp_config *cfg);

/* -c FILE, else $WGOTP_CONF, else WGOTP_DEFAULT_CONF. */
const char *wgotp_config_path(const char *cli);

/* Parse "90", "30s", "5m", "8h", "1d" into seconds; -EINVAL on anything else. */
int wgotp_parse_duration(const char *s, int64_t *out);

/* Apply the session policy to a requested duration (0 = the default):
 * capped at MaxDuration and rounded down to an allowed duration, never
 * below the shortest allowed one. */
int64_t wgotp_config_session_duration(const struct wgotp_config *cfg, int64_t requested);

#endif
