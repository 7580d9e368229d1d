#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The employee portal end to end, in a real headless Chromium (selenium):
# a real wgotp-portal over HTTPS (a certificate from the test CA), a real
# wg-activator managing a wireguard-go interface in a network namespace,
# the employee's own wireguard-go peer in another, and the test SMTP
# server. An email user logs in, the code arrives by SMTP, the browser
# types it, the peer appears and the tunnel passes ping, the badge shows
# the time left, Extend keeps the tunnel up (a ping every 100 ms loses
# nothing), Deactivate removes the peer; a TOTP user logs in with
# oathtool's code; an unknown user sees the same screens and gets no mail;
# a TOTP user enrols through an invitation link (wgotpctl invite, a real
# wgotp-dird: the QR code on the page decoded with zbarimg, the code from
# oathtool), then signs in; a used and an expired link show the same page.
# Screenshots of each screen: $top_builddir/tests/artifacts/portal/.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
. "$top_srcdir/tests/integration/lib/mail.sh"

PORTAL="$top_builddir/wgotp-portal/wgotp-portal"
[ -x "$PORTAL" ] || { echo "1..0 # SKIP wgotp-portal not built (libmicrohttpd-dev missing)"; exit 0; }
DIRD="$top_builddir/wgotp-dird/wgotp-dird"
CTL="$top_builddir/wgotpctl/wgotpctl"
for t in /usr/bin/chromium /usr/bin/chromedriver oathtool curl zbarimg; do
	command -v "$t" >/dev/null || { echo "1..0 # SKIP $t not installed (build-aux/install-deps)"; exit 0; }
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null ||
	{ echo "1..0 # SKIP python3-selenium not installed (build-aux/install-deps)"; exit 0; }
wg_require
mail_require

cleanup() { wg_cleanup; mail_cleanup; }
trap cleanup EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
mail_setup || { echo "Bail out! mail_setup failed"; exit 1; }
smtpd_start smtp || { echo "Bail out! smtpd did not start"; exit 1; }

TINA_SECRET=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
read -r _tina_priv TINA_PUB <<<"$(wg_keypair)"
read -r _b1 BOB_PUB1 <<<"$(wg_keypair)"
read -r _b2 BOB_PUB2 <<<"$(wg_keypair)"
read -r _d1 DAVE_PUB <<<"$(wg_keypair)"
act_setup "$WG_TMP/act" "$WG_IF_SRV"
act_users "$(printf '"alice@example.com": { "method": "email", "enabled": true, "require_otp": true, "devices": [ { "name": "laptop", "public_key": "%s", "allowed_ips": ["%s"] } ] },
 "tina@example.com": { "method": "totp", "totp_secret": "%s", "totp_state": "active", "enabled": true, "require_otp": true, "devices": [ { "name": "desktop", "public_key": "%s", "allowed_ips": ["10.231.0.9/32"] } ] },
 "bob@example.com": { "method": "email", "enabled": true, "require_otp": true, "devices": [ { "name": "laptop", "public_key": "%s", "allowed_ips": ["10.231.0.10/32"] }, { "name": "phone", "public_key": "%s", "allowed_ips": ["10.231.0.11/32"] } ] },
 %s' \
	"$WG_CLI_PUB" "$WG_CLI_CIDR" "$TINA_SECRET" "$TINA_PUB" "$BOB_PUB1" "$BOB_PUB2" \
	"$(act_user dave@example.com desktop "$DAVE_PUB" 10.231.0.12/32)")"
# the flow needs a server key in hex (wg-activator's own test key is raw)
(umask 077; openssl rand -hex 32 >"$ACT_DIR/server.key")
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{
	smtpd_conf
	cat <<CONF

[Email]
ResendInterval = 0

[Portal]
Listen = 127.0.0.1:$PORT
CertificateFile = $MAIL_SRV_CERT
PrivateKeyFile = $MAIL_SRV_KEY
AssetsDirectory = $top_srcdir/wgotp-portal/assets
CompanyName = Example Corp
PublicURL = https://127.0.0.1:$PORT

[Dird]
Socket = $WG_TMP/dird.sock
AllowedUsers = root
CONF
} >>"$ACT_CONF"

. "$top_srcdir/tests/integration/lib/tap.sh"

# --- start-up checks ---------------------------------------------------------
chmod 644 "$MAIL_SRV_KEY"
out=$("$PORTAL" -c "$ACT_CONF" --check 2>&1)
check "--check refuses a private key readable by others ($out)" \
	eval 'case "$out" in *PrivateKeyFile*"readable by others"*) true ;; *) false ;; esac'
chmod 600 "$MAIL_SRV_KEY"
portal_check() { "$PORTAL" -c "$ACT_CONF" --check >/dev/null; }
check "--check passes with the key at 0600" portal_check

act_start || { echo "Bail out! wg-activator did not start"; exit 1; }
"$DIRD" -c "$ACT_CONF" -f >"$WG_TMP/dird.log" 2>&1 &
DIRD_PID=$!
wg_track_pid "$DIRD_PID"
for _i in $(seq 1 50); do [ -S "$WG_TMP/dird.sock" ] && break; sleep 0.1; done
check "wgotp-dird listens" test -S "$WG_TMP/dird.sock"
# two invitations for dave: one to enrol with, one to expire
LINK1=$("$CTL" -c "$ACT_CONF" invite dave@example.com --print 2>"$WG_TMP/invite.err")
check "wgotpctl invite --print: a link to PublicURL/enrol with the token in the fragment" \
	grep -qE "^https://127\.0\.0\.1:$PORT/enrol#[0-9a-f]{64}$" <<<"$LINK1"
check "user show: the invitation is pending" eval '"$CTL" -c "$ACT_CONF" user show dave@example.com | grep -q "^invite: *pending until"'
"$PORTAL" -c "$ACT_CONF" -f >"$WG_TMP/portal.log" 2>&1 &
PORTAL_PID=$!
wg_track_pid "$PORTAL_PID"
up=1
for _i in $(seq 1 100); do
	curl -s -o /dev/null --cacert "$MAIL_CA" "https://127.0.0.1:$PORT/" && { up=0; break; }
	sleep 0.1
done
ok $up "wgotp-portal serves HTTPS with a certificate the test CA verifies"
hdr=$(curl -s -D - -o /dev/null --cacert "$MAIL_CA" "https://127.0.0.1:$PORT/api/v1/status")
for h in "Content-Security-Policy: default-src 'none'; script-src 'self'" "Strict-Transport-Security: max-age=" \
	 "X-Content-Type-Options: nosniff" "Referrer-Policy: no-referrer" "Cache-Control: no-store" \
	 "frame-ancestors 'none'"; do
	check "header: $h" grep -qiF "$h" <<<"$hdr"
done
check "the cookie is HttpOnly, Secure, SameSite=Strict" grep -qi 'Set-Cookie: __Host-wgotp=.*Secure; HttpOnly; SameSite=Strict' <<<"$hdr"
check "plain HTTP is not answered on the TLS port" not curl -sf -o /dev/null "http://127.0.0.1:$PORT/"

# --- the browser -------------------------------------------------------------
ART="$top_builddir/tests/artifacts/portal"
rm -rf "$ART" && mkdir -p "$ART"
SPKI=$(openssl x509 -in "$MAIL_SRV_CERT" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
PB_URL="https://127.0.0.1:$PORT" PB_ARTIFACTS="$ART" PB_SMTPD_DIR="$SMTPD_DIR" PB_SPKI="$SPKI" \
	PB_PROFILE="$WG_TMP/chromium-profile" PB_COUNT="$WG_TMP/pb.count" PB_TINA_PUB="$TINA_PUB" PB_BOB_PUB1="$BOB_PUB1" PB_BOB_PUB2="$BOB_PUB2" \
	PB_TINA_SECRET="$TINA_SECRET" PB_LINK="$LINK1" PB_CTL="$CTL" PB_CONF="$ACT_CONF" PB_USERS="$ACT_USERS" \
	PB_DAVE_PUB="$DAVE_PUB" TAP_START=$TAP_N WG_IF_SRV="$WG_IF_SRV" WG_NS_CLI="$WG_NS_CLI" \
	WG_SRV_IP="$WG_SRV_IP" WG_CLI_PUB="$WG_CLI_PUB" HOME="$WG_TMP" \
	timeout 300 /usr/bin/python3 "$top_srcdir/tests/integration/lib/portal_browser.py"
rc=$?
if [ -s "$WG_TMP/pb.count" ]; then
	read -r TAP_N n_failed <"$WG_TMP/pb.count"
	TAP_FAILED=$((TAP_FAILED + n_failed))
fi
ok $rc "the browser script ran to its end"
n_shots=$(find "$ART" -name '*.png' | wc -l)
check "a screenshot of each screen ($n_shots in $ART)" test "$n_shots" -ge 16

# --- what the logs say --------------------------------------------------------
check "the audit log has the portal's decisions with the client address" \
	grep -q 'event=answer origin=portal user="alice@example.com" client="127.0.0.1"' "$WG_TMP/portal.log"
check "the activator saw origin=portal" grep -q 'origin=portal' "$ACT_LOG"
check "wgotp-dird audited the enrolment" grep -q 'event=totp_confirm origin=portal user="dave@example.com" client="uid=0" method=totp result=accept' "$WG_TMP/dird.log"
check "... the reused link" grep -q 'event=invite_open origin=portal user="" client="uid=0" method=totp result=reject reason=bad_token' "$WG_TMP/dird.log"
check "... and the expired one" grep -q 'event=invite_open origin=portal user="dave@example.com" client="uid=0" method=totp result=reject reason=expired' "$WG_TMP/dird.log"
check "no invitation token in any log" not grep -qE '[0-9a-f]{64}' "$WG_TMP/portal.log" "$WG_TMP/dird.log"
codes=$(for f in "$SMTPD_DIR"/msg-*.eml; do py_mail "$f" \
	'" ".join(__import__("re").findall(r"(?<![0-9])[0-9]{6}(?![0-9])", m.get_content()))'; done)
leak=0
for c in $codes; do
	grep -q -- "$c" "$WG_TMP/portal.log" "$ACT_LOG" && leak=1
done
ok $leak "no mailed code in any log ($(echo $codes | wc -w) codes looked for)"
check "the daemon still runs" kill -0 "$PORTAL_PID"
kill "$PORTAL_PID"
wait "$PORTAL_PID" 2>/dev/null
ok $? "SIGTERM stops it cleanly"
[ "$TAP_FAILED" -eq 0 ] || sed 's/^/# portal: /' "$WG_TMP/portal.log" | tail -40
done_testing
