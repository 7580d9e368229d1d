#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rlm_wgotp post-auth with wg-activator not running: a valid code must
# not give an Access-Accept (fail closed), the reason is logged, and with
# reject_on_activation_failure = no the Accept goes through.
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require

RAD_ACTIVATE=yes
rad_init
S1=JBSWY3DPEHPK3PXP
S2=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
rad_user_totp alice@example.com "$S1" "$(wg genkey | wg pubkey)" 10.8.0.2
rad_user_totp bob@example.com "$S2"
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

plan 8

rad_auth "User-Name = \"alice@example.com\", User-Password = \"$(rad_totp "$S1")\""
is "$RAD_CODE" Access-Reject "activator down: a valid code gets Access-Reject (fail closed)"
[ -z "$(rad_reply Session-Timeout)$(rad_reply Framed-IP-Address)$(rad_reply WGOTP-Session-Expires)" ]
ok $? "the Reject carries none of the Accept attributes"
rad_reply Reply-Message | grep -q 'could not be enabled'
ok $? "the Reject says the VPN could not be enabled"
grep -q 'Activation of alice@example.com failed' "$RAD_LOG"
ok $? "the reason is logged"
rad_acct "User-Name = \"alice@example.com\", Acct-Status-Type = Stop, Acct-Session-Id = \"1\""
is "$RAD_CODE" none "Accounting Stop with the activator down: no response (the NAS retries)"
rad_alive
ok $? "freeradius is still running"
rad_stop

# the same with reject_on_activation_failure = no
RAD_MODULE_EXTRA='	reject_on_activation_failure = no'
rad_write_raddb
rad_start || { echo "Bail out! freeradius did not restart"; exit 1; }
rad_auth "User-Name = \"bob@example.com\", User-Password = \"$(rad_totp "$S2")\""
is "$RAD_CODE" Access-Accept "reject_on_activation_failure = no: accepted anyway"
grep -q "reject_on_activation_failure = no" "$RAD_LOG"
ok $? "... with a warning in the log"
