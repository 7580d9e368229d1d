/* SPDX-License-Identifier: GPL-2.0-or-later */
/* wgotp.conf: defaults, the shipped sample, every kind of bad line. */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "tap.h"
#include "testutil.h"

static int parse(const char *text, struct wgotp_config **cfg, struct wgotp_error *err)
{
	return wgotp_config_parse("/etc/wgotp/test.conf", text, strlen(text), cfg, err);
}

/* A bad file: refused, and the message names file, line and what. */
static void bad(const char *text, const char *want_in_msg, const char *what)
{
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err = { "" };
	int ret = parse(text, &cfg, &err);

	ok(ret == -EINVAL && !cfg, "refused: %s", what);
	if (!tap_ok(strstr(err.msg, want_in_msg) != NULL, __FILE__, __LINE__, "message names it: %s", what))
		diag("message was: %s", err.msg);
	wgotp_config_free(cfg);
}

static void test_defaults(void)
{
	struct wgotp_config *c = NULL;

	is_int(wgotp_config_defaults(&c), 0, "defaults");
	is_str(c->directory, "/etc/wgotp/users.json", "default directory");
	is_int(c->store_backend, WGOTP_STORE_SQLITE, "default store is sqlite");
	is_int(c->totp_digits, 6, "6 digits");
	is_int(c->totp_period, 30, "30 s");
	is_int(c->totp_window, 1, "window 1");
	is_str(c->totp_algorithm, "SHA1", "SHA1");
	is_int(c->email_code_lifetime, 300, "email code valid 5 minutes");
	is_int(c->email_max_tries, 5, "5 tries");
	is_int(c->email_resend_interval, 60, "one mail a minute");
	is_int(c->session_default, 8 * 3600, "8 h sessions");
	is_int(c->n_session_durations, 4, "4 durations");
	is_int(c->session_durations[3], 24 * 3600, "longest 24 h");
	is_int(c->mail_timeout_ms, 8000, "mail budget 8 s");
	is_int(c->n_allowed_uids, 1, "root may use the activator");
	is_int(c->allowed_uids[0], 0, "root is uid 0");
	wgotp_config_free(c);
}

static void test_good(void)
{
	struct wgotp_config *c = NULL;
	struct wgotp_error err = { "" };
	const char *text =
		"# a comment\n"
		"[General]\n"
		"Directory = users.json   # relative: next to this file\n"
		"  serverkeyfile=/k\n"
		"Issuer = ACME VPN\n"
		"\n"
		"[TOTP]\n"
		"Digits = 8\r\n"
		"Algorithm = sha256\n"
		"[Session]\n"
		"Durations = 1h,4h, 8h\n"
		"DefaultDuration = 4h\n"
		"MaxDuration = 8h\n"
		"[Activator]\n"
		"AllowedUsers = root, 1234\n"
		"AllowedGroups = 0\n"
		"ReplyTimeout = 2s\n"
		"[Mail]\n"
		"Subject = Code#1 inside   # but this is a comment\n";

	is_int(parse(text, &c, &err), 0, "a good file parses");
	if (!c) {
		diag("error: %s", err.msg);
		return;
	}
	is_str(c->directory, "/etc/wgotp/users.json", "relative path resolved against the file's directory");
	is_str(c->server_key_file, "/k", "keys are case-insensitive");
	is_str(c->issuer, "ACME VPN", "spaces inside values kept");
	is_int(c->totp_digits, 8, "CRLF line ending accepted");
	is_str(c->totp_algorithm, "SHA256", "algorithm normalised");
	is_int(c->n_session_durations, 3, "3 durations");
	is_int(c->session_durations[0], 3600, "1h");
	is_int(c->n_allowed_uids, 2, "two allowed users");
	is_int(c->allowed_uids[1], 1234, "numeric uid");
	is_int(c->n_allowed_gids, 1, "one allowed group");
	is_int(c->activator_reply_timeout_ms, 2000, "2s is 2000 ms");
	is_str(c->mail_subject, "Code#1 inside", "'#' inside a value kept, after a space it starts a comment");
	is_int(wgotp_config_session_duration(c, 0), 4 * 3600, "default duration");
	is_int(wgotp_config_session_duration(c, 5 * 3600), 4 * 3600, "rounded down to an allowed one");
	is_int(wgotp_config_session_duration(c, 100 * 3600), 8 * 3600, "capped at the maximum");
	is_int(wgotp_config_session_duration(c, 60), 3600, "never below the shortest");
	wgotp_config_free(c);
}

static void test_bad(void)
{
	bad("Directory = x\n", "test.conf:1", "a key outside any section");
	bad("[General]\nNoSuchKey = 1\n", "test.conf:2: unknown key [General] NoSuchKey",
	    "an unknown key");
	bad("[Nope]\n", "test.conf:1: unknown section [Nope]", "an unknown section");
	bad("[General\n", "test.conf:1: malformed section header", "an unclosed section header");
	bad("[]\n", "malformed section header", "an empty section name");
	bad("[TOTP]\nDigits\n", "test.conf:2: expected \"Key = Value\"", "a line without '='");
	bad("[TOTP]\n= 6\n", "missing key", "a value without a key");
	bad("[TOTP]\nDigits = 5\n", "test.conf:2: [TOTP] Digits: must be within 6..8", "digits out of range");
	bad("[Metrics]\nListen = localhost:9588\n", "test.conf:2: [Metrics] Listen: \"localhost:9588\" is not ADDRESS:PORT",
	    "metrics on a host name (numeric only)");
	bad("[Metrics]\nListen = 127.0.0.1\n", "[Metrics] Listen", "metrics without a port");
	bad("[Metrics]\nListen = 127.0.0.1:0\n", "[Metrics] Listen", "metrics on port 0");
	bad("[Metrics]\nListen = 127.0.0.1:65536\n", "[Metrics] Listen", "metrics on port 65536");
	bad("[Metrics]\nListen = ::1:9588\n", "[Metrics] Listen", "IPv6 without brackets");
	bad("[Metrics]\nListen = [::1]:95x8\n", "[Metrics] Listen", "a port with a letter");
	bad("[TOTP]\nDigits = six\n", "[TOTP] Digits: \"six\" is not a whole number", "digits not a number");
	bad("[TOTP]\nDigits = 6x\n", "is not a whole number", "trailing garbage after a number");
	bad("[TOTP]\nDigits =\n", "[TOTP] Digits: needs a value", "an empty number");
	bad("[TOTP]\nDigits = 6\nDigits = 8\n", "test.conf:3: [TOTP] Digits: set twice", "a key set twice");
	bad("[TOTP]\nAlgorithm = MD5\n", "unknown algorithm \"MD5\"", "an unknown algorithm");
	bad("[Store]\nBackend = mysql\n", "[Store] Backend: unknown value \"mysql\"", "an unknown backend");
	bad("[Email]\nCodeLifetime = 5 minutes\n", "is not a duration", "a malformed duration");
	bad("[Email]\nCodeLifetime = 10s\n", "out of range", "a duration out of range");
	bad("[Email]\nCodeLifetime = 99999999999999999999d\n", "is not a duration", "an overflowing duration");
	bad("[Session]\nDurations = 8h, 4h\n", "increasing order", "durations out of order");
	bad("[Session]\nDurations = 4h, soon\n", "\"soon\" is not a valid duration", "a bad duration in a list");
	bad("[Session]\nDefaultDuration = 48h\nMaxDuration = 24h\n", "DefaultDuration is longer than MaxDuration",
	    "a default above the maximum");
	bad("[Activator]\nAllowedUsers = root, no-such-user-wgotp\n", "no such user \"no-such-user-wgotp\"",
	    "an unknown user");
	bad("[Activator]\nAllowedGroups = no-such-group-wgotp\n", "no such group", "an unknown group");
	bad("[Activator]\nInterface = a/b\n", "is not an interface name", "a bad interface name");
	bad("[Activator]\nReplyTimeout = 2h\n", "is not a time in milliseconds", "a bad millisecond value");
	bad("[General]\nDirectory =\n", "may not be empty", "an empty mandatory path");
	{
		struct wgotp_config *c = NULL;
		struct wgotp_error err = { "" };
		const char nul[] = "[TOTP]\nDigits = 6\0\n";

		is_int(wgotp_config_parse("x.conf", nul, sizeof(nul) - 1, &c, &err), -EINVAL, "a NUL byte refused");
		ok(strstr(err.msg, "NUL") != NULL, "message says NUL");
	}
}

static void test_files(void)
{
	char *dir = tu_tmpdir(), *path, *sample;
	struct wgotp_config *c = NULL;
	struct wgotp_error err = { "" };
	const char *srcdir = getenv("top_srcdir");

	path = tu_write(dir, "wgotp.conf", "[Store]\nPath = state.db\n", 0640);
	is_int(wgotp_config_load(path, &c, &err), 0, "load from a file");
	if (c) {
		char want[512];

		snprintf(want, sizeof(want), "%s/state.db", dir);
		is_str(c->store_path, want, "relative path next to the file");
		is_str(c->path, path, "the config remembers its path");
	}
	wgotp_config_free(c);
	c = NULL;
	/* Writable by group or others: refused, naming the file and mode. */
	chmod(path, 0664);
	err.msg[0] = '\0';
	is_int(wgotp_config_load(path, &c, &err), -EPERM, "a wgotp.conf writable by group is refused");
	ok(!c && strstr(err.msg, "wgotp.conf") && strstr(err.msg, "0664"), "saying why: %s", err.msg);
	chmod(path, 0646);
	is_int(wgotp_config_load(path, &c, &err), -EPERM, "a wgotp.conf writable by others is refused");
	chmod(path, 0644);
	is_int(wgotp_config_load(path, &c, &err), 0, "0644 loads");
	wgotp_config_free(c);
	c = NULL;
	is_int(wgotp_config_load("/nonexistent/wgotp.conf", &c, &err), -ENOENT, "a missing file");
	ok(strstr(err.msg, "/nonexistent/wgotp.conf") != NULL, "the message names the file");
	is_int(wgotp_config_load(dir, &c, &err), -EINVAL, "a directory is refused");

	if (srcdir && asprintf(&sample, "%s/wgotp.conf.sample", srcdir) >= 0) {
		int r = wgotp_config_load(sample, &c, &err);

		is_int(r, 0, "the shipped sample parses");
		if (r)
			diag("%s", err.msg);
		wgotp_config_free(c);
		c = NULL;
		free(sample);
	} else {
		ok(0, "top_srcdir is set by the test harness");
	}
	setenv("WGOTP_CONF", "/env/wgotp.conf", 1);
	is_str(wgotp_config_path("/cli.conf"), "/cli.conf", "-c wins");
	is_str(wgotp_config_path(NULL), "/env/wgotp.conf", "then WGOTP_CONF");
	unsetenv("WGOTP_CONF");
	is_str(wgotp_config_path(NULL), WGOTP_DEFAULT_CONF, "then the default");
	free(path);
	tu_rmdir(dir);
}

static void test_network(void)
{
	struct wgotp_config *c = NULL;
	struct wgotp_error err = { "" };
	const char *good =
		"[Network]\n"
		"Endpoint = vpn.example.com:51820\n"
		"AddressPool = 10.8.0.0/24, fd00:8::/64\n"
		"DNS = 10.8.0.1, corp.example.com\n"
		"ClientAllowedIPs = 10.0.0.0/8, 0.0.0.0/0\n"
		"PersistentKeepalive = 25\n"
		"ServerPublicKey = HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\n";

	is_int(wgotp_config_defaults(&c), 0, "defaults");
	ok(c && !c->net_endpoint && !c->net_pool && !c->net_dns && !c->net_client_allowed_ips &&
	   c->net_keepalive == 0 && !c->net_server_key, "[Network]: everything unset by default");
	wgotp_config_free(c);
	c = NULL;
	is_int(parse(good, &c, &err), 0, "[Network] with every key");
	if (c) {
		is_str(c->net_endpoint, "vpn.example.com:51820", "Endpoint");
		is_str(c->net_pool, "10.8.0.0/24, fd00:8::/64", "AddressPool");
		is_str(c->net_dns, "10.8.0.1, corp.example.com", "DNS");
		is_str(c->net_client_allowed_ips, "10.0.0.0/8, 0.0.0.0/0", "ClientAllowedIPs");
		is_int(c->net_keepalive, 25, "PersistentKeepalive");
		is_str(c->net_server_key, "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=", "ServerPublicKey");
	}
	wgotp_config_free(c);
	c = NULL;
	is_int(parse("[Network]\nEndpoint = [2001:db8::1]:51820\n", &c, &err), 0, "an IPv6 endpoint in brackets");
	wgotp_config_free(c);
	c = NULL;
	bad("[Network]\nEndpoint = vpn.example.com\n", "test.conf:2: [Network] Endpoint: \"vpn.example.com\" is not host:port",
	    "an endpoint without a port");
	bad("[Network]\nEndpoint = vpn:99999\n", "test.conf:2: [Network] Endpoint", "a port out of range");
	bad("[Network]\nEndpoint = 2001:db8::1:51820\n", "test.conf:2: [Network] Endpoint", "IPv6 without brackets");
	bad("[Network]\nEndpoint = a b:1\n", "test.conf:2: [Network] Endpoint", "a space in the host");
	bad("[Network]\n\nAddressPool = 10.8.0.1/24\n", "test.conf:3: [Network] AddressPool: \"10.8.0.1/24\"",
	    "a pool with host bits");
	bad("[Network]\nAddressPool = 10.8.0.0/24, 10.9.0.0/24\n", "test.conf:2: [Network] AddressPool: one IPv4",
	    "two IPv4 pools");
	bad("[Network]\nAddressPool = fd00::/64\n", "test.conf:2: [Network] AddressPool: needs an IPv4 prefix",
	    "an IPv6-only pool");
	bad("[Network]\nAddressPool = 10.8.0.0/31\n", "[Network] AddressPool: one IPv4", "a pool too small");
	bad("[Network]\nClientAllowedIPs = 10.0.0.0/8,,\n", "test.conf:2: [Network] ClientAllowedIPs: \"\"",
	    "an empty prefix in ClientAllowedIPs");
	bad("[Network]\nPersistentKeepalive = 70000\n", "test.conf:2: [Network] PersistentKeepalive: must be within 0..65535",
	    "a keepalive out of range");
	bad("[Network]\nServerPublicKey = abc\n", "test.conf:2: [Network] ServerPublicKey: not a WireGuard public key",
	    "a bad server key");
	bad("[Network]\nDNS = 10.8.0.1; rm\n", "test.conf:2: [Network] DNS", "a DNS line with a semicolon");
}

static void test_duration(void)
{
	int64_t v = 0;

	is_int(wgotp_parse_duration("90", &v), 0, "90");
	is_int(v, 90, "90 seconds");
	wgotp_parse_duration("8h", &v);
	is_int(v, 8 * 3600, "8h");
	wgotp_parse_duration("1d", &v);
	is_int(v, 86400, "1d");
	is_int(wgotp_parse_duration("-5", &v), -EINVAL, "negative refused");
	is_int(wgotp_parse_duration("5w", &v), -EINVAL, "weeks refused");
	is_int(wgotp_parse_duration("5hh", &v), -EINVAL, "double suffix refused");
	is_int(wgotp_parse_duration("", &v), -EINVAL, "empty refused");
}

/* [Portal]: the lists, and plain HTTP only on loopback */
static void test_portal(void)
{
	struct wgotp_config *c = NULL;
	struct wgotp_error err = { "" };

	ok(parse("[Portal]\nListen = 127.0.0.1:8080, [::1]:8443\nTrustedProxies = 127.0.0.1, 10.0.0.0/8\n",
		 &c, &err) == 0, "two loopback listeners without a certificate (%s)", err.msg);
	if (c) {
		is_int(c->n_portal_listen, 2, "two listeners");
		ok(c->portal_listen[0].loopback && c->portal_listen[1].loopback, "both loopback");
		is_int(c->portal_listen[1].addr.ss_family, AF_INET6, "the second is IPv6");
		is_int(c->n_portal_trusted_proxies, 2, "two trusted proxies");
		is_int(c->portal_cookie_lifetime, 900, "CookieLifetime defaults to 15 min");
		is_int(c->portal_max_body, 4096, "MaxBodySize defaults to 4 KiB");
		wgotp_config_free(c);
		c = NULL;
	}
	ok(parse("[Portal]\nListen = 0.0.0.0:443\nCertificateFile = /c.pem\nPrivateKeyFile = /k.pem\n",
		 &c, &err) == 0, "any address with a certificate and key");
	wgotp_config_free(c);
	bad("[Portal]\nListen = 0.0.0.0:8080\n", "Listen 0.0.0.0:8080 is not a loopback address",
	    "a non-loopback Listen without a certificate");
	bad("[Portal]\nListen = [::]:8080\n", "is not a loopback address", "... nor [::]");
	bad("[Portal]\nListen = 127.0.0.1:8080\nCertificateFile = /c.pem\n", "go together",
	    "a certificate without its key");
	bad("[Portal]\nListen = localhost:8080\n", "test.conf:2: [Portal] Listen: \"localhost:8080\" is not a numeric address",
	    "a host name in Listen");
	bad("[Portal]\nListen = 127.0.0.1:0\n", "test.conf:2: [Portal] Listen", "port 0");
	bad("[Portal]\nListen = 127.0.0.1\n", "test.conf:2: [Portal] Listen", "no port");
	bad("[Portal]\nListen = ::1:8080\n", "test.conf:2: [Portal] Listen", "IPv6 without brackets");
	bad("[Portal]\nTrustedProxies = 10.0.0.1/8\n", "test.conf:2: [Portal] TrustedProxies: \"10.0.0.1/8\"",
	    "a prefix with host bits");
	bad("[Portal]\nPublicURL = vpn.example.com\n", "PublicURL", "a PublicURL without a scheme");
	bad("[Portal]\nMaxBodySize = 10\n", "test.conf:2: [Portal] MaxBodySize: must be within", "a tiny MaxBodySize");
}

int main(void)
{
	test_defaults();
	test_portal();
	test_good();
	test_bad();
	test_files();
	test_duration();
	test_network();
	return done_testing();
}
