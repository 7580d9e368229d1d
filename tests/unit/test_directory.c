/* SPDX-License-Identifier: GPL-2.0-or-later */
/* users.json: load, validation, lookups, edits, atomic save, the cache. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

#include "directory.h"
#include "file.h"
#include "log.h"
#include "tap.h"
#include "testutil.h"

static char K1[45], K2[45], K3[45], K4[45];

static void make_keys(void)
{
	uint8_t k[32];

	memset(k, 1, 32);
	wgotp_key_to_base64(K1, k);
	memset(k, 2, 32);
	wgotp_key_to_base64(K2, k);
	memset(k, 3, 32);
	wgotp_key_to_base64(K3, k);
	memset(k, 4, 32);
	wgotp_key_to_base64(K4, k);
}

__attribute__((format(printf, 1, 2)))
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* A valid file with users ALICE and BOB, in which the test replaces
 * parts: ALICE_EXTRA, BOB_EXTRA go into the user objects, BOB_KEY and
 * BOB_IPS are bob's device. */
static char *doc(const char *alice_extra, const char *bob_extra, const char *bob_key, const char *bob_ips)
{
	return fmt("{ \"version\": 1, \"users\": {\n"
		   " \"Alice@Example.com\": { \"name\": \"Alice Example\", \"method\": \"totp\",\n"
		   "   \"totp_secret\": \"JBSWY3DPEHPK3PXP\", \"totp_state\": \"active\",\n"
		   "   \"enabled\": true, \"require_otp\": true%s,\n"
		   "   \"devices\": [ { \"name\": \"laptop\", \"public_key\": \"%s\",\n"
		   "                  \"allowed_ips\": [\"10.8.0.2/32\", \"fd00::2/128\"] } ] },\n"
		   " \"bob@example.com\": { \"method\": \"email\"%s,\n"
		   "   \"devices\": [ { \"name\": \"phone\", \"public_key\": \"%s\",\n"
		   "                  \"allowed_ips\": [%s] } ] } } }\n",
		   alice_extra, K1, bob_extra, bob_key, bob_ips);
}

static char *valid_doc(void)
{
	return doc("", "", K2, "\"10.8.0.3/32\"");
}

static int parse(const char *json, struct wgotp_directory **d, struct wgotp_error *err)
{
	wgotp_error_clear(err);
	return wgotp_dir_parse("users.json", json, strlen(json), d, err);
}

/* json must be refused with -EINVAL and a message containing each of
 * the NULL-terminated substrings. */
static void bad(const char *what, char *json, ...)
{
	struct wgotp_directory *d = (void *)1;
	struct wgotp_error err;
	const char *sub;
	bool all = true;
	va_list ap;
	int r;

	r = parse(json, &d, &err);
	va_start(ap, json);
	while ((sub = va_arg(ap, const char *)))
		if (!strstr(err.msg, sub)) {
			diag("message lacks \"%s\"", sub);
			all = false;
		}
	va_end(ap);
	if (!ok(r == -EINVAL && d == NULL && all, "refuse %s", what))
		diag("ret %d, message: %s", r, err.msg);
	else
		diag("  %s", err.msg);
	wgotp_dir_free(d == (void *)1 ? NULL : d);
	free(json);
}

static void test_load_valid(const char *tmp)
{
	struct wgotp_directory *d = NULL;
	struct wgotp_user *u, *owner;
	struct wgotp_device *dev;
	struct wgotp_error err;
	char *json = valid_doc(), *path, ip[50];

	path = tu_write(tmp, "users.json", json, 0640);
	is_int(wgotp_dir_load(path, &d, &err), 0, "load a valid file");
	if (!d) {
		diag("%s", err.msg);
		goto cleanup;
	}
	is_int(d->n_users, 2, "two users");
	is_str(d->users[0].email, "alice@example.com", "emails lower-cased, sorted");
	is_str(d->users[1].email, "bob@example.com", "second user");
	u = &d->users[0];
	is_str(u->name, "Alice Example", "name");
	ok(u->method == WGOTP_METHOD_TOTP && u->totp_state == WGOTP_TOTP_ACTIVE, "totp, active");
	is_str(u->totp_secret, "JBSWY3DPEHPK3PXP", "totp secret");
	ok(u->enabled && u->require_otp, "enabled, require_otp");
	is_int(u->n_devices, 1, "alice has one device");
	is_str(u->devices[0].name, "laptop", "device name");
	is_str(u->devices[0].public_key, K1, "public key text");
	ok(u->devices[0].key[0] == 1 && u->devices[0].key[31] == 1, "public key bytes");
	is_int(u->devices[0].n_allowed_ips, 2, "two allowed IPs");
	wgotp_cidr_format(&u->devices[0].allowed_ips[1], ip, sizeof(ip));
	is_str(ip, "fd00::2/128", "second allowed IP");
	u = &d->users[1];
	ok(u->name == NULL && u->method == WGOTP_METHOD_EMAIL && u->totp_secret == NULL &&
	   u->totp_state == WGOTP_TOTP_NONE && u->enabled && u->require_otp,
	   "defaults: no name, totp_state none, enabled, require_otp");

	ok(wgotp_dir_find(d, "alice@example.com") == &d->users[0], "find");
	ok(wgotp_dir_find(d, "ALICE@Example.COM") == &d->users[0], "find is case-insensitive");
	ok(wgotp_dir_find(d, "Bob@Example.Com") == &d->users[1], "find bob");
	ok(wgotp_dir_find(d, "carol@example.com") == NULL, "find: absent user");
	ok(wgotp_dir_find(d, "alice@example.co") == NULL, "find: prefix is not a match");
	ok(wgotp_dir_find(d, "") == NULL && wgotp_dir_find(d, NULL) == NULL, "find: empty and NULL");
	dev = wgotp_dir_find_key(d, K2, &owner);
	ok(dev && owner == &d->users[1] && !strcmp(dev->name, "phone"), "find_key gives device and owner");
	ok(wgotp_dir_find_key(d, K3, &owner) == NULL && owner == NULL, "find_key: unknown key");
	ok(wgotp_user_find_device(&d->users[0], "laptop") == &d->users[0].devices[0], "user_find_device");
	ok(wgotp_user_find_device(&d->users[0], "phone") == NULL, "user_find_device: other user's device");

	wgotp_dir_free(d);
	d = NULL;
	is_int(wgotp_dir_load("/nonexistent/users.json", &d, &err), -ENOENT, "missing file: -ENOENT");
	ok(d == NULL && strstr(err.msg, "/nonexistent/users.json"), "  message names the file");

	/* The smallest file. */
	is_int(parse("{\"version\":1,\"users\":{}}", &d, &err), 0, "empty directory");
	ok(d && d->n_users == 0 && wgotp_dir_find(d, "a@b.c") == NULL, "  no users, find works");
cleanup:
	wgotp_dir_free(d);
	free(json);
	free(path);
}

static void test_load_invalid(void)
{
	char *v = valid_doc(), *t;
	char long_email[300];

	bad("corrupt JSON", fmt("{ \"version\": 1, \"users\": { , } }"), "users.json: invalid JSON", NULL);
	t = strdup(v);
	t[strlen(t) / 2] = '\0';
	bad("truncated JSON", t, "users.json: invalid JSON", NULL);
	bad("empty file", fmt("%s", ""), "invalid JSON", NULL);
	bad("text after the JSON", fmt("%s x", v), "invalid JSON", NULL);
	bad("two JSON documents", fmt("%s%s", v, v), "invalid JSON", NULL);
	bad("a trailing comma", fmt("{ \"version\": 1, \"users\": {}, }"), "invalid JSON", NULL);
	bad("a comment", fmt("{ \"version\": 1, /* v1 */ \"users\": {} }"), "invalid JSON", NULL);
	bad("version NaN", fmt("{ \"version\": NaN, \"users\": {} }"), "\"version\" is not 1", NULL);
	bad("version 1.0", fmt("{ \"version\": 1.0, \"users\": {} }"), "\"version\" is not 1", NULL);
	bad("a JSON array", fmt("[1]"), "not a JSON object", NULL);
	bad("version 2", fmt("{ \"version\": 2, \"users\": {} }"), "\"version\" is not 1", NULL);
	bad("version \"1\"", fmt("{ \"version\": \"1\", \"users\": {} }"), "\"version\"", NULL);
	bad("no version", fmt("{ \"users\": {} }"), "no \"version\"", NULL);
	bad("no users", fmt("{ \"version\": 1 }"), "no \"users\"", NULL);
	bad("users an array", fmt("{ \"version\": 1, \"users\": [] }"), "\"users\" is not an object", NULL);
	bad("unknown top-level field", fmt("{ \"version\": 1, \"users\": {}, \"groups\": {} }"),
	    "unknown field \"groups\"", NULL);

	bad("unknown user field", doc("", ", \"colour\": \"blue\"", K2, "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": unknown field \"colour\"", NULL);
	bad("unknown device field",
	    doc("", "", K2, "\"10.8.0.3/32\"], \"endpoint\": [\"1.2.3.4:51820\""),
	    "user \"bob@example.com\"", "device \"phone\": unknown field \"endpoint\"", NULL);
	bad("enabled a string", doc("", ", \"enabled\": \"yes\"", K2, "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": \"enabled\" is not true or false", NULL);
	bad("require_otp a number", doc("", ", \"require_otp\": 1", K2, "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": \"require_otp\"", NULL);
	bad("devices an object",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"email\",\"devices\":{}}}}"),
	    "user \"a@b.cd\": \"devices\" is not an array", NULL);
	bad("allowed_ips not an array",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"email\",\"devices\":[{\"name\":\"x\","
		"\"public_key\":\"%s\",\"allowed_ips\":\"10.0.0.1/32\"}]}}}", K1),
	    "user \"a@b.cd\": device \"x\": \"allowed_ips\" is not an array", NULL);
	bad("allowed IP a number", doc("", "", K2, "42"), "user \"bob@example.com\"", "allowed IP", NULL);
	bad("user not an object", fmt("{\"version\":1,\"users\":{\"a@b.cd\":true}}"),
	    "user \"a@b.cd\": not an object", NULL);
	bad("device not an object", fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"email\","
					"\"devices\":[\"laptop\"]}}}"), "user \"a@b.cd\": device #1", NULL);
	bad("name a number", doc("", ", \"name\": 7", K2, "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": \"name\"", NULL);
	bad("name with a newline", doc("", ", \"name\": \"Bob\\nroot\"", K2, "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": \"name\"", NULL);
	bad("NUL inside a string", doc("", ", \"name\": \"Bob\\u0000x\"", K2, "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": \"name\"", NULL);
	bad("invalid UTF-8", doc("", ", \"name\": \"B\xff\"", K2, "\"10.8.0.3/32\""), "invalid JSON", NULL);

	bad("short key", doc("", "", "AAAA", "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": device \"phone\": \"public_key\" is not a WireGuard key", NULL);
	t = strdup(K2);
	t[42] = 'D';	/* stray low bits: not the canonical text */
	bad("non-canonical key", doc("", "", t, "\"10.8.0.3/32\""), "\"public_key\"", NULL);
	free(t);
	t = strdup(K2);
	t[5] = '-';
	bad("url-safe key", doc("", "", t, "\"10.8.0.3/32\""), "\"public_key\"", NULL);
	free(t);
	bad("missing key",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"email\",\"devices\":[{\"name\":\"x\","
		"\"allowed_ips\":[\"10.0.0.1/32\"]}]}}}"), "device \"x\" has no \"public_key\"", NULL);
	bad("duplicate key across users", doc("", "", K1, "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": device \"phone\": public key already used by user \"alice@example.com\" device \"laptop\"",
	    NULL);

	bad("bad CIDR", doc("", "", K2, "\"10.8.0.300/32\""),
	    "user \"bob@example.com\": device \"phone\": allowed IP \"10.8.0.300/32\"", NULL);
	bad("prefix too long", doc("", "", K2, "\"10.8.0.3/33\""), "allowed IP \"10.8.0.3/33\"", NULL);
	bad("host bits", doc("", "", K2, "\"10.8.0.3/24\""), "allowed IP \"10.8.0.3/24\"", NULL);
	bad("no allowed IPs", doc("", "", K2, ""), "user \"bob@example.com\": device \"phone\" has no \"allowed_ips\"",
	    NULL);
	bad("overlap with another user", doc("", "", K2, "\"10.8.0.0/24\""),
	    "allowed IP", "overlaps", "10.8.0.0/24", "10.8.0.2/32", NULL);
	bad("same address on two users", doc("", "", K2, "\"fd00::2/128\""),
	    "overlaps fd00::2/128 of user", NULL);
	bad("overlap with another device of the same user",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"email\",\"devices\":["
		"{\"name\":\"x\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.0/16\"]},"
		"{\"name\":\"y\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.0/16\",\"10.0.3.0/24\"]}]}}}",
		K1, K2), "user \"a@b.cd\": device \"y\": allowed IP 10.0.3.0/24 overlaps 10.0.0.0/16", NULL);
	bad("overlap hidden behind a same-device prefix",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"email\",\"devices\":["
		"{\"name\":\"x\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.0/8\",\"10.2.0.0/24\"]},"
		"{\"name\":\"y\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.2.0.0/16\"]}]}}}",
		K1, K2), "overlaps", NULL);
	bad("duplicate device name", fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"email\",\"devices\":["
					 "{\"name\":\"x\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1/32\"]},"
					 "{\"name\":\"x\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.2/32\"]}]}}}",
					 K1, K2), "user \"a@b.cd\": two devices named \"x\"", NULL);
	bad("device name with a space",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"email\",\"devices\":[{\"name\":\"my laptop\","
		"\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.1/32\"]}]}}}", K1), "user \"a@b.cd\": device #1",
	    NULL);

	bad("unknown field on alice", doc(", \"x\": 1", "", K2, "\"10.8.0.3/32\""),
	    "user \"Alice@Example.com\": unknown field \"x\"", NULL);
	t = doc("", "", K2, "\"10.8.0.3/32\"");
	{
		char *s = strstr(t, "\"totp_secret\": \"JBSWY3DPEHPK3PXP\",");

		memset(s, ' ', strlen("\"totp_secret\": \"JBSWY3DPEHPK3PXP\","));
	}
	bad("active totp without a secret", t,
	    "user \"alice@example.com\": totp_state \"active\" without a totp_secret", NULL);
	bad("pending totp without a secret",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"totp\",\"totp_state\":\"pending\"}}}"),
	    "user \"a@b.cd\": totp_state \"pending\" without a totp_secret", NULL);
	bad("secret not base32",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"totp\",\"totp_secret\":\"JBSWY3DPEHPK3PX1\"}}}"),
	    "user \"a@b.cd\": \"totp_secret\" is not base32", NULL);
	bad("secret too short (5 bytes)",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"totp\",\"totp_secret\":\"JBSWY3DP\"}}}"),
	    "\"totp_secret\"", NULL);
	bad("secret too long (65 bytes)",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"totp\",\"totp_secret\":\"%s\"}}}",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
	    "\"totp_secret\"", NULL);
	bad("totp_state unknown",
	    fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"totp\",\"totp_state\":\"on\"}}}"),
	    "\"totp_state\" is not", NULL);
	bad("method sms", fmt("{\"version\":1,\"users\":{\"a@b.cd\":{\"method\":\"sms\"}}}"),
	    "user \"a@b.cd\": \"method\" is not", NULL);
	bad("no method", fmt("{\"version\":1,\"users\":{\"a@b.cd\":{}}}"), "user \"a@b.cd\": no \"method\"", NULL);

	bad("email without a domain dot", fmt("{\"version\":1,\"users\":{\"alice@localhost\":{\"method\":\"email\"}}}"),
	    "user \"alice@localhost\": not a valid email address", NULL);
	bad("email without @", fmt("{\"version\":1,\"users\":{\"alice\":{\"method\":\"email\"}}}"),
	    "user \"alice\": not a valid email", NULL);
	bad("email with a control character",
	    fmt("{\"version\":1,\"users\":{\"a\\nb@c.de\":{\"method\":\"email\"}}}"),
	    "user \"a?b@c.de\": not a valid email", NULL);
	memset(long_email, 'a', sizeof(long_email));
	memcpy(long_email + 64, "@", 1);
	memcpy(long_email + 250, ".com", 5);	/* 254 characters... */
	for (int i = 125; i < 250; i += 60)
		long_email[i] = '.';
	ok(wgotp_email_valid(long_email) && strlen(long_email) == 254, "a 254-character email is valid");
	memcpy(long_email + 250, "a.com", 6);	/* ...255 are too many */
	ok(!wgotp_email_valid(long_email), "a 255-character email is not");
	bad("duplicate email after lower-casing",
	    fmt("{\"version\":1,\"users\":{\"bob@example.com\":{\"method\":\"email\"},"
		"\"Bob@Example.com\":{\"method\":\"email\"}}}"),
	    "user \"bob@example.com\": listed twice", NULL);

	free(v);
}

static void test_validators(void)
{
	static const char *good[] = {
		"alice@example.com", "A.Lice+vpn@Mail.Example.CO.uk", "a@b.cd", "x_y%z-1@ex-ample.com",
		"1@2.3",
	};
	static const char *badm[] = {
		"", "alice", "@example.com", "alice@", "alice@example", "alice@@example.com",
		"a@b@example.com", ".alice@example.com", "alice.@example.com", "al..ice@example.com",
		"alice@.example.com", "alice@example..com", "alice@example.com.", "alice@-example.com",
		"alice@example-.com", "al ice@example.com", "alice@exa mple.com", "\"alice\"@example.com",
		"alice@[10.0.0.1]", "al\xc3\xa9@example.com", "alice@ex_ample.com", "alice;rm@example.com",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",	/* 65 */
		"alice@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",	/* label 64 */
	};
	char name[80];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(wgotp_email_valid(good[i]), "valid email %s", good[i]);
	for (i = 0; i < sizeof(badm) / sizeof(badm[0]); i++)
		ok(!wgotp_email_valid(badm[i]), "invalid email \"%s\"", badm[i]);
	ok(!wgotp_email_valid(NULL), "NULL email");

	ok(wgotp_device_name_valid("laptop") && wgotp_device_name_valid("Pixel-7_pro.2") &&
	   wgotp_device_name_valid("x"), "valid device names");
	memset(name, 'a', sizeof(name));
	name[64] = '\0';
	ok(wgotp_device_name_valid(name), "64-character device name");
	name[64] = 'a';
	name[65] = '\0';
	ok(!wgotp_device_name_valid(name), "65-character device name");
	ok(!wgotp_device_name_valid("") && !wgotp_device_name_valid(NULL) &&
	   !wgotp_device_name_valid("my laptop") && !wgotp_device_name_valid("a/b") &&
	   !wgotp_device_name_valid("caf\xc3\xa9") && !wgotp_device_name_valid("a\n"),
	   "invalid device names");
}

static void test_mask(void)
{
	char out[64];

	wgotp_email_mask("alice@example.com", out, sizeof(out));
	is_str(out, "a***e@example.com", "mask alice");
	wgotp_email_mask("abc@example.com", out, sizeof(out));
	is_str(out, "a***c@example.com", "mask a 3-character local part");
	wgotp_email_mask("ab@example.com", out, sizeof(out));
	is_str(out, "a***@example.com", "mask a 2-character local part");
	wgotp_email_mask("a@example.com", out, sizeof(out));
	is_str(out, "a***@example.com", "mask a 1-character local part");
	wgotp_email_mask("nobody", out, sizeof(out));
	is_str(out, "***", "mask without @");
	wgotp_email_mask("alice@example.com", out, 6);
	is_str(out, "a***e", "mask truncated to the buffer");
}

static int count_entries(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    !strstr(e->d_name, ".idx"))	/* users.json's index is no temporary */
			n++;
	closedir(d);
	return n;
}

static void test_save(const char *tmp)
{
	struct wgotp_directory *d = NULL, *e = NULL;
	struct wgotp_error err;
	struct stat st;
	char *json = valid_doc(), *path = NULL, *before = NULL;
	char k[45];
	mode_t old;
	FILE *f;
	long n;
	int ret;

	if (parse(json, &d, &err)) {
		ok(0, "parse for save: %s", err.msg);
		goto cleanup;
	}
	path = fmt("%s/users.json", tmp);
	old = umask(0);
	is_int(wgotp_dir_save(d, path, &err), 0, "save with umask 0");
	umask(old);
	memset(&st, 0, sizeof(st));
	ret = stat(path, &st);	/* before ok(): its arguments are evaluated in any order */
	ok(ret == 0 && (st.st_mode & 07777) == 0640, "mode 0640 after save (got %o)",
	   (unsigned int)(st.st_mode & 07777));
	is_int(count_entries(tmp), 1, "no temporary file left behind");
	old = umask(0777);
	is_int(wgotp_dir_save(d, path, &err), 0, "save again with umask 0777");
	umask(old);
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640, "mode still 0640");

	is_int(wgotp_dir_load(path, &e, &err), 0, "load what was saved");
	if (!e)
		goto cleanup;
	ok(e->n_users == 2 && !strcmp(e->users[0].email, "alice@example.com") &&
	   !strcmp(e->users[0].name, "Alice Example") && !strcmp(e->users[0].totp_secret, "JBSWY3DPEHPK3PXP") &&
	   e->users[0].totp_state == WGOTP_TOTP_ACTIVE && e->users[0].n_devices == 1 &&
	   !strcmp(e->users[0].devices[0].public_key, K1) && e->users[0].devices[0].n_allowed_ips == 2 &&
	   !memcmp(&e->users[0].devices[0].allowed_ips[1], &d->users[0].devices[0].allowed_ips[1],
		   sizeof(struct wgotp_cidr)) &&
	   e->users[1].method == WGOTP_METHOD_EMAIL && e->users[1].name == NULL &&
	   !strcmp(e->users[1].devices[0].public_key, K2),
	   "round trip keeps every field");

	/* Keys are written as they are, not with "\/". */
	f = fopen(path, "r");
	before = calloc(1, 65536);
	n = f ? (long)fread(before, 1, 65535, f) : 0;
	if (f)
		fclose(f);
	ok(n > 0 && !strstr(before, "\\/") && strstr(before, "\"version\": 1"), "pretty JSON, no escaped slashes");

	/* Save validates: a duplicate key made by hand is refused and the
	 * file on disk stays as it was. */
	memcpy(k, d->users[1].devices[0].public_key, sizeof(k));
	memcpy(d->users[1].devices[0].public_key, K1, sizeof(k));
	memcpy(d->users[1].devices[0].key, d->users[0].devices[0].key, 32);
	is_int(wgotp_dir_save(d, path, &err), -EINVAL, "save refuses a directory that fails validation");
	ok(strstr(err.msg, "public key already used") != NULL, "  and says why: %s", err.msg);
	{
		char *after = calloc(1, 65536);

		f = fopen(path, "r");
		if (f) {
			if (fread(after, 1, 65535, f) == 0)
				after[0] = '\0';
			fclose(f);
		}
		ok(!strcmp(before, after), "  the file is unchanged");
		free(after);
	}
	is_int(count_entries(tmp), 1, "  and no temporary file is left");
	memcpy(d->users[1].devices[0].public_key, k, sizeof(k));
	d->users[1].devices[0].key[0] = 2;	/* text and bytes disagree */
	is_int(wgotp_dir_save(d, path, &err), -EINVAL, "save refuses a key whose text and bytes differ");
	d->users[1].devices[0].key[0] = 0;
	memset(d->users[1].devices[0].key, 2, 32);
	d->users[0].devices[0].allowed_ips[0].prefix = 24;	/* 10.8.0.2/24: host bits */
	is_int(wgotp_dir_save(d, path, &err), -EINVAL, "save refuses host bits");
	d->users[0].devices[0].allowed_ips[0].prefix = 32;
	{
		/* A rename that fails (the target is a directory) leaves no
		 * temporary file behind. */
		char *sub = fmt("%s/sub", tmp), *target = fmt("%s/sub/users.json", tmp), *inner;

		if (mkdir(sub, 0700) || mkdir(target, 0700))
			abort();
		inner = tu_write(target, "keep", "x", 0600);
		ok(wgotp_dir_save(d, target, &err) < 0, "save over a directory fails: %s", err.msg);
		is_int(count_entries(sub), 1, "  and leaves no temporary file");
		unlink(inner);
		rmdir(target);
		rmdir(sub);
		free(inner);
		free(target);
		free(sub);
	}
	is_int(wgotp_dir_save(d, "/nonexistent/dir/users.json", &err), -ENOENT,
	       "save into a missing directory: -ENOENT");
	is_int(wgotp_dir_save(d, path, &err), 0, "save after undoing");
cleanup:
	wgotp_dir_free(d);
	wgotp_dir_free(e);
	free(json);
	free(path);
	free(before);
}

static void test_edits(const char *tmp)
{
	struct wgotp_directory *d = wgotp_dir_new(), *e = NULL;
	struct wgotp_error err;
	struct wgotp_user *u;
	char *path = fmt("%s/edited.json", tmp);

	if (!d)
		abort();
	is_int(wgotp_dir_user_add(d, "Bob@Example.com", WGOTP_METHOD_EMAIL, NULL, true, &err), 0, "add bob");
	is_int(wgotp_dir_user_add(d, "alice@example.com", WGOTP_METHOD_TOTP, "Alice", true, &err), 0, "add alice");
	is_int(wgotp_dir_user_add(d, "carol@example.com", WGOTP_METHOD_TOTP, NULL, false, &err), 0, "add carol");
	ok(d->n_users == 3 && !strcmp(d->users[0].email, "alice@example.com") &&
	   !strcmp(d->users[1].email, "bob@example.com") && !strcmp(d->users[2].email, "carol@example.com"),
	   "users kept sorted and lower-cased");
	is_int(wgotp_dir_user_add(d, "BOB@example.com", WGOTP_METHOD_TOTP, NULL, true, &err), -EEXIST,
	       "add refuses a duplicate (any case)");
	ok(strstr(err.msg, "already exists") != NULL, "  message: %s", err.msg);
	is_int(wgotp_dir_user_add(d, "bob", WGOTP_METHOD_TOTP, NULL, true, &err), -EINVAL, "add refuses a bad email");
	is_int(wgotp_dir_user_add(d, "dave@example.com", WGOTP_METHOD_TOTP, "x\ny", true, &err), -EINVAL,
	       "add refuses a name with a newline");
	is_int(wgotp_dir_user_add(d, "dave@example.com", (enum wgotp_method)7, NULL, true, &err), -EINVAL,
	       "add refuses an unknown method");
	is_int(d->n_users, 3, "refused adds left no trace");

	is_int(wgotp_dir_device_add(d, "nobody@example.com", "x", K1, "10.0.0.1/32", &err), -ENOENT,
	       "device add: unknown user");
	is_int(wgotp_dir_device_add(d, "alice@example.com", "laptop", K1, "10.8.0.2/32,fd00::2/128", &err), 0,
	       "device add");
	is_int(wgotp_dir_device_add(d, "ALICE@example.com", "laptop", K2, "10.8.0.9/32", &err), -EEXIST,
	       "device add refuses a duplicate name");
	is_int(wgotp_dir_device_add(d, "bob@example.com", "phone", K1, "10.8.0.3/32", &err), -EEXIST,
	       "device add refuses a key in use");
	ok(strstr(err.msg, "alice@example.com") != NULL, "  naming its owner: %s", err.msg);
	is_int(wgotp_dir_device_add(d, "bob@example.com", "phone", K2, "10.8.0.3/32,10.8.0.0/30", &err), -EEXIST,
	       "device add refuses an overlapping prefix");
	ok(strstr(err.msg, "overlaps 10.8.0.2/32") != NULL, "  naming it: %s", err.msg);
	is_int(wgotp_dir_device_add(d, "bob@example.com", "phone", K2, "10.8.0.3/32,,10.8.0.4/32", &err), -EINVAL,
	       "device add refuses an empty list item");
	is_int(wgotp_dir_device_add(d, "bob@example.com", "phone", K2, "10.8.0.3/24", &err), -EINVAL,
	       "device add refuses host bits");
	is_int(wgotp_dir_device_add(d, "bob@example.com", "phone", K2, "", &err), -EINVAL,
	       "device add refuses no prefix");
	is_int(wgotp_dir_device_add(d, "bob@example.com", "phone", "AAAA", "10.8.0.3/32", &err), -EINVAL,
	       "device add refuses a bad key");
	is_int(wgotp_dir_device_add(d, "bob@example.com", "my phone", K2, "10.8.0.3/32", &err), -EINVAL,
	       "device add refuses a bad name");
	u = wgotp_dir_find(d, "bob@example.com");
	is_int(u ? u->n_devices : 99, 0, "refused device adds left no trace");
	is_int(wgotp_dir_device_add(d, "bob@example.com", "phone", K2, "10.8.0.3/32,fd00::3/128", &err), 0,
	       "device add for bob");
	is_int(wgotp_dir_device_add(d, "carol@example.com", "pc", K3, "10.8.1.0/24", &err), 0, "device add for carol");

	is_int(wgotp_dir_device_del(d, "bob@example.com", "tablet", &err), -ENOENT, "device del: no such device");
	is_int(wgotp_dir_device_del(d, "zed@example.com", "phone", &err), -ENOENT, "device del: no such user");

	u = wgotp_dir_find(d, "alice@example.com");
	is_int(wgotp_user_set_totp(u, "JBSWY3DP", WGOTP_TOTP_PENDING), -EINVAL, "set_totp refuses a short secret");
	is_int(wgotp_user_set_totp(u, "JBSWY3DPEHPK3PX1", WGOTP_TOTP_PENDING), -EINVAL,
	       "set_totp refuses bad base32");
	is_int(wgotp_user_set_totp(u, NULL, WGOTP_TOTP_ACTIVE), -EINVAL, "set_totp refuses active without a secret");
	is_int(wgotp_user_set_totp(u, "JBSWY3DPEHPK3PXP", WGOTP_TOTP_PENDING), 0, "set_totp pending");
	is_int(wgotp_user_set_totp(u, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", WGOTP_TOTP_ACTIVE), 0, "set_totp replaces");
	ok(u->totp_state == WGOTP_TOTP_ACTIVE && !strcmp(u->totp_secret, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
	   "  state and secret");

	is_int(wgotp_dir_save(d, path, &err), 0, "save the edited directory");
	if (wgotp_dir_load(path, &e, &err) == 0) {
		ok(e->n_users == 3 && e->users[2].require_otp == false && e->users[0].n_devices == 1 &&
		   e->users[1].devices[0].n_allowed_ips == 2 && e->users[0].totp_state == WGOTP_TOTP_ACTIVE,
		   "and load it back");
	} else {
		ok(0, "and load it back: %s", err.msg);
	}

	is_int(wgotp_dir_device_del(d, "bob@example.com", "phone", &err), 0, "device del");
	u = wgotp_dir_find(d, "bob@example.com");
	ok(u && u->n_devices == 0 && wgotp_dir_find_key(d, K2, NULL) == NULL, "  gone");
	is_int(wgotp_dir_device_add(d, "carol@example.com", "phone", K2, "10.8.0.3/32", &err), 0,
	       "its key and prefix can be used again");
	is_int(wgotp_dir_user_del(d, "Alice@Example.com", &err), 0, "user del");
	ok(d->n_users == 2 && !wgotp_dir_find(d, "alice@example.com") && wgotp_dir_find(d, "carol@example.com"),
	   "  gone, the others found");
	is_int(wgotp_dir_user_del(d, "alice@example.com", &err), -ENOENT, "user del: no such user");
	is_int(wgotp_user_set_totp(wgotp_dir_find(d, "bob@example.com"), NULL, WGOTP_TOTP_NONE), 0,
	       "set_totp clears");
	is_int(wgotp_dir_save(d, path, &err), 0, "save after deletions");

	wgotp_dir_free(e);
	wgotp_dir_free(d);
	free(path);
}

/* ---- the cache ---- */

static int n_errors;
static char last_error[512];

static void count_sink(void *arg, enum wgotp_log_level level, const char *msg)
{
	if (level == WGOTP_LOG_ERR) {
		n_errors++;
		snprintf(last_error, sizeof(last_error), "%s", msg);
	}
}

/* Replace path with text the way wgotpctl does: a new file renamed over. */
static void replace(const char *tmp, const char *path, const char *text)
{
	char *p = tu_write(tmp, "next.json", text, 0640);

	if (rename(p, path) < 0)
		abort();
	free(p);
}

struct reader {
	struct wgotp_dir_cache *c;
	atomic_bool *stop;
	int bad;
	long rounds;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	const struct wgotp_directory *d;

	while (!atomic_load(r->stop)) {
		d = wgotp_dir_cache_get(r->c);
		if (!d || d->n_users < 2 || !wgotp_dir_find(d, "alice@example.com") ||
		    strcmp(d->users[0].devices[0].public_key, K1))
			r->bad++;
		wgotp_dir_cache_put(r->c, d);
		r->rounds++;
	}
	return NULL;
}

static void test_cache(const char *tmp)
{
	struct wgotp_dir_cache *c = NULL;
	const struct wgotp_directory *d1, *d2, *d3;
	struct wgotp_error err;
	struct timespec times[2];
	char *path = fmt("%s/cache.json", tmp), *v = valid_doc(), *w, *same;
	int i;

	wgotp_log_set_sink(count_sink, NULL, WGOTP_LOG_INFO);

	is_int(wgotp_dir_cache_new(path, &c, &err), -ENOENT, "cache on a missing file: -ENOENT");
	ok(c == NULL && strstr(err.msg, path) && strstr(err.msg, "does not exist"), "  message: %s", err.msg);

	replace(tmp, path, v);
	is_int(wgotp_dir_cache_new(path, &c, &err), 0, "cache on a valid file");
	if (!c) {
		diag("%s", err.msg);
		goto cleanup;
	}
	d1 = wgotp_dir_cache_get(c);
	ok(d1 && d1->n_users == 2, "snapshot with two users");

	/* A third user, renamed over the file. Within the interval the
	 * file is not looked at. */
	w = fmt("{ \"version\": 1, \"users\": { \"carol@example.com\": { \"method\": \"email\" },%s",
		strchr(v, '{') ? strstr(v, "\"users\": {") + strlen("\"users\": {") : "");
	replace(tmp, path, w);
	d2 = wgotp_dir_cache_get(c);
	ok(d2 == d1, "not re-read within the 1 s interval");
	wgotp_dir_cache_put(c, d2);

	wgotp_dir_cache_set_interval_ms(c, 0);
	d2 = wgotp_dir_cache_get(c);
	ok(d2 && d2 != d1 && d2->n_users == 3 && wgotp_dir_find(d2, "carol@example.com"),
	   "reloaded after the file was replaced");
	/* The snapshot held across the reload is intact. */
	ok(d1->n_users == 2 && !strcmp(d1->users[0].email, "alice@example.com") &&
	   !strcmp(d1->users[1].devices[0].public_key, K2) && !wgotp_dir_find(d1, "carol@example.com"),
	   "a snapshot held across a reload stays valid");
	is_int(wgotp_dir_cache_live(c), 2, "the replaced snapshot lives while referenced");
	wgotp_dir_cache_put(c, d1);
	is_int(wgotp_dir_cache_live(c), 1, "and is freed when its last reference is put");
	d3 = wgotp_dir_cache_get(c);
	ok(d3 == d2, "no change, no reload");
	wgotp_dir_cache_put(c, d3);
	wgotp_dir_cache_put(c, d2);

	/* Rewritten in place with the same size: only the mtime tells. */
	same = strdup(w);
	*strstr(same, "carol") = 'k';
	{
		int fd = open(path, O_WRONLY);

		if (fd < 0 || pwrite(fd, same, strlen(same), 0) != (ssize_t)strlen(same))
			abort();
		close(fd);
	}
	clock_gettime(CLOCK_REALTIME, &times[0]);
	times[1] = times[0];
	times[1].tv_sec += 10;
	if (utimensat(AT_FDCWD, path, times, 0) < 0)
		abort();
	d2 = wgotp_dir_cache_get(c);
	ok(d2 && wgotp_dir_find(d2, "karol@example.com") && !wgotp_dir_find(d2, "carol@example.com"),
	   "reloaded after an in-place rewrite with a new mtime");
	wgotp_dir_cache_put(c, d2);
	free(same);

	/* A corrupt file: the previous snapshot stays, one error is logged. */
	n_errors = 0;
	d1 = wgotp_dir_cache_get(c);
	replace(tmp, path, "{ \"version\": 1, \"users\": {");
	for (i = 0; i < 5; i++) {
		d2 = wgotp_dir_cache_get(c);
		if (d2 != d1)
			break;
		wgotp_dir_cache_put(c, d2);
	}
	ok(i == 5, "a corrupt file keeps the previous snapshot");
	is_int(n_errors, 1, "and is logged once");
	ok(strstr(last_error, path) && strstr(last_error, "invalid JSON"), "  log: %s", last_error);
	replace(tmp, path, "{ \"version\": 2, \"users\": {} }");
	d2 = wgotp_dir_cache_get(c);
	ok(d2 == d1, "a version 2 file keeps the previous snapshot too");
	wgotp_dir_cache_put(c, d2);
	is_int(n_errors, 2, "and logs its own error once");
	unlink(path);
	d2 = wgotp_dir_cache_get(c);
	ok(d2 == d1, "a removed file keeps the previous snapshot");
	wgotp_dir_cache_put(c, d2);
	d2 = wgotp_dir_cache_get(c);
	wgotp_dir_cache_put(c, d2);
	is_int(n_errors, 3, "and is logged once");
	replace(tmp, path, v);
	d2 = wgotp_dir_cache_get(c);
	ok(d2 && d2 != d1 && d2->n_users == 2 && !wgotp_dir_find(d2, "karol@example.com"),
	   "a good file again is loaded");
	wgotp_dir_cache_put(c, d2);
	ok(d1->n_users == 3 && wgotp_dir_find(d1, "karol@example.com"), "the old snapshot still readable");
	wgotp_dir_cache_put(c, d1);
	is_int(wgotp_dir_cache_live(c), 1, "one snapshot left");

	/* Readers in threads while the file changes under them. */
	{
		atomic_bool stop = false;
		struct reader r[4];
		pthread_t th[4];
		int bad_total = 0, n;
		long rounds = 0;

		for (n = 0; n < 4; n++) {
			r[n] = (struct reader){ c, &stop, 0, 0 };
			if (pthread_create(&th[n], NULL, reader_main, &r[n]))
				abort();
		}
		for (i = 0; i < 40; i++) {
			replace(tmp, path, i % 2 ? v : w);
			usleep(2000);
		}
		atomic_store(&stop, true);
		for (n = 0; n < 4; n++) {
			pthread_join(th[n], NULL);
			bad_total += r[n].bad;
			rounds += r[n].rounds;
		}
		is_int(bad_total, 0, "4 reader threads across 40 reloads saw only whole snapshots (%ld reads)",
		       rounds);
		is_int(wgotp_dir_cache_live(c), 1, "  and every replaced snapshot was freed");
	}
	free(w);
cleanup:
	wgotp_dir_cache_free(c);
	wgotp_log_set_sink(NULL, NULL, WGOTP_LOG_INFO);
	free(path);
	free(v);
}

/* Per-device 2FA and the sync mark: an old file keeps its meaning and is
 * written back without the new fields; the new fields round-trip. */
static void test_device_otp(const char *tmp)
{
	struct wgotp_directory *d = NULL, *e = NULL;
	struct wgotp_error err = { "" };
	struct wgotp_user *u;
	char old[2048], *path, *text = NULL;
	size_t len = 0;

	snprintf(old, sizeof(old),
		 "{ \"version\": 1, \"users\": {\n"
		 "  \"svc@example.com\": { \"method\": \"email\", \"require_otp\": false, \"devices\": [\n"
		 "    { \"name\": \"box\", \"public_key\": \"%s\", \"allowed_ips\": [\"10.8.0.2/32\"] } ] },\n"
		 "  \"zoe@example.com\": { \"method\": \"email\", \"devices\": [\n"
		 "    { \"name\": \"pc\", \"public_key\": \"%s\", \"allowed_ips\": [\"10.8.0.3/32\"] } ] } } }\n",
		 K1, K2);
	path = tu_write(tmp, "old-users.json", old, 0640);
	is_int(wgotp_dir_load(path, &d, &err), 0, "a users.json from before per-device 2FA loads");
	if (!d)
		return;
	u = wgotp_dir_find(d, "svc@example.com");
	ok(u && u->devices[0].otp == WGOTP_DEV_OTP_INHERIT && !wgotp_device_needs_otp(u, &u->devices[0]),
	   "migration: require_otp false means the device needs no code");
	u = wgotp_dir_find(d, "zoe@example.com");
	ok(u && u->sync == WGOTP_SYNC_NONE && wgotp_device_needs_otp(u, &u->devices[0]),
	   "migration: require_otp left out (true) means the device needs a code; not synced");
	is_int(wgotp_dir_save(d, path, &err), 0, "saved back");
	wgotp_file_read(path, 1 << 20, &text, &len, &err);
	ok(text && !strstr(text, "\"otp\"") && !strstr(text, "\"synced\""),
	   "an untouched old file is written without \"otp\" or \"synced\"");
	free(text);
	text = NULL;

	u = wgotp_dir_find(d, "zoe@example.com");
	u->require_otp = false;
	u->devices[0].otp = WGOTP_DEV_OTP_REQUIRED;
	u->sync = WGOTP_SYNC_LEFT;
	is_int(wgotp_dir_device_add(d, "zoe@example.com", "router", K3, "10.8.0.4/32", &err), 0, "a second device");
	u = wgotp_dir_find(d, "zoe@example.com");
	u->devices[1].otp = WGOTP_DEV_OTP_NONE;
	ok(wgotp_device_needs_otp(u, &u->devices[0]) && !wgotp_device_needs_otp(u, &u->devices[1]),
	   "a device's own otp wins over the user's require_otp");
	is_int(wgotp_dir_device_rename(d, "zoe@example.com", "pc", "router", &err), -EEXIST,
	       "rename onto an existing name is refused");
	is_int(wgotp_dir_device_rename(d, "zoe@example.com", "nope", "x", &err), -ENOENT, "rename: no such device");
	is_int(wgotp_dir_device_rename(d, "zoe@example.com", "pc", "bad name", &err), -EINVAL,
	       "rename to an invalid name is refused");
	is_int(wgotp_dir_device_rename(d, "zoe@example.com", "pc", "laptop", &err), 0, "rename");
	is_int(wgotp_dir_save(d, path, &err), 0, "saved with otp and synced");
	is_int(wgotp_dir_load(path, &e, &err), 0, "and loaded back");
	u = e ? wgotp_dir_find(e, "zoe@example.com") : NULL;
	ok(u && u->sync == WGOTP_SYNC_LEFT && u->n_devices == 2 && !strcmp(u->devices[0].name, "laptop") &&
	   u->devices[0].otp == WGOTP_DEV_OTP_REQUIRED && u->devices[1].otp == WGOTP_DEV_OTP_NONE,
	   "otp, synced and the new name round-trip");
	wgotp_dir_free(e);
	e = NULL;
	snprintf(old, sizeof(old),
		 "{ \"version\": 1, \"users\": { \"a@example.com\": { \"method\": \"email\", \"devices\": [\n"
		 "    { \"name\": \"pc\", \"public_key\": \"%s\", \"allowed_ips\": [\"10.8.0.3/32\"], \"otp\": \"maybe\" } ] } } }\n",
		 K1);
	is_int(wgotp_dir_parse("u.json", old, strlen(old), &e, &err), -EINVAL, "a bad otp value is refused");
	ok(strstr(err.msg, "\"otp\" is not \"required\" or \"none\"") != NULL, "  saying so: %s", err.msg);
	snprintf(old, sizeof(old), "{ \"version\": 1, \"users\": { \"a@example.com\": { \"method\": \"email\", \"synced\": true } } }");
	is_int(wgotp_dir_parse("u.json", old, strlen(old), &e, &err), -EINVAL, "a bad synced value is refused");
	wgotp_dir_free(d);
	free(path);
}

/* "group": the [Group NAME] of wgotp.conf whose session limits apply. */
static void test_group(const char *tmp)
{
	struct wgotp_directory *d = NULL, *e = NULL;
	struct wgotp_error err;
	char *path = fmt("%s/users-group.json", tmp);
	char *json = doc("", ", \"group\": \"contractors\"", K2, "\"10.8.0.3/32\"");
	const struct wgotp_user *u;
	int ret = parse(json, &d, &err);

	free(json);
	if (ret) {
		ok(0, "a user with a group: %s", err.msg);
		free(path);
		return;
	}
	u = wgotp_dir_find(d, "bob@example.com");
	ok(u && u->group && !strcmp(u->group, "contractors"), "\"group\" is read");
	u = wgotp_dir_find(d, "alice@example.com");
	ok(u && !u->group, "  absent: no group");
	is_int(wgotp_dir_save(d, path, &err), 0, "save a user with a group");
	is_int(wgotp_dir_load(path, &e, &err), 0, "  load it again");
	u = e ? wgotp_dir_find(e, "bob@example.com") : NULL;
	ok(u && u->group && !strcmp(u->group, "contractors"), "  the group survives the round trip");
	wgotp_dir_free(d);
	wgotp_dir_free(e);
	free(path);
	bad("a group with a space", doc("", ", \"group\": \"a b\"", K2, "\"10.8.0.3/32\""),
	    "user \"bob@example.com\": \"group\" is not 1 to 64", NULL);
	bad("a group number", doc("", ", \"group\": 7", K2, "\"10.8.0.3/32\""), "\"group\" is not", NULL);
}

int main(void)
{
	char *tmp = tu_tmpdir();

	make_keys();
	test_load_valid(tmp);
	test_load_invalid();
	test_validators();
	test_mask();
	test_save(tmp);
	test_edits(tmp);
	test_device_otp(tmp);
	test_group(tmp);
	tu_rmdir(tmp);
	tmp = tu_tmpdir();
	test_cache(tmp);
	tu_rmdir(tmp);
	return done_testing();
}
