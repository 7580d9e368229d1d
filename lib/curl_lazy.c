/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libcurl loaded at the first send (curl_lazy.h). */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "curl_lazy.h"

#ifndef WGOTP_LIBCURL_SONAME
#define WGOTP_LIBCURL_SONAME "libcurl.so.4"
#endif

/* dlsym gives a void *; POSIX makes it the size of a function pointer. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "dlsym cannot give function pointers");

static const struct {
	const char *name;
	size_t offset;
} symbols[] = {
	{ "curl_easy_init", offsetof(struct wgotp_curl, easy_init) },
	{ "curl_easy_setopt", offsetof(struct wgotp_curl, easy_setopt) },
	{ "curl_easy_perform", offsetof(struct wgotp_curl, easy_perform) },
	{ "curl_easy_getinfo", offsetof(struct wgotp_curl, easy_getinfo) },
	{ "curl_easy_cleanup", offsetof(struct wgotp_curl, easy_cleanup) },
	{ "curl_easy_strerror", offsetof(struct wgotp_curl, easy_strerror) },
	{ "curl_slist_append", offsetof(struct wgotp_curl, slist_append) },
	{ "curl_slist_free_all", offsetof(struct wgotp_curl, slist_free_all) },
	{ "curl_getdate", offsetof(struct wgotp_curl, getdate) },
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct wgotp_curl curl;
static int load_result;			/* 0 or -errno, set once */
static struct wgotp_error load_error;

static void load(void)
{
	CURLcode (*global_init)(long flags);
	void *lib, *sym;
	CURLcode cc;

	lib = dlopen(WGOTP_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		load_result = wgotp_error_set(&load_error, ELIBACC, "cannot load %s: %s",
					      WGOTP_LIBCURL_SONAME, dlerror());
		return;
	}
	sym = dlsym(lib, "curl_global_init");
	memcpy(&global_init, &sym, sizeof(sym));
	for (size_t i = 0; sym && i < sizeof(symbols) / sizeof(symbols[0]); i++) {
		sym = dlsym(lib, symbols[i].name);
		memcpy((char *)&curl + symbols[i].offset, &sym, sizeof(sym));
	}
	if (!sym) {
		load_result = wgotp_error_set(&load_error, ELIBBAD, "cannot load %s: %s",
					      WGOTP_LIBCURL_SONAME, dlerror());
		goto fail;
	}
	/* Once per process, before any other call into libcurl. */
	cc = global_init(CURL_GLOBAL_DEFAULT);
	if (cc != CURLE_OK) {
		load_result = wgotp_error_set(&load_error, EIO, "%s: curl_global_init: %s",
					      WGOTP_LIBCURL_SONAME, curl.easy_strerror(cc));
		goto fail;
	}
	return;
fail:
	memset(&curl, 0, sizeof(curl));
	dlclose(lib);
}

int wgotp_curl_get(const struct wgotp_curl **out, struct wgotp_error *err)
{
	*out = NULL;
	pthread_once(&load_once, load);
	if (load_result < 0)
		return wgotp_error_set(err, -load_result, "%s", load_error.msg);
	*out = &curl;
	return 0;
}
