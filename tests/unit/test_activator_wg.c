// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wg-activator's WireGuard backends (wg_uapi.c, wg_cli.c) as the last line
 * of defence: whatever text a change carries, only what the backend
 * parsed and formatted itself goes to WireGuard, and a change whose
 * allowed IPs do not parse refuses the whole batch before anything is
 * sent or run.
 */
#include "config.h"

#include <sys/stat.h>

#include "wg.c"
#include "wg_uapi.c"
#include "wg_cli.c"
#include "tap.h"
#include "testutil.h"

/* The UAPI lines a forged store row would smuggle in after its prefix. */
#define FORGED "10.0.0.2/32\npublic_key=5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" \
	"\nallowed_ip=0.0.0.0/0"

static void peer(struct wg_peer *p, char c, bool remove, const char *ips)
{
	memset(p, 0, sizeof(*p));
	memset(p->key, c, WGOTP_KEY_LEN);
	p->remove = remove;
	p->allowed_ips = ips;
}

static void test_canon(void)
{
	char *out = (char *)"untouched";

	is_int(wg_ips_canon("10.0.0.2,FD00:0::2/128", &out), 0, "canon: two prefixes");
	is_str(out, "10.0.0.2/32,fd00::2/128", "  re-formatted");
	free(out);
	is_int(wg_ips_canon("", &out), 0, "canon: none");
	is_str(out, "", "  is empty");
	free(out);
	is_int(wg_ips_canon(NULL, &out), 0, "canon: NULL is none");
	free(out);
	out = (char *)"untouched";
	is_int(wg_ips_canon(FORGED, &out), -EINVAL, "canon: a newline is refused");
	ok(out == NULL, "  with no output");
	is_int(wg_ips_canon("10.0.0.2/32,10.0.0.3/32 ", &out), -EINVAL, "canon: a trailing space is refused");
	is_int(wg_ips_canon("10.0.0.2/32;10.0.0.3/32", &out), -EINVAL, "canon: another separator is refused");
}

static void test_uapi_build(void)
{
	struct wg_peer ch[3];
	struct buf req = { 0 };
	char hexa[2 * WGOTP_KEY_LEN + 1], hexb[2 * WGOTP_KEY_LEN + 1], want[512];
	size_t bad = 99;

	peer(&ch[0], 'A', false, "10.0.0.2,FD00:0::2/128");
	peer(&ch[1], 'B', true, "ignored\nremove=false");
	wgotp_key_to_hex(hexa, ch[0].key);
	wgotp_key_to_hex(hexb, ch[1].key);
	snprintf(want, sizeof(want),
		 "set=1\npublic_key=%s\nreplace_allowed_ips=true\nallowed_ip=10.0.0.2/32\n"
		 "allowed_ip=fd00::2/128\npublic_key=%s\nremove=true\n\n", hexa, hexb);
	is_int(build_set(&req, ch, 2, &bad), 0, "uapi: a well-formed batch");
	is_str(req.p, want, "  is written from what parsed: keys in hex, canonical prefixes");
	buf_free(&req);

	peer(&ch[0], 'A', false, "10.0.0.5/32");
	peer(&ch[1], 'B', false, FORGED);
	peer(&ch[2], 'C', true, NULL);
	is_int(build_set(&req, ch, 3, &bad), -EINVAL, "uapi: a newline in allowed IPs refuses the batch");
	is_int(bad, 1, "  naming the change");
	buf_free(&req);

	peer(&ch[0], 'A', false, "10.0.0.2/32,10.0.0.3/32\n");
	is_int(build_set(&req, ch, 1, &bad), -EINVAL, "uapi: even a trailing newline");
	buf_free(&req);
	peer(&ch[0], 'A', false, "10.0.0.2/32,\tallowed_ip=0.0.0.0/0");
	is_int(build_set(&req, ch, 1, &bad), -EINVAL, "uapi: a piece that is no prefix");
	buf_free(&req);
}

/* uapi_apply refuses before it connects: a listener sees nobody. */
static void test_uapi_apply(const char *dir)
{
	struct uapi u = { .fd = -1, .timeout_ms = 1000 };
	struct wg_peer ch[1];
	struct wgotp_error err = { "" };
	int lfd, cfd;

	u.addr.sun_family = AF_UNIX;
	snprintf(u.addr.sun_path, sizeof(u.addr.sun_path), "%s/wgt0.sock", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&u.addr, sizeof(u.addr)) < 0 || listen(lfd, 4) < 0) {
		ok(0, "uapi: a listening socket for the test");
		return;
	}
	peer(&ch[0], 'A', false, FORGED);
	is_int(uapi_apply(&u, ch, 1, &err), -EINVAL, "uapi_apply: a forged change is refused");
	ok(strstr(err.msg, "nothing sent") && !strchr(err.msg, '\n'), "  saying so, on one line");
	cfd = accept(lfd, NULL, NULL);
	ok(cfd < 0, "  and nothing connected to the UAPI socket");
	if (cfd >= 0)
		close(cfd);
	uapi_disconnect(&u);
	close(lfd);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 4096);
	size_t n;

	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* wg(8) stood in for by a script that writes its arguments, one a line. */
static void test_cli(const char *dir)
{
	struct cli c = { .ifname = "wgt0", .timeout_ms = 5000 };
	struct wg_peer ch[2];
	struct wgotp_error err = { "" };
	char b64a[WGOTP_KEY_B64_LEN + 1], b64b[WGOTP_KEY_B64_LEN + 1], want[512], *args, *script, *out;

	if (asprintf(&out, "%s/args", dir) < 0 || asprintf(&script, "#!/bin/sh\nfor a; do printf '%%s\\n' \"$a\"; done > '%s'\n", out) < 0)
		abort();
	c.wg = tu_write(dir, "wg", script, 0700);
	free(script);

	peer(&ch[0], 'A', false, "10.0.0.2,FD00:0::2/128");
	peer(&ch[1], 'B', true, NULL);
	wgotp_key_to_base64(b64a, ch[0].key);
	wgotp_key_to_base64(b64b, ch[1].key);
	snprintf(want, sizeof(want), "set\nwgt0\npeer\n%s\nallowed-ips\n10.0.0.2/32,fd00::2/128\npeer\n%s\nremove\n",
		 b64a, b64b);
	is_int(cli_apply(&c, ch, 2, &err), 0, "wg: a well-formed batch (%s)", err.msg);
	args = slurp(out);
	is_str(args, want, "  runs wg with the canonical prefixes");
	free(args);

	unlink(out);
	peer(&ch[0], 'A', false, "10.0.0.2/32");
	peer(&ch[1], 'B', false, "10.0.0.3/32\n");
	is_int(cli_apply(&c, ch, 2, &err), -EINVAL, "wg: a byte outside a prefix refuses the batch");
	ok(access(out, F_OK) < 0, "  before wg runs at all");
	ok(strstr(err.msg, "change 2 of 2") != NULL, "  naming the change");
	peer(&ch[1], 'B', false, "10.0.0.3/32,-h");
	is_int(cli_apply(&c, ch, 2, &err), -EINVAL, "wg: an option as a prefix is refused");
	ok(access(out, F_OK) < 0, "  and wg does not run");
	free(c.wg);
	free(out);
}

int main(void)
{
	char *dir = tu_tmpdir();

	test_canon();
	test_uapi_build();
	test_uapi_apply(dir);
	test_cli(dir);
	tu_rmdir(dir);
	return done_testing();
}
