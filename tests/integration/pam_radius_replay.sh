#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One store for both front ends: a TOTP code used over SSH (pam_wgotp in
# a real sshd) is refused over RADIUS (rlm_wgotp in a real freeradius -X)
# in the same window, and a code used over RADIUS is refused over SSH.
set -u
. "$top_srcdir/tests/integration/lib/radius.sh"
. "$top_srcdir/tests/integration/lib/sshd.sh"
rad_require
sshd_require

RAD_ACTIVATE=no
rad_init
trap 'sshd_cleanup; rad_cleanup' EXIT
trap 'exit 1' INT TERM
# sshd reads the RADIUS module's wgotp.conf: the same users.json, the same store
SSHD_USERS=$RAD_USERS
sshd_setup "$RAD_DIR/sshd" "$RAD_CONF" "" || { echo "Bail out! sshd_setup failed"; exit 1; }
S1=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
rad_user_totp "$SSHD_EMAIL" "$S1"
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }
sshd_start || { echo "Bail out! sshd did not start"; exit 1; }

plan 8

# --- PAM first, then RADIUS ---------------------------------------------
c=$(rad_totp "$S1")
ssh_run "$c"
is "$SSH_OUT" "logged-in as $SSHD_USER" "SSH: the code logs in over PAM"
rad_auth "User-Name = \"$SSHD_EMAIL\", User-Password = \"$c\""
is "$RAD_CODE" Access-Reject "RADIUS: the same code, just used over SSH, is refused"
# (the audit line goes to AuditLog, or through radlog to the server's log)
cat "$RAD_LOG" "$RAD_AUDIT" 2>/dev/null | grep -q "origin=radius user=\"$SSHD_EMAIL\".*reason=replay"
ok $? "RADIUS: ... as a replay (audit log)"

# --- RADIUS first, then PAM (the next step: later than the one used) -----
c2=$(rad_totp "$S1" 1)
rad_auth "User-Name = \"$SSHD_EMAIL\", User-Password = \"$c2\""
is "$RAD_CODE" Access-Accept "RADIUS: the next step's code is accepted"
ssh_run "$c2"
ok $((SSH_RC == 0)) "SSH: the same code, just used over RADIUS, is refused"
grep -q "Permission denied" "$SSHD_DIR/ssh.err"
ok $? "SSH: ... permission denied"
grep -q "Failed keyboard-interactive/pam for $SSHD_USER" "$SSHD_LOG"
ok $? "sshd logged the failed keyboard-interactive/pam attempt"

# an earlier step than the last one used is a replay too
ssh_run "$c"
ok $((SSH_RC == 0)) "SSH: the older code is refused as well"
[ "$TAP_FAILED" -eq 0 ]
