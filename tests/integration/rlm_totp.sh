#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rlm_wgotp with TOTP users against a real `freeradius -X` and radclient:
# single pass, wrong code, replay, challenge-response, wrong State, tries
# used up, unknown users, BlastRADIUS, malformed attributes.
# (Expiry: rlm_expiry.sh; email: rlm_email.sh; WireGuard: rlm_wg.sh.)
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require

RAD_ACTIVATE=no
RAD_MAX_TRIES=3
rad_init
S1=JBSWY3DPEHPK3PXP
S2=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
S3=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U
S4=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
S5=ONSWG4TFORZWKY3SMV2HG2LHNZSQ
PUB=$(wg genkey | wg pubkey)
rad_user_totp alice@example.com "$S1" "$PUB" 10.8.0.2
rad_user_totp bob@example.com "$S2"
rad_user_totp carol@example.com "$S3"
rad_user_totp dave@example.com "$S4"
rad_user_totp erin@example.com "$S5"
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

plan 44

# --- single pass -------------------------------------------------------
c=$(rad_totp "$S1")
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$c\""
is "$RAD_CODE" Access-Accept "TOTP single pass: a valid code is accepted"
is "$(rad_reply Session-Timeout)" 28800 "Accept: Session-Timeout is the default session (8h)"
rad_reply Reply-Message | grep -q '^VPN access granted until 20[0-9-]* [0-9:]* UTC$'
ok $? "Accept: Reply-Message names the expiry time"
[ -n "$(rad_reply WGOTP-Session-Expires)" ]
ok $? "Accept: WGOTP-Session-Expires is set"
is "$(rad_reply Framed-IP-Address)" 10.8.0.2 "Accept: Framed-IP-Address is the only device's IPv4 address"

rad_auth "User-Name = \"alice@example.com\", User-Password = \"$c\""
is "$RAD_CODE" Access-Reject "TOTP: the same code again is a replay: rejected"

c=$(rad_totp "$S2")
wrong=$(awk -v c="$c" 'BEGIN { printf "%06d", (c + 1) % 1000000 }')
rad_auth "User-Name = \"bob@example.com\", User-Password = \"$wrong\""
is "$RAD_CODE" Access-Reject "TOTP: a wrong code is rejected"
rad_reply Reply-Message | grep -q 'not accepted'
ok $? "Reject: Reply-Message says the code was not accepted"
rad_auth "User-Name = \"bob@example.com\", User-Password = \"12345\""
is "$RAD_CODE" Access-Reject "TOTP: a 5-digit code is rejected"

rad_auth "User-Name = \"BOB@Example.COM\", User-Password = \"$c\", WGOTP-Session-Duration = 14400"
is "$RAD_CODE" Access-Accept "TOTP: User-Name in another case is the same user"
is "$(rad_reply Session-Timeout)" 14400 "WGOTP-Session-Duration = 4h gives a 4h session"
[ -z "$(rad_reply Framed-IP-Address)" ]
ok $? "no Framed-IP-Address for a user without a device"

# --- challenge-response ------------------------------------------------
rad_auth "User-Name = \"carol@example.com\", User-Password = \"\""
is "$RAD_CODE" Access-Challenge "TOTP with an empty password: Access-Challenge"
state=$(rad_reply State)
case "$state" in 0x77676f74703a*) r=0 ;; *) r=1 ;; esac
ok $r "the challenge carries our State (\"wgotp:\" + id)"
[ -n "$(rad_reply Reply-Message)" ]
ok $? "the challenge has a Reply-Message prompt"
known_challenge=$(rad_reply_names | tr '\n' ' ')

rad_auth "User-Name = \"carol@example.com\", State = $state, User-Password = \"$(rad_totp "$S3")\""
is "$RAD_CODE" Access-Accept "second round: State + the code is accepted"
rad_auth "User-Name = \"carol@example.com\", State = $state, User-Password = \"$(rad_totp "$S3" 1)\""
is "$RAD_CODE" Access-Reject "an answered challenge cannot be answered again"

bogus=0x77676f74703a$(printf '%s' 0123456789abcdef0123456789abcdef | od -An -v -tx1 | tr -d ' \n')
rad_auth "User-Name = \"carol@example.com\", State = $bogus, User-Password = \"$(rad_totp "$S3")\""
is "$RAD_CODE" Access-Reject "an unknown State is rejected"
rad_reply Reply-Message | grep -q 'expired'
ok $? "unknown State: the Reply-Message says to log in again"
rad_auth "User-Name = \"carol@example.com\", State = 0x0102030405, User-Password = \"$(rad_totp "$S3")\""
is "$RAD_CODE" Access-Reject "a State that is not ours is rejected"

# the try after the last allowed (MaxTries = 3)
rad_auth "User-Name = \"dave@example.com\", User-Password = \"\""
state=$(rad_reply State)
good=$(rad_totp "$S4")
bad=$(awk -v c="$good" 'BEGIN { printf "%06d", (c + 7) % 1000000 }')
for i in 1 2 3; do
	rad_auth "User-Name = \"dave@example.com\", State = $state, User-Password = \"$bad\""
done
is "$RAD_CODE" Access-Reject "three wrong answers are rejected"
rad_auth "User-Name = \"dave@example.com\", State = $state, User-Password = \"$good\""
is "$RAD_CODE" Access-Reject "the try after the last allowed is rejected, even with the right code"

# --- unknown users -----------------------------------------------------
rad_auth "User-Name = \"nobody@example.com\", User-Password = \"\""
is "$RAD_CODE" Access-Challenge "unknown user, empty password: a challenge too"
is "$(rad_reply_names | tr '\n' ' ')" "$known_challenge" "unknown user: the same reply attributes as a known user"
ustate=$(rad_reply State)
rad_auth "User-Name = \"nobody@example.com\", State = $ustate, User-Password = \"123456\""
is "$RAD_CODE" Access-Reject "unknown user: the decoy challenge cannot succeed"
rad_auth "User-Name = \"nobody@example.com\", User-Password = \"123456\""
is "$RAD_CODE" Access-Reject "unknown user, single pass: rejected like a wrong code"

# --- BlastRADIUS -------------------------------------------------------
# The client localhost (127.0.0.1) lacks require_message_authenticator:
# the module must not answer at all, since any answer (a Reject as much
# as a Challenge) is what the attack forges into an Accept.
rad_auth_no_ma "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S5")\""
is "$RAD_CODE" none "no Message-Authenticator, client without require_message_authenticator: no reply from the module"
grep -q 'without Message-Authenticator' "$RAD_LOG"
ok $? "no Message-Authenticator: the reason is logged"
rad_auth_no_ma "User-Name = \"erin@example.com\", User-Password = \"\""
is "$RAD_CODE" none "no Message-Authenticator, empty password: no Challenge either"
rad_auth_no_ma "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S5")\", WGOTP-Public-Key = \"not-a-key\""
is "$RAD_CODE" none "no Message-Authenticator and malformed: still no reply"
rad_auth "User-Name = \"erin@example.com\", User-Password = \"\""
is "$RAD_CODE" Access-Challenge "the same request with Message-Authenticator is answered"
# The same from a bare UDP socket: not one datagram back in 3 s, where
# the request with Message-Authenticator gets a reply that checks.
raw() { python3 "$top_srcdir/tests/helpers/rad_raw.py" 127.0.0.1 "$RAD_PORT" "$RAD_SECRET" "$@"; }
is "$(raw erin@example.com 000000)" none "raw UDP, no Message-Authenticator: no datagram at all within 3 s"
is "$(raw erin@example.com 000000 --ma)" "3 auth-ok" "raw UDP, with Message-Authenticator: an Access-Reject that checks"
rad_auth_no_ma "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S5")\"" "[::1]:$RAD_PORT"
is "$RAD_CODE" none "no Message-Authenticator from a client with require_message_authenticator: dropped"

# --- malformed attributes ----------------------------------------------
rad_auth "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S5")\", WGOTP-Public-Key = \"not-a-key\""
is "$RAD_CODE" Access-Reject "malformed WGOTP-Public-Key: rejected"
grep -q 'WGOTP-Public-Key is not a 44-character' "$RAD_LOG"
ok $? "malformed WGOTP-Public-Key: the reason is logged"
rad_auth "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S5")\", WGOTP-Session-Duration = 4000000000"
is "$RAD_CODE" Access-Reject "absurd WGOTP-Session-Duration: rejected"
long=$(printf 'A%.0s' $(seq 1 253))
rad_auth "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S5")\", WGOTP-Public-Key = \"$long\""
is "$RAD_CODE" Access-Reject "oversized WGOTP-Public-Key (253 bytes): rejected"
long=$(printf 'a%.0s' $(seq 1 241))@example.com
rad_auth "User-Name = \"$long\", User-Password = \"123456\""
is "$RAD_CODE" Access-Reject "oversized User-Name (253 bytes): rejected"
rad_auth "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S5")\", WGOTP-Public-Key = \"$PUB\", WGOTP-Public-Key = \"$PUB\""
is "$RAD_CODE" Access-Reject "WGOTP-Public-Key twice: rejected"

rad_auth "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S5")\""
is "$RAD_CODE" Access-Accept "after all that the server still answers and accepts"
rad_alive
ok $? "freeradius is still running"

# --- no secrets in the logs --------------------------------------------
# (freeradius -X itself prints the request's User-Password: those lines
# are the server's, not ours.)
grep -q 'wgotp-audit event=begin origin=radius user="alice@example.com" .*result=accept' "$RAD_AUDIT"
ok $? "decisions are in the audit log ([General] AuditLog)"
if grep -v -e 'User-Password = ' "$RAD_LOG" "$RAD_AUDIT" | grep -q -e "$S1" -e "$S2" -e "$S3" -e "$S4" -e "$S5" -e "$good" -e "$c"; then r=1; else r=0; fi
ok $r "no TOTP secret and no code in the server or audit log (but for the server's own dump of User-Password)"
