#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The "password + code" example, raddb/sites-available/wgotp-password, as
# shipped (ports and paths adjusted), with the files module as the
# password source: a good password gets the challenge, a bad one a Reject
# without a challenge, the code in round 2 an Accept; the first round's
# password is never taken as a code (single_pass = no).
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require

RAD_ACTIVATE=no
rad_init
S1=JBSWY3DPEHPK3PXP
S2=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
rad_user_totp alice@example.com "$S1"
rad_user_totp bob@example.com "$S2"
PW_PORT=$((RAD_PORT + 3))
rd=$RAD_DIR/raddb

# The instance the example asks for (mods-available/wgotp documents it).
sed -e 's/^wgotp {/wgotp wgotp_password {/' \
    -e 's/^\([[:space:]]*\)single_pass = yes/\1single_pass = no/' \
	"$rd/mods-enabled/wgotp" > "$rd/mods-enabled/wgotp_password"
grep -q '^wgotp wgotp_password {' "$rd/mods-enabled/wgotp_password" &&
	grep -q 'single_pass = no' "$rd/mods-enabled/wgotp_password" ||
	{ echo "Bail out! cannot derive the wgotp_password instance"; exit 1; }
# The password source: files (alice and bob; nobody else has a password).
mkdir -p "$rd/mods-config/files"
cat > "$rd/mods-config/files/authorize" <<'EOF2'
alice@example.com	Cleartext-Password := "correct horse"
bob@example.com	Cleartext-Password := "battery staple"
EOF2
cat > "$rd/mods-enabled/files" <<'EOF2'
files {
	filename = ${modconfdir}/files/authorize
}
EOF2
cat > "$rd/mods-enabled/pap" <<'EOF2'
pap {
	normalise = no
}
EOF2
# The site as shipped (it has no listener of its own), and a listener on
# our port with its own clients, whose requests it hands to the site
# (clients.conf sends the others to "wgotp").
{
	cat <<EOF2
clients pw_clients {
	client localhost {
		ipaddr = 127.0.0.1
		secret = $RAD_SECRET
		require_message_authenticator = yes
	}
}
listen {
	type = auth
	ipaddr = 127.0.0.1
	port = $PW_PORT
	clients = pw_clients
	virtual_server = wgotp-password
}
EOF2
	cat "$top_srcdir/raddb/sites-available/wgotp-password"
} > "$rd/sites-enabled/wgotp-password"
grep -q '^server wgotp-password {' "$rd/sites-enabled/wgotp-password" ||
	{ echo "Bail out! the shipped site is not server wgotp-password"; exit 1; }
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

pw_auth() { rad_auth "$1" "127.0.0.1:$PW_PORT"; }

plan 15

# --- round 1: the password -------------------------------------------------
pw_auth 'User-Name = "alice@example.com", User-Password = "correct horse"'
is "$RAD_CODE" Access-Challenge "the right password: Access-Challenge for the code"
state=$(rad_reply State)
case "$state" in 0x77676f74703a*) r=0 ;; *) r=1 ;; esac
ok $r "the challenge carries wgotp's State"
rad_reply Reply-Message | grep -q 'authenticator'
ok $? "the prompt asks for the authenticator code"

# --- round 2: the code -------------------------------------------------------
bad=$(awk -v c="$(rad_totp "$S1")" 'BEGIN { printf "%06d", (c + 1) % 1000000 }')
pw_auth "User-Name = \"alice@example.com\", State = $state, User-Password = \"$bad\""
is "$RAD_CODE" Access-Reject "round 2 with a wrong code: Access-Reject"
pw_auth 'User-Name = "alice@example.com", User-Password = "correct horse"'
state=$(rad_reply State)
pw_auth "User-Name = \"alice@example.com\", State = $state, User-Password = \"$(rad_totp "$S1")\""
is "$RAD_CODE" Access-Accept "round 2 with the right code: Access-Accept"
is "$(rad_reply Session-Timeout)" 28800 "the Accept carries Session-Timeout"
pw_auth "User-Name = \"alice@example.com\", State = $state, User-Password = \"correct horse\""
is "$RAD_CODE" Access-Reject "the password as the code in round 2: Access-Reject"

# --- a bad password never reaches wgotp --------------------------------------
pw_auth 'User-Name = "bob@example.com", User-Password = "wrong"'
is "$RAD_CODE" Access-Reject "a wrong password: Access-Reject at once"
[ -z "$(rad_reply State)" ]
ok $? "... without a State"
pw_auth "User-Name = \"bob@example.com\", User-Password = \"$(rad_totp "$S2")\""
is "$RAD_CODE" Access-Reject "a valid TOTP code instead of the password: Access-Reject (no single pass here)"
pw_auth 'User-Name = "bob@example.com", User-Password = "battery staple"'
is "$RAD_CODE" Access-Challenge "bob's password afterwards: the challenge"
bstate=$(rad_reply State)
pw_auth "User-Name = \"bob@example.com\", State = $bstate, User-Password = \"$(rad_totp "$S2")\""
is "$RAD_CODE" Access-Accept "... and his code (not replayed: the code sent as password was never used)"

# --- no password in the directory, or a State nobody issued -------------------
pw_auth 'User-Name = "carol@example.com", User-Password = "anything"'
is "$RAD_CODE" Access-Reject "a user without a password in files: Access-Reject"
bogus=0x77676f74703a$(printf '%s' 0123456789abcdef0123456789abcdef | od -An -v -tx1 | tr -d ' \n')
pw_auth "User-Name = \"alice@example.com\", State = $bogus, User-Password = \"$(rad_totp "$S1" 1)\""
is "$RAD_CODE" Access-Reject "round 2 with a State wgotp never issued: Access-Reject"
rad_alive
ok $? "freeradius is still running"
