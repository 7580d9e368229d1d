/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wgotp.conf parser. One table lists every key: its section, name, type,
 * bounds, default and where it lands in struct wgotp_config. Defaults are
 * parsed from the same text an admin would write, so the table is the one
 * place a key is defined.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrport.h"
#include "conf.h"
#include "encoding.h"
#include "file.h"
#include "otp.h"
#include "secret.h"
#include "tz.h"

#define CONF_MAX_SIZE (1024 * 1024)
#define CONF_MAX_LINE 4096

enum key_type {
	T_STR,		/* free text; empty = unset (NULL) */
	T_PATH,		/* a path; relative ones are taken from the file's directory */
	T_INT,		/* decimal integer within [min, max] */
	T_MS,		/* milliseconds: "500", "500ms", "8s" */
	T_DUR,		/* seconds: "90", "30s", "5m", "8h", "1d" */
	T_OPTDUR,	/* the same, or empty: 0 (off) */
	T_HHMM,		/* a local time of day "18:00", or empty: -1 (none) */
	T_DURLIST,	/* comma-separated durations */
	T_ENUM,
	T_UIDS,		/* comma-separated user names or numbers */
	T_GIDS,		/* comma-separated group names or numbers */
	T_ALG,		/* SHA1 | SHA256 | SHA512 */
	T_ADDRPORT,	/* ADDRESS:PORT, numeric ([::1]:9588); empty = unset */
	T_LISTEN,	/* comma-separated addr:port, [v6]:port (max entries in `max`) */
	T_CIDRS,	/* comma-separated prefixes (max entries in `max`) */
};

struct enum_val {
	const char *name;
	int value;
};

struct key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off;
	int64_t min, max;
	const char *def;
	const struct enum_val *enums;
};

static const struct enum_val store_backends[] = {
	{ "sqlite", WGOTP_STORE_SQLITE }, { "redis", WGOTP_STORE_REDIS }, { NULL, 0 },
};
static const struct enum_val activator_modes[] = {
	{ "socket", WGOTP_ACTIVATOR_SOCKET }, { "redis", WGOTP_ACTIVATOR_REDIS }, { NULL, 0 },
};
static const struct enum_val mail_transports[] = {
	{ "none", WGOTP_MAIL_NONE }, { "graph", WGOTP_MAIL_GRAPH },
	{ "smtp", WGOTP_MAIL_SMTP }, { "sendmail", WGOTP_MAIL_SENDMAIL }, { NULL, 0 },
};
static const struct enum_val wg_backends[] = {
	{ "auto", WGOTP_WG_AUTO }, { "uapi", WGOTP_WG_UAPI }, { "wg", WGOTP_WG_CLI }, { NULL, 0 },
};
static const struct enum_val smtp_auths[] = {
	{ "none", WGOTP_SMTP_AUTH_NONE }, { "plain", WGOTP_SMTP_AUTH_PLAIN },
	{ "xoauth2", WGOTP_SMTP_AUTH_XOAUTH2 }, { NULL, 0 },
};
static const struct enum_val unknown_users[] = {
	{ "email", WGOTP_UNKNOWN_EMAIL }, { "totp", WGOTP_UNKNOWN_TOTP },
	{ "reject", WGOTP_UNKNOWN_REJECT }, { NULL, 0 },
};

/* ---- [Network] values ---- */

static char *next_item(char **cursor);

/* "host:port", "[v6]:port": what a client's Endpoint line takes. */
static int check_endpoint(const char *v, char *why, size_t len)
{
	const char *colon = strrchr(v, ':'), *host_end = colon;
	char *end;
	long port;

	if (!colon || colon == v || !colon[1]) {
		snprintf(why, len, "\"%s\" is not host:port", v);
		return -EINVAL;
	}
	if (v[0] == '[' && (colon[-1] != ']' || colon - v < 3))
		host_end = NULL;
	else if (v[0] != '[' && memchr(v, ':', (size_t)(colon - v)))
		host_end = NULL;	/* an IPv6 address needs brackets */
	for (const char *c = v; host_end && c < host_end; c++)
		if (!isalnum((unsigned char)*c) && !strchr(".-_[]:", *c))
			host_end = NULL;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!host_end || *end || errno || port < 1 || port > 65535 || !isdigit((unsigned char)colon[1])) {
		snprintf(why, len, "\"%s\" is not host:port (an IPv6 address in brackets)", v);
		return -EINVAL;
	}
	return 0;
}

/* Comma-separated prefixes; pool: exactly one IPv4 and at most one IPv6
 * prefix, each with room for the server and a client. */
static int check_prefixes(const char *v, bool pool, char *why, size_t len)
{
	char *copy = strdup(v), *cur = copy, *item;
	struct wgotp_cidr c;
	int n4 = 0, n6 = 0, ret = 0;

	if (!copy)
		return -ENOMEM;
	while (!ret && (item = next_item(&cur))) {
		if (wgotp_cidr_parse(item, &c) < 0) {
			snprintf(why, len, "\"%s\" is not a prefix without host bits (10.8.0.0/24)", item);
			ret = -EINVAL;
		} else if (pool && ((c.family == AF_INET && (n4++ || c.prefix > 30)) ||
				    (c.family == AF_INET6 && (n6++ || c.prefix > 126)))) {
			snprintf(why, len, "one IPv4 prefix (/30 or wider) and at most one IPv6 prefix (/126 or wider)");
			ret = -EINVAL;
		}
	}
	if (!ret && pool && !n4) {
		snprintf(why, len, "needs an IPv4 prefix");
		ret = -EINVAL;
	}
	free(copy);
	return ret;
}

static int check_pool(const char *v, char *why, size_t len)
{
	return check_prefixes(v, true, why, len);
}

static int check_cidrs(const char *v, char *why, size_t len)
{
	return check_prefixes(v, false, why, len);
}

static int check_wg_key(const char *v, char *why, size_t len)
{
	uint8_t key[WGOTP_KEY_LEN];

	if (strlen(v) != WGOTP_KEY_B64_LEN || wgotp_key_from_base64(key, v) < 0) {
		snprintf(why, len, "not a WireGuard public key (44 characters of base64, wg pubkey)");
		return -EINVAL;
	}
	return 0;
}

/* DNS servers or search domains, as wg-quick's DNS line takes them. */
static int check_dns(const char *v, char *why, size_t len)
{
	for (const char *c = v; *c; c++) {
		if (!isalnum((unsigned char)*c) && !strchr(".:-_, ", *c)) {
			snprintf(why, len, "\"%s\" is not a list of addresses or domains", v);
			return -EINVAL;
		}
	}
	return 0;
}

#define F(field) offsetof(struct wgotp_config, field)
#define DAY (24 * 3600LL)
#ifndef WGOTP_PORTAL_ASSETS
#define WGOTP_PORTAL_ASSETS "/usr/share/wgotp/portal"
#endif

static const struct key keys[] = {
	{ "General", "Directory", T_PATH, F(directory), 0, 0, "/etc/wgotp/users.json", NULL },
	{ "General", "ServerKeyFile", T_PATH, F(server_key_file), 0, 0, "/etc/wgotp/server.key", NULL },
	{ "General", "Issuer", T_STR, F(issuer), 0, 0, "wgotp", NULL },
	{ "General", "AuditLog", T_STR, F(audit_log), 0, 0, "syslog", NULL },
	{ "General", "UnknownUser", T_ENUM, F(unknown_user), 0, 0, "email", unknown_users },

	{ "Store", "Backend", T_ENUM, F(store_backend), 0, 0, "sqlite", store_backends },
	{ "Store", "Path", T_PATH, F(store_path), 0, 0, "/var/lib/wgotp/state.db", NULL },
	{ "Store", "BusyTimeout", T_MS, F(store_busy_timeout_ms), 1, 60000, "5000", NULL },
	{ "Store", "CounterSlots", T_INT, F(store_counter_slots), 1024, 67108864, "262144", NULL },
	{ "Store", "RedisHost", T_STR, F(redis_host), 0, 0, "127.0.0.1", NULL },
	{ "Store", "RedisPort", T_INT, F(redis_port), 1, 65535, "6379", NULL },
	{ "Store", "RedisUser", T_STR, F(redis_user), 0, 0, "", NULL },
	{ "Store", "RedisPasswordFile", T_PATH, F(redis_password_file), 0, 0, "", NULL },
	{ "Store", "RedisTimeout", T_MS, F(redis_timeout_ms), 1, 60000, "1000", NULL },
	{ "Store", "RedisPrefix", T_STR, F(redis_prefix), 0, 0, "wgotp:", NULL },
	{ "Store", "RedisConnectTimeout", T_MS, F(redis_connect_timeout_ms), 1, 60000, "1000", NULL },
	{ "Store", "RedisSentinels", T_STR, F(redis_sentinels), 0, 0, "", NULL },
	{ "Store", "RedisMasterName", T_STR, F(redis_master), 0, 0, "mymaster", NULL },
	{ "Store", "RedisWaitReplicas", T_INT, F(redis_wait_replicas), 0, 16, "0", NULL },

	{ "TOTP", "Digits", T_INT, F(totp_digits), 6, 8, "6", NULL },
	{ "TOTP", "Period", T_INT, F(totp_period), 10, 300, "30", NULL },
	{ "TOTP", "Window", T_INT, F(totp_window), 0, 10, "1", NULL },
	{ "TOTP", "Algorithm", T_ALG, F(totp_algorithm), 0, 0, "SHA1", NULL },

	{ "Email", "CodeLength", T_INT, F(email_code_length), 6, 10, "6", NULL },
	{ "Email", "CodeLifetime", T_DUR, F(email_code_lifetime), 60, 3600, "5m", NULL },
	{ "Email", "MaxTries", T_INT, F(email_max_tries), 1, 20, "5", NULL },
	{ "Email", "ResendInterval", T_DUR, F(email_resend_interval), 0, 3600, "1m", NULL },
	{ "Email", "MaxPerHour", T_INT, F(email_max_per_hour), 1, 100, "5", NULL },

	{ "RateLimit", "MaxFailures", T_INT, F(ratelimit_max_failures), 1, 1000, "10", NULL },
	{ "RateLimit", "Window", T_DUR, F(ratelimit_window), 10, DAY, "15m", NULL },

	{ "Session", "DefaultDuration", T_DUR, F(session_default), 1, 7 * DAY, "8h", NULL },
	{ "Session", "MaxDuration", T_DUR, F(session_max), 1, 7 * DAY, "24h", NULL },
	{ "Session", "Durations", T_DURLIST, F(session_durations), 1, 7 * DAY, "4h, 8h, 12h, 24h", NULL },
	{ "Session", "ChallengeLifetime", T_DUR, F(challenge_lifetime), 30, 3600, "5m", NULL },
	{ "Session", "WarnBefore", T_OPTDUR, F(session_warn_before), 1, DAY, "", NULL },
	{ "Session", "NotAfter", T_HHMM, F(session_not_after), 0, 0, "", NULL },
	{ "Session", "TimeZone", T_STR, F(session_time_zone), 0, 0, "", NULL },

	{ "Activator", "Socket", T_PATH, F(activator_socket), 0, 0, "/run/wgotp/activator.sock", NULL },
	{ "Activator", "Interface", T_STR, F(interface), 0, 0, "wg0", NULL },
	{ "Activator", "Backend", T_ENUM, F(wg_backend), 0, 0, "auto", wg_backends },
	{ "Activator", "UAPIDirectory", T_PATH, F(wg_uapi_dir), 0, 0, "/var/run/wireguard", NULL },
	{ "Activator", "WgCommand", T_PATH, F(wg_command), 0, 0, "/usr/bin/wg", NULL },
	{ "Activator", "AllowedUsers", T_UIDS, F(allowed_uids), F(n_allowed_uids), 0, "root", NULL },
	{ "Activator", "AllowedGroups", T_GIDS, F(allowed_gids), F(n_allowed_gids), 0, "", NULL },
	{ "Activator", "ReconcileInterval", T_DUR, F(reconcile_interval), 1, DAY, "1m", NULL },
	{ "Activator", "ConnectTimeout", T_MS, F(activator_connect_timeout_ms), 1, 60000, "2000", NULL },
	{ "Activator", "ReplyTimeout", T_MS, F(activator_reply_timeout_ms), 1, 60000, "5000", NULL },
	{ "Activator", "Mode", T_ENUM, F(activator_mode), 0, 0, "socket", activator_modes },
	{ "Activator", "Stream", T_STR, F(activator_stream), 0, 0, "wgotp:activations", NULL },
	{ "Activator", "Gateway", T_STR, F(gateway), 0, 0, "", NULL },

	{ "Network", "Endpoint", T_STR, F(net_endpoint), 0, 0, "", NULL },
	{ "Network", "AddressPool", T_STR, F(net_pool), 0, 0, "", NULL },
	{ "Network", "DNS", T_STR, F(net_dns), 0, 0, "", NULL },
	{ "Network", "ClientAllowedIPs", T_STR, F(net_client_allowed_ips), 0, 0, "", NULL },
	{ "Network", "PersistentKeepalive", T_INT, F(net_keepalive), 0, 65535, "0", NULL },
	{ "Network", "ServerPublicKey", T_STR, F(net_server_key), 0, 0, "", NULL },

	{ "Mail", "Transport", T_ENUM, F(mail_transport), 0, 0, "none", mail_transports },
	{ "Mail", "From", T_STR, F(mail_from), 0, 0, "", NULL },
	{ "Mail", "Subject", T_STR, F(mail_subject), 0, 0, "Your VPN code", NULL },
	{ "Mail", "BodyFile", T_PATH, F(mail_body_file), 0, 0, "", NULL },
	{ "Mail", "WarnSubject", T_STR, F(mail_warn_subject), 0, 0, "", NULL },
	{ "Mail", "WarnBodyFile", T_PATH, F(mail_warn_body_file), 0, 0, "", NULL },
	{ "Mail", "Timeout", T_MS, F(mail_timeout_ms), 100, 120000, "8s", NULL },
	{ "Mail", "CAFile", T_PATH, F(mail_ca_file), 0, 0, "", NULL },

	{ "Graph", "Tenant", T_STR, F(graph_tenant), 0, 0, "", NULL },
	{ "Graph", "ClientId", T_STR, F(graph_client_id), 0, 0, "", NULL },
	{ "Graph", "ClientSecretFile", T_PATH, F(graph_client_secret_file), 0, 0, "", NULL },
	{ "Graph", "CertificateFile", T_PATH, F(graph_certificate_file), 0, 0, "", NULL },
	{ "Graph", "PrivateKeyFile", T_PATH, F(graph_private_key_file), 0, 0, "", NULL },
	{ "Graph", "Authority", T_STR, F(graph_authority), 0, 0, "https://login.microsoftonline.com", NULL },
	{ "Graph", "URL", T_STR, F(graph_url), 0, 0, "https://graph.microsoft.com", NULL },
	{ "Graph", "Scope", T_STR, F(graph_scope), 0, 0, "https://graph.microsoft.com/.default", NULL },

	{ "SMTP", "URL", T_STR, F(smtp_url), 0, 0, "", NULL },
	{ "SMTP", "Auth", T_ENUM, F(smtp_auth), 0, 0, "none", smtp_auths },
	{ "SMTP", "Username", T_STR, F(smtp_username), 0, 0, "", NULL },
	{ "SMTP", "PasswordFile", T_PATH, F(smtp_password_file), 0, 0, "", NULL },
	{ "SMTP", "OAuthScope", T_STR, F(smtp_oauth_scope), 0, 0, "https://outlook.office365.com/.default", NULL },

	{ "Sendmail", "Path", T_PATH, F(sendmail_path), 0, 0, "/usr/sbin/sendmail", NULL },

	{ "Metrics", "Listen", T_ADDRPORT, F(metrics_listen), 0, 0, "", NULL },
	{ "Metrics", "File", T_PATH, F(metrics_file), 0, 0, "", NULL },
	{ "Dird", "Socket", T_PATH, F(dird_socket), 0, 0, "/run/wgotp/dird.sock", NULL },
	{ "Dird", "AllowedUsers", T_UIDS, F(dird_allowed_uids), F(n_dird_allowed_uids), 0, "root", NULL },
	{ "Dird", "AllowedGroups", T_GIDS, F(dird_allowed_gids), F(n_dird_allowed_gids), 0, "", NULL },
	{ "Dird", "InviteLifetime", T_DUR, F(invite_lifetime), 300, 30 * DAY, "72h", NULL },

	{ "Portal", "Listen", T_LISTEN, F(portal_listen), 0, WGOTP_MAX_LISTEN, "", NULL },
	{ "Portal", "CertificateFile", T_PATH, F(portal_cert_file), 0, 0, "", NULL },
	{ "Portal", "PrivateKeyFile", T_PATH, F(portal_key_file), 0, 0, "", NULL },
	{ "Portal", "PublicURL", T_STR, F(portal_public_url), 0, 0, "", NULL },
	{ "Portal", "TrustedProxies", T_CIDRS, F(portal_trusted_proxies), 0, WGOTP_MAX_PROXIES, "", NULL },
	{ "Portal", "CompanyName", T_STR, F(portal_company), 0, 0, "", NULL },
	{ "Portal", "AssetsDirectory", T_PATH, F(portal_assets_dir), 0, 0, WGOTP_PORTAL_ASSETS, NULL },
	{ "Portal", "CookieLifetime", T_DUR, F(portal_cookie_lifetime), 60, DAY, "15m", NULL },
	{ "Portal", "Threads", T_INT, F(portal_threads), 1, 256, "4", NULL },
	{ "Portal", "MaxConnections", T_INT, F(portal_max_connections), 1, 65536, "1024", NULL },
	{ "Portal", "MaxConnectionsPerIP", T_INT, F(portal_max_conn_per_ip), 0, 65536, "64", NULL },
	{ "Portal", "MaxBodySize", T_INT, F(portal_max_body), 256, 65536, "4096", NULL },
	{ "Portal", "RequestTimeout", T_DUR, F(portal_request_timeout), 1, 300, "10s", NULL },
	{ "Portal", "MaxRequestsPerIP", T_INT, F(portal_max_requests_per_ip), 0, 1000000, "300", NULL },
	{ "Portal", "MaxLoginsPerUser", T_INT, F(portal_max_logins_per_user), 0, 100000, "30", NULL },
	{ "Portal", "MetricsListen", T_ADDRPORT, F(portal_metrics_listen), 0, 0, "", NULL },
};

/* T_STR keys whose non-empty value is checked: 0, or -EINVAL with why. */
static const struct {
	size_t off;
	int (*check)(const char *val, char *why, size_t len);
} str_checks[] = {
	{ F(net_endpoint), check_endpoint },
	{ F(net_pool), check_pool },
	{ F(net_dns), check_dns },
	{ F(net_client_allowed_ips), check_cidrs },
	{ F(net_server_key), check_wg_key },
};

#undef F

struct parser {
	const char *name;	/* file name for messages */
	char *basedir;		/* for relative paths */
	int line;
	struct wgotp_config *cfg;
	unsigned char seen[sizeof(keys) / sizeof(keys[0])];
	struct wgotp_error *err;
};

__attribute__((format(printf, 3, 4)))
static int perr(struct parser *p, const struct key *k, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (k)
		return wgotp_error_set(p->err, EINVAL, "%s:%d: [%s] %s: %s", p->name, p->line,
				       k->section, k->name, what);
	return wgotp_error_set(p->err, EINVAL, "%s:%d: %s", p->name, p->line, what);
}

int wgotp_parse_duration(const char *s, int64_t *out)
{
	char *end;
	long long v;
	int64_t mul = 1;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return -EINVAL;
	if (*end) {
		if (end[1])
			return -EINVAL;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return -EINVAL;
		}
	}
	if (v > INT64_MAX / mul)
		return -EINVAL;
	*out = (int64_t)v * mul;
	return 0;
}

static int parse_ms(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0 || v > INT32_MAX)
		return -EINVAL;
	if (!*end || !strcmp(end, "ms"))
		*out = v;
	else if (!strcmp(end, "s") && v <= INT32_MAX / 1000)
		*out = v * 1000;
	else
		return -EINVAL;
	return 0;
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s) && !(*s == '-' && isdigit((unsigned char)s[1])))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Split a comma-separated list in place; calls fn for each trimmed item. */
static char *next_item(char **cursor)
{
	char *s = *cursor, *e, *item;

	if (!s)
		return NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	e = strchr(s, ',');
	if (e) {
		*e = '\0';
		*cursor = e + 1;
	} else {
		*cursor = NULL;
	}
	item = s;
	e = item + strlen(item);
	while (e > item && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return item;
}

static int parse_id(const char *s, bool group, unsigned int *out)
{
	char buf[4096];
	int64_t v;
	int ret;

	if (isdigit((unsigned char)*s)) {
		if (parse_int(s, &v) < 0 || v < 0 || v > UINT32_MAX - 1)
			return -EINVAL;
		*out = (unsigned int)v;
		return 0;
	}
	if (group) {
		struct group gr, *res = NULL;

		ret = getgrnam_r(s, &gr, buf, sizeof(buf), &res);
		if (ret || !res)
			return -ENOENT;
		*out = res->gr_gid;
	} else {
		struct passwd pw, *res = NULL;

		ret = getpwnam_r(s, &pw, buf, sizeof(buf), &res);
		if (ret || !res)
			return -ENOENT;
		*out = res->pw_uid;
	}
	return 0;
}

static int set_path(struct parser *p, char **dst, const char *val)
{
	char *v;

	if (!*val) {
		v = NULL;
	} else if (val[0] == '/' || !p->basedir) {
		v = strdup(val);
		if (!v)
			return -ENOMEM;
	} else if (asprintf(&v, "%s/%s", p->basedir, val) < 0) {
		return -ENOMEM;
	}
	free(*dst);
	*dst = v;
	return 0;
}

/* "127.0.0.1:8443" or "[::1]:8443": a numeric address and a port. */
static int parse_listen(const char *s, struct wgotp_listen *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *hs = s;
	size_t hl;
	int64_t port;

	memset(out, 0, sizeof(*out));
	if (strlen(s) >= sizeof(out->text))
		return -EINVAL;
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(end - hs);
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (!hl || hl >= sizeof(host) || parse_int(colon + 1, &port) < 0 || port < 1 || port > 65535)
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (*s == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->addr;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*a);
		out->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&out->addr;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		out->len = sizeof(*a);
		out->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	snprintf(out->text, sizeof(out->text), "%s", s);
	return 0;
}

static int set_list(struct parser *p, const struct key *k, const char *val)
{
	struct wgotp_listen ls[WGOTP_MAX_LISTEN];
	struct wgotp_cidr cs[WGOTP_MAX_PROXIES];
	char *copy, *cur, *item;
	int n = 0, ret = 0;

	copy = strdup(val);
	if (!copy)
		return -ENOMEM;
	cur = *val ? copy : NULL;
	while ((item = next_item(&cur))) {
		if (n == k->max) {
			ret = perr(p, k, "more than %lld entries", (long long)k->max);
			goto cleanup;
		}
		if (k->type == T_LISTEN && parse_listen(item, &ls[n]) < 0) {
			ret = perr(p, k, "\"%s\" is not a numeric address and port (127.0.0.1:8443, [::1]:8443)", item);
			goto cleanup;
		}
		if (k->type == T_CIDRS && wgotp_cidr_parse(item, &cs[n]) < 0) {
			ret = perr(p, k, "\"%s\" is not an address prefix (10.0.0.0/8, fd00::/8)", item);
			goto cleanup;
		}
		n++;
	}
	if (k->type == T_LISTEN)
		memcpy((char *)p->cfg + k->off, ls, sizeof(ls[0]) * (size_t)n);
	else
		memcpy((char *)p->cfg + k->off, cs, sizeof(cs[0]) * (size_t)n);
	if (k->off == offsetof(struct wgotp_config, portal_listen))
		p->cfg->n_portal_listen = n;
	else
		p->cfg->n_portal_trusted_proxies = n;
cleanup:
	free(copy);
	return ret;
}

static int set_value(struct parser *p, const struct key *k, const char *val)
{
	void *field = (char *)p->cfg + k->off;
	int64_t v;
	char *copy = NULL, *cur, *item;
	int n = 0, ret = 0;

	switch (k->type) {
	case T_ADDRPORT:
		if (*val && wgotp_addrport_parse(val, NULL, NULL) < 0)
			return perr(p, k, "\"%s\" is not ADDRESS:PORT (127.0.0.1:9588, [::1]:9588)", val);
		/* fall through */
	case T_STR:
		for (size_t i = 0; *val && i < sizeof(str_checks) / sizeof(str_checks[0]); i++) {
			char why[200] = "";

			if (str_checks[i].off != k->off)
				continue;
			ret = str_checks[i].check(val, why, sizeof(why));
			if (ret < 0)
				return ret == -ENOMEM ? ret : perr(p, k, "%s", why);
		}
		copy = *val ? strdup(val) : NULL;
		if (*val && !copy)
			return -ENOMEM;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	case T_PATH:
		return set_path(p, field, val);
	case T_INT:
		if (parse_int(val, &v) < 0)
			return perr(p, k, "\"%s\" is not a whole number", val);
		if (v < k->min || v > k->max) {
			return perr(p, k, "must be within %lld..%lld", (long long)k->min,
				    (long long)k->max);
		}
		*(int *)field = (int)v;
		return 0;
	case T_MS:
		if (parse_ms(val, &v) < 0)
			return perr(p, k, "\"%s\" is not a time in milliseconds (500, 500ms, 8s)", val);
		if (v < k->min || v > k->max)
			return perr(p, k, "\"%s\" is out of range", val);
		*(int *)field = (int)v;
		return 0;
	case T_HHMM: {
		int h, m, n_read = 0;

		if (!*val) {
			*(int *)field = -1;
			return 0;
		}
		if (strlen(val) != 5 || sscanf(val, "%2d:%2d%n", &h, &m, &n_read) != 2 ||
		    n_read != 5 || !isdigit((unsigned char)val[0]) || !isdigit((unsigned char)val[3]) ||
		    h > 23 || m > 59 || h < 0 || m < 0)
			return perr(p, k, "\"%s\" is not a time of day (HH:MM, 00:00 to 23:59)", val);
		if (h == 0 && m == 0)
			return perr(p, k, "%s", "00:00 would refuse every login (a cutoff is before midnight)");
		*(int *)field = h * 60 + m;
		return 0;
	}
	case T_OPTDUR:
		if (!*val) {
			*(int64_t *)field = 0;
			return 0;
		}
		/* fall through */
	case T_DUR:
		if (wgotp_parse_duration(val, &v) < 0)
			return perr(p, k, "\"%s\" is not a duration (90, 30s, 5m, 8h, 1d)", val);
		if (v < k->min || v > k->max)
			return perr(p, k, "\"%s\" is out of range", val);
		*(int64_t *)field = v;
		return 0;
	case T_DURLIST: {
		int64_t durs[WGOTP_MAX_DURATIONS];

		copy = strdup(val);
		if (!copy)
			return -ENOMEM;
		cur = copy;
		while ((item = next_item(&cur))) {
			if (n == WGOTP_MAX_DURATIONS) {
				ret = perr(p, k, "more than %d durations", WGOTP_MAX_DURATIONS);
				goto cleanup;
			}
			if (wgotp_parse_duration(item, &v) < 0 || v < k->min || v > k->max) {
				ret = perr(p, k, "\"%s\" is not a valid duration", item);
				goto cleanup;
			}
			if (n && v <= durs[n - 1]) {
				ret = perr(p, k, "durations must be in increasing order (at \"%s\")", item);
				goto cleanup;
			}
			durs[n++] = v;
		}
		if (!n) {
			ret = perr(p, k, "%s", "needs at least one duration");
			goto cleanup;
		}
		memcpy(p->cfg->session_durations, durs, sizeof(durs[0]) * (size_t)n);
		p->cfg->n_session_durations = n;
		break;
	}
	case T_ENUM:
		for (const struct enum_val *e = k->enums; e->name; e++) {
			if (!strcasecmp(e->name, val)) {
				*(int *)field = e->value;
				return 0;
			}
		}
		return perr(p, k, "unknown value \"%s\"", val);
	case T_UIDS:
	case T_GIDS: {
		unsigned int ids[WGOTP_MAX_ALLOWED_IDS];
		bool grp = k->type == T_GIDS;

		copy = strdup(val);
		if (!copy)
			return -ENOMEM;
		cur = *val ? copy : NULL;
		while ((item = next_item(&cur))) {
			if (n == WGOTP_MAX_ALLOWED_IDS) {
				ret = perr(p, k, "more than %d entries", WGOTP_MAX_ALLOWED_IDS);
				goto cleanup;
			}
			if (parse_id(item, grp, &ids[n]) < 0) {
				ret = perr(p, k, grp ? "no such group \"%s\"" : "no such user \"%s\"", item);
				goto cleanup;
			}
			n++;
		}
		/* the array at k->off, its count at k->min */
		for (int i = 0; i < n; i++) {
			if (grp)
				((gid_t *)((char *)p->cfg + k->off))[i] = ids[i];
			else
				((uid_t *)((char *)p->cfg + k->off))[i] = ids[i];
		}
		*(int *)((char *)p->cfg + k->min) = n;
		break;
	}
	case T_LISTEN:
	case T_CIDRS:
		return set_list(p, k, val);
	case T_ALG: {
		enum wgotp_totp_alg alg;

		if (wgotp_totp_alg_parse(val, &alg) < 0)
			return perr(p, k, "unknown algorithm \"%s\" (SHA1, SHA256, SHA512)", val);
		copy = strdup(val);
		if (!copy)
			return -ENOMEM;
		for (char *c = copy; *c; c++)
			*c = (char)toupper((unsigned char)*c);
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	}
cleanup:
	free(copy);
	return ret;
}

static const struct key *find_key(const char *section, const char *name, bool *section_known)
{
	*section_known = false;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcasecmp(keys[i].section, section))
			continue;
		*section_known = true;
		if (!strcasecmp(keys[i].name, name))
			return &keys[i];
	}
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Plain HTTP only where nobody else can listen in: a non-loopback Listen
 * needs both halves of a certificate. */
static int validate_portal(struct parser *p)
{
	struct wgotp_config *c = p->cfg;
	const char *u = c->portal_public_url;

	if (!c->portal_cert_file != !c->portal_key_file)
		return wgotp_error_set(p->err, EINVAL,
				       "%s: [Portal] CertificateFile and PrivateKeyFile go together", p->name);
	for (int i = 0; i < c->n_portal_listen && !c->portal_cert_file; i++) {
		if (!c->portal_listen[i].loopback)
			return wgotp_error_set(p->err, EINVAL,
					       "%s: [Portal] Listen %s is not a loopback address: it needs CertificateFile and PrivateKeyFile (plain HTTP only on 127.0.0.1 or ::1, behind a TLS proxy)",
					       p->name, c->portal_listen[i].text);
	}
	if (u && strncmp(u, "https://", 8) && strncmp(u, "http://", 7))
		return wgotp_error_set(p->err, EINVAL,
				       "%s: [Portal] PublicURL \"%s\" must start with https:// (or http://)", p->name, u);
	return 0;
}

/* Checks across keys, once the whole file is read. */
static int validate(struct parser *p)
{
	struct wgotp_config *c = p->cfg;

	p->line = 0;
	if (c->session_default > c->session_max)
		return wgotp_error_set(p->err, EINVAL,
				       "%s: [Session] DefaultDuration is longer than MaxDuration", p->name);
	if (c->session_durations[0] > c->session_max)
		return wgotp_error_set(p->err, EINVAL,
				       "%s: [Session] Durations: the shortest is longer than MaxDuration", p->name);
	if (c->session_warn_before && c->mail_transport == WGOTP_MAIL_NONE)
		return wgotp_error_set(p->err, EINVAL,
				       "%s: [Session] WarnBefore needs a [Mail] Transport to send the warning",
				       p->name);
	for (int i = 0; i < c->n_groups; i++) {
		const struct wgotp_group *g = &c->groups[i];
		int64_t max = g->set & WGOTP_GROUP_MAX ? g->session_max : c->session_max;
		/* an inherited default over the group's maximum is capped */
		int64_t def = g->set & WGOTP_GROUP_DEFAULT ? g->session_default : 0;
		int64_t shortest = g->set & WGOTP_GROUP_DURATIONS ? g->session_durations[0] :
				   c->session_durations[0];

		if (def > max || shortest > max)
			return wgotp_error_set(p->err, EINVAL,
					       "%s: [Group %s]: DefaultDuration and the shortest of Durations may not be longer than MaxDuration",
					       p->name, g->name);
		if ((g->set & WGOTP_GROUP_WARN) && g->session_warn_before &&
		    c->mail_transport == WGOTP_MAIL_NONE)
			return wgotp_error_set(p->err, EINVAL,
					       "%s: [Group %s] WarnBefore needs a [Mail] Transport to send the warning",
					       p->name, g->name);
	}
	if (c->session_time_zone) {
		struct wgotp_error e = { "" };

		if (wgotp_tz_load(c->session_time_zone, &c->session_tz, &e) < 0)
			return wgotp_error_set(p->err, EINVAL, "%s: [Session] TimeZone: %s", p->name, e.msg);
	}
	if (!c->directory || !c->server_key_file || !c->store_path || !c->activator_socket ||
	    !c->interface)
		return wgotp_error_set(p->err, EINVAL,
				       "%s: Directory, ServerKeyFile, [Store] Path, [Activator] Socket and Interface may not be empty",
				       p->name);
	if (strlen(c->interface) >= 16 || strchr(c->interface, '/'))
		return wgotp_error_set(p->err, EINVAL, "%s: [Activator] Interface: \"%s\" is not an interface name",
				       p->name, c->interface);
	return validate_portal(p);
}

/* [Group NAME]: the section header's name, or NULL for another section. */
static const char *group_header(const char *section)
{
	if (strncasecmp(section, "Group", 5) != 0 || (section[5] != ' ' && section[5] != '\t'))
		return NULL;
	section += 6;
	while (*section == ' ' || *section == '\t')
		section++;
	return section;
}

static int group_new(struct parser *p, const char *name, struct wgotp_group **out)
{
	struct wgotp_config *c = p->cfg;
	struct wgotp_group *g;

	if (!*name || strlen(name) > WGOTP_GROUP_NAME_MAX || strspn(name,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(name))
		return perr(p, NULL, "[Group %s]: a group name is 1 to %d of A-Z a-z 0-9 . _ -", name,
			    WGOTP_GROUP_NAME_MAX);
	for (int i = 0; i < c->n_groups; i++)
		if (!strcmp(c->groups[i].name, name))
			return perr(p, NULL, "[Group %s] appears twice", name);
	if (c->n_groups == WGOTP_MAX_GROUPS)
		return perr(p, NULL, "more than %d [Group] sections", WGOTP_MAX_GROUPS);
	g = reallocarray(c->groups, (size_t)c->n_groups + 1, sizeof(*g));
	if (!g)
		return wgotp_error_set(p->err, ENOMEM, "out of memory");
	c->groups = g;
	g = &c->groups[c->n_groups++];
	memset(g, 0, sizeof(*g));
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->session_not_after = -1;
	*out = g;
	return 0;
}

/* A key of a [Group NAME] section: one of the [Session] limits, parsed by
 * the same code into a scratch configuration, then copied. */
static int group_key(struct parser *p, struct wgotp_group *g, const char *name, const char *val)
{
	static const struct {
		const char *name;
		unsigned int bit;
	} gkeys[] = {
		{ "DefaultDuration", WGOTP_GROUP_DEFAULT }, { "MaxDuration", WGOTP_GROUP_MAX },
		{ "Durations", WGOTP_GROUP_DURATIONS }, { "NotAfter", WGOTP_GROUP_NOT_AFTER },
		{ "WarnBefore", WGOTP_GROUP_WARN },
	};
	struct wgotp_config scratch, *real = p->cfg;
	char sec[WGOTP_GROUP_NAME_MAX + 8];
	struct key gk;
	const struct key *k;
	unsigned int bit = 0;
	bool known;
	int ret;

	for (size_t i = 0; i < sizeof(gkeys) / sizeof(gkeys[0]); i++)
		if (!strcasecmp(gkeys[i].name, name))
			bit = gkeys[i].bit;
	k = bit ? find_key("Session", name, &known) : NULL;
	if (!k)
		return perr(p, NULL, "unknown key [Group %s] %s (a group sets DefaultDuration, MaxDuration, Durations, NotAfter, WarnBefore)",
			    g->name, name);
	if (g->set & bit)
		return perr(p, NULL, "[Group %s] %s: set twice", g->name, k->name);
	if (k->type != T_OPTDUR && k->type != T_HHMM && !*val)
		return perr(p, NULL, "[Group %s] %s: needs a value", g->name, k->name);
	memset(&scratch, 0, sizeof(scratch));
	/* its messages name the group's section, not [Session] */
	snprintf(sec, sizeof(sec), "Group %s", g->name);
	gk = *k;
	gk.section = sec;
	p->cfg = &scratch;
	ret = set_value(p, &gk, val);
	p->cfg = real;
	if (ret < 0)
		return ret;
	g->set |= bit;
	switch (bit) {
	case WGOTP_GROUP_DEFAULT: g->session_default = scratch.session_default; break;
	case WGOTP_GROUP_MAX: g->session_max = scratch.session_max; break;
	case WGOTP_GROUP_DURATIONS:
		memcpy(g->session_durations, scratch.session_durations, sizeof(g->session_durations));
		g->n_session_durations = scratch.n_session_durations;
		break;
	case WGOTP_GROUP_NOT_AFTER: g->session_not_after = scratch.session_not_after; break;
	case WGOTP_GROUP_WARN: g->session_warn_before = scratch.session_warn_before; break;
	}
	return 0;
}

static int parse_text(struct parser *p, const char *text, size_t len)
{
	char section[96] = "";
	struct wgotp_group *group = NULL;
	char line[CONF_MAX_LINE + 1];
	size_t pos = 0;
	int ret;

	if (memchr(text, '\0', len))
		return wgotp_error_set(p->err, EINVAL, "%s: contains a NUL byte", p->name);
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *s, *eq, *name, *val, *hash;
		const struct key *k;
		bool section_known;

		p->line++;
		if (ll > CONF_MAX_LINE)
			return perr(p, NULL, "%s", "line too long");
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + (nl ? 1 : 0);

		s = trim(line);
		if (!*s || *s == '#')
			continue;
		/* An inline comment starts with '#' after white space. */
		for (hash = s; (hash = strchr(hash, '#')); hash++) {
			if (hash[-1] == ' ' || hash[-1] == '\t') {
				*hash = '\0';
				s = trim(s);
				break;
			}
		}
		if (*s == '[') {
			char *end = strchr(s, ']');

			if (!end || end[1] || end - s - 1 <= 0 || (size_t)(end - s) >= sizeof(section))
				return perr(p, NULL, "malformed section header \"%s\"", s);
			*end = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			group = NULL;
			if (group_header(section)) {
				ret = group_new(p, group_header(section), &group);
				if (ret < 0)
					return ret;
				continue;
			}
			if (!find_key(section, "", &section_known) && !section_known)
				return perr(p, NULL, "unknown section [%s]", section);
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return perr(p, NULL, "expected \"Key = Value\", got \"%s\"", s);
		*eq = '\0';
		name = trim(s);
		val = trim(eq + 1);
		if (!*section)
			return perr(p, NULL, "\"%s\" is outside any [Section]", name);
		if (!*name)
			return perr(p, NULL, "%s", "missing key before '='");
		if (group) {
			ret = group_key(p, group, name, val);
			if (ret < 0)
				return ret == -ENOMEM ? wgotp_error_set(p->err, ENOMEM, "out of memory") : ret;
			continue;
		}
		k = find_key(section, name, &section_known);
		if (!k) {
			return perr(p, NULL, "unknown key [%s] %s", section, name);
		}
		if (p->seen[k - keys])
			return perr(p, k, "%s", "set twice");
		p->seen[k - keys] = 1;
		if ((k->type != T_STR && k->type != T_PATH && k->type != T_UIDS &&
		     k->type != T_GIDS && k->type != T_ADDRPORT &&
		     k->type != T_LISTEN && k->type != T_CIDRS && k->type != T_OPTDUR &&
		     k->type != T_HHMM) && !*val)
			return perr(p, k, "%s", "needs a value");
		ret = set_value(p, k, val);
		if (ret < 0)
			return ret == -ENOMEM ? wgotp_error_set(p->err, ENOMEM, "out of memory") : ret;
	}
	return validate(p);
}

void wgotp_config_free(struct wgotp_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].type == T_STR || keys[i].type == T_PATH || keys[i].type == T_ALG ||
		    keys[i].type == T_ADDRPORT)
			free(*(char **)((char *)cfg + keys[i].off));
	}
	wgotp_tz_free(cfg->session_tz);
	free(cfg->groups);
	free(cfg->path);
	free(cfg);
}

static int config_new(struct parser *p)
{
	int ret;

	p->cfg = calloc(1, sizeof(*p->cfg));
	if (!p->cfg)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		ret = set_value(p, &keys[i], keys[i].def);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int wgotp_config_defaults(struct wgotp_config **out)
{
	struct parser p = { .name = "(defaults)" };
	int ret;

	*out = NULL;
	ret = config_new(&p);
	if (ret < 0) {
		wgotp_config_free(p.cfg);
		return ret;
	}
	*out = p.cfg;
	return 0;
}

int wgotp_config_parse(const char *name, const char *text, size_t len,
		       struct wgotp_config **out, struct wgotp_error *err)
{
	struct parser p = { .name = name, .err = err };
	const char *slash = strrchr(name, '/');
	int ret;

	*out = NULL;
	wgotp_error_clear(err);
	if (slash) {
		p.basedir = strndup(name, slash == name ? 1 : (size_t)(slash - name));
		if (!p.basedir)
			return wgotp_error_set(err, ENOMEM, "out of memory");
	}
	ret = config_new(&p);
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "%s: cannot set defaults", name);
		goto cleanup;
	}
	ret = parse_text(&p, text, len);
	if (ret < 0)
		goto cleanup;
	p.cfg->path = strdup(name);
	if (!p.cfg->path) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	*out = p.cfg;
	p.cfg = NULL;
	ret = 0;
cleanup:
	wgotp_config_free(p.cfg);
	free(p.basedir);
	return ret;
}

int wgotp_config_load(const char *path, struct wgotp_config **out, struct wgotp_error *err)
{
	char *buf = NULL, *abs = NULL;
	struct stat st;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = wgotp_file_read(path, CONF_MAX_SIZE, &buf, &len, err);
	if (ret < 0)
		return ret;
	/* It names programs run as root (WgCommand, [Sendmail] Path) and the
	 * files every part trusts: whoever may write it owns the gateway. */
	if (stat(path, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		ret = wgotp_error_set(err, EPERM,
				      "%s is mode %04o: it names the programs and files wgotp trusts; it must not be writable by group or others (chmod 644)",
				      path, (unsigned int)(st.st_mode & 07777));
		goto cleanup;
	}
	/* Relative paths inside are taken from the file's own directory. */
	abs = path[0] == '/' ? strdup(path) : realpath(path, NULL);
	if (!abs) {
		ret = wgotp_error_set(err, ENOMEM, "%s: cannot resolve path", path);
		goto cleanup;
	}
	ret = wgotp_config_parse(abs, buf, len, out, err);
cleanup:
	free(abs);
	wgotp_freezero(buf, len + 1);
	return ret;
}

const char *wgotp_config_path(const char *cli)
{
	const char *env;

	if (cli && *cli)
		return cli;
	env = getenv("WGOTP_CONF");
	if (env && *env)
		return env;
	return WGOTP_DEFAULT_CONF;
}

int64_t wgotp_config_session_duration(const struct wgotp_config *cfg, int64_t requested)
{
	int64_t d = requested > 0 ? requested : cfg->session_default;
	int64_t best = cfg->session_durations[0];

	if (d > cfg->session_max)
		d = cfg->session_max;
	for (int i = 0; i < cfg->n_session_durations; i++) {
		if (cfg->session_durations[i] <= d)
			best = cfg->session_durations[i];
	}
	return best;
}
