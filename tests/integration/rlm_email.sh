#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rlm_wgotp with email users against a real `freeradius -X`, radclient and
# a real SMTP server (tests/helpers/smtpd.py: STARTTLS + AUTH PLAIN): the
# challenge, the code taken from the mail actually delivered, Accept; a
# wrong State; the try after the last allowed; an unknown user gets the
# same reply and no mail. (Expiry: rlm_expiry.sh.)
set -u
# mail.sh first: radius.sh's TAP helpers (ok, is, plan) replace its own.
. "$top_srcdir/tests/integration/lib/mail.sh"
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require
mail_require

RAD_ACTIVATE=no
RAD_MAX_TRIES=3
RAD_UNKNOWN_USER=email
# Every user here logs in once but dave, whose second request must fall
# within ResendInterval however slow the machine: a minute, as shipped.
RAD_RESEND_INTERVAL=1m
rad_init
trap 'rad_cleanup; mail_cleanup' EXIT
mail_setup || { echo "Bail out! cannot make the test PKI"; exit 1; }
smtpd_start rad --mechanisms PLAIN || { echo "Bail out! smtpd did not start"; exit 1; }
smtpd_conf >> "$RAD_CONF"
rad_user_email alice@example.com
rad_user_email bob@example.com
rad_user_email carol@example.com
DAVE_KEY=$(wg genkey | wg pubkey)
rad_user_email dave@example.com "$DAVE_KEY" 10.8.0.44
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

# The messages delivered so far, and to whom.
mail_count() { find "$SMTPD_DIR" -name 'msg-*.eml' | wc -l; }
mail_to() {	# N: the envelope recipients of message N
	"$MAIL_PY" -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["rcpt_tos"]))' \
		"$SMTPD_DIR/msg-$1.json"
}
# The code in message N, as the user reads it: the one run of digits in
# the body that is a whole word of six.
mail_code() {
	py_mail "$SMTPD_DIR/msg-$1.eml" \
		'" ".join(__import__("re").findall(r"(?<![0-9])[0-9]{6}(?![0-9])", m.get_content()))'
}

# --- challenge, the mailed code, Accept -----------------------------------
rad_auth 'User-Name = "alice@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "email user: Access-Challenge"
state=$(rad_reply State)
case "$state" in 0x77676f74703a*) r=0 ;; *) r=1 ;; esac
ok $r "the challenge carries our State"
prompt=$(rad_reply Reply-Message)
case "$prompt" in "Enter the code sent to "*@example.com) r=0 ;; *) r=1 ;; esac
ok $r "Reply-Message names the address ($prompt)"
case "$prompt" in *alice@*) r=1 ;; *) r=0 ;; esac
ok $r "... masked, not in full"
known_names=$(rad_reply_names | tr '\n' ' ')
is "$(mail_count)" 1 "one mail delivered"
is "$(mail_to 1)" alice@example.com "to the user's address"
code=$(mail_code 1)
case "$code" in [0-9][0-9][0-9][0-9][0-9][0-9]) r=0 ;; *) r=1 ;; esac
ok $r "the mail holds one six-digit code"
is "$("$MAIL_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tls"])' "$SMTPD_DIR/msg-1.json")" \
	True "the mail went over TLS"

rad_auth "User-Name = \"alice@example.com\", State = $state, User-Password = \"$code\""
is "$RAD_CODE" Access-Accept "State + the code from the mail: Access-Accept"
is "$(rad_reply Session-Timeout)" 28800 "Accept: Session-Timeout is the default session"
rad_auth "User-Name = \"alice@example.com\", State = $state, User-Password = \"$code\""
is "$RAD_CODE" Access-Reject "the same code again: rejected (the challenge is used up)"

# --- wrong State ----------------------------------------------------------
rad_auth 'User-Name = "bob@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "bob: Access-Challenge"
bstate=$(rad_reply State)
is "$(mail_count)" 2 "bob's mail delivered"
bcode=$(mail_code 2)
bogus=0x77676f74703a$(printf '%s' 0123456789abcdef0123456789abcdef | od -An -v -tx1 | tr -d ' \n')
rad_auth "User-Name = \"bob@example.com\", State = $bogus, User-Password = \"$bcode\""
is "$RAD_CODE" Access-Reject "the right code with an unknown State: rejected"
rad_reply Reply-Message | grep -q 'log in again'
ok $? "unknown State: the Reply-Message says to log in again"
rad_auth "User-Name = \"carol@example.com\", State = $bstate, User-Password = \"$bcode\""
is "$RAD_CODE" Access-Reject "bob's State and code under another User-Name: rejected"
rad_auth "User-Name = \"bob@example.com\", State = $bstate, User-Password = \"$bcode\""
is "$RAD_CODE" Access-Accept "bob's own State and code still work after those"

# --- the try after the last allowed (MaxTries = 3) -------------------------
rad_auth 'User-Name = "carol@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "carol: Access-Challenge"
cstate=$(rad_reply State)
is "$(mail_count)" 3 "carol's mail delivered"
ccode=$(mail_code 3)
cbad=$(awk -v c="$ccode" 'BEGIN { printf "%06d", (c + 1) % 1000000 }')
for i in 1 2 3; do
	rad_auth "User-Name = \"carol@example.com\", State = $cstate, User-Password = \"$cbad\""
	is "$RAD_CODE" Access-Reject "wrong code, try $i of 3: rejected"
done
rad_auth "User-Name = \"carol@example.com\", State = $cstate, User-Password = \"$ccode\""
is "$RAD_CODE" Access-Reject "the try after the last allowed: rejected, even with the mailed code"
rad_reply Reply-Message | grep -q 'tried too often'
ok $? "... and the Reply-Message says why"

# --- a second request within ResendInterval (issue 14.1) ------------------
# A thief with dave's laptop asks for 24 h; dave, moments later, asks for
# 4 h. Dave must not get the thief's State (typing the code from the only
# mail into it would open the laptop for 24 h), nor a second mail.
rad_auth "User-Name = \"dave@example.com\", User-Password = \"\", WGOTP-Public-Key = \"$DAVE_KEY\", WGOTP-Session-Duration = 86400"
is "$RAD_CODE" Access-Challenge "dave (the thief, 24 h): Access-Challenge"
tstate=$(rad_reply State)
dmails=$(mail_count)
dcode=$(mail_code "$dmails")
rad_auth 'User-Name = "dave@example.com", User-Password = "", WGOTP-Session-Duration = 14400'
is "$RAD_CODE" Access-Reject "dave again within ResendInterval (4 h): Access-Reject"
is "$(rad_reply State)" "" "... with no State (not the thief's)"
rad_reply Reply-Message | grep -q 'moments ago'
ok $? "... the Reply-Message says a code went out moments ago"
is "$(mail_count)" "$dmails" "... and no second mail"
rad_auth "User-Name = \"dave@example.com\", State = $tstate, User-Password = \"$dcode\", WGOTP-Session-Duration = 3600"
is "$RAD_CODE" Access-Accept "the first State with its code: Access-Accept"
is "$(rad_reply Session-Timeout)" 86400 "... for what the first request asked, whatever the answer says"

# --- unknown user ---------------------------------------------------------
before=$(mail_count)
rad_auth 'User-Name = "nobody@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "unknown user: Access-Challenge too"
is "$(rad_reply_names | tr '\n' ' ')" "$known_names" "unknown user: the same reply attributes as a known one"
uprompt=$(rad_reply Reply-Message)
case "$uprompt" in "Enter the code sent to "*@example.com) r=0 ;; *) r=1 ;; esac
ok $r "unknown user: the same kind of prompt ($uprompt)"
ustate=$(rad_reply State)
rad_auth "User-Name = \"nobody@example.com\", State = $ustate, User-Password = \"123456\""
is "$RAD_CODE" Access-Reject "unknown user: the decoy challenge cannot succeed"
# The mail to a known user is delivered before the challenge is sent, so
# by now a mail to nobody@ would be in the spool.
is "$(mail_count)" "$before" "unknown user: no mail delivered"
if grep -rqs 'nobody@example.com' "$SMTPD_DIR"/msg-*.json; then r=1; else r=0; fi
ok $r "no message in the spool is addressed to the unknown user"

# --- no codes in the logs -------------------------------------------------
rad_alive
ok $? "freeradius is still running"
# (freeradius -X prints the request's User-Password itself: not ours.)
if grep -v -e 'User-Password = ' "$RAD_LOG" "$RAD_AUDIT" 2>/dev/null | grep -q -e "$code" -e "$bcode" -e "$ccode"; then r=1; else r=0; fi
ok $r "no mailed code in the server or audit log (but the server's dump of User-Password)"

echo "1..$TAP_N"
[ "$TAP_FAILED" -eq 0 ]
