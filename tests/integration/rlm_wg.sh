#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rlm_wgotp with a real wg-activator and a real wireguard-go interface in
# a network namespace (tests/integration/lib/wg.sh): an Access-Accept puts
# the device's peer on the interface and the client reaches the server
# through the tunnel; Accounting Stop takes it off again (one device with
# WGOTP-Public-Key, every device without). freeradius and wg-activator
# share one wgotp.conf and one store, as in a deployment.
# Needs root and network namespaces: SKIP otherwise.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require
wg_require
[ -x "$ACT_BIN" ] || { echo "Bail out! $ACT_BIN not built"; exit 1; }
[ -x "$ACT_CLIENT" ] || { echo "Bail out! $ACT_CLIENT not built (make check builds it)"; exit 1; }

trap 'wg_cleanup' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
RAD_ACTIVATE=yes
RAD_WG_IF=$WG_IF_SRV
rad_init
trap 'rad_cleanup; wg_cleanup' EXIT
ACT_CONF=$RAD_CONF
ACT_SOCK=$RAD_DIR/run/activator.sock
ACT_LOG=$RAD_DIR/activator.log

S1=JBSWY3DPEHPK3PXP
S2=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
read -r _ PHONE <<<"$(wg_keypair)"
read -r _ DESK <<<"$(wg_keypair)"
rad_user_totp alice@example.com "$S1" "$WG_CLI_PUB" "$WG_CLI_IP"
# bob: two devices
mkdir -p "$RAD_DIR/users.d"
printf '"bob@example.com": { "method": "totp", "totp_secret": "%s", "totp_state": "active", "enabled": true, "require_otp": true, "devices": [ { "name": "phone", "public_key": "%s", "allowed_ips": ["10.231.0.3/32"] }, { "name": "desk", "public_key": "%s", "allowed_ips": ["10.231.0.4/32"] } ] }' \
	"$S2" "$PHONE" "$DESK" > "$RAD_DIR/users.d/bob@example.com"
rad_users_flush

act_start || { echo "Bail out! wg-activator did not start"; exit 1; }
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

has_peer() { wg_srv_has_peer "$1"; }
no_peer() { ! wg_srv_has_peer "$1"; }

no_peer "$WG_CLI_PUB"
ok $? "no peer before the login"
if wg_ping; then r=1; else r=0; fi
ok $r "the client cannot reach the server before the login"

# --- Accept -> the peer appears --------------------------------------------
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$(rad_totp "$S1")\""
is "$RAD_CODE" Access-Accept "TOTP single pass with wg-activator up: Access-Accept"
is "$(rad_reply Framed-IP-Address)" "$WG_CLI_IP" "Framed-IP-Address is the device's address"
has_peer "$WG_CLI_PUB"
ok $? "after the Accept the device's peer is on the wireguard-go interface"
is "$(wg show "$WG_IF_SRV" allowed-ips | awk -v k="$WG_CLI_PUB" '$1 == k { print $2 }')" \
	"$WG_CLI_CIDR" "its allowed-ips are the device's"
wg_ping_wait 12
ok $? "the client reaches the server through the tunnel"
act_client list | grep -q 'alice@example.com'
ok $? "wg-activator lists alice's session"

# --- Accounting Stop -> the peer is gone -----------------------------------
rad_acct "User-Name = \"alice@example.com\", Acct-Status-Type = Stop, Acct-Session-Id = \"s1\""
is "$RAD_CODE" Accounting-Response "Accounting Stop: Accounting-Response"
no_peer "$WG_CLI_PUB"
ok $? "after Accounting Stop the peer is gone"
if wg_ping; then r=1; else r=0; fi
ok $r "the client cannot reach the server any more"
if act_client list | grep -q 'alice@example.com'; then r=1; else r=0; fi
ok $r "no session left for alice"
rad_acct "User-Name = \"alice@example.com\", Acct-Status-Type = Stop, Acct-Session-Id = \"s1\""
is "$RAD_CODE" Accounting-Response "the same Stop again (nothing left to end): answered all the same"

# --- one device of two -----------------------------------------------------
rad_auth "User-Name = \"bob@example.com\", User-Password = \"$(rad_totp "$S2")\", WGOTP-Public-Key = \"$PHONE\""
is "$RAD_CODE" Access-Accept "bob asks for his phone only: Access-Accept"
has_peer "$PHONE"
ok $? "the phone's peer is on the interface"
no_peer "$DESK"
ok $? "the desk's is not"
rad_auth "User-Name = \"bob@example.com\", User-Password = \"$(rad_totp "$S2" 1)\""
is "$RAD_CODE" Access-Accept "bob again without WGOTP-Public-Key (next step's code): Access-Accept"
has_peer "$DESK"
ok $? "now every device of his is on the interface"
rad_acct "User-Name = \"bob@example.com\", Acct-Status-Type = Stop, Acct-Session-Id = \"s2\", WGOTP-Public-Key = \"$PHONE\""
is "$RAD_CODE" Accounting-Response "Accounting Stop with WGOTP-Public-Key = the phone"
no_peer "$PHONE"
ok $? "the phone's peer is gone"
has_peer "$DESK"
ok $? "the desk's stays"
rad_acct "User-Name = \"bob@example.com\", Acct-Status-Type = Stop, Acct-Session-Id = \"s3\""
is "$RAD_CODE" Accounting-Response "Accounting Stop without WGOTP-Public-Key"
no_peer "$DESK"
ok $? "every peer of bob's is gone"

# --- the Stop names the user as authorize did: canonical, or no one -------
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$(rad_totp "$S1" 1)\""
is "$RAD_CODE" Access-Accept "alice again (next step's code): Access-Accept"
rad_acct "User-Name = \"alice@example.com \", Acct-Status-Type = Stop, Acct-Session-Id = \"s5\""
is "$RAD_CODE" Accounting-Response "a Stop for \"alice@example.com \" (not a canonical name): answered"
has_peer "$WG_CLI_PUB"
ok $? "... and alice's peer stays"
rad_acct "User-Name = \"ALICE@Example.COM\", Acct-Status-Type = Stop, Acct-Session-Id = \"s6\""
is "$RAD_CODE" Accounting-Response "a Stop for ALICE@Example.COM: answered"
no_peer "$WG_CLI_PUB"
ok $? "... and it ended alice's session (her identity in another case)"

# --- an Accounting Start changes nothing -----------------------------------
rad_acct "User-Name = \"alice@example.com\", Acct-Status-Type = Start, Acct-Session-Id = \"s4\""
is "$RAD_CODE" Accounting-Response "Accounting Start: answered"
is "$(wg_srv_peer_count)" 0 "... and no peer was added"

rad_alive
ok $? "freeradius is still running"
kill -0 "$ACT_PID"
ok $? "wg-activator is still running"

echo "1..$TAP_N"
[ "$TAP_FAILED" -eq 0 ]
