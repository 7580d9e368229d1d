// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target: the wgotp.conf parser. Includes conf.c directly so the
 * parser is instrumented (wireguard-tools src/fuzz style). Built and run by
 * tests/fuzz/run-fuzzers (make fuzz).
 */
#include "config.h"

#include "conf.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wgotp_config *cfg = NULL;
	struct wgotp_error err;
	int ret;

	ret = wgotp_config_parse("/fuzz/wgotp.conf", (const char *)data, size, &cfg, &err);
	if (ret == 0) {
		/* A file that parses must yield a usable configuration. */
		if (!cfg || !cfg->directory || !cfg->interface || cfg->n_session_durations < 1 ||
		    cfg->session_default > cfg->session_max)
			__builtin_trap();
		(void)wgotp_config_session_duration(cfg, (int64_t)size * 977);
	} else if (cfg || !err.msg[0] || !memchr(err.msg, '\0', sizeof(err.msg))) {
		__builtin_trap();	/* a refusal says why, and returns nothing */
	}
	wgotp_config_free(cfg);
	return 0;
}
