/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The audit log (lib/audit.c): every line starts with its time, UTC, RFC
 * 3339 to the second ("2026-12-01T16:44:20Z "), whatever the destination
 * ([General] AuditLog = syslog: the front end's sink, wgotpctl's too;
 * stderr; a file), exactly once, and the time is when the line was
 * written. The fields after it keep their order and quoting.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "log.h"
#include "tap.h"
#include "testutil.h"

static char sunk[4096];
static int n_sunk;

static void sink(void *arg, enum wgotp_log_level lvl, const char *msg)
{
	if (lvl != WGOTP_LOG_AUDIT)
		return;
	snprintf(sunk, sizeof(sunk), "%s", msg);
	n_sunk++;
}

/* "YYYY-MM-DDTHH:MM:SSZ " at the start of line, a real instant within
 * [lo, hi]; *rest: what follows. */
static bool stamped(const char *line, time_t lo, time_t hi, const char **rest)
{
	struct tm tm = { 0 };
	const char *end;
	time_t t;
	char again[32];

	if (!line || strlen(line) < 21)
		return false;
	for (int i = 0; i < 20; i++) {
		bool digit = line[i] >= '0' && line[i] <= '9';
		char want = i == 4 || i == 7 ? '-' : i == 10 ? 'T' : i == 13 || i == 16 ? ':' : i == 19 ? 'Z' : 0;

		if (want ? line[i] != want : !digit)
			return false;
	}
	if (line[20] != ' ')
		return false;
	end = strptime(line, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end != line + 20)
		return false;
	t = timegm(&tm);
	/* strptime takes 2026-02-31; a real instant formats back the same */
	if (!strftime(again, sizeof(again), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t)) || strncmp(again, line, 20))
		return false;
	if (t < lo || t > hi)
		return false;
	*rest = line + 21;
	return true;
}

static const struct wgotp_audit sample = {
	.event = "begin", .origin = "radius", .user = "alice@example.com", .client = "10.0.0.1",
	.method = "totp", .result = "accept", .reason = "ok", .device = "laptop", .duration = 28800,
};
static const char fields[] = "wgotp-audit event=begin origin=radius user=\"alice@example.com\" "
			     "client=\"10.0.0.1\" method=totp result=accept reason=ok device=\"laptop\" "
			     "duration=28800";

static void read_all(const char *path, char *buf, size_t len)
{
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	if (fp) {
		n = fread(buf, 1, len - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
}

static void test_sink(void)
{
	const char *rest = NULL;
	time_t lo, hi;

	is_int(wgotp_audit_configure("syslog"), 0, "AuditLog = syslog: the front end's sink");
	n_sunk = 0;
	lo = time(NULL);
	wgotp_audit(&sample);
	hi = time(NULL);
	is_int(n_sunk, 1, "one line to the sink");
	ok(stamped(sunk, lo, hi, &rest), "the sink's line starts with its UTC time: %s", sunk);
	is_str(rest ? rest : "", fields, "... then the fields, in order");

	/* the fields a front end leaves out */
	wgotp_audit(&(struct wgotp_audit){ .event = "expire" });
	ok(stamped(sunk, lo, time(NULL), &rest) &&
	   !strcmp(rest, "wgotp-audit event=expire origin=- user=\"\" client=\"\" method=- result=- reason=- device=\"\""),
	   "a line with only an event is stamped too: %s", sunk);
}

static void test_file(const char *dir)
{
	char *path, buf[8192], *second;
	const char *rest = NULL;
	time_t lo, hi;

	if (asprintf(&path, "%s/audit.log", dir) < 0)
		abort();
	is_int(wgotp_audit_configure(path), 0, "AuditLog = a file");
	lo = time(NULL);
	wgotp_audit(&sample);
	wgotp_audit(&sample);
	hi = time(NULL);
	read_all(path, buf, sizeof(buf));
	second = strchr(buf, '\n');
	ok(second && second[1] && !strchr(second + 1, '\n')[1], "two lines in the file");
	if (second)
		*second++ = '\0';
	ok(stamped(buf, lo, hi, &rest), "the file's first line starts with its UTC time: %s", buf);
	is_str(rest ? rest : "", fields, "... once, then the fields");
	if (second && strchr(second, '\n'))
		*strchr(second, '\n') = '\0';
	ok(second && stamped(second, lo, hi, &rest), "so does the second");
	free(path);
}

static void test_stderr(const char *dir)
{
	char *path, buf[4096];
	const char *rest = NULL;
	time_t lo, hi;
	int saved = dup(STDERR_FILENO), fd;

	if (asprintf(&path, "%s/stderr", dir) < 0)
		abort();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved < 0 || fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		abort();
	close(fd);
	is_int(wgotp_audit_configure("stderr"), 0, "AuditLog = stderr");
	lo = time(NULL);
	wgotp_audit(&sample);
	hi = time(NULL);
	dup2(saved, STDERR_FILENO);
	close(saved);
	read_all(path, buf, sizeof(buf));
	if (strchr(buf, '\n'))
		*strchr(buf, '\n') = '\0';
	ok(stamped(buf, lo, hi, &rest), "stderr's line starts with its UTC time: %s", buf);
	is_str(rest ? rest : "", fields, "... once, then the fields");
	free(path);
}

int main(void)
{
	char *dir = tu_tmpdir();

	wgotp_log_set_sink(sink, NULL, WGOTP_LOG_WARN);
	test_sink();
	test_file(dir);
	test_stderr(dir);
	wgotp_audit_configure("syslog");
	tu_rmdir(dir);
	return done_testing();
}
