/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The directory of users: users.json read, validated, edited and written
 * back atomically. The format is documented in directory.h.
 *
 * Loading builds the structures from the JSON tree, checking types and
 * field syntax as it goes, then runs the same validation that saving runs
 * before it writes: a file that wgotp_dir_save() would refuse is never
 * loaded, and one it writes is always loadable.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "directory.h"
#include "dirindex.h"
#include "invite.h"
#include "file.h"
#include "secret.h"

#define DIR_FILE_MAX (64 * 1024 * 1024)	/* users.json larger than this is refused (100,000 users: 23 MB) */
#define USER_NAME_MAX 256			/* bytes of the display name */
#define LOCAL_PART_MAX 64
#define DOMAIN_LABEL_MAX 63
#define TOTP_SECRET_MIN 10			/* bytes, decoded (80 bits, RFC 4226 minimum) */
#define CLEAN_MAX 80				/* quoted names in messages */

/* ---- messages ---- */

/* A copy of s fit to quote in a message: printable ASCII, bounded. */
static const char *clean(const char *s, char *buf, size_t len)
{
	size_t i, o = 0;

	if (!s)
		s = "(null)";
	for (i = 0; s[i] && o + 4 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	if (s[i])
		o += (size_t)snprintf(buf + o, len - o, "...");
	buf[o] = '\0';
	return buf;
}

/* "FILE: user "EMAIL": what" ("user ..." without a file), returning -errnum. */
__attribute__((format(printf, 5, 6)))
static int user_error(struct wgotp_error *err, int errnum, const char *file, const char *email,
		      const char *fmt, ...)
{
	char what[384], name[CLEAN_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return wgotp_error_set(err, errnum, "%s%suser \"%s\": %s", file ? file : "", file ? ": " : "",
			       clean(email, name, sizeof(name)), what);
}

static int oom(struct wgotp_error *err, const char *file)
{
	return wgotp_error_set(err, ENOMEM, "%s: out of memory", file);
}

/* ---- field syntax ---- */

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * A sane subset of RFC 5321 addresses: a local part of letters, digits
 * and . _ % + - (no leading, trailing or doubled dot), one '@', a domain
 * of at least two DNS labels. Quoted local parts, IP literals and
 * non-ASCII are refused.
 */
bool wgotp_email_valid(const char *email)
{
	const char *at, *p;
	size_t len, label = 0, labels = 1;

	if (!email)
		return false;
	len = strnlen(email, WGOTP_EMAIL_MAX + 1);
	if (len == 0 || len > WGOTP_EMAIL_MAX)
		return false;
	at = strchr(email, '@');
	if (!at || at == email || (size_t)(at - email) > LOCAL_PART_MAX || strchr(at + 1, '@'))
		return false;
	if (email[0] == '.' || at[-1] == '.')
		return false;
	for (p = email; p < at; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.' && p[1] == '.')
			return false;
		if (!is_alnum(c) && !strchr("._%+-", c))
			return false;
	}
	for (p = at + 1; ; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '.' || c == '\0') {
			if (label == 0 || label > DOMAIN_LABEL_MAX || p[-1] == '-')
				return false;
			if (c == '\0')
				break;
			labels++;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && !(c == '-' && label > 0))
			return false;
		label++;
	}
	return labels >= 2;
}

bool wgotp_device_name_valid(const char *name)
{
	size_t i;

	if (!name)
		return false;
	for (i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i >= WGOTP_DEVICE_NAME_MAX || (!is_alnum(c) && c != '.' && c != '_' && c != '-'))
			return false;
	}
	return i > 0;
}

/* A display name: bounded, no control characters. */
static bool user_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i >= USER_NAME_MAX || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool totp_secret_valid(const char *b32)
{
	uint8_t buf[WGOTP_TOTP_SECRET_MAX];
	int n;

	n = wgotp_base32_decode(b32, buf, sizeof(buf));
	wgotp_wipe(buf, sizeof(buf));
	return n >= TOTP_SECRET_MIN && n <= WGOTP_TOTP_SECRET_MAX;
}

static bool cidr_valid(const struct wgotp_cidr *c)
{
	char text[64];
	struct wgotp_cidr again;

	if (c->family != AF_INET && c->family != AF_INET6)
		return false;
	wgotp_cidr_format(c, text, sizeof(text));
	return wgotp_cidr_parse(text, &again) == 0 && again.prefix == c->prefix &&
	       !memcmp(&again.addr, &c->addr, c->family == AF_INET ? 4 : 16);
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static const char *method_name(enum wgotp_method m)
{
	return m == WGOTP_METHOD_TOTP ? "totp" : "email";
}

static const char *state_name(enum wgotp_totp_state s)
{
	switch (s) {
	case WGOTP_TOTP_NONE:		return "none";
	case WGOTP_TOTP_PENDING:	return "pending";
	case WGOTP_TOTP_ACTIVE:		return "active";
	}
	return "?";
}

void wgotp_email_mask(const char *email, char *out, size_t outlen)
{
	const char *at;
	size_t local;

	if (!out || !outlen)
		return;
	at = email ? strchr(email, '@') : NULL;
	if (!at) {
		snprintf(out, outlen, "***");
		return;
	}
	local = (size_t)(at - email);
	if (local == 0)
		snprintf(out, outlen, "***%s", at);
	else if (local <= 2)
		snprintf(out, outlen, "%c***%s", email[0], at);
	else
		snprintf(out, outlen, "%c***%c%s", email[0], at[-1], at);
}

/* ---- memory ---- */

static void device_clear(struct wgotp_device *d)
{
	free(d->name);
	free(d->allowed_ips);
	memset(d, 0, sizeof(*d));
}

static void user_clear(struct wgotp_user *u)
{
	size_t i;

	free(u->email);
	free(u->name);
	free(u->group);
	wgotp_free_str(u->totp_secret);
	for (i = 0; i < u->n_devices; i++)
		device_clear(&u->devices[i]);
	free(u->devices);
	memset(u, 0, sizeof(*u));
}

struct wgotp_directory *wgotp_dir_new(void)
{
	return calloc(1, sizeof(struct wgotp_directory));
}

void wgotp_dir_free(struct wgotp_directory *dir)
{
	size_t i;

	if (!dir)
		return;
	wgotp_dirindex_free(dir->index);
	for (i = 0; i < dir->n_users; i++)
		user_clear(&dir->users[i]);
	free(dir->users);
	free(dir);
}

/* ---- validation of the structures (load and save) ---- */

static int check_user(const char *file, const struct wgotp_user *u, struct wgotp_error *err)
{
	char ip[64];
	const struct wgotp_device *d;
	uint8_t key[WGOTP_KEY_LEN];
	size_t i, j;
	int ret = -EINVAL;

	if (!wgotp_email_valid(u->email)) {
		ret = user_error(err, EINVAL, file, u->email, "not a valid email address");
		goto cleanup;
	}
	for (i = 0; u->email[i]; i++) {
		if (isupper((unsigned char)u->email[i])) {
			ret = user_error(err, EINVAL, file, u->email, "email address not in lower case");
			goto cleanup;
		}
	}
	if (u->name && !user_name_valid(u->name)) {
		ret = user_error(err, EINVAL, file, u->email,
				 "\"name\" longer than %d bytes or with control characters", USER_NAME_MAX);
		goto cleanup;
	}
	if (u->method != WGOTP_METHOD_TOTP && u->method != WGOTP_METHOD_EMAIL) {
		ret = user_error(err, EINVAL, file, u->email, "unknown method");
		goto cleanup;
	}
	if (u->totp_state != WGOTP_TOTP_NONE && u->totp_state != WGOTP_TOTP_PENDING &&
	    u->totp_state != WGOTP_TOTP_ACTIVE) {
		ret = user_error(err, EINVAL, file, u->email, "unknown totp_state");
		goto cleanup;
	}
	if (u->totp_secret && !totp_secret_valid(u->totp_secret)) {
		ret = user_error(err, EINVAL, file, u->email,
				 "\"totp_secret\" is not base32 of %d to %d bytes",
				 TOTP_SECRET_MIN, WGOTP_TOTP_SECRET_MAX);
		goto cleanup;
	}
	if (!u->totp_secret && u->totp_state != WGOTP_TOTP_NONE) {
		ret = user_error(err, EINVAL, file, u->email, "totp_state \"%s\" without a totp_secret",
				 state_name(u->totp_state));
		goto cleanup;
	}
	for (i = 0; i < u->n_devices; i++) {
		d = &u->devices[i];
		if (!wgotp_device_name_valid(d->name)) {
			ret = user_error(err, EINVAL, file, u->email,
					 "device name \"%s\" is not 1 to %d of A-Z a-z 0-9 . _ -",
					 clean(d->name, ip, sizeof(ip)), WGOTP_DEVICE_NAME_MAX);
			goto cleanup;
		}
		for (j = 0; j < i; j++) {
			if (!strcmp(u->devices[j].name, d->name)) {
				ret = user_error(err, EINVAL, file, u->email, "two devices named \"%s\"",
						 d->name);
				goto cleanup;
			}
		}
		if (wgotp_key_from_base64(key, d->public_key) || memcmp(key, d->key, sizeof(key))) {
			ret = user_error(err, EINVAL, file, u->email,
					 "device \"%s\": \"public_key\" is not a WireGuard key", d->name);
			goto cleanup;
		}
		if (!d->n_allowed_ips) {
			ret = user_error(err, EINVAL, file, u->email, "device \"%s\": no \"allowed_ips\"",
					 d->name);
			goto cleanup;
		}
		for (j = 0; j < d->n_allowed_ips; j++) {
			if (!cidr_valid(&d->allowed_ips[j])) {
				wgotp_cidr_format(&d->allowed_ips[j], ip, sizeof(ip));
				ret = user_error(err, EINVAL, file, u->email,
						 "device \"%s\": allowed IP %s is not a valid prefix",
						 d->name, ip);
				goto cleanup;
			}
		}
	}
	ret = 0;
cleanup:
	return ret;
}

/* One device's key or one allowed-ips prefix, with its owner. */
struct dev_ref {
	const struct wgotp_user *user;
	const struct wgotp_device *dev;
	const struct wgotp_cidr *cidr;
};

static int cmp_key(const void *a, const void *b)
{
	const struct dev_ref *x = a, *y = b;

	return memcmp(x->dev->key, y->dev->key, WGOTP_KEY_LEN);
}

/* By family, then network address, then shorter prefix first: a prefix
 * comes after every prefix that contains it. */
static int cmp_cidr(const void *a, const void *b)
{
	const struct wgotp_cidr *x = ((const struct dev_ref *)a)->cidr;
	const struct wgotp_cidr *y = ((const struct dev_ref *)b)->cidr;
	int r;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	r = memcmp(&x->addr, &y->addr, x->family == AF_INET ? 4 : 16);
	if (r)
		return r;
	return (int)x->prefix - (int)y->prefix;
}

/* Emails unique and sorted, public keys unique, prefixes of different
 * devices disjoint (WireGuard would move a shared prefix to the peer
 * configured last). */
static int check_cross(const char *file, const struct wgotp_directory *dir, struct wgotp_error *err)
{
	struct dev_ref *refs = NULL, **stack = NULL;
	char a[64], b[64], who[CLEAN_MAX];
	size_t i, j, n = 0, nips = 0, depth = 0;
	int ret = -EINVAL;

	for (i = 1; i < dir->n_users; i++) {
		int r = strcmp(dir->users[i - 1].email, dir->users[i].email);

		if (r == 0) {
			ret = user_error(err, EINVAL, file, dir->users[i].email,
					 "listed twice (emails are compared in lower case)");
			goto cleanup;
		}
		if (r > 0) {
			ret = user_error(err, EINVAL, file, dir->users[i].email, "users not in order");
			goto cleanup;
		}
	}

	for (i = 0; i < dir->n_users; i++) {
		n += dir->users[i].n_devices;
		for (j = 0; j < dir->users[i].n_devices; j++)
			nips += dir->users[i].devices[j].n_allowed_ips;
	}
	refs = calloc(n > nips ? n : nips, sizeof(*refs));
	stack = calloc(nips, sizeof(*stack));
	if ((n || nips) && (!refs || (nips && !stack))) {
		ret = oom(err, file);
		goto cleanup;
	}

	n = 0;
	for (i = 0; i < dir->n_users; i++)
		for (j = 0; j < dir->users[i].n_devices; j++)
			refs[n++] = (struct dev_ref){ &dir->users[i], &dir->users[i].devices[j], NULL };
	if (n)
		qsort(refs, n, sizeof(*refs), cmp_key);
	for (i = 1; i < n; i++) {
		if (!cmp_key(&refs[i - 1], &refs[i])) {
			ret = user_error(err, EINVAL, file, refs[i].user->email,
					 "device \"%s\": public key already used by user \"%s\" device \"%s\"",
					 refs[i].dev->name, clean(refs[i - 1].user->email, who, sizeof(who)),
					 refs[i - 1].dev->name);
			goto cleanup;
		}
	}

	n = 0;
	for (i = 0; i < dir->n_users; i++) {
		const struct wgotp_user *u = &dir->users[i];

		for (j = 0; j < u->n_devices; j++) {
			size_t k;

			for (k = 0; k < u->devices[j].n_allowed_ips; k++)
				refs[n++] = (struct dev_ref){ u, &u->devices[j], &u->devices[j].allowed_ips[k] };
		}
	}
	if (n)
		qsort(refs, n, sizeof(*refs), cmp_cidr);
	/* Prefixes either nest or are disjoint. In this order, the stack
	 * holds every earlier prefix that contains the current one. */
	for (i = 0; i < n; i++) {
		while (depth && !wgotp_cidr_overlap(stack[depth - 1]->cidr, refs[i].cidr))
			depth--;
		for (j = 0; j < depth; j++) {
			if (stack[j]->dev != refs[i].dev) {
				wgotp_cidr_format(refs[i].cidr, a, sizeof(a));
				wgotp_cidr_format(stack[j]->cidr, b, sizeof(b));
				ret = user_error(err, EINVAL, file, refs[i].user->email,
						 "device \"%s\": allowed IP %s overlaps %s of user \"%s\" device \"%s\"",
						 refs[i].dev->name, a, b,
						 clean(stack[j]->user->email, who, sizeof(who)), stack[j]->dev->name);
				goto cleanup;
			}
		}
		stack[depth++] = &refs[i];
	}
	ret = 0;
cleanup:
	free(refs);
	free(stack);
	return ret;
}

static int dir_validate(const char *file, const struct wgotp_directory *dir, struct wgotp_error *err)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < dir->n_users && !ret; i++)
		ret = check_user(file, &dir->users[i], err);
	if (!ret)
		ret = check_cross(file, dir, err);
	return ret;
}

/* ---- JSON to structures ---- */

/* A JSON string without embedded NULs, or NULL. */
static const char *json_str(struct json_object *o)
{
	const char *s;

	if (!json_object_is_type(o, json_type_string))
		return NULL;
	s = json_object_get_string(o);
	if (!s || strlen(s) != (size_t)json_object_get_string_len(o))
		return NULL;
	return s;
}

/* Overwrite the text of a JSON string in place before the tree is freed. */
static void json_wipe_str(struct json_object *o)
{
	if (json_object_is_type(o, json_type_string))
		wgotp_wipe((char *)json_object_get_string(o), (size_t)json_object_get_string_len(o));
}

static void json_wipe_secrets(struct json_object *root)
{
	struct json_object *users, *secret;

	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "users", &users) ||
	    !json_object_is_type(users, json_type_object))
		return;
	json_object_object_foreach(users, email, uo) {
		(void)email;
		if (json_object_is_type(uo, json_type_object) &&
		    json_object_object_get_ex(uo, "totp_secret", &secret))
			json_wipe_str(secret);
	}
}

static int parse_device(const char *file, const char *email, size_t idx, struct json_object *o,
			struct wgotp_device *d, struct wgotp_error *err)
{
	char dname[CLEAN_MAX], field[CLEAN_MAX];
	struct json_object *ips = NULL;
	const char *s;
	bool have_key = false;
	size_t i, n;
	int ret = -EINVAL;

	snprintf(dname, sizeof(dname), "#%zu", idx + 1);
	if (!json_object_is_type(o, json_type_object)) {
		ret = user_error(err, EINVAL, file, email, "device %s is not an object", dname);
		goto cleanup;
	}
	/* The name first, so that later messages can use it. */
	json_object_object_foreach(o, k0, v0) {
		if (strcmp(k0, "name"))
			continue;
		s = json_str(v0);
		if (!s || !wgotp_device_name_valid(s)) {
			ret = user_error(err, EINVAL, file, email,
					 "device %s: \"name\" is not 1 to %d of A-Z a-z 0-9 . _ -",
					 dname, WGOTP_DEVICE_NAME_MAX);
			goto cleanup;
		}
		d->name = strdup(s);
		if (!d->name) {
			ret = oom(err, file);
			goto cleanup;
		}
		snprintf(dname, sizeof(dname), "\"%s\"", s);
	}
	if (!d->name) {
		ret = user_error(err, EINVAL, file, email, "device %s has no \"name\"", dname);
		goto cleanup;
	}
	json_object_object_foreach(o, k, v) {
		if (!strcmp(k, "name")) {
			continue;
		} else if (!strcmp(k, "public_key")) {
			s = json_str(v);
			if (!s || strlen(s) != WGOTP_KEY_B64_LEN || wgotp_key_from_base64(d->key, s)) {
				ret = user_error(err, EINVAL, file, email,
						 "device %s: \"public_key\" is not a WireGuard key (44 characters of base64)",
						 dname);
				goto cleanup;
			}
			memcpy(d->public_key, s, WGOTP_KEY_B64_LEN + 1);
			have_key = true;
		} else if (!strcmp(k, "otp")) {
			s = json_str(v);
			if (s && !strcmp(s, "required")) {
				d->otp = WGOTP_DEV_OTP_REQUIRED;
			} else if (s && !strcmp(s, "none")) {
				d->otp = WGOTP_DEV_OTP_NONE;
			} else {
				ret = user_error(err, EINVAL, file, email,
						 "device %s: \"otp\" is not \"required\" or \"none\"", dname);
				goto cleanup;
			}
		} else if (!strcmp(k, "allowed_ips")) {
			if (!json_object_is_type(v, json_type_array)) {
				ret = user_error(err, EINVAL, file, email,
						 "device %s: \"allowed_ips\" is not an array", dname);
				goto cleanup;
			}
			ips = v;
		} else {
			ret = user_error(err, EINVAL, file, email, "device %s: unknown field \"%s\"", dname,
					 clean(k, field, sizeof(field)));
			goto cleanup;
		}
	}
	if (!have_key) {
		ret = user_error(err, EINVAL, file, email, "device %s has no \"public_key\"", dname);
		goto cleanup;
	}
	n = ips ? json_object_array_length(ips) : 0;
	if (!n) {
		ret = user_error(err, EINVAL, file, email, "device %s has no \"allowed_ips\"", dname);
		goto cleanup;
	}
	d->allowed_ips = calloc(n, sizeof(*d->allowed_ips));
	if (!d->allowed_ips) {
		ret = oom(err, file);
		goto cleanup;
	}
	for (i = 0; i < n; i++) {
		s = json_str(json_object_array_get_idx(ips, i));
		if (!s || wgotp_cidr_parse(s, &d->allowed_ips[i])) {
			ret = user_error(err, EINVAL, file, email,
					 "device %s: allowed IP \"%s\" is not a prefix without host bits",
					 dname, s ? clean(s, field, sizeof(field)) : "(not a string)");
			goto cleanup;
		}
		d->n_allowed_ips++;
	}
	ret = 0;
cleanup:
	return ret;
}

static int parse_bool(const char *file, const char *email, const char *field, struct json_object *v,
		      bool *out, struct wgotp_error *err)
{
	if (!json_object_is_type(v, json_type_boolean))
		return user_error(err, EINVAL, file, email, "\"%s\" is not true or false", field);
	*out = json_object_get_boolean(v);
	return 0;
}

static int parse_user(const char *file, const char *email, struct json_object *o, struct wgotp_user *u,
		      struct wgotp_error *err)
{
	char field[CLEAN_MAX];
	struct json_object *devs = NULL;
	bool have_method = false;
	const char *s;
	size_t i, n;
	int ret = -EINVAL;

	/* Defaults for what may be left out. */
	u->enabled = true;
	u->require_otp = true;
	u->totp_state = WGOTP_TOTP_NONE;

	if (!wgotp_email_valid(email)) {
		ret = user_error(err, EINVAL, file, email, "not a valid email address");
		goto cleanup;
	}
	u->email = strdup(email);
	if (!u->email) {
		ret = oom(err, file);
		goto cleanup;
	}
	lower(u->email);
	if (!json_object_is_type(o, json_type_object)) {
		ret = user_error(err, EINVAL, file, email, "not an object");
		goto cleanup;
	}
	json_object_object_foreach(o, k, v) {
		if (!strcmp(k, "name")) {
			if (json_object_is_type(v, json_type_null))
				continue;
			s = json_str(v);
			if (!s || !user_name_valid(s)) {
				ret = user_error(err, EINVAL, file, email,
						 "\"name\" is not a string of at most %d bytes without control characters",
						 USER_NAME_MAX);
				goto cleanup;
			}
			u->name = strdup(s);
			if (!u->name) {
				ret = oom(err, file);
				goto cleanup;
			}
		} else if (!strcmp(k, "group")) {
			/* the [Group NAME] of wgotp.conf with its session limits */
			s = json_str(v);
			if (!s || !wgotp_device_name_valid(s)) {
				ret = user_error(err, EINVAL, file, email,
						 "\"group\" is not 1 to %d of A-Z a-z 0-9 . _ -",
						 WGOTP_DEVICE_NAME_MAX);
				goto cleanup;
			}
			u->group = strdup(s);
			if (!u->group) {
				ret = oom(err, file);
				goto cleanup;
			}
		} else if (!strcmp(k, "method")) {
			s = json_str(v);
			if (s && !strcmp(s, "totp")) {
				u->method = WGOTP_METHOD_TOTP;
			} else if (s && !strcmp(s, "email")) {
				u->method = WGOTP_METHOD_EMAIL;
			} else {
				ret = user_error(err, EINVAL, file, email,
						 "\"method\" is not \"totp\" or \"email\"");
				goto cleanup;
			}
			have_method = true;
		} else if (!strcmp(k, "totp_secret")) {
			if (json_object_is_type(v, json_type_null))
				continue;
			s = json_str(v);
			if (!s || !totp_secret_valid(s)) {
				ret = user_error(err, EINVAL, file, email,
						 "\"totp_secret\" is not base32 of %d to %d bytes",
						 TOTP_SECRET_MIN, WGOTP_TOTP_SECRET_MAX);
				goto cleanup;
			}
			u->totp_secret = strdup(s);
			if (!u->totp_secret) {
				ret = oom(err, file);
				goto cleanup;
			}
		} else if (!strcmp(k, "totp_state")) {
			s = json_str(v);
			if (s && !strcmp(s, "none")) {
				u->totp_state = WGOTP_TOTP_NONE;
			} else if (s && !strcmp(s, "pending")) {
				u->totp_state = WGOTP_TOTP_PENDING;
			} else if (s && !strcmp(s, "active")) {
				u->totp_state = WGOTP_TOTP_ACTIVE;
			} else {
				ret = user_error(err, EINVAL, file, email,
						 "\"totp_state\" is not \"none\", \"pending\" or \"active\"");
				goto cleanup;
			}
		} else if (!strcmp(k, "enabled")) {
			ret = parse_bool(file, email, k, v, &u->enabled, err);
			if (ret)
				goto cleanup;
		} else if (!strcmp(k, "require_otp")) {
			ret = parse_bool(file, email, k, v, &u->require_otp, err);
			if (ret)
				goto cleanup;
		} else if (!strcmp(k, "synced")) {
			s = json_str(v);
			if (s && !strcmp(s, "member")) {
				u->sync = WGOTP_SYNC_MEMBER;
			} else if (s && !strcmp(s, "left")) {
				u->sync = WGOTP_SYNC_LEFT;
			} else {
				ret = user_error(err, EINVAL, file, email,
						 "\"synced\" is not \"member\" or \"left\"");
				goto cleanup;
			}
		} else if (!strcmp(k, "invite")) {
			if (wgotp_invite_from_json(v, &u->invite) < 0) {
				ret = user_error(err, EINVAL, file, email, "\"invite\" is not a valid invitation");
				goto cleanup;
			}
		} else if (!strcmp(k, "devices")) {
			if (!json_object_is_type(v, json_type_array)) {
				ret = user_error(err, EINVAL, file, email, "\"devices\" is not an array");
				goto cleanup;
			}
			devs = v;
		} else {
			ret = user_error(err, EINVAL, file, email, "unknown field \"%s\"",
					 clean(k, field, sizeof(field)));
			goto cleanup;
		}
	}
	if (!have_method) {
		ret = user_error(err, EINVAL, file, email, "no \"method\"");
		goto cleanup;
	}
	n = devs ? json_object_array_length(devs) : 0;
	if (n) {
		u->devices = calloc(n, sizeof(*u->devices));
		if (!u->devices) {
			ret = oom(err, file);
			goto cleanup;
		}
	}
	for (i = 0; i < n; i++) {
		u->n_devices++;
		ret = parse_device(file, email, i, json_object_array_get_idx(devs, i), &u->devices[i], err);
		if (ret)
			goto cleanup;
	}
	ret = 0;
cleanup:
	return ret;
}

static int cmp_user(const void *a, const void *b)
{
	return strcmp(((const struct wgotp_user *)a)->email, ((const struct wgotp_user *)b)->email);
}

int wgotp_dir_parse(const char *name, const char *json, size_t len, struct wgotp_directory **out,
		    struct wgotp_error *err)
{
	struct wgotp_directory *dir = NULL;
	struct json_tokener *tok = NULL;
	struct json_object *root = NULL, *users = NULL;
	enum json_tokener_error jerr;
	char field[CLEAN_MAX];
	bool have_version = false;
	size_t n;
	int ret = -EINVAL, flags = JSON_TOKENER_STRICT;

	*out = NULL;
	if (!name)
		name = "users.json";
	if (len > INT_MAX) {
		ret = wgotp_error_set(err, EFBIG, "%s: too large", name);
		goto cleanup;
	}
	tok = json_tokener_new();
	if (!tok) {
		ret = oom(err, name);
		goto cleanup;
	}
#ifdef JSON_TOKENER_VALIDATE_UTF8
	flags |= JSON_TOKENER_VALIDATE_UTF8;
#endif
	json_tokener_set_flags(tok, flags);
	root = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		ret = wgotp_error_set(err, EINVAL, "%s: invalid JSON: empty or truncated", name);
		goto cleanup;
	}
	if (!root || jerr != json_tokener_success) {
		ret = wgotp_error_set(err, EINVAL, "%s: invalid JSON at byte %zu: %s", name,
				      json_tokener_get_parse_end(tok),
				      jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "not an object");
		goto cleanup;
	}
	for (n = json_tokener_get_parse_end(tok); n < len; n++) {
		if (!strchr(" \t\r\n", json[n])) {
			ret = wgotp_error_set(err, EINVAL, "%s: invalid JSON: text after the end at byte %zu",
					      name, n);
			goto cleanup;
		}
	}
	if (!json_object_is_type(root, json_type_object)) {
		ret = wgotp_error_set(err, EINVAL, "%s: not a JSON object", name);
		goto cleanup;
	}
	json_object_object_foreach(root, k, v) {
		if (!strcmp(k, "version")) {
			if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) != 1) {
				ret = wgotp_error_set(err, EINVAL,
						      "%s: \"version\" is not 1 (written by a newer wgotp?)", name);
				goto cleanup;
			}
			have_version = true;
		} else if (!strcmp(k, "users")) {
			if (!json_object_is_type(v, json_type_object)) {
				ret = wgotp_error_set(err, EINVAL, "%s: \"users\" is not an object", name);
				goto cleanup;
			}
			users = v;
		} else {
			ret = wgotp_error_set(err, EINVAL, "%s: unknown field \"%s\"", name,
					      clean(k, field, sizeof(field)));
			goto cleanup;
		}
	}
	if (!have_version) {
		ret = wgotp_error_set(err, EINVAL, "%s: no \"version\"", name);
		goto cleanup;
	}
	if (!users) {
		ret = wgotp_error_set(err, EINVAL, "%s: no \"users\"", name);
		goto cleanup;
	}

	dir = wgotp_dir_new();
	n = (size_t)json_object_object_length(users);
	if (!dir || (n && !(dir->users = calloc(n, sizeof(*dir->users))))) {
		ret = oom(err, name);
		goto cleanup;
	}
	json_object_object_foreach(users, email, uo) {
		dir->n_users++;
		ret = parse_user(name, email, uo, &dir->users[dir->n_users - 1], err);
		if (ret)
			goto cleanup;
	}
	if (dir->n_users)
		qsort(dir->users, dir->n_users, sizeof(*dir->users), cmp_user);
	ret = dir_validate(name, dir, err);
	if (ret)
		goto cleanup;
	*out = dir;
	dir = NULL;
	ret = 0;
cleanup:
	json_wipe_secrets(root);
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	wgotp_dir_free(dir);
	return ret;
}

int wgotp_dir_load(const char *path, struct wgotp_directory **out, struct wgotp_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	*out = NULL;
	ret = wgotp_file_read(path, DIR_FILE_MAX, &buf, &len, err);
	if (ret)
		goto cleanup;
	ret = wgotp_dir_parse(path, buf, len, out, err);
cleanup:
	if (buf)
		wgotp_freezero(buf, len + 1);
	return ret;
}

/* ---- structures to JSON, atomic write ---- */

/* Add v (consumed) to object o under k. */
static int obj_add(struct json_object *o, const char *k, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, k, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int arr_add(struct json_object *a, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(a, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *device_to_json(const struct wgotp_device *d)
{
	struct json_object *o, *ips = NULL;
	char text[64];
	size_t i;
	int ret;

	o = json_object_new_object();
	if (!o)
		goto fail;
	ret = obj_add(o, "name", json_object_new_string(d->name));
	ret = ret ?: obj_add(o, "public_key", json_object_new_string(d->public_key));
	if (d->otp != WGOTP_DEV_OTP_INHERIT)
		ret = ret ?: obj_add(o, "otp", json_object_new_string(
				d->otp == WGOTP_DEV_OTP_NONE ? "none" : "required"));
	ret = ret ?: obj_add(o, "allowed_ips", ips = json_object_new_array());
	if (ret)
		goto fail;
	for (i = 0; i < d->n_allowed_ips; i++) {
		wgotp_cidr_format(&d->allowed_ips[i], text, sizeof(text));
		if (arr_add(ips, json_object_new_string(text)))
			goto fail;
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static struct json_object *user_to_json(const struct wgotp_user *u)
{
	struct json_object *o, *devs = NULL;
	size_t i;
	int ret;

	o = json_object_new_object();
	if (!o)
		goto fail;
	ret = u->name ? obj_add(o, "name", json_object_new_string(u->name)) : 0;
	ret = ret ?: obj_add(o, "method", json_object_new_string(method_name(u->method)));
	if (u->group)
		ret = ret ?: obj_add(o, "group", json_object_new_string(u->group));
	if (u->totp_secret)
		ret = ret ?: obj_add(o, "totp_secret", json_object_new_string(u->totp_secret));
	ret = ret ?: obj_add(o, "totp_state", json_object_new_string(state_name(u->totp_state)));
	ret = ret ?: obj_add(o, "enabled", json_object_new_boolean(u->enabled));
	ret = ret ?: obj_add(o, "require_otp", json_object_new_boolean(u->require_otp));
	if (u->sync != WGOTP_SYNC_NONE)
		ret = ret ?: obj_add(o, "synced", json_object_new_string(
				u->sync == WGOTP_SYNC_LEFT ? "left" : "member"));
	if (u->invite.mac[0])
		ret = ret ?: obj_add(o, "invite", wgotp_invite_to_json(&u->invite));
	ret = ret ?: obj_add(o, "devices", devs = json_object_new_array());
	if (ret)
		goto fail;
	for (i = 0; i < u->n_devices; i++)
		if (arr_add(devs, device_to_json(&u->devices[i])))
			goto fail;
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t r;

	while (len) {
		r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int wgotp_dir_save(const struct wgotp_directory *dir, const char *path, struct wgotp_error *err)
{
	struct json_object *root = NULL, *users = NULL;
	char *tmp = NULL, *dirname = NULL, *slash;
	struct stat old, cur;
	const char *text = NULL;
	size_t len = 0, i;
	bool renamed = false;
	int fd = -1, dfd = -1, ret;

	ret = dir_validate(path, dir, err);
	if (ret)
		goto cleanup;

	root = json_object_new_object();
	ret = root ? obj_add(root, "version", json_object_new_int(1)) : -ENOMEM;
	ret = ret ?: obj_add(root, "users", users = json_object_new_object());
	for (i = 0; !ret && i < dir->n_users; i++)
		ret = obj_add(users, dir->users[i].email, user_to_json(&dir->users[i]));
	text = ret ? NULL : json_object_to_json_string_length(root,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
			&len);
	if (!text) {
		ret = oom(err, path);
		goto cleanup;
	}

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
		tmp = NULL;
		ret = oom(err, path);
		goto cleanup;
	}
	dirname = strdup(path);
	if (!dirname) {
		ret = oom(err, path);
		goto cleanup;
	}
	slash = strrchr(dirname, '/');
	if (!slash)
		strcpy(dirname, ".");
	else if (slash == dirname)
		dirname[1] = '\0';
	else
		*slash = '\0';

	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = wgotp_error_set(err, errno, "%s: cannot create a temporary file: %s", path,
				      strerror(errno));
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	/* The mode does not depend on the umask; the owner and group are
	 * those of the file replaced, so that its readers keep reading. */
	if (fchmod(fd, 0640) < 0) {
		ret = wgotp_error_set(err, errno, "%s: chmod: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (stat(path, &old) == 0 && fstat(fd, &cur) == 0 &&
	    (old.st_uid != cur.st_uid || old.st_gid != cur.st_gid) &&
	    fchown(fd, old.st_uid, old.st_gid) < 0) {
		ret = wgotp_error_set(err, errno, "%s: cannot keep owner %u and group %u: %s", path,
				      (unsigned int)old.st_uid, (unsigned int)old.st_gid, strerror(errno));
		goto cleanup;
	}
	ret = write_all(fd, text, len);
	ret = ret ?: write_all(fd, "\n", 1);
	if (ret) {
		ret = wgotp_error_set(err, -ret, "%s: write: %s", tmp, strerror(-ret));
		goto cleanup;
	}
	if (fsync(fd) < 0) {
		ret = wgotp_error_set(err, errno, "%s: fsync: %s", tmp, strerror(errno));
		goto cleanup;
	}
	ret = close(fd);
	fd = -1;
	if (ret < 0) {
		ret = wgotp_error_set(err, errno, "%s: close: %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (rename(tmp, path) < 0) {
		ret = wgotp_error_set(err, errno, "%s: rename: %s", path, strerror(errno));
		goto cleanup;
	}
	renamed = true;
	(void)wgotp_dirindex_write(path, text, len);	/* an index beside it (dirindex.h) */
	dfd = open(dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		ret = wgotp_error_set(err, errno, "%s: fsync of the directory: %s", dirname, strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp && !renamed)
		unlink(tmp);
	free(tmp);
	free(dirname);
	if (text)
		wgotp_wipe((char *)text, len);
	json_wipe_secrets(root);
	json_object_put(root);
	return ret;
}

/* ---- lookups ---- */

static int cmp_email_key(const void *key, const void *elem)
{
	return strcmp(key, ((const struct wgotp_user *)elem)->email);
}

struct wgotp_user *wgotp_dir_find(const struct wgotp_directory *dir, const char *email)
{
	char key[WGOTP_EMAIL_MAX + 1];
	size_t len;

	if (dir && dir->index)
		return wgotp_dirindex_find(dir->index, email);
	if (!dir || !email || !dir->n_users)
		return NULL;
	len = strnlen(email, sizeof(key));
	if (len >= sizeof(key))
		return NULL;
	memcpy(key, email, len + 1);
	lower(key);
	return bsearch(key, dir->users, dir->n_users, sizeof(*dir->users), cmp_email_key);
}

struct wgotp_device *wgotp_dir_find_key(const struct wgotp_directory *dir, const char *public_key,
					struct wgotp_user **owner)
{
	size_t i, j;

	if (owner)
		*owner = NULL;
	if (dir && dir->index && !(dir = wgotp_dirindex_full(dir->index)))
		return NULL;
	if (!dir || !public_key)
		return NULL;
	/* The stored text is canonical (see wgotp_key_from_base64), so equal
	 * keys are equal strings. */
	for (i = 0; i < dir->n_users; i++) {
		for (j = 0; j < dir->users[i].n_devices; j++) {
			if (!strcmp(dir->users[i].devices[j].public_key, public_key)) {
				if (owner)
					*owner = &dir->users[i];
				return &dir->users[i].devices[j];
			}
		}
	}
	return NULL;
}

struct wgotp_device *wgotp_user_find_device(const struct wgotp_user *u, const char *name)
{
	size_t i;

	if (!u || !name)
		return NULL;
	for (i = 0; i < u->n_devices; i++)
		if (!strcmp(u->devices[i].name, name))
			return &u->devices[i];
	return NULL;
}

/* ---- edits ---- */

int wgotp_dir_user_add(struct wgotp_directory *dir, const char *email, enum wgotp_method method,
		       const char *name, bool require_otp, struct wgotp_error *err)
{
	struct wgotp_user u = { 0 }, *grown;
	size_t pos;
	int ret = -EINVAL;

	if (!wgotp_email_valid(email)) {
		ret = user_error(err, EINVAL, NULL, email, "not a valid email address");
		goto cleanup;
	}
	if (method != WGOTP_METHOD_TOTP && method != WGOTP_METHOD_EMAIL) {
		ret = user_error(err, EINVAL, NULL, email, "unknown method");
		goto cleanup;
	}
	if (name && !user_name_valid(name)) {
		ret = user_error(err, EINVAL, NULL, email,
				 "name longer than %d bytes or with control characters", USER_NAME_MAX);
		goto cleanup;
	}
	if (wgotp_dir_find(dir, email)) {
		ret = user_error(err, EEXIST, NULL, email, "already exists");
		goto cleanup;
	}
	u.email = strdup(email);
	u.name = name ? strdup(name) : NULL;
	if (!u.email || (name && !u.name)) {
		ret = oom(err, "users.json");
		goto cleanup;
	}
	lower(u.email);
	u.method = method;
	u.totp_state = WGOTP_TOTP_NONE;
	u.enabled = true;
	u.require_otp = require_otp;

	grown = realloc(dir->users, (dir->n_users + 1) * sizeof(*dir->users));
	if (!grown) {
		ret = oom(err, "users.json");
		goto cleanup;
	}
	dir->users = grown;
	for (pos = 0; pos < dir->n_users && strcmp(dir->users[pos].email, u.email) < 0; pos++)
		;
	memmove(&dir->users[pos + 1], &dir->users[pos], (dir->n_users - pos) * sizeof(*dir->users));
	dir->users[pos] = u;
	dir->n_users++;
	memset(&u, 0, sizeof(u));
	ret = 0;
cleanup:
	user_clear(&u);
	return ret;
}

int wgotp_dir_user_del(struct wgotp_directory *dir, const char *email, struct wgotp_error *err)
{
	struct wgotp_user *u;
	size_t pos;

	u = wgotp_dir_find(dir, email);
	if (!u)
		return user_error(err, ENOENT, NULL, email, "no such user");
	pos = (size_t)(u - dir->users);
	user_clear(u);
	memmove(&dir->users[pos], &dir->users[pos + 1], (dir->n_users - pos - 1) * sizeof(*dir->users));
	dir->n_users--;
	return 0;
}

int wgotp_dir_device_add(struct wgotp_directory *dir, const char *email, const char *name,
			 const char *public_key, const char *allowed_ips, struct wgotp_error *err)
{
	struct wgotp_device d = { 0 }, *grown, *other_dev;
	struct wgotp_user *u, *other;
	struct wgotp_cidr *c;
	char *list = NULL, *tok, *save = NULL, a[64], b[64], who[CLEAN_MAX];
	size_t n = 1, i, j, k;
	const char *p;
	int ret = -EINVAL;

	u = wgotp_dir_find(dir, email);
	if (!u) {
		ret = user_error(err, ENOENT, NULL, email, "no such user");
		goto cleanup;
	}
	if (!wgotp_device_name_valid(name)) {
		ret = user_error(err, EINVAL, NULL, email,
				 "device name is not 1 to %d of A-Z a-z 0-9 . _ -", WGOTP_DEVICE_NAME_MAX);
		goto cleanup;
	}
	if (wgotp_user_find_device(u, name)) {
		ret = user_error(err, EEXIST, NULL, email, "already has a device \"%s\"", name);
		goto cleanup;
	}
	if (!public_key || strlen(public_key) != WGOTP_KEY_B64_LEN ||
	    wgotp_key_from_base64(d.key, public_key)) {
		ret = user_error(err, EINVAL, NULL, email,
				 "device \"%s\": not a WireGuard public key (44 characters of base64)", name);
		goto cleanup;
	}
	memcpy(d.public_key, public_key, WGOTP_KEY_B64_LEN + 1);
	if (wgotp_dir_find_key(dir, public_key, &other)) {
		ret = user_error(err, EEXIST, NULL, email,
				 "device \"%s\": public key already used by user \"%s\"", name,
				 clean(other->email, who, sizeof(who)));
		goto cleanup;
	}

	if (!allowed_ips || !*allowed_ips) {
		ret = user_error(err, EINVAL, NULL, email, "device \"%s\": no allowed IPs", name);
		goto cleanup;
	}
	for (p = allowed_ips; *p; p++)
		n += *p == ',';
	list = strdup(allowed_ips);
	d.name = strdup(name);
	d.allowed_ips = calloc(n, sizeof(*d.allowed_ips));
	if (!list || !d.name || !d.allowed_ips) {
		ret = oom(err, "users.json");
		goto cleanup;
	}
	/* strsep, not strtok: "a,,b" is an error, not two prefixes. */
	save = list;
	while ((tok = strsep(&save, ",")) != NULL) {
		c = &d.allowed_ips[d.n_allowed_ips];
		if (wgotp_cidr_parse(tok, c)) {
			ret = user_error(err, EINVAL, NULL, email,
					 "device \"%s\": \"%s\" is not a prefix without host bits", name,
					 clean(tok, a, sizeof(a)));
			goto cleanup;
		}
		d.n_allowed_ips++;
	}
	for (k = 0; k < d.n_allowed_ips; k++) {
		for (i = 0; i < dir->n_users; i++) {
			for (j = 0; j < dir->users[i].n_devices; j++) {
				size_t m;

				other_dev = &dir->users[i].devices[j];
				for (m = 0; m < other_dev->n_allowed_ips; m++) {
					if (!wgotp_cidr_overlap(&d.allowed_ips[k], &other_dev->allowed_ips[m]))
						continue;
					wgotp_cidr_format(&d.allowed_ips[k], a, sizeof(a));
					wgotp_cidr_format(&other_dev->allowed_ips[m], b, sizeof(b));
					ret = user_error(err, EEXIST, NULL, email,
							 "device \"%s\": allowed IP %s overlaps %s of user \"%s\" device \"%s\"",
							 name, a, b, clean(dir->users[i].email, who, sizeof(who)),
							 other_dev->name);
					goto cleanup;
				}
			}
		}
	}

	grown = realloc(u->devices, (u->n_devices + 1) * sizeof(*u->devices));
	if (!grown) {
		ret = oom(err, "users.json");
		goto cleanup;
	}
	u->devices = grown;
	u->devices[u->n_devices++] = d;
	memset(&d, 0, sizeof(d));
	ret = 0;
cleanup:
	free(list);
	device_clear(&d);
	return ret;
}

int wgotp_dir_device_rename(struct wgotp_directory *dir, const char *email, const char *old_name,
			    const char *new_name, struct wgotp_error *err)
{
	struct wgotp_device *d;
	struct wgotp_user *u;
	char dname[CLEAN_MAX];
	char *copy;

	u = wgotp_dir_find(dir, email);
	if (!u)
		return user_error(err, ENOENT, NULL, email, "no such user");
	d = wgotp_user_find_device(u, old_name);
	if (!d)
		return user_error(err, ENOENT, NULL, email, "no device \"%s\"",
				  clean(old_name, dname, sizeof(dname)));
	if (!wgotp_device_name_valid(new_name))
		return user_error(err, EINVAL, NULL, email,
				  "device name is not 1 to %d of A-Z a-z 0-9 . _ -", WGOTP_DEVICE_NAME_MAX);
	if (wgotp_user_find_device(u, new_name))
		return user_error(err, EEXIST, NULL, email, "already has a device \"%s\"", new_name);
	copy = strdup(new_name);
	if (!copy)
		return oom(err, "users.json");
	free(d->name);
	d->name = copy;
	return 0;
}

int wgotp_dir_device_del(struct wgotp_directory *dir, const char *email, const char *name,
			 struct wgotp_error *err)
{
	struct wgotp_device *d;
	struct wgotp_user *u;
	char dname[CLEAN_MAX];
	size_t pos;

	u = wgotp_dir_find(dir, email);
	if (!u)
		return user_error(err, ENOENT, NULL, email, "no such user");
	d = wgotp_user_find_device(u, name);
	if (!d)
		return user_error(err, ENOENT, NULL, email, "no device \"%s\"",
				  clean(name, dname, sizeof(dname)));
	pos = (size_t)(d - u->devices);
	device_clear(d);
	memmove(&u->devices[pos], &u->devices[pos + 1], (u->n_devices - pos - 1) * sizeof(*u->devices));
	u->n_devices--;
	return 0;
}

int wgotp_user_set_totp(struct wgotp_user *u, const char *secret_b32, enum wgotp_totp_state st)
{
	char *copy = NULL;

	if (!u || (st != WGOTP_TOTP_NONE && st != WGOTP_TOTP_PENDING && st != WGOTP_TOTP_ACTIVE))
		return -EINVAL;
	if (secret_b32 && !totp_secret_valid(secret_b32))
		return -EINVAL;
	if (!secret_b32 && st != WGOTP_TOTP_NONE)
		return -EINVAL;
	if (secret_b32) {
		copy = strdup(secret_b32);
		if (!copy)
			return -ENOMEM;
	}
	wgotp_free_str(u->totp_secret);
	u->totp_secret = copy;
	u->totp_state = st;
	return 0;
}
