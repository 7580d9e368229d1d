/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Secret handling: wiping, constant-time compare, secret files. */
#ifndef WGOTP_SECRET_H
#define WGOTP_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wipe memory in a way the compiler may not elide. */
void wgotp_wipe(void *p, size_t len);
/* Wipe then free; accepts NULL. */
void wgotp_freezero(void *p, size_t len);
/* Wipe a NUL-terminated string then free it; accepts NULL. */
void wgotp_free_str(char *s);

/* Constant-time comparison of two buffers of equal length. */
bool wgotp_ct_equal(const void *a, const void *b, size_t len);

/*
 * Read a whole secret file (at most max bytes; trailing newlines stripped).
 * Refuses a file that is group- or world-writable, or world-readable
 * (-EPERM), or not a regular file. *out is NUL-terminated, caller frees
 * with wgotp_freezero(*out, *len).
 */
int wgotp_secret_read(const char *path, size_t max, char **out, size_t *len);

/* Fill buf with bytes from the OpenSSL CSPRNG. */
int wgotp_random(void *buf, size_t len);

#endif
