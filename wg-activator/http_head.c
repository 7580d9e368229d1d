// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The request line of a scrape (exporter.h, act_metrics_route): on its
 * own, without the daemon, so that tests/fuzz/fuzz_metrics_route.c can
 * take it whole.
 */
#include "config.h"

#include <string.h>

#include "http_head.h"

int act_metrics_route(const char *head, size_t len, int *is_head)
{
	const char *sp1, *sp2, *eol;
	size_t mlen, plen;

	*is_head = 0;
	eol = memchr(head, '\r', len);
	if (!eol || (size_t)(eol - head) + 1 >= len || eol[1] != '\n')
		return 400;
	sp1 = memchr(head, ' ', (size_t)(eol - head));
	if (!sp1)
		return 400;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || (size_t)(eol - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return 400;
	for (const char *c = head; c < eol; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return 400;
	mlen = (size_t)(sp1 - head);
	plen = (size_t)(sp2 - sp1 - 1);
	if (!(mlen == 3 && !memcmp(head, "GET", 3)) && !(mlen == 4 && !memcmp(head, "HEAD", 4)))
		return 405;
	if (!(plen == 8 && !memcmp(sp1 + 1, "/metrics", 8)) &&
	    !(plen > 9 && !memcmp(sp1 + 1, "/metrics?", 9)))
		return 404;
	*is_head = mlen == 4;
	return 200;
}

