// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A minimal PNG writer for QR codes (RFC 2083, RFC 1950/1951): 1-bit
 * grayscale, no filtering, the image data in stored (uncompressed)
 * deflate blocks, so no compression library is needed. A QR code of
 * the largest version at 8 pixels a module is about 200 kB.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qr.h"
#include "secret.h"

#define STORED_MAX 65535

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[n] = c;
	}
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

static uint32_t adler32(const uint8_t *p, size_t len)
{
	uint32_t a = 1, b = 0;

	for (size_t i = 0; i < len; i++) {
		a = (a + p[i]) % 65521;
		b = (b + a) % 65521;
	}
	return (b << 16) | a;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int chunk(int fd, const char type[4], const uint8_t *data, size_t len)
{
	uint8_t head[8], tail[4];
	uint32_t crc;
	int ret;

	put32(head, (uint32_t)len);
	memcpy(head + 4, type, 4);
	crc = crc_update(0xffffffffu, (const uint8_t *)type, 4);
	crc = crc_update(crc, data, len) ^ 0xffffffffu;
	put32(tail, crc);
	ret = qr_write_all(fd, head, sizeof(head));
	if (ret == 0 && len)
		ret = qr_write_all(fd, data, len);
	if (ret == 0)
		ret = qr_write_all(fd, tail, sizeof(tail));
	return ret;
}

int png_write(int fd, int width, int height, const uint8_t *rows)
{
	static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
	size_t stride = ((size_t)width + 7) / 8, raw_len = 0, blocks, z_len = 0, off, o;
	uint8_t ihdr[13], *raw = NULL, *z = NULL;
	int ret = -EINVAL;

	if (width <= 0 || height <= 0 || width > 1 << 15 || height > 1 << 15)
		goto cleanup;
	crc_init();
	/* Each row: filter type 0, then the row. */
	raw_len = (size_t)height * (stride + 1);
	raw = malloc(raw_len);
	blocks = (raw_len + STORED_MAX - 1) / STORED_MAX;
	z_len = 2 + blocks * 5 + raw_len + 4;
	z = malloc(z_len);
	if (!raw || !z) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (int y = 0; y < height; y++) {
		raw[(size_t)y * (stride + 1)] = 0;
		memcpy(raw + (size_t)y * (stride + 1) + 1, rows + (size_t)y * stride, stride);
	}
	/* zlib: deflate, 32 K window, no dictionary, fastest; FCHECK makes
	 * the header a multiple of 31. */
	z[0] = 0x78;
	z[1] = 0x01;
	o = 2;
	for (off = 0; off < raw_len; off += STORED_MAX) {
		size_t n = raw_len - off < STORED_MAX ? raw_len - off : STORED_MAX;

		z[o++] = off + n == raw_len ? 1 : 0;	/* BFINAL, BTYPE = 00 */
		z[o++] = (uint8_t)n;
		z[o++] = (uint8_t)(n >> 8);
		z[o++] = (uint8_t)~n;
		z[o++] = (uint8_t)(~n >> 8);
		memcpy(z + o, raw + off, n);
		o += n;
	}
	put32(z + o, adler32(raw, raw_len));
	o += 4;

	put32(ihdr, (uint32_t)width);
	put32(ihdr + 4, (uint32_t)height);
	ihdr[8] = 1;	/* bit depth */
	ihdr[9] = 0;	/* grayscale */
	ihdr[10] = 0;	/* deflate */
	ihdr[11] = 0;	/* adaptive filtering (type 0 used) */
	ihdr[12] = 0;	/* no interlace */
	ret = qr_write_all(fd, sig, sizeof(sig));
	if (ret == 0)
		ret = chunk(fd, "IHDR", ihdr, sizeof(ihdr));
	if (ret == 0)
		ret = chunk(fd, "IDAT", z, o);
	if (ret == 0)
		ret = chunk(fd, "IEND", NULL, 0);
cleanup:
	/* The image is the secret, as much as the text is. */
	wgotp_freezero(raw, raw ? raw_len : 0);
	wgotp_freezero(z, z ? z_len : 0);
	return ret;
}
