// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * QR codes for TOTP enrolment through libqrencode: the terminal (Unicode
 * half blocks, two rows of modules per line), PNG (png.c) and SVG.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qr.h"
#include "secret.h"

#define QUIET_TERM 2	/* quiet zone in the terminal (modules) */
#define QUIET_FILE 4	/* in files, as ISO/IEC 18004 asks */

int qr_encode(const char *text, struct qr *out)
{
	QRcode *code;
	size_t n;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	errno = 0;
	code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!code)
		return errno ? -errno : -EINVAL;
	n = (size_t)code->width * (size_t)code->width;
	out->dark = malloc(n);
	if (!out->dark) {
		ret = -ENOMEM;
		goto cleanup;
	}
	out->width = code->width;
	for (size_t i = 0; i < n; i++)
		out->dark[i] = code->data[i] & 1;
cleanup:
	wgotp_wipe(code->data, n);
	QRcode_free(code);
	return ret;
}

void qr_free(struct qr *q)
{
	if (!q)
		return;
	wgotp_freezero(q->dark, q->dark ? (size_t)q->width * (size_t)q->width : 0);
	q->dark = NULL;
	q->width = 0;
}

static bool dark_at(const struct qr *q, int x, int y, int quiet)
{
	x -= quiet;
	y -= quiet;
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return false;
	return q->dark[(size_t)y * (size_t)q->width + (size_t)x];
}

void qr_print_terminal(const struct qr *q, FILE *f, bool ansi)
{
	/* Indexed by (top dark) | (bottom dark) << 1. With ansi, dark modules
	 * are drawn black on a white background; without, light modules are
	 * drawn as blocks (for the usual light-on-dark terminal). */
	static const char *const dark_blocks[4] = { " ", "\u2580", "\u2584", "\u2588" };
	static const char *const light_blocks[4] = { "\u2588", "\u2584", "\u2580", " " };
	const char *const *blocks = ansi ? dark_blocks : light_blocks;
	int size = q->width + 2 * QUIET_TERM;

	for (int y = 0; y < size; y += 2) {
		if (ansi)
			fputs("\033[30;107m", f);
		for (int x = 0; x < size; x++) {
			int idx = dark_at(q, x, y, QUIET_TERM) | dark_at(q, x, y + 1, QUIET_TERM) << 1;

			fputs(blocks[idx], f);
		}
		if (ansi)
			fputs("\033[0m", f);
		fputc('\n', f);
	}
	fflush(f);
}

int qr_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int qr_create_file(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* An existing file keeps its mode through O_TRUNC: tighten it. */
	if (fchmod(fd, 0600) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static int finish(int fd, int ret)
{
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

int qr_write_png(const struct qr *q, const char *path, int scale)
{
	int size = (q->width + 2 * QUIET_FILE) * scale;
	size_t stride = ((size_t)size + 7) / 8, len = stride * (size_t)size;
	uint8_t *rows;
	int fd, ret;

	rows = calloc(1, len);
	if (!rows)
		return -ENOMEM;
	for (int y = 0; y < size; y++) {
		for (int x = 0; x < size; x++) {
			if (!dark_at(q, x / scale, y / scale, QUIET_FILE))
				rows[(size_t)y * stride + (size_t)x / 8] |= (uint8_t)(0x80 >> (x % 8));
		}
	}
	fd = qr_create_file(path);
	if (fd < 0) {
		ret = fd;
		goto cleanup;
	}
	ret = finish(fd, png_write(fd, size, size, rows));
cleanup:
	wgotp_freezero(rows, len);
	return ret;
}

int qr_svg_text(const struct qr *q, char **out, size_t *len)
{
	int size = q->width + 2 * QUIET_FILE;
	FILE *f = open_memstream(out, len);

	if (!f)
		return -ENOMEM;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
		"width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">\n",
		size, size, size * 8, size * 8);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<path d=\"", size, size);
	/* One horizontal run of dark modules per subpath. */
	for (int y = 0; y < q->width; y++) {
		for (int x = 0; x < q->width; x++) {
			int run = 0;

			while (x + run < q->width && q->dark[(size_t)y * (size_t)q->width + (size_t)(x + run)])
				run++;
			if (!run)
				continue;
			fprintf(f, "M%d %dh%dv1h-%dz", x + QUIET_FILE, y + QUIET_FILE, run, run);
			x += run;
		}
	}
	fputs("\" fill=\"#000\"/>\n</svg>\n", f);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int qr_write_svg(const struct qr *q, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int fd, ret;

	ret = qr_svg_text(q, &text, &len);
	if (ret < 0)
		return ret;
	fd = qr_create_file(path);
	if (fd < 0) {
		wgotp_freezero(text, len);
		return fd;
	}
	ret = qr_write_all(fd, text, len);
	wgotp_freezero(text, len);
	return finish(fd, ret);
}
