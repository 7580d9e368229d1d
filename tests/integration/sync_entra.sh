#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wgotpctl sync entra (issue 17) against the Microsoft emulator
# (tests/helpers/ms-emulator.py: token endpoint and the group's
# transitiveMembers, two per page): --dry-run changes nothing; members are
# added as email users marked synced, users not synced are never touched;
# paging; a member who left is disabled and their session ends at once (a
# real wg-activator over wireguard-go: the peer goes, the tunnel stops); a
# member back in the group is enabled again; 429 with Retry-After is
# waited out, a throttling that lasts, a 500 on a later page and a group
# that no longer exists (404) change nothing; each change is audited.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/integration/lib/mail.sh"
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
mail_require
wg_require
CTL="$top_builddir/wgotpctl/wgotpctl"
trap 'wg_cleanup; mail_cleanup' EXIT
mail_setup || { echo "Bail out! cannot make the test PKI"; exit 1; }
emu_start --page-size 2 || { echo "Bail out! the emulator did not start"; exit 1; }
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
cat >>"$ACT_CONF" <<CONF

[Mail]
CAFile = $MAIL_CA

[Graph]
Tenant = $MAIL_TENANT
ClientId = $MAIL_CLIENT
Authority = $EMU_URL
URL = $EMU_URL
ClientSecretFile = $MAIL_SECRET
CONF
export WGOTP_CONF=$ACT_CONF
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }

G=0f8fad5b-d9cb-469f-a165-70867728950e
GONE=6f9619ff-8b86-d011-b42d-00c04fc964ff
U='"@odata.type": "#microsoft.graph.user"'
group() {	# the members, as Graph lists them
	printf '[%s]\n' "$(IFS=,; echo "$*")" >"$EMU_DIR/group-$G.json"
}
ALICE="{$U, \"id\": \"1\", \"mail\": \"Alice@Example.com\", \"userPrincipalName\": \"alice@contoso.onmicrosoft.com\", \"accountEnabled\": true}"
BOB="{$U, \"id\": \"2\", \"mail\": null, \"userPrincipalName\": \"bob@example.com\"}"
CAROL="{$U, \"id\": \"3\", \"mail\": \"carol@example.com\", \"accountEnabled\": false}"
DAVE="{$U, \"id\": \"4\", \"mail\": null, \"userPrincipalName\": \"dave_x.com#EXT#@contoso.onmicrosoft.com\"}"
ERIN="{$U, \"id\": \"5\", \"mail\": \"erin@example.com\"}"
NESTED='{"@odata.type": "#microsoft.graph.group", "id": "6", "displayName": "Nested", "mail": "nested@example.com"}'
group "$ALICE" "$NESTED" "$BOB" "$CAROL" "$DAVE" "$ERIN"

run() {
	OUT=$("$CTL" "$@" 2>"$T_ERR")
	RC=$?
	ERR=$(cat "$T_ERR")
	cat "$T_ERR" >>"$WG_TMP/ctl.log"
	[ -n "$ERR" ] && printf '# stderr: %s\n' "$ERR" | head -n 5
	return 0
}
T_ERR=$WG_TMP/stderr
ujson() { python3 -c "import json,sys; d=json.load(open('$ACT_USERS'))['users']; print(($1))"; }
out_has() { case "$OUT" in *"$1"*) true ;; *) false ;; esac; }
snap() { cp "$ACT_USERS" "$WG_TMP/users.before"; }
unchanged() { cmp -s "$ACT_USERS" "$WG_TMP/users.before"; }

# Users that are not synced: zed (not in the group), erin (in it).
run user add zed@example.com --method totp
run user add erin@example.com --method email --name "Erin by hand"

# --- bad input ---------------------------------------------------------
run sync entra
check "no --group is a usage error" test "$RC" = 1
run sync entra --group not-a-guid
check "a group that is not a GUID is a usage error" test "$RC" = 1
run sync entra --group "$G" --method sms
check "an unknown --method is a usage error" test "$RC" = 1
run sync frob
check "an unknown sync source is a usage error" test "$RC" = 1

# --- dry run -----------------------------------------------------------
snap
n_audit=$(grep -c 'event=sync_' "$WG_TMP/ctl.log" 2>/dev/null)
run sync entra --group "$G" --dry-run
check "--dry-run exits 0" test "$RC" = 0
check "--dry-run says what it would add" eval 'out_has "would add alice@example.com" && out_has "would add bob@example.com"'
check "--dry-run changes nothing" unchanged
is "$(grep -c 'event=sync_' "$WG_TMP/ctl.log")" "${n_audit:-0}" "--dry-run audits nothing"
check "paging: the three pages were read" test "$(emu_count members 200)" = 3

# --- add -----------------------------------------------------------------
run sync entra --group "$G"
check "sync exits 0" test "$RC" = 0
is "$(ujson "sorted(d)")" "['alice@example.com', 'bob@example.com', 'erin@example.com', 'zed@example.com']" \
	"members added (mail, else the UPN); a disabled account, one without an address and a nested group are not"
is "$(ujson "(d['alice@example.com']['method'], d['alice@example.com']['synced'], d['alice@example.com']['enabled'])")" \
	"('email', 'member', True)" "alice: an email user, marked synced"
is "$(ujson "'synced' in d['erin@example.com'] or 'synced' in d['zed@example.com']")" False \
	"users not marked synced stay unmarked"
check "the summary counts" eval 'out_has "added 2" && out_has "not synced (left alone) 1" && out_has "1 without an address" && out_has "1 disabled in Entra ID"'
check "each add is audited" test "$(grep -c 'event=sync_add origin=sync' "$WG_TMP/ctl.log")" = 2
check "the emulator refused nothing" test "$(emu_count token 401)$(emu_count members 401)" = 00
snap
run sync entra --group "$G"
check "a second sync changes nothing" eval 'test "$RC" = 0 && unchanged && out_has "added 0" && out_has "unchanged 2"'

# --- disable: bob leaves, his session ends at once ----------------------------
run device add bob@example.com laptop --public-key "$WG_CLI_PUB" --address "$WG_CLI_CIDR"
check "bob gets a device" test "$RC" = 0
act_client activate bob@example.com laptop 3600 >/dev/null
ok $? "bob's session"
check "bob's client reaches the server" wg_ping_wait 12
group "$ALICE" "$NESTED" "$CAROL" "$ERIN"
run sync entra --group "$G" --dry-run
check "--dry-run: bob would be disabled, and is not" eval 'out_has "would disable bob@example.com" && test "$(ujson "d[\"bob@example.com\"][\"enabled\"]")" = True'
check "--dry-run ended no session" wg_srv_has_peer "$WG_CLI_PUB"
run sync entra --group "$G"
check "sync: bob left the group" eval 'test "$RC" = 0 && out_has "disable bob@example.com"'
is "$(ujson "(d['bob@example.com']['enabled'], d['bob@example.com']['synced'])")" "(False, 'left')" "bob is disabled, synced left"
check "his session ended at once" eval 'out_has "ended 1 session of bob@example.com"'
check "his peer is gone" not wg_srv_has_peer "$WG_CLI_PUB"
check "his client cannot reach the server" not wg_ping
check "the disable is audited" grep -q 'event=sync_disable origin=sync user="bob@example.com"' "$WG_TMP/ctl.log"
check "zed (not synced, not in the group) is untouched" test "$(ujson "d['zed@example.com']['enabled']")" = True

# --- back in the group ----------------------------------------------------------
group "$ALICE" "$BOB" "$ERIN"
run sync entra --group "$G"
is "$(ujson "(d['bob@example.com']['enabled'], d['bob@example.com']['synced'])")" "(True, 'member')" \
	"bob back in the group: enabled again"
check "audited" grep -q 'event=sync_enable origin=sync user="bob@example.com"' "$WG_TMP/ctl.log"
run user disable bob@example.com
run sync entra --group "$G"
is "$(ujson "d['bob@example.com']['enabled']")" False "a synced member the admin disabled stays disabled"
run user enable bob@example.com

# --- throttling -----------------------------------------------------------------
group "$ALICE" "$BOB" "$ERIN" "{$U, \"id\": \"7\", \"mail\": \"frank@example.com\"}"
emu_actions members ok 429:1
t0=$(date +%s)
run sync entra --group "$G" --method totp
t1=$(date +%s)
check "429 on the second page: waited out, synced ($ERR)" eval 'test "$RC" = 0 && out_has "add frank@example.com (totp)"'
check "one 429 answered" test "$(emu_count members 429)" = 1
check "it waited as Retry-After asked" test $((t1 - t0)) -ge 1
is "$(ujson "d['frank@example.com']['method']")" totp "--method totp adds TOTP users"
# Bob and frank leave, on a group of two pages: a failed sync must not
# disable them.
group "$ALICE" "$ERIN" "$CAROL"
snap
emu_actions members 429:1 429:1 429:1
run sync entra --group "$G"
check "throttled on every try: an error ($ERR)" eval 'test "$RC" = 2 && case "$ERR" in *throttl*"nothing changed"*) true ;; *) false ;; esac'
check "which changed nothing" unchanged
emu_actions members ok 500
run sync entra --group "$G"
check "a 500 on the second page: an error" test "$RC" = 2
check "and nothing changed (no half sync)" unchanged
run sync entra --group "$G" --dry-run
check "(the same sync would disable bob and frank)" eval 'out_has "would disable bob@example.com" && out_has "would disable frank@example.com"'

# --- a group that no longer exists -------------------------------------------------
run sync entra --group "$GONE"
check "a missing group is an error ($ERR)" eval 'test "$RC" = 2 && case "$ERR" in *"does not exist"*"nothing changed"*) true ;; *) false ;; esac'
check "nobody was disabled" unchanged

done_testing
