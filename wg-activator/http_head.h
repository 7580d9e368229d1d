/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef WGA_HTTP_HEAD_H
#define WGA_HTTP_HEAD_H

#include <stddef.h>

/*
 * Parse one HTTP request head (the bytes up to and including the blank
 * line; len of them): 200 for GET or HEAD of /metrics (a query string is
 * ignored), 404 for another path, 405 for another method, 400 for
 * anything malformed (no CRLF, not "METHOD SP PATH SP HTTP/1.x", a
 * control byte in the request line). *is_head is 1 for HEAD.
 */
int act_metrics_route(const char *head, size_t len, int *is_head);

#endif
