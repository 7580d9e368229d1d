/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pam_bench: time per PAM authentication with TOTP through Linux-PAM,
 * as sshd does it for every connection: pam_start (the service file is
 * read and pam_wgotp.so loaded), pam_authenticate (wgotp.conf read, the
 * store opened, users.json and the server key read, a challenge stored,
 * the prompt answered, the code checked, the step and counters written,
 * everything closed), pam_end (the module unloaded).
 *
 *   top_builddir=BUILD BUILD/tests/bench/pam_bench [-n N] [-u USERS] [-I]
 *
 * N logins (default 2000) of one user, each at the next 30 s step (the
 * test build of the module reads its clock from WGOTP_PAM_TEST_NOW, so
 * every login is a fresh, valid code and the replay check writes the
 * store each time), with a users.json of USERS users (default 1). The
 * store is an SQLite file in $TMPDIR (WAL). users.json gets its index
 * (users.json.idx, as wgotpctl writes it: lib/dirindex.h) unless -I. Runs under pam_wrapper: no
 * /etc/pam.d file is written. Prints figures; exits 1 if a login failed.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "dirindex.h"
#include "encoding.h"
#include "otp.h"
#include "testutil.h"

#define T0 1700000010LL
#define SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

static char code[16];
static int64_t logins;		/* over every run: each login at a later step */

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *arg)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	int i;

	if (!r)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && !(r[i].resp = strdup(code))) {
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void write_fixture(const char *dir, int users, const char *module, bool index)
{
	struct wgotp_error err;
	FILE *f;
	char *p, *text;
	int i;

	if (asprintf(&p, "%s/users.json", dir) < 0 || !(f = fopen(p, "w")))
		abort();
	fprintf(f, "{ \"version\": 1, \"users\": {\n");
	for (i = 0; i < users; i++)
		fprintf(f, "%s\"user%05d@example.com\": { \"method\": \"totp\", \"totp_secret\": \"%s\","
			" \"totp_state\": \"active\", \"enabled\": true }\n", i ? "," : "", i, SECRET);
	fprintf(f, "} }\n");
	fchmod(fileno(f), 0640);	/* the modules refuse a world-readable users.json */
	fclose(f);
	if (index && wgotp_dirindex_build(p, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		abort();
	}
	free(p);
	free(tu_write(dir, "server.key",
		      "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 0600));
	if (asprintf(&text, "[General]\nDirectory = %s/users.json\nServerKeyFile = %s/server.key\n\n"
		     "[Store]\nPath = %s/state.db\n", dir, dir, dir) < 0)
		abort();
	free(tu_write(dir, "wgotp.conf", text, 0600));
	free(text);
	if (asprintf(&text, "auth required %s config=%s/wgotp.conf domain=example.com\n", module, dir) < 0)
		abort();
	free(tu_write(dir, "wgotp-bench", text, 0644));
	free(text);
}

static int bench(int n, int users, const char *how)
{
	struct wgotp_totp_params tp = { .digits = 6, .period = 30, .window = 1, .alg = WGOTP_TOTP_SHA1 };
	struct pam_conv c = { conv, NULL };
	uint8_t key[32];
	double *ms, t, sum = 0;
	char nowbuf[32];
	int i, ret, failed = 0, klen;

	ms = calloc((size_t)n, sizeof(*ms));
	klen = wgotp_base32_decode(SECRET, key, sizeof(key));
	if (!ms || klen <= 0)
		return 1;
	for (i = 0; i < n; i++) {
		pam_handle_t *ph = NULL;
		int64_t when = T0 + 30LL * logins++;

		snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)when);
		setenv("WGOTP_PAM_TEST_NOW", nowbuf, 1);
		if (wgotp_totp_generate(key, (size_t)klen, &tp, (uint64_t)(when / 30), code) < 0)
			return 1;
		t = now_ms();
		ret = pam_start("wgotp-bench", "user00000", &c, &ph);
		if (ret == PAM_SUCCESS)
			ret = pam_authenticate(ph, 0);
		if (ph)
			pam_end(ph, ret);
		ms[i] = now_ms() - t;
		sum += ms[i];
		if (ret != PAM_SUCCESS && failed++ < 3)
			fprintf(stderr, "login %d: %s\n", i, pam_strerror(NULL, ret));
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp);
	printf("pam_wgotp TOTP login (pam_start + pam_authenticate + pam_end), users.json of %d user%s,\n"
	       "%s:\n"
	       "  n=%d failed=%d mean=%.3f ms min=%.3f p50=%.3f p95=%.3f p99=%.3f max=%.3f ms\n",
	       users, users == 1 ? "" : "s", how, n, failed, sum / n, ms[0], ms[n / 2],
	       ms[(size_t)(n * 0.95)], ms[(size_t)(n * 0.99)], ms[n - 1]);
	free(ms);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_builddir");
	static const char wrapper[] = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";
	char module[4096], *dir;
	int n = 2000, users = 1, opt, status = 0;
	bool index = true;
	pid_t pid;

	while ((opt = getopt(argc, argv, "n:u:I")) != -1) {
		if (opt == 'I')
			index = false;
		else if (opt == 'n')
			n = atoi(optarg);
		else if (opt == 'u')
			users = atoi(optarg);
		else
			return 2;
	}
	if (n < 1 || users < 1) {
		fprintf(stderr, "usage: pam_bench [-n LOGINS] [-u USERS] [-I: no users.json.idx]\n");
		return 2;
	}
	if (getenv("PAM_WRAPPER")) {
		/* the test build copies its log to stderr: not what is measured */
		void *keep;
		int ret;

		if (!freopen("/dev/null", "w", stderr))
			return 1;
		ret = bench(n, users, "module loaded by every pam_start, as in sshd's per-connection process");
		/* Keep the module (and libcrypto, libcurl, ...) loaded: what
		 * is left is the module's own work, store update included. */
		keep = dlopen(getenv("WGOTP_PAM_BENCH_MODULE"), RTLD_NOW | RTLD_LOCAL);
		if (!keep)
			return 1;
		ret |= bench(n, users, "module kept loaded (its own work: config, store, flow)");
		dlclose(keep);
		return ret;
	}

	snprintf(module, sizeof(module), "%s/pam_wgotp/.libs/pam_wgotp_test.so", top ? top : ".");
	if (access(module, R_OK) || access(wrapper, R_OK)) {
		fprintf(stderr, "needs %s (make check builds it) and %s (Debian: libpam-wrapper)\n",
			module, wrapper);
		return 2;
	}
	dir = tu_tmpdir();
	write_fixture(dir, users, module, index);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setenv("WGOTP_PAM_BENCH_MODULE", module, 1);
		setenv("PAM_WRAPPER", "1", 1);
		setenv("PAM_WRAPPER_SERVICE_DIR", dir, 1);
		setenv("LD_PRELOAD", wrapper, 1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	tu_rmdir(dir);
	return pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
