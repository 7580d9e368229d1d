// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: a TZif file ([Session] TimeZone reads one from
 * /usr/share/zoneinfo) through wgotp_tz_parse(), its footer rule
 * included. A zone that parses must answer every instant with an offset
 * within +-26 h (larger ones are refused), and a wall time must come back
 * as an instant within 4 days of the one it was made from. Includes tz.c directly so it is
 * instrumented. Built and run by tests/fuzz/run-fuzzers (make fuzz).
 */
#include "config.h"

#include <stdlib.h>

#include "tz.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t probes[] = {
		-2208988800LL, 0, 1774747800, 1792888200, 2147483647LL, 2903000000LL, 4102444800LL,
	};
	struct wgotp_tz *tz = NULL;
	struct wgotp_error err;

	if (wgotp_tz_parse("fuzz", data, size, &tz, &err) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		int32_t off = wgotp_tz_offset(tz, probes[i]);
		struct tm tm;
		int64_t back;

		if (off > TZ_MAX_OFFSET || off < -TZ_MAX_OFFSET)
			__builtin_trap();	/* refused when parsed */
		wgotp_tz_local(tz, probes[i], &tm);
		back = wgotp_tz_instant(tz, &tm);
		if (back - probes[i] > 4 * 86400 || probes[i] - back > 4 * 86400)
			__builtin_trap();
	}
	wgotp_tz_free(tz);
	return 0;
}
