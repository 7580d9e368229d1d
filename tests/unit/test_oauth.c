/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Token endpoint and Graph replies, Retry-After, the token cache (over an
 * in-memory store), and the mailer factory's checks of the configuration.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "mail.h"
#include "mail_http.h"
#include "mail_transport.h"
#include "oauth.h"
#include "secret.h"
#include "tap.h"
#include "testutil.h"

/* A one-entry kv store, enough for the token cache. */
struct memkv {
	char key[256];
	char *val;
	int64_t expires;
	int gets, puts, dels;
};

static int mem_put(void *st, const char *key, const char *val, int64_t expires)
{
	struct memkv *m = st;

	m->puts++;
	snprintf(m->key, sizeof(m->key), "%s", key);
	free(m->val);
	m->val = strdup(val);
	m->expires = expires;
	return 0;
}

static int mem_get(void *st, const char *key, int64_t now, char **val)
{
	struct memkv *m = st;

	m->gets++;
	if (!m->val || strcmp(key, m->key) || now >= m->expires)
		return -ENOENT;
	*val = strdup(m->val);
	return *val ? 0 : -ENOMEM;
}

static int mem_del(void *st, const char *key)
{
	struct memkv *m = st;

	m->dels++;
	if (!m->val || strcmp(key, m->key))
		return -ENOENT;
	free(m->val);
	m->val = NULL;
	return 0;
}

static const struct wgotp_store_ops mem_ops = {
	.name = "memkv", .kv_put = mem_put, .kv_get = mem_get, .kv_del = mem_del,
};

static void test_parse_token(void)
{
	struct wgotp_error err;
	char *tok = NULL;
	int64_t exp = 0;
	const char *ok1 = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
			  "\"access_token\":\"eyJ0eXAi.eyJhdWQi.c2lnbmF0dXJl-_\"}";

#define P(s) wgotp_oauth_parse_token((s), strlen(s), &tok, &exp, &err)
	is_int(P(ok1), 0, "a token reply");
	is_str(tok, "eyJ0eXAi.eyJhdWQi.c2lnbmF0dXJl-_", "access_token");
	is_int(exp, 3599, "expires_in");
	wgotp_free_str(tok);
	is_int(P("{\"token_type\":\"bearer\",\"expires_in\":\"3600\",\"access_token\":\"abc=\"}"), 0,
	       "expires_in as a string, token_type in lower case");
	is_int(exp, 3600, "string expires_in");
	wgotp_free_str(tok);
	is_int(P("{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret provided.\\r\\nTrace ID: x\",\"error_codes\":[7000215]}"),
	       -EACCES, "an error reply");
	is_str(err.msg, "token endpoint: invalid_client: AADSTS7000215: Invalid client secret provided.",
	       "names the error and the first line of the description");
	ok(tok == NULL, "no token");
	is_int(P("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"abc\\r\\nX-Evil: 1\"}"),
	       -EPROTO, "a token with CRLF is refused (it would go into a header)");
	is_int(P("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"a b\"}"), -EPROTO,
	       "a token with a space is refused");
	is_int(P("{\"token_type\":\"MAC\",\"expires_in\":3599,\"access_token\":\"abc\"}"), -EPROTO,
	       "not Bearer");
	is_int(P("{\"token_type\":\"Bearer\",\"access_token\":\"abc\"}"), -EPROTO, "no expires_in");
	is_int(P("{\"token_type\":\"Bearer\",\"expires_in\":-5,\"access_token\":\"abc\"}"), -EPROTO,
	       "negative expires_in");
	is_int(P("{\"token_type\":\"Bearer\",\"expires_in\":3599}"), -EPROTO, "no access_token");
	is_int(P("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":7}"), -EPROTO,
	       "access_token not a string");
	is_int(P("<html>Bad gateway</html>"), -EPROTO, "not JSON");
	is_int(P("[1,2]"), -EPROTO, "not an object");
	is_int(P(""), -EPROTO, "empty");
	is_int(P("{\"token_type\":\"Bearer\",\"expires_in\":1,\"access_token\":\"a\"} trailing"), -EPROTO,
	       "trailing garbage");
	is_int(P("{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"),
	       -EPROTO, "too deep");
	is_int(wgotp_oauth_parse_token("{\"x\":1}\0{", 9, &tok, &exp, &err), -EPROTO, "NUL inside");
#undef P
}

static void test_graph_error(void)
{
	char code[64], msg[128];
	const char *e = "{\"error\":{\"code\":\"ErrorInvalidUser\",\"message\":\"The requested user 'x@y' is invalid.\\nmore\",\"innerError\":{\"date\":\"2025-03-04T09:05:00\"}}}";

	is_int(wgotp_graph_parse_error(e, strlen(e), code, sizeof(code), msg, sizeof(msg)), 0, "Graph error");
	is_str(code, "ErrorInvalidUser", "code");
	is_str(msg, "The requested user 'x@y' is invalid.", "message, first line");
	is_int(wgotp_graph_parse_error("{\"error\":\"x\"}", 13, code, sizeof(code), msg, sizeof(msg)),
	       -EPROTO, "error not an object");
	is_int(wgotp_graph_parse_error("nope", 4, code, sizeof(code), msg, sizeof(msg)), -EPROTO, "not JSON");
	is_int(wgotp_graph_parse_error(e, strlen(e), code, 5, msg, 3), 0, "small buffers");
	is_str(code, "Erro", "code cut to fit");
	is_str(msg, "Th", "message cut to fit");
}

static void test_retry_after(void)
{
	int64_t s = -1;

	is_int(wgotp_http_parse_retry_after(" 7\r\n", 1000, &s), 0, "delta-seconds");
	is_int(s, 7, "7 s");
	is_int(wgotp_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470, &s), 0, "HTTP date");
	is_int(s, 10, "10 s from now");
	is_int(wgotp_http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490, &s), 0, "date past");
	is_int(s, 0, "0 s");
	is_int(wgotp_http_parse_retry_after("soon", 0, &s), -EINVAL, "garbage");
	is_int(wgotp_http_parse_retry_after("5x", 0, &s), -EINVAL, "trailing garbage");
	ok(wgotp_oauth_token_ok("abc.DEF-_~+/=="), "b64token");
	ok(!wgotp_oauth_token_ok("=abc"), "padding first refused");
	ok(!wgotp_oauth_token_ok(""), "empty refused");
}

static struct wgotp_config *conf(const char *dir, const char *text, struct wgotp_error *err)
{
	struct wgotp_config *cfg = NULL;
	char *name;

	if (asprintf(&name, "%s/wgotp.conf", dir) < 0)
		abort();
	if (wgotp_config_parse(name, text, strlen(text), &cfg, err) < 0)
		diag("config: %s", err->msg);
	free(name);
	return cfg;
}

static void test_cache(void)
{
	char *dir = tu_tmpdir(), *secret, *text, *tok = NULL;
	struct memkv kv = { 0 };
	struct wgotp_store store = { .ops = &mem_ops, .state = &kv };
	struct wgotp_config *cfg;
	struct wgotp_oauth o;
	struct wgotp_deadline dl;
	struct wgotp_error err;
	struct timespec t0, t1;
	const char *scope = "https://graph.microsoft.com/.default";

	secret = tu_write(dir, "secret", "s3cr3t\n", 0600);
	/* An authority nobody listens on: any fetch fails at once. */
	if (asprintf(&text, "[Mail]\nTransport = graph\nFrom = vpn@example.com\n"
		     "[Graph]\nTenant = contoso.onmicrosoft.com\nClientId = abc-123\n"
		     "ClientSecretFile = %s\nAuthority = https://127.0.0.1:1\n", secret) < 0)
		abort();
	cfg = conf(dir, text, &err);
	ok(cfg != NULL, "config");
	if (!cfg)
		goto out;
	is_int(wgotp_oauth_init(&o, cfg, &store, &err), 0, "oauth init: %s", err.msg);
	is_str(o.token_url, "https://127.0.0.1:1/contoso.onmicrosoft.com/oauth2/v2.0/token", "token URL");

	mem_put(&kv, "oauth:contoso.onmicrosoft.com:abc-123:https://graph.microsoft.com/.default",
		"cached.token", 2000);
	kv.puts = 0;
	wgotp_deadline_start(&dl, 2000);
	is_int(wgotp_oauth_token(&o, scope, 1000, false, &dl, &tok, &err), 0, "a cached token is used");
	is_str(tok, "cached.token", "the cached one");
	wgotp_free_str(tok);
	tok = NULL;

	is_int(wgotp_oauth_token(&o, "https://outlook.office365.com/.default", 1000, false, &dl, &tok, &err),
	       -ECONNREFUSED, "another scope is another cache entry (fetch fails here)");
	diag("%s", err.msg);
	is_int(wgotp_oauth_token(&o, scope, 2000, false, &dl, &tok, &err), -ECONNREFUSED,
	       "an expired entry is not used");
	is_int(kv.dels, 0, "nothing deleted so far");
	is_int(wgotp_oauth_token(&o, scope, 1000, true, &dl, &tok, &err), -ECONNREFUSED,
	       "refresh skips the cache");
	is_int(kv.dels, 1, "and drops the cached token");
	ok(kv.val == NULL, "which is gone");
	is_int(kv.puts, 0, "no failed fetch is cached");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	wgotp_deadline_start(&dl, 0);
	is_int(wgotp_oauth_token(&o, scope, 1000, false, &dl, &tok, &err), -ETIMEDOUT,
	       "no budget left: -ETIMEDOUT");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	diag("returned after %ld ms", (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	wgotp_oauth_clear(&o);
out:
	wgotp_config_free(cfg);
	free(kv.val);
	free(secret);
	free(text);
	tu_rmdir(dir);
}

static void test_factory(void)
{
	char *dir = tu_tmpdir(), *text, *secret, *open_secret, *body, *typo;
	struct wgotp_config *cfg;
	struct wgotp_mailer m;
	struct wgotp_error err;

	secret = tu_write(dir, "secret", "s3cr3t\n", 0600);
	open_secret = tu_write(dir, "open", "s3cr3t\n", 0644);
	body = tu_write(dir, "body.txt", "Code %{code}\n", 0644);
	typo = tu_write(dir, "typo.txt", "Code %{cde}\n", 0644);

#define FACTORY(conftext, want, what) do { \
	cfg = conf(dir, conftext, &err); \
	ok(cfg != NULL, "config for: %s", what); \
	if (cfg) { \
		int _r = wgotp_mailer_from_config(cfg, NULL, &m, &err); \
		is_int(_r, want, "%s", what); \
		diag("%s", _r < 0 ? err.msg : wgotp_mailer_transport(&m)); \
		if (_r == 0) \
			m.free(m.arg); \
		wgotp_config_free(cfg); \
	} \
} while (0)

	FACTORY("", -ENOSYS, "Transport none: -ENOSYS");
	ok(strstr(err.msg, "Transport") != NULL, "the message says why");
	FACTORY("[Mail]\nTransport = sendmail\n", -EINVAL, "no From");
	FACTORY("[Mail]\nTransport = sendmail\nFrom = VPN <vpn@example.com>\n", -EINVAL, "From with a display name");
	FACTORY("[Mail]\nTransport = sendmail\nFrom = vpn@example.com\n[Sendmail]\nPath = /bin/sh\n", 0,
		"sendmail with an executable");
	FACTORY("[Mail]\nTransport = sendmail\nFrom = vpn@example.com\n[Sendmail]\nPath = /nonexistent/sendmail\n",
		-ENOENT, "sendmail that does not exist");
	FACTORY("[Mail]\nTransport = sendmail\nFrom = vpn@example.com\nSubject = Code %{kode}\n[Sendmail]\nPath = /bin/sh\n",
		-EINVAL, "a typo in the subject");
	ok(strstr(err.msg, "[Mail] Subject") != NULL, "names the key");

	if (asprintf(&text, "[Mail]\nTransport = sendmail\nFrom = vpn@example.com\nBodyFile = %s\n[Sendmail]\nPath = /bin/sh\n", body) < 0)
		abort();
	FACTORY(text, 0, "a body template file");
	free(text);
	if (asprintf(&text, "[Mail]\nTransport = sendmail\nFrom = vpn@example.com\nBodyFile = %s\n[Sendmail]\nPath = /bin/sh\n", typo) < 0)
		abort();
	FACTORY(text, -EINVAL, "a body template with a typo");
	free(text);

	FACTORY("[Mail]\nTransport = smtp\nFrom = vpn@example.com\n[SMTP]\nURL = http://mail.example.com\n",
		-EINVAL, "SMTP needs smtp:// or smtps://");
	FACTORY("[Mail]\nTransport = smtp\nFrom = vpn@example.com\n[SMTP]\nURL = smtp://mail.example.com:587\nAuth = plain\n",
		-EINVAL, "plain auth needs a password file");
	if (asprintf(&text, "[Mail]\nTransport = smtp\nFrom = vpn@example.com\n[SMTP]\nURL = smtp://mail.example.com:587\nAuth = plain\nPasswordFile = %s\n", open_secret) < 0)
		abort();
	FACTORY(text, -EPERM, "a world-readable password file is refused");
	free(text);
	if (asprintf(&text, "[Mail]\nTransport = smtp\nFrom = vpn@example.com\n[SMTP]\nURL = smtps://mail.example.com\nAuth = plain\nPasswordFile = %s\n", secret) < 0)
		abort();
	FACTORY(text, 0, "SMTPS with a password");
	free(text);
	FACTORY("[Mail]\nTransport = smtp\nFrom = vpn@example.com\n[SMTP]\nURL = smtp://smtp.office365.com:587\nAuth = xoauth2\n",
		-EINVAL, "XOAUTH2 needs the [Graph] application");

	FACTORY("[Mail]\nTransport = graph\nFrom = vpn@example.com\n[Graph]\nClientId = abc\n", -EINVAL, "Graph without a tenant");
	if (asprintf(&text, "[Mail]\nTransport = graph\nFrom = vpn@example.com\n[Graph]\nTenant = t/../x\nClientId = abc\nClientSecretFile = %s\n", secret) < 0)
		abort();
	FACTORY(text, -EINVAL, "a tenant that is not an id");
	free(text);
	FACTORY("[Mail]\nTransport = graph\nFrom = vpn@example.com\n[Graph]\nTenant = t\nClientId = abc\n", -EINVAL,
		"Graph without a credential");
	if (asprintf(&text, "[Mail]\nTransport = graph\nFrom = vpn@example.com\n[Graph]\nTenant = t\nClientId = abc\nClientSecretFile = %s\nCertificateFile = %s\n", secret, body) < 0)
		abort();
	FACTORY(text, -EINVAL, "Graph with two credentials");
	free(text);
	if (asprintf(&text, "[Mail]\nTransport = graph\nFrom = vpn@example.com\n[Graph]\nTenant = t\nClientId = abc\nClientSecretFile = %s\nURL = http://graph.example\n", secret) < 0)
		abort();
	FACTORY(text, -EINVAL, "a Graph URL that is not https");
	free(text);
	if (asprintf(&text, "[Mail]\nTransport = graph\nFrom = vpn@example.com\n[Graph]\nTenant = t\nClientId = abc\nClientSecretFile = %s\n", open_secret) < 0)
		abort();
	FACTORY(text, -EPERM, "a world-readable client secret is refused");
	free(text);
	if (asprintf(&text, "[Mail]\nTransport = graph\nFrom = vpn@example.com\n[Graph]\nTenant = t\nClientId = abc\nClientSecretFile = %s\n", secret) < 0)
		abort();
	FACTORY(text, 0, "Graph with a client secret");
	free(text);
#undef FACTORY
	free(secret);
	free(open_secret);
	free(body);
	free(typo);
	tu_rmdir(dir);
}

struct sender {
	struct wgotp_mailer *m;
	int failures;
	char why[sizeof(((struct wgotp_error *)0)->msg)];
};

static void *send_some(void *arg)
{
	struct sender *s = arg;
	struct wgotp_error err;

	for (int i = 0; i < 10; i++) {
		struct wgotp_mail_code c = {
			.to = "alice@example.com", .code = "123456", .lifetime = 300, .now = 1741079100,
		};

		if (s->m->send_code(s->m->arg, &c, &err) < 0) {
			s->failures++;
			snprintf(s->why, sizeof(s->why), "%s", err.msg);
		}
	}
	return NULL;
}

/* One mailer, eight threads (FreeRADIUS workers): every send is its own. */
static void test_threads(void)
{
	char *dir = tu_tmpdir(), *sm, *text;
	struct sender s[8];
	pthread_t t[8];
	struct wgotp_config *cfg;
	struct wgotp_mailer m;
	struct wgotp_error err;
	int failures = 0, n = 0;
	char path[512];
	FILE *f;

	if (asprintf(&text, "%s/out", dir) < 0 || mkdir(text, 0700) < 0)
		abort();
	free(text);
	/* Each call writes its input to a file of its own. */
	sm = tu_write(dir, "sendmail", "#!/bin/sh\ncat >\"$(mktemp \"$(dirname \"$0\")/out/m.XXXXXX\")\"\n", 0755);
	if (asprintf(&text, "[Mail]\nTransport = sendmail\nFrom = vpn@example.com\n[Sendmail]\nPath = %s\n", sm) < 0)
		abort();
	cfg = conf(dir, text, &err);
	if (!cfg || wgotp_mailer_from_config(cfg, NULL, &m, &err) < 0) {
		ok(0, "mailer for the thread test: %s", err.msg);
		goto out;
	}
	for (int i = 0; i < 8; i++) {
		s[i] = (struct sender){ .m = &m };
		pthread_create(&t[i], NULL, send_some, &s[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		failures += s[i].failures;
		if (s[i].failures)
			diag("thread %d: %s", i, s[i].why);
	}
	is_int(failures, 0, "80 sends from 8 threads through one mailer");
	snprintf(path, sizeof(path), "ls '%s/out' | wc -l", dir);
	f = popen(path, "r");
	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	is_int(n, 80, "80 messages recorded");
	m.free(m.arg);
out:
	wgotp_config_free(cfg);
	free(sm);
	free(text);
	tu_rmdir(dir);
}

int main(void)
{
	test_parse_token();
	test_graph_error();
	test_retry_after();
	test_cache();
	test_factory();
	test_threads();
	return done_testing();
}
