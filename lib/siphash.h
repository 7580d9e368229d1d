/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash, fast on
 * short inputs, whose outputs an attacker without the key cannot steer.
 * The counter table uses it to place user names it does not trust.
 */
#ifndef WGOTP_SIPHASH_H
#define WGOTP_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define WGOTP_SIPHASH_KEY_LEN 16

uint64_t wgotp_siphash24(const uint8_t key[WGOTP_SIPHASH_KEY_LEN], const void *data, size_t len);

#endif
