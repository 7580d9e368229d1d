/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Text encodings: base32 (TOTP secrets), base64 (WireGuard keys), hex. */
#ifndef WGOTP_ENCODING_H
#define WGOTP_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WGOTP_KEY_LEN 32
#define WGOTP_KEY_B64_LEN 44	/* without NUL */

/* RFC 4648 base32, upper case, no padding on output; input may be lower
 * case, may carry '=' padding and spaces. Returns the decoded length or
 * -EINVAL; -ENOBUFS when out is too small. */
int wgotp_base32_decode(const char *in, uint8_t *out, size_t outlen);
/* Returns the string length written, or -ENOBUFS. */
int wgotp_base32_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

/* A WireGuard key: exactly 44 characters of standard base64 ending in '='
 * decoding to 32 bytes. Constant time in the key bytes. 0 or -EINVAL; on
 * failure key is zeroed. */
int wgotp_key_from_base64(uint8_t key[WGOTP_KEY_LEN], const char *b64);
void wgotp_key_to_base64(char b64[WGOTP_KEY_B64_LEN + 1], const uint8_t key[WGOTP_KEY_LEN]);
/* Lower-case hex, as the UAPI protocol wants. */
void wgotp_key_to_hex(char hex[2 * WGOTP_KEY_LEN + 1], const uint8_t key[WGOTP_KEY_LEN]);

void wgotp_hex_encode(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
/* Returns the decoded length or -EINVAL / -ENOBUFS. */
int wgotp_hex_decode(const char *in, uint8_t *out, size_t outlen);

#endif
