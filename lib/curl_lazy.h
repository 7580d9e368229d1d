/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libcurl, loaded with dlopen the first time mail is sent: a TOTP login
 * (a PAM module loaded by every sshd connection) never maps libcurl and
 * the thirty libraries it pulls in (TLS, LDAP, Kerberos, SSH, HTTP/2, IDN).
 * curl.h still gives the types and constants; the functions are reached
 * through struct wgotp_curl. The library name is a configure-time choice
 * (--with-libcurl-soname, default libcurl.so.4).
 */
#ifndef WGOTP_CURL_LAZY_H
#define WGOTP_CURL_LAZY_H

#include <time.h>

#include <curl/curl.h>

#include "error.h"

struct wgotp_curl {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *c);
	const char *(*easy_strerror)(CURLcode cc);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
	time_t (*getdate)(const char *s, const time_t *unused);
};

/*
 * libcurl's functions, loaded (RTLD_NOW | RTLD_LOCAL) and initialised
 * (curl_global_init) once per process, thread-safe. 0 and *out set, or
 * -ELIBACC when the library cannot be loaded ("cannot load libcurl.so.4:
 * ..."), -ELIBBAD when a function is missing from it, -EIO when
 * curl_global_init fails, with err set; every later call gives the same
 * answer. The library stays loaded until the process exits.
 */
int wgotp_curl_get(const struct wgotp_curl **out, struct wgotp_error *err);

/*
 * curl_easy_setopt through the pointer, where curl.h's type-checking
 * macro does not reach: each takes the argument type that libcurl reads
 * for the option's range (CURLOPTTYPE_*), and an option of another range
 * does not compile. Strings, lists and data pointers go through _ptr.
 */
#define WGOTP_CURLOPT_IN(opt, type) \
	((void)sizeof(char[(long)(opt) / 10000 == (type) / 10000 ? 1 : -1]))

static inline CURLcode wgotp_curl_setopt_long_(const struct wgotp_curl *cu, CURL *c,
					       CURLoption opt, long v)
{
	return cu->easy_setopt(c, opt, v);
}

static inline CURLcode wgotp_curl_setopt_ptr_(const struct wgotp_curl *cu, CURL *c,
					      CURLoption opt, const void *v)
{
	return cu->easy_setopt(c, opt, v);
}

static inline CURLcode wgotp_curl_setopt_off_(const struct wgotp_curl *cu, CURL *c,
					      CURLoption opt, curl_off_t v)
{
	return cu->easy_setopt(c, opt, v);
}

/* Write, header and read callbacks have one signature. */
static inline CURLcode wgotp_curl_setopt_fn_(const struct wgotp_curl *cu, CURL *c,
					     CURLoption opt, curl_write_callback fn)
{
	return cu->easy_setopt(c, opt, fn);
}

#define wgotp_curl_setopt_long(cu, c, opt, v) \
	(WGOTP_CURLOPT_IN(opt, CURLOPTTYPE_LONG), wgotp_curl_setopt_long_(cu, c, opt, v))
#define wgotp_curl_setopt_ptr(cu, c, opt, v) \
	(WGOTP_CURLOPT_IN(opt, CURLOPTTYPE_OBJECTPOINT), wgotp_curl_setopt_ptr_(cu, c, opt, v))
#define wgotp_curl_setopt_off(cu, c, opt, v) \
	(WGOTP_CURLOPT_IN(opt, CURLOPTTYPE_OFF_T), wgotp_curl_setopt_off_(cu, c, opt, v))
#define wgotp_curl_setopt_fn(cu, c, opt, fn) \
	(WGOTP_CURLOPT_IN(opt, CURLOPTTYPE_FUNCTIONPOINT), wgotp_curl_setopt_fn_(cu, c, opt, fn))

#endif
