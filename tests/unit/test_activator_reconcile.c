// SPDX-License-Identifier: GPL-2.0-or-later
/* wg-activator's reconcile plan (reconcile.c), without WireGuard. */
#include "config.h"

#include "reconcile.c"
#include "table.c"
#include "sched.c"
#include "wg.c"
#include "tap.h"

/* wg.c names both backends; the plan needs neither. */
const struct wg_ops wg_uapi_ops = { .name = "uapi" };
const struct wg_ops wg_cli_ops = { .name = "wg" };

/* Keys: A..F, as base64 of 32 equal bytes. */
static void key_of(char c, char b64[WGOTP_KEY_B64_LEN + 1], uint8_t raw[WGOTP_KEY_LEN])
{
	memset(raw, c, WGOTP_KEY_LEN);
	wgotp_key_to_base64(b64, raw);
}

static const char *k64(char c)
{
	static char buf[8][WGOTP_KEY_B64_LEN + 1];
	static int i;
	uint8_t raw[WGOTP_KEY_LEN];

	i = (i + 1) % 8;
	key_of(c, buf[i], raw);
	return buf[i];
}

/* The prefixes enrolled in the test directory for the device of key c. */
static const char *ips_of(char c)
{
	switch (c) {
	case 'A': return "10.0.0.2/32";
	case 'B': return "10.0.0.3/32";
	case 'C': return "10.0.0.4/32,fd00::4/128";
	case 'D': return "10.0.0.5/32";
	case 'E': return "10.0.0.6/32";
	default: return "10.0.0.9/32";
	}
}

static void sess(struct wgotp_session *s, const char *user, const char *dev, char key, int64_t exp)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->device, sizeof(s->device), "%s", dev);
	snprintf(s->public_key, sizeof(s->public_key), "%s", k64(key));
	snprintf(s->allowed_ips, sizeof(s->allowed_ips), "%s", ips_of(key));
	s->expires = exp;
}

/* The change for key c, or NULL. */
static const struct wg_peer *change_for(const struct rc_plan *p, char c)
{
	uint8_t raw[WGOTP_KEY_LEN];

	memset(raw, c, sizeof(raw));
	for (size_t i = 0; i < p->n_changes; i++)
		if (!memcmp(p->changes[i].key, raw, WGOTP_KEY_LEN))
			return &p->changes[i];
	return NULL;
}

/* Find the change for key c: 'a' added, 'r' removed, 0 none. */
static char change_of(const struct rc_plan *p, char c)
{
	uint8_t raw[WGOTP_KEY_LEN];

	memset(raw, c, sizeof(raw));
	for (size_t i = 0; i < p->n_changes; i++)
		if (!memcmp(p->changes[i].key, raw, WGOTP_KEY_LEN))
			return p->changes[i].remove ? 'r' : 'a';
	return 0;
}

static bool ended(const struct rc_plan *p, size_t idx)
{
	for (size_t i = 0; i < p->n_ended; i++)
		if (p->ended[i] == idx)
			return true;
	return false;
}

/* wgotp_session_ips(): what a session may put on WireGuard. */
static void test_session_ips(const struct wgotp_directory *dir)
{
	static const struct {
		const char *user, *device;
		char key;
		const char *ips;
		int want;
		const char *out;
		const char *what;
	} v[] = {
		{ "alice@example.com", "laptop", 'A', "10.0.0.2/32", 0, "10.0.0.2/32", "the device's prefix" },
		{ "ALICE@example.com", "laptop", 'A', "10.0.0.2", 0, "10.0.0.2/32",
		  "a bare address, the user in another case: re-formatted" },
		{ "svc@example.com", "r1", 'C', "FD00:0::4,10.0.0.4/32", 0, "fd00::4/128,10.0.0.4/32",
		  "all of a device's prefixes, in any order and spelling" },
		{ "svc@example.com", "r1", 'C', "fd00::4/128", 0, "fd00::4/128", "a subset of them" },
		{ "alice@example.com", "laptop", 'A',
		  "10.0.0.2/32\npublic_key=4141414141414141414141414141414141414141414141414141414141414141"
		  "\nallowed_ip=0.0.0.0/0", -EINVAL, "", "a newline and UAPI lines after the prefix" },
		{ "alice@example.com", "laptop", 'A', "10.0.0.2/32,", -EINVAL, "", "a trailing comma" },
		{ "alice@example.com", "laptop", 'A', "10.0.0.2/32, 10.0.0.2/32", -EINVAL, "", "a space" },
		{ "alice@example.com", "laptop", 'A', "", -EINVAL, "", "no prefix at all" },
		{ "alice@example.com", "laptop", 'A', "10.0.0.6/32", -EPERM, "", "another user's /32" },
		{ "alice@example.com", "laptop", 'A', "10.0.0.2/32,10.0.0.6/32", -EPERM, "",
		  "the device's prefix and another user's: all refused" },
		{ "alice@example.com", "laptop", 'A', "0.0.0.0/0", -EPERM, "", "everything" },
		{ "alice@example.com", "laptop", 'A', "10.0.0.0/24", -EPERM, "",
		  "a larger prefix holding the device's" },
		{ "svc@example.com", "r1", 'C', "10.0.0.4/32,10.0.0.5/32", -EPERM, "",
		  "a prefix of the same user's other device" },
		{ "alice@example.com", "laptop", 'E', "10.0.0.6/32", -EKEYREJECTED, "",
		  "another device's key, with that device's prefix" },
		{ "alice@example.com", "phone", 'A', "10.0.0.2/32", -ENOENT, "", "a device the user has not" },
		{ "mallory@example.com", "laptop", 'A', "10.0.0.2/32", -ENOENT, "", "a user not in users.json" },
	};
	struct wgotp_session s;
	struct wgotp_error err;
	char out[sizeof(s.allowed_ips)];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(&s, 0, sizeof(s));
		snprintf(s.user, sizeof(s.user), "%s", v[i].user);
		snprintf(s.device, sizeof(s.device), "%s", v[i].device);
		snprintf(s.public_key, sizeof(s.public_key), "%s", k64(v[i].key));
		snprintf(s.allowed_ips, sizeof(s.allowed_ips), "%s", v[i].ips);
		memset(out, 'x', sizeof(out));
		wgotp_error_clear(&err);
		is_int(wgotp_session_ips(dir, &s, out, sizeof(out), &err), v[i].want, "session_ips: %s",
		       v[i].what);
		is_str(out, v[i].out, "  out");
		ok(v[i].want == 0 || (err.msg[0] && !strpbrk(err.msg, "\n\r") &&
				      !strstr(err.msg, "public_key")),
		   "  a message that repeats nothing forged");
	}

	/* out too small for the canonical text: refused, not cut */
	sess(&s, "svc@example.com", "r1", 'C', 100);
	is_int(wgotp_session_ips(dir, &s, out, 20, &err), -ENOBUFS, "session_ips: out too small");
	is_str(out, "", "  leaves out empty");
	is_int(wgotp_session_ips(NULL, &s, out, sizeof(out), &err), -EINVAL, "session_ips: no directory");
}

/* Sessions as a forged store row holds them: none reaches the plan's
 * changes, each ends, and the peer of a real device goes. */
static void test_forged_sessions(const struct wgotp_directory *dir)
{
	struct wgotp_session s[4];
	struct wg_peer_list peers = { 0 };
	struct rc_plan plan;
	const struct wg_peer *c;
	uint8_t raw[WGOTP_KEY_LEN];

	sess(&s[0], "alice@example.com", "laptop", 'A', 100);
	snprintf(s[0].allowed_ips, sizeof(s[0].allowed_ips),
		 "10.0.0.2/32\npublic_key=%s\nallowed_ip=0.0.0.0/0", "5a5a5a5a");
	sess(&s[1], "carol@example.com", "desk", 'E', 100);
	snprintf(s[1].allowed_ips, sizeof(s[1].allowed_ips), "10.0.0.2/32");	/* alice's */
	sess(&s[2], "svc@example.com", "r2", 'D', 100);	/* permanent: moot as before */
	/* a live, well-formed one, spelled without its /32 */
	sess(&s[3], "alice@example.com", "laptop", 'A', 100);
	snprintf(s[3].allowed_ips, sizeof(s[3].allowed_ips), "10.0.0.2");

	/* Neither peer on the interface: nothing forged is added. */
	memset(raw, 'C', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'D', sizeof(raw)); wg_peer_list_add(&peers, raw);
	is_int(rc_plan(dir, s, 3, &peers, 60, &plan), 0, "plan with forged sessions");
	is_int(change_of(&plan, 'A'), 0, "a newline in a real device's allowed IPs: its peer is not added");
	is_int(change_of(&plan, 'E'), 0, "another user's prefix: the peer is not added");
	is_int(plan.n_changes, 0, "no change at all");
	ok(ended(&plan, 0) && ended(&plan, 1), "both forged sessions end");
	ok(rc_refused(&plan, 0) && rc_refused(&plan, 1) && !rc_refused(&plan, 2),
	   "... as refused (the permanent one is only moot)");
	rc_plan_free(&plan);

	/* Their peers on the interface (added before, or by hand): removed. */
	memset(raw, 'A', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'E', sizeof(raw)); wg_peer_list_add(&peers, raw);
	is_int(rc_plan(dir, s, 2, &peers, 60, &plan), 0, "plan with forged sessions, peers present");
	is_int(change_of(&plan, 'A'), 'r', "the real device's peer with a forged session goes");
	is_int(change_of(&plan, 'E'), 'r', "so does the one given another user's prefix");
	rc_plan_free(&plan);
	wg_peer_list_free(&peers);

	/* The well-formed one is applied with the text the daemon wrote. */
	is_int(rc_plan(dir, &s[3], 1, &peers, 60, &plan), 0, "plan with a well-formed session");
	c = change_for(&plan, 'A');
	ok(c && !c->remove, "its peer is added");
	is_str(c ? c->allowed_ips : NULL, "10.0.0.2/32", "  with the re-formatted prefix");
	ok(!ended(&plan, 0) && plan.n_refused == 0, "  and it lives");
	rc_plan_free(&plan);
}

/* Per-device 2FA: dana has M ("otp": "none"), N ("otp": "required") and
 * O (no "otp": her require_otp, true); erin (require_otp false) has P
 * (inherits: permanent) and Q ("otp": "required"); fred is disabled, his
 * R ("otp": "none") is not permanent then. */
static void test_per_device(void)
{
	struct wgotp_directory *dir = NULL;
	struct wgotp_error err;
	struct wg_peer_list peers = { 0 };
	struct wgotp_session s[2];
	struct rc_plan plan;
	uint8_t raw[WGOTP_KEY_LEN];
	char json[4096];

	snprintf(json, sizeof(json),
		 "{\"version\":1,\"users\":{"
		 "\"dana@example.com\":{\"method\":\"email\",\"require_otp\":true,\"devices\":["
		 "{\"name\":\"router\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.2/32\"],\"otp\":\"none\"},"
		 "{\"name\":\"laptop\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.3/32\"],\"otp\":\"required\"},"
		 "{\"name\":\"phone\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.4/32\"]}]},"
		 "\"erin@example.com\":{\"method\":\"email\",\"require_otp\":false,\"devices\":["
		 "{\"name\":\"box\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.5/32\"]},"
		 "{\"name\":\"laptop\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.6/32\"],\"otp\":\"required\"}]},"
		 "\"fred@example.com\":{\"method\":\"email\",\"enabled\":false,\"devices\":["
		 "{\"name\":\"box\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.1.0.7/32\"],\"otp\":\"none\"}]}}}",
		 k64('M'), k64('N'), k64('O'), k64('P'), k64('Q'), k64('R'));
	if (wgotp_dir_parse("test", json, strlen(json), &dir, &err) < 0) {
		diag("directory: %s", err.msg);
		ok(0, "per-device directory parses");
		return;
	}
	/* Nothing on the interface, no session. */
	is_int(rc_plan(dir, NULL, 0, &peers, 60, &plan), 0, "per-device: plan");
	is_int(change_of(&plan, 'M'), 'a', "a device with otp none is added without a code");
	is_int(change_of(&plan, 'N'), 0, "a device with otp required is not");
	is_int(change_of(&plan, 'O'), 0, "a device without otp follows require_otp true");
	is_int(change_of(&plan, 'P'), 'a', "a device without otp follows require_otp false");
	is_int(change_of(&plan, 'Q'), 0, "otp required wins over the user's require_otp false");
	is_int(change_of(&plan, 'R'), 0, "a disabled user's otp-none device is not added");
	is_int(plan.permanent_added, 2, "two permanent devices added");
	rc_plan_free(&plan);

	/* Every key on the interface, a live session for N only. */
	for (char c = 'M'; c <= 'R'; c++) {
		memset(raw, c, sizeof(raw));
		wg_peer_list_add(&peers, raw);
	}
	sess(&s[0], "dana@example.com", "laptop", 'N', 100);
	sess(&s[1], "dana@example.com", "router", 'M', 100);
	snprintf(s[0].allowed_ips, sizeof(s[0].allowed_ips), "10.1.0.3/32");
	snprintf(s[1].allowed_ips, sizeof(s[1].allowed_ips), "10.1.0.2/32");
	is_int(rc_plan(dir, s, 2, &peers, 60, &plan), 0, "per-device: plan with peers");
	is_int(change_of(&plan, 'M'), 0, "the permanent device stays");
	is_int(change_of(&plan, 'N'), 0, "the required device with a live session stays");
	is_int(change_of(&plan, 'O'), 'r', "the required device without a session goes");
	is_int(change_of(&plan, 'Q'), 'r', "erin's required device without a session goes");
	is_int(change_of(&plan, 'P'), 0, "erin's permanent device stays");
	is_int(change_of(&plan, 'R'), 'r', "the disabled user's otp-none device goes");
	ok(!ended(&plan, 0) && ended(&plan, 1), "the session of a permanent device is dropped, the other lives");
	rc_plan_free(&plan);
	wg_peer_list_free(&peers);
	wgotp_dir_free(dir);
}

int main(void)
{
	struct wgotp_directory *dir = NULL;
	struct wgotp_error err;
	struct wgotp_session s[6];
	struct wg_peer_list peers = { 0 };
	struct rc_plan plan;
	uint8_t raw[WGOTP_KEY_LEN];
	char json[4096];

	/* alice: A (managed); bob: B (managed, disabled); svc: C and D
	 * (require_otp false); carol: E (managed). F is nobody's. */
	snprintf(json, sizeof(json),
		 "{\"version\":1,\"users\":{"
		 "\"alice@example.com\":{\"method\":\"totp\",\"totp_state\":\"none\",\"enabled\":true,\"require_otp\":true,"
		 "\"devices\":[{\"name\":\"laptop\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.2/32\"]}]},"
		 "\"bob@example.com\":{\"method\":\"totp\",\"totp_state\":\"none\",\"enabled\":false,\"require_otp\":true,"
		 "\"devices\":[{\"name\":\"phone\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.3/32\"]}]},"
		 "\"svc@example.com\":{\"method\":\"totp\",\"totp_state\":\"none\",\"enabled\":true,\"require_otp\":false,"
		 "\"devices\":[{\"name\":\"r1\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.4/32\",\"fd00::4/128\"]},"
		 "{\"name\":\"r2\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.5/32\"]}]},"
		 "\"carol@example.com\":{\"method\":\"totp\",\"totp_state\":\"none\",\"enabled\":true,\"require_otp\":true,"
		 "\"devices\":[{\"name\":\"desk\",\"public_key\":\"%s\",\"allowed_ips\":[\"10.0.0.6/32\"]}]}}}",
		 k64('A'), k64('B'), k64('C'), k64('D'), k64('E'));
	if (wgotp_dir_parse("test", json, strlen(json), &dir, &err) < 0) {
		diag("directory: %s", err.msg);
		ok(0, "test directory parses");
		return done_testing();
	}

	sess(&s[0], "alice@example.com", "laptop", 'A', 100);	/* live, peer missing */
	sess(&s[1], "bob@example.com", "phone", 'B', 100);	/* user disabled */
	sess(&s[2], "carol@example.com", "desk", 'E', 50);	/* expired, peer present */
	sess(&s[3], "gone@example.com", "x", 'F', 100);		/* user left, peer present */
	sess(&s[4], "svc@example.com", "r1", 'C', 100);		/* permanent: moot */
	sess(&s[5], "alice@example.com", "old", 'A', 100);	/* device renamed away */

	/* On the interface: B, E, F, D. Missing: A, C. */
	memset(raw, 'B', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'E', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'F', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'D', sizeof(raw)); wg_peer_list_add(&peers, raw);

	is_int(rc_plan(dir, s, 6, &peers, 60, &plan), 0, "plan");
	is_int(change_of(&plan, 'A'), 'a', "a live session's missing peer is added");
	is_int(change_of(&plan, 'B'), 'r', "a disabled user's peer is removed");
	is_int(change_of(&plan, 'E'), 'r', "an expired session's peer is removed");
	is_int(change_of(&plan, 'F'), 'r', "the peer of a session whose user left is removed");
	is_int(change_of(&plan, 'C'), 'a', "a missing permanent device is added");
	is_int(change_of(&plan, 'D'), 0, "a present permanent device is untouched");
	ok(!ended(&plan, 0), "the live session stays");
	ok(ended(&plan, 1) && ended(&plan, 2) && ended(&plan, 3), "disabled, expired and orphaned sessions end");
	ok(ended(&plan, 4), "a permanent user's session is dropped");
	ok(ended(&plan, 5), "a session of a device that no longer exists ends");
	is_int(plan.n_changes, 5, "nothing else changes (each key once)");
	for (size_t i = 0; i < plan.n_changes; i++)
		if (!plan.changes[i].remove && plan.changes[i].key[0] == 'C')
			is_str(plan.changes[i].allowed_ips, "10.0.0.4/32,fd00::4/128",
			       "a permanent device gets all its allowed IPs");
	is_int(plan.expired, 1, "one counted as expired");
	rc_plan_free(&plan);

	/* A foreign peer is never touched, even with no sessions at all. */
	wg_peer_list_free(&peers);
	memset(raw, 'Z', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'C', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'D', sizeof(raw)); wg_peer_list_add(&peers, raw);
	is_int(rc_plan(dir, NULL, 0, &peers, 60, &plan), 0, "plan with no session");
	is_int(plan.n_changes, 0, "a foreign peer and present permanent devices: no change");
	rc_plan_free(&plan);

	/* The expiry boundary: expires == now is over. */
	wg_peer_list_free(&peers);
	memset(raw, 'A', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'C', sizeof(raw)); wg_peer_list_add(&peers, raw);
	memset(raw, 'D', sizeof(raw)); wg_peer_list_add(&peers, raw);
	rc_plan(dir, s, 1, &peers, 99, &plan);
	is_int(plan.n_changes, 0, "at now = expires - 1 the session lives");
	rc_plan_free(&plan);
	rc_plan(dir, s, 1, &peers, 100, &plan);
	is_int(change_of(&plan, 'A'), 'r', "at now = expires it is over");
	rc_plan_free(&plan);

	test_session_ips(dir);
	test_forged_sessions(dir);
	test_per_device();

	wg_peer_list_free(&peers);
	wgotp_dir_free(dir);
	return done_testing();
}
