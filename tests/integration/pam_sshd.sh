#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# pam_wgotp in a real OpenSSH server (UsePAM yes, keyboard-interactive)
# with a real ssh client answering the prompt: the right code logs in, a
# wrong code does not, a replayed code does not, an unknown user gets the
# same prompt and does not, and the code never shows in sshd's log.
# (WireGuard activation: pam_sshd_wg.sh; RADIUS + PAM: pam_radius_replay.sh.)
set -u
. "$top_srcdir/tests/integration/lib/sshd.sh"
sshd_require

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-sshd.XXXXXX")
trap 'sshd_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM
sshd_conf "$TMP/wgotp"
sshd_setup "$TMP" "$SSHD_WGOTP_CONF" "" || { echo "Bail out! sshd_setup failed"; exit 1; }
S1=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
sshd_user_totp "$SSHD_EMAIL" "$S1"
sshd_start || { echo "Bail out! sshd did not start"; exit 1; }

plan 11

c=$(oathtool --totp -b "$S1")
ssh_run "$c"
is "$SSH_OUT" "logged-in as $SSHD_USER" "the right code logs in (PAM user $SSHD_USER is $SSHD_EMAIL)"
is "$SSH_PROMPTS" "($SSHD_USER@127.0.0.1) Verification code: " "the client was asked once, with our prompt"

ssh_run "$c"
ok $((SSH_RC == 0)) "the same code again is a replay: refused"
grep -q "Permission denied" "$TMP/ssh.err"
ok $? "... the client says permission denied"

wrong=$(awk -v c="$(oathtool --totp -b -N 'now + 60 seconds' "$S1")" 'BEGIN { printf "%06d", (c + 1) % 1000000 }')
ssh_run "$wrong"
ok $((SSH_RC == 0)) "a wrong code does not log in"
ssh_run "12345"
ok $((SSH_RC == 0)) "five digits do not log in"

c2=$(oathtool --totp -b -N 'now + 30 seconds' "$S1")
ssh_run "$c2"
is "$SSH_OUT" "logged-in as $SSHD_USER" "the next step's code logs in"

# The module fails closed for a user it cannot know, after the same prompt.
rm -f "$SSHD_DIR/users.d/$SSHD_EMAIL"
echo '{ "version": 1, "users": {} }' >"$SSHD_USERS"
chmod 640 "$SSHD_USERS"
ssh_run "$(oathtool --totp -b -N 'now + 60 seconds' "$S1")"
ok $((SSH_RC == 0)) "a user no longer in users.json cannot log in"
is "$SSH_PROMPTS" "($SSHD_USER@127.0.0.1) Verification code: " "... and was asked the same question"

grep -q "Accepted keyboard-interactive/pam for $SSHD_USER" "$SSHD_LOG"
ok $? "sshd logged the accepted keyboard-interactive/pam login"
leak=0
for code in "$c" "$c2" "$wrong"; do
	sshd_log_has "$code" && { diag "code $code in the log"; leak=1; }
done
ok $leak "no code in sshd's or ssh's output"
[ "$TAP_FAILED" -eq 0 ]
