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

static void sess(struct wgotp_session *s, const char *user, const char *dev, char key, int64_t exp)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->device, sizeof(s->device), "%s", dev);
	snprintf(s->public_key, sizeof(s->public_key), "%s", k64(key));
	snprintf(s->allowed_ips, sizeof(s->allowed_ips), "10.0.0.9/32");
	s->expires = exp;
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

	wg_peer_list_free(&peers);
	wgotp_dir_free(dir);
	return done_testing();
}
