// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer: the request head of a scrape of wg-activator's /metrics
 * (wg-activator/http_head.c): any bytes, a status of the four, never a
 * read past the buffer. */
#include "http_head.c"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	int is_head, st;

	if (!copy)
		return 0;
	memcpy(copy, data, size);	/* exactly size bytes: ASan sees an over-read */
	st = act_metrics_route(copy, size, &is_head);
	if (st != 200 && st != 400 && st != 404 && st != 405)
		abort();
	if (st != 200 && is_head)
		abort();
	free(copy);
	return 0;
}
