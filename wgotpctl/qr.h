/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QR codes for TOTP enrolment (libqrencode): drawn in the terminal with
 * Unicode half blocks, written as PNG or SVG. The text is a secret: the
 * encoded symbol is wiped when freed, files are created with mode 0600.
 */
#ifndef WGOTPCTL_QR_H
#define WGOTPCTL_QR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct qr {
	int width;		/* modules per side, without the quiet zone */
	uint8_t *dark;		/* width * width, 1 = dark */
};

/* 0 or a negative errno. */
int qr_encode(const char *text, struct qr *out);
void qr_free(struct qr *q);

/* Two rows of modules per line of text; ansi: force black on white. */
void qr_print_terminal(const struct qr *q, FILE *f, bool ansi);

/* 0 or a negative errno. */
int qr_write_png(const struct qr *q, const char *path, int scale);
int qr_write_svg(const struct qr *q, const char *path);
/* The SVG in memory (*out malloc'ed; wipe it with wgotp_freezero). */
int qr_svg_text(const struct qr *q, char **out, size_t *len);

/* A new file (or one replaced) with mode 0600 whatever the umask; the
 * PNG writer's helper. Returns an fd or a negative errno. */
int qr_create_file(const char *path);
/* write(2) all of buf: 0 or a negative errno. */
int qr_write_all(int fd, const void *buf, size_t len);

/* A minimal PNG: 1-bit grayscale, stored (uncompressed) deflate blocks.
 * rows: height rows of (width + 7) / 8 bytes, most significant bit first,
 * 1 = white. */
int png_write(int fd, int width, int height, const uint8_t *rows);

#endif
