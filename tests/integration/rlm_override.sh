#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rlm_wgotp with the users supplied by an earlier module (the WGOTP-*
# control attributes), against a real `freeradius -X`, radclient and a
# real SMTP server. The "directory" is an unlang block in authorize, as
# an ldap or sql lookup would behave: realm stripping to
# Stripped-User-Name (as the realm module does; ldap's and sql's default
# filters then look that up), and a match that ignores trailing spaces
# (MySQL PAD SPACE collations, LDAP insignificant spaces). The identity
# must be the directory's, not the spelling on the wire: one code opens
# one session, whatever the spelling or the realm, and a code is only
# mailed to the directory's address or to a name that is one.
set -u
# mail.sh first: radius.sh's TAP helpers (ok, is, plan) replace its own.
. "$top_srcdir/tests/integration/lib/mail.sh"
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require
mail_require

RAD_ACTIVATE=no
RAD_UNKNOWN_USER=totp
rad_init
trap 'rad_cleanup; mail_cleanup' EXIT
mail_setup || { echo "Bail out! cannot make the test PKI"; exit 1; }
smtpd_start rad --mechanisms PLAIN || { echo "Bail out! smtpd did not start"; exit 1; }
smtpd_conf >> "$RAD_CONF"
S1=JBSWY3DPEHPK3PXP
rd=$RAD_DIR/raddb

# The directory, where the shipped site has "#ldap".
cat > "$RAD_DIR/directory.unlang" <<EOF2
		if (&User-Name =~ /^([^@]+)@([^@]+)\$/) {
			update request {
				&Stripped-User-Name := "%{1}"
				&Realm := "%{2}"
			}
		}
		if ("%{%{Stripped-User-Name}:-%{User-Name}}" =~ /^alice *\$/i) {
			update control {
				&WGOTP-TOTP-Secret := "$S1"
			}
		}
		elsif ("%{%{Stripped-User-Name}:-%{User-Name}}" =~ /^carol *\$/i) {
			update control {
				&WGOTP-Method := Email
			}
		}
		elsif ("%{%{Stripped-User-Name}:-%{User-Name}}" =~ /^dan *\$/i) {
			update control {
				&WGOTP-Method := Email
				&WGOTP-Email := "dan@corp.example"
			}
		}
EOF2
awk -v f="$RAD_DIR/directory.unlang" '
	/^#[[:space:]]*ldap$/ && !done { while ((getline l < f) > 0) print l; done = 1; next }
	{ print }' "$rd/sites-enabled/wgotp" > "$rd/sites-enabled/wgotp.tmp"
mv "$rd/sites-enabled/wgotp.tmp" "$rd/sites-enabled/wgotp"
grep -q 'WGOTP-TOTP-Secret := ' "$rd/sites-enabled/wgotp" ||
	{ echo "Bail out! the shipped site has no #ldap line to replace"; exit 1; }
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

mail_count() { find "$SMTPD_DIR" -name 'msg-*.eml' | wc -l; }
mail_to() {	# N: the envelope recipients of message N
	"$MAIL_PY" -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["rcpt_tos"]))' \
		"$SMTPD_DIR/msg-$1.json"
}

plan 13

# --- TOTP: one code, one session, whatever the spelling --------------------
c=$(rad_totp "$S1")
rad_auth "User-Name = \"alice\", User-Password = \"$c\""
is "$RAD_CODE" Access-Accept "a user from the directory (WGOTP-TOTP-Secret): accepted"
n=0
for u in "alice " "alice  " "Alice" "alice@realm.example" "alice@other.example"; do
	rad_auth "User-Name = \"$u\", User-Password = \"$c\""
	if [ "$RAD_CODE" = Access-Accept ]; then
		echo "# the used code was accepted again for \"$u\""
		n=$((n + 1))
	fi
done
is "$n" 0 "the used code is accepted for no other spelling or realm of alice"
rad_auth "User-Name = \"alice \", User-Password = \"$(rad_totp "$S1" 1)\""
is "$RAD_CODE" Access-Reject "\"alice \" with a fresh code: refused, not a second alice"
rad_auth "User-Name = \"alice@realm.example\", User-Password = \"$(rad_totp "$S1" 1)\""
is "$RAD_CODE" Access-Accept "alice@realm.example with a fresh code: accepted (the directory's alice)"
grep 'event=begin' "$RAD_AUDIT" | grep 'result=accept' | grep -q -v 'user="alice"'
is $? 1 "every accept in the audit log is for the identity alice"
grep -q 'user="alice@realm.example"\|user="alice@other.example"\|user="alice "' "$RAD_AUDIT"
is $? 1 "no counter or replay step under a spelling from the wire"

# --- email: the code goes to the directory's address, or to none ----------
rad_auth 'User-Name = "carol@attacker.example", User-Password = ""'
is "$RAD_CODE" Access-Challenge "email user without WGOTP-Email, via a realm: the same challenge"
sleep 1
is "$(mail_count)" 0 "... but no mail: the directory matched carol, which is no address"
grep -q 'carol: the identity is not an email address' "$RAD_LOG"
ok $? "... and the log says why"
rad_auth 'User-Name = "dan", User-Password = ""'
is "$RAD_CODE" Access-Challenge "email user with WGOTP-Email: a challenge"
is "$(mail_count)" 1 "... one mail"
is "$(mail_to 1)" dan@corp.example "... to the directory's address"
sleep 1	# ResendInterval = 1s
rad_auth 'User-Name = "dan@attacker.example", User-Password = ""'
to=$(for i in $(seq 1 "$(mail_count)"); do mail_to "$i"; done | sort -u | tr '\n' ' ')
is "$to" "dan@corp.example " "dan via another realm: every mail went to the directory's address"
