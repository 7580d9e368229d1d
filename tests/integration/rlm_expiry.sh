#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rlm_wgotp: an expired challenge is rejected, with the right code, over
# real RADIUS. The module has no test clock, and the configuration keeps
# its bounds, so this test waits out the shortest lifetimes allowed:
# [Session] ChallengeLifetime = 30s (TOTP) and [Email] CodeLifetime = 60s
# (the code taken from the mail actually delivered). It waits until past
# each expiry and only then asks: no timing assertion. Expiry at exact
# instants is in tests/unit/test_flow.c.
set -u
. "$top_srcdir/tests/integration/lib/mail.sh"
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require
mail_require

RAD_ACTIVATE=no
RAD_CHALLENGE_LIFETIME=30s
RAD_CODE_LIFETIME=60s
rad_init
trap 'rad_cleanup; mail_cleanup' EXIT
mail_setup || { echo "Bail out! cannot make the test PKI"; exit 1; }
smtpd_start rad --mechanisms PLAIN || { echo "Bail out! smtpd did not start"; exit 1; }
smtpd_conf >> "$RAD_CONF"
S1=JBSWY3DPEHPK3PXP
rad_user_totp tina@example.com "$S1"
rad_user_email emma@example.com
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

wait_until() { while [ "$(date +%s)" -lt "$1" ]; do sleep 0.5; done; }

t0=$(date +%s)
rad_auth 'User-Name = "tina@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "TOTP user, empty password: Access-Challenge"
tstate=$(rad_reply State)
rad_auth 'User-Name = "emma@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "email user: Access-Challenge"
estate=$(rad_reply State)
ecode=$(py_mail "$SMTPD_DIR/msg-1.eml" \
	'" ".join(__import__("re").findall(r"(?<![0-9])[0-9]{6}(?![0-9])", m.get_content()))')
case "$ecode" in [0-9][0-9][0-9][0-9][0-9][0-9]) r=0 ;; *) r=1 ;; esac
ok $r "the code was mailed"

# 30 s after the TOTP challenge (+2 s: the store's clock is whole seconds)
wait_until $((t0 + 32))
rad_auth "User-Name = \"tina@example.com\", State = $tstate, User-Password = \"$(rad_totp "$S1")\""
is "$RAD_CODE" Access-Reject "TOTP challenge past ChallengeLifetime: rejected with a valid code"
rad_reply Reply-Message | grep -q 'expired'
ok $? "... the Reply-Message says it expired"
n1=$(grep -c 'Rejected: expired' "$RAD_LOG")
[ "$n1" -gt 0 ]
ok $? "... the log says expired"

wait_until $((t0 + 62))
rad_auth "User-Name = \"emma@example.com\", State = $estate, User-Password = \"$ecode\""
is "$RAD_CODE" Access-Reject "email challenge past CodeLifetime: rejected with the mailed code"
rad_reply Reply-Message | grep -q 'expired'
ok $? "... the Reply-Message says it expired"
[ "$(grep -c 'Rejected: expired' "$RAD_LOG")" -gt "$n1" ]
ok $? "... the log says expired again"

# A fresh login still works (the expired challenges left nothing behind).
rad_auth "User-Name = \"tina@example.com\", User-Password = \"$(rad_totp "$S1")\""
is "$RAD_CODE" Access-Accept "a fresh single-pass login is accepted"

echo "1..$TAP_N"
[ "$TAP_FAILED" -eq 0 ]
