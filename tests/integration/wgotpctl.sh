#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wgotpctl, every command and its bad input: init (modes under any umask,
# refusing to overwrite), users, devices (invalid key or prefix, duplicate
# name, key or address), TOTP enrolment (the PNG QR code decodes with
# zbarimg to exactly the printed URI; confirm with a code from oathtool; a
# wrong code; the confirm code replayed through activate), rate limits,
# sessions, mail-test against a real SMTP server, and activate/deactivate
# against a real wg-activator over wireguard-go in network namespaces
# (parts that cannot run here are reported as SKIP).
set -u
: "${top_builddir:?}" "${top_srcdir:?}"

HAVE_MAIL_LIB=no
if [ -f "$top_srcdir/tests/integration/lib/mail.sh" ]; then
	# Defines its own TAP helpers: sourced before ours.
	. "$top_srcdir/tests/integration/lib/mail.sh"
	HAVE_MAIL_LIB=yes
fi
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"

CTL="$top_builddir/wgotpctl/wgotpctl"
. "$top_srcdir/tests/integration/lib/tap.sh"

for t in oathtool zbarimg python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "1..0 # SKIP $t not installed (build-aux/install-deps)"; exit 0; }
done
[ -x "$CTL" ] || { echo "Bail out! $CTL not built"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/wgotpctl.XXXXXX")
cleanup() {
	[ "$HAVE_MAIL_LIB" = yes ] && mail_cleanup
	wg_cleanup
	rm -rf "$T"
}
trap cleanup EXIT

# run ARGS: wgotpctl with this test's configuration; OUT, ERR, RC.
run() {
	OUT=$("$CTL" "$@" 2>"$T/stderr")
	RC=$?
	ERR=$(cat "$T/stderr")
	[ -n "$ERR" ] && printf '# stderr: %s\n' "$ERR" | head -n 5
	return 0
}
rc_is() { [ "$RC" -eq "$1" ]; }
# A failure says what is wrong in one line on stderr.
one_line_error() { [ "$(printf '%s\n' "$ERR" | grep -c .)" -eq 1 ] && case "$ERR" in "wgotpctl: "*) true ;; *) false ;; esac; }
err_has() { case "$ERR" in *"$1"*) true ;; *) false ;; esac; }
out_has() { case "$OUT" in *"$1"*) true ;; *) false ;; esac; }
# expect RC DESCRIPTION ARGS...: the exit status, and a one-line error
# on failure.
expect() {
	local want=$1 desc=$2
	shift 2
	run "$@"
	if [ "$want" -ne 0 ]; then
		rc_is "$want" && one_line_error
	else
		rc_is 0
	fi
	ok $? "$desc (exit $RC)"
}
mode_of() { stat -c %a "$1"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(($1))"; }
# Not within 3 s of the end of a 30 s step: codes computed now are still
# the same step when wgotpctl checks them.
totp_settle() { while [ $(( $(date +%s) % 30 )) -ge 27 ]; do sleep 0.5; done; }
code_at() { oathtool --totp -b "$1" ${2:+-N "$2"}; }

# --- usage errors --------------------------------------------------------
expect 1 "no command is a usage error"
expect 1 "an unknown command is a usage error" frobnicate
expect 1 "an unknown global option is a usage error" --frob sessions
expect 1 "user without a subcommand is a usage error" user
expect 1 "an unknown user subcommand is a usage error" user frob
expect 1 "init with an unknown option is a usage error" init --frob
expect 1 "init with an extra argument is a usage error" init extra
expect 1 "init --interface with a slash is a usage error" init --prefix "$T/x" --interface "a/b"
check "a refused init wrote nothing" test ! -e "$T/x/wgotp.conf"
run --help
check "--help exits 0 and names the commands" eval 'rc_is 0 && out_has "totp enroll EMAIL"'
# --duration in the help: [Session] Durations of the configuration, or
# the defaults (lib/conf.c's) when none can be read.
printf '[Session]\nDurations = 30m, 2h, 2d\nDefaultDuration = 2h\nMaxDuration = 2d\n' >"$T/durations.conf"
run -c "$T/durations.conf" --help
check "--help shows the configured Durations" eval 'rc_is 0 && out_has "--duration 30m|2h|2d [--shorten]]" && out_has "Durations in $T/durations.conf"'
defaults=$(sed -n 's/.*{ "Session", "Durations", [^"]*"\([^"]*\)".*/\1/p' "$top_srcdir/lib/conf.c" | sed 's/, */|/g')
run -c "$T/none.conf" help
check "... the defaults ($defaults) without a readable configuration" \
	eval 'rc_is 0 && [ -n "$defaults" ] && out_has "--duration $defaults [--shorten]]" && out_has "default [Session] Durations"'

# --- init ------------------------------------------------------------------
OUT=$(umask 000; "$CTL" init --prefix "$T/etc" --interface wgt0 2>"$T/stderr")
RC=$?
check "init exits 0" rc_is 0
check "init prints the path of wgotp.conf ($OUT)" test "$OUT" = "$T/etc/wgotp.conf"
CONF=$T/etc/wgotp.conf
export WGOTP_CONF=$CONF
check "wgotp.conf exists" test -f "$CONF"
check "under umask 000, server.key is 0640 ($(mode_of "$T/etc/server.key"))" test "$(mode_of "$T/etc/server.key")" = 640
check "users.json is 0640" test "$(mode_of "$T/etc/users.json")" = 640
check "wgotp.conf is not writable by others ($(mode_of "$CONF"))" test "$(mode_of "$CONF")" = 644
check "the state directory is 0770" test "$(mode_of "$T/etc/state")" = 770
check "the socket directory is 0750" test "$(mode_of "$T/etc/run")" = 750
check "the server key is 32 random bytes in hex" grep -qxE '[0-9a-f]{64}' "$T/etc/server.key"
check "users.json is empty, version 1" test "$(json 'd == {"version": 1, "users": {}}' <"$T/etc/users.json")" = True
check "wgotp.conf names the interface" grep -qx 'Interface = wgt0' "$CONF"
check "the socket path is inside the prefix" grep -qx 'Socket = run/activator.sock' "$CONF"
cp "$T/etc/server.key" "$T/key.before"
expect 2 "init refuses to overwrite an existing configuration" init --prefix "$T/etc"
check "the refused init changed nothing" cmp -s "$T/etc/server.key" "$T/key.before"
rm "$CONF"
expect 2 "init refuses even when only server.key and users.json are there" init --prefix "$T/etc"
(umask 022; cd "$T" && "$CTL" init --prefix rel >"$T/rel.out" 2>&1)
check "a relative --prefix prints an absolute path" test "$(cat "$T/rel.out")" = "$T/rel/wgotp.conf"
rm -rf "$T/etc"
mkdir -p "$T/etc"
OUT=$(umask 077; "$CTL" init --prefix "$T/etc" --interface wgt0)
check "init into an existing empty directory" test "$OUT" = "$CONF"
long="$T/$(printf 'd%.0s' $(seq 1 110))"
expect 2 "init refuses a prefix too long for the socket path" init --prefix "$long"
run -c "$CONF" check-config
check "check-config: the written configuration loads (exit $RC)" rc_is 0
check "check-config reads the server key and the store" eval 'out_has "ok       server key" && out_has "ok       store"'
check "check-config: wg-activator not running is only a warning" out_has "FAILED   wg-activator"
cp "$CONF" "$T/conf.good"
printf '[Store]\nBusyTimeout = soon\n' >>"$CONF"
expect 2 "check-config: a bad value fails with FILE:LINE" check-config
check "the error names the file and the key" eval 'err_has "$CONF:" && err_has BusyTimeout'
cp "$T/conf.good" "$CONF"
run check-config
check "WGOTP_CONF is the fallback for -c (exit $RC)" rc_is 0
expect 2 "-c names a missing file" -c "$T/none.conf" user list
# Audit lines to a file, so that they can be checked.
sed -i "s|^AuditLog = .*|AuditLog = $T/audit.log|" "$CONF"

# --- users -------------------------------------------------------------------
expect 0 "user add (totp)" user add alice@example.com --method totp --name "Alice Example"
expect 0 "user add (email)" user add Bob@Example.com --method email
expect 0 "user add --no-otp" user add svc@example.com --no-otp
expect 2 "a duplicate user is refused" user add ALICE@example.com --method totp
check "the error says it exists" err_has "already exists"
expect 2 "an invalid email is refused" user add "not an email" --method totp
expect 1 "user add without --method is a usage error" user add carol@example.com
expect 1 "user add --method sms is a usage error" user add carol@example.com --method sms
expect 1 "user add without EMAIL is a usage error" user add --method totp
run user list
check "user list shows the users, lower-cased" eval 'rc_is 0 && out_has "bob@example.com" && out_has "Alice Example"'
run user list --json
check "user list --json: three users" test "$(echo "$OUT" | json 'len(d)')" = 3
run user show bob@example.com --json
check "user show --json: method email, enabled" test "$(echo "$OUT" | json 'd["method"], d["enabled"]')" = "('email', True)"
expect 2 "user show of an unknown user" user show nobody@example.com
check "the error says no such user" err_has "no such user"
expect 0 "user disable" user disable bob@example.com
run user show bob@example.com --json
check "bob is disabled" test "$(echo "$OUT" | json 'd["enabled"]')" = False
expect 0 "user enable" user enable bob@example.com
check "bob is enabled again" test "$(json 'd["users"]["bob@example.com"]["enabled"]' <"$T/etc/users.json")" = True
expect 2 "user disable of an unknown user" user disable nobody@example.com
expect 2 "user del of an unknown user" user del nobody@example.com
check "users.json stays 0640 after edits" test "$(mode_of "$T/etc/users.json")" = 640

# --- devices -----------------------------------------------------------------
K1=$(wg genkey | wg pubkey)
K2=$(wg genkey | wg pubkey)
K3=$(wg genkey | wg pubkey)
expect 0 "device add" device add alice@example.com laptop --public-key "$K1" --allowed-ips 10.8.0.2/32,fd00::2/128
expect 2 "an invalid public key is refused" device add alice@example.com phone --public-key "not-a-key" --allowed-ips 10.8.0.3/32
check "the error says why" err_has "not a WireGuard public key"
expect 2 "a key of 43 bytes is refused" device add alice@example.com phone --public-key "${K2%?}" --allowed-ips 10.8.0.3/32
expect 2 "an invalid CIDR is refused" device add alice@example.com phone --public-key "$K2" --allowed-ips 10.8.0.300/32
expect 2 "a CIDR with host bits is refused" device add alice@example.com phone --public-key "$K2" --allowed-ips 10.8.0.3/24
expect 2 "an empty item in the CIDR list is refused" device add alice@example.com phone --public-key "$K2" --allowed-ips 10.8.0.3/32,,10.8.0.4/32
expect 2 "a duplicate device name is refused" device add alice@example.com laptop --public-key "$K2" --allowed-ips 10.8.0.3/32
expect 2 "a duplicate key is refused" device add bob@example.com laptop --public-key "$K1" --allowed-ips 10.8.0.3/32
check "the error names the owner" err_has "already used by user \"alice@example.com\""
expect 2 "an address another device has is refused" device add bob@example.com laptop --public-key "$K2" --allowed-ips 10.8.0.2/32
expect 2 "device add for an unknown user" device add nobody@example.com laptop --public-key "$K2" --allowed-ips 10.8.0.9/32
expect 2 "an invalid device name is refused" device add bob@example.com "my laptop" --public-key "$K2" --allowed-ips 10.8.0.3/32
expect 2 "device add without an address and no [Network] AddressPool is an error" device add bob@example.com laptop --public-key "$K2"
expect 1 "device add without NAME is a usage error" device add bob@example.com --public-key "$K2" --allowed-ips 10.8.0.3/32
expect 0 "device add (email user)" device add bob@example.com laptop --public-key "$K2" --allowed-ips 10.8.0.3/32
expect 0 "device add (no-OTP user)" device add svc@example.com box --public-key "$K3" --allowed-ips 10.8.0.4/32
expect 0 "device add of a device to delete" device add alice@example.com old --public-key "$(wg genkey | wg pubkey)" --allowed-ips 10.8.0.5/32
expect 0 "device del (no session anywhere)" device del alice@example.com old
check "the device is gone" test "$(json 'len(d["users"]["alice@example.com"]["devices"])' <"$T/etc/users.json")" = 1
expect 2 "device del of an unknown device" device del alice@example.com old
expect 2 "device del of an unknown user" device del nobody@example.com laptop

# --- TOTP enrolment -----------------------------------------------------------
expect 2 "totp enroll of an email user is refused" totp enroll bob@example.com
expect 2 "totp enroll of an unknown user" totp enroll nobody@example.com
expect 2 "totp confirm before enroll" totp confirm alice@example.com 123456
run totp enroll alice@example.com --png "$T/alice.png" --svg "$T/alice.svg"
check "totp enroll exits 0" rc_is 0
URI=$(printf '%s\n' "$OUT" | grep '^otpauth://')
check "the URI is on a line of its own" test "$(printf '%s\n' "$OUT" | grep -c '^otpauth://totp/[^ ]*$')" = 1
check "URI: label, secret, issuer, algorithm, digits, period ($URI)" \
	eval 'printf "%s" "$URI" | grep -qxE "otpauth://totp/wgotp:alice%40example\.com\?secret=[A-Z2-7]{32}&issuer=wgotp&algorithm=SHA1&digits=6&period=30"'
SECRET=$(printf '%s' "$URI" | sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p')
check "a QR code is drawn in the terminal with half blocks" eval 'printf "%s\n" "$OUT" | grep -q "▀"'
check "the PNG is 0600" test "$(mode_of "$T/alice.png")" = 600
check "the SVG is 0600" test "$(mode_of "$T/alice.svg")" = 600
check "the PNG is a PNG" eval 'file "$T/alice.png" 2>/dev/null | grep -q "PNG image data" || head -c 8 "$T/alice.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a"'
decoded=$(zbarimg --raw -q "$T/alice.png" 2>/dev/null)
check "the PNG QR code decodes to exactly the printed URI" test "$decoded" = "$URI"
check "the SVG is well-formed XML" python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$T/alice.svg"
# Draw the SVG's path (runs "Mx yhNv1h-Nz") into a PGM for zbarimg.
python3 - "$T/alice.svg" "$T/svg.pgm" <<'PY'
import re, sys, xml.dom.minidom as m
doc = m.parse(sys.argv[1])
vb = [int(v) for v in doc.documentElement.getAttribute("viewBox").split()]
size, scale = vb[2], 6
img = bytearray([255]) * (size * scale) ** 2
for p in doc.getElementsByTagName("path"):
    for x, y, run in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", p.getAttribute("d")):
        x, y, run = int(x), int(y), int(run)
        for yy in range(y * scale, (y + 1) * scale):
            for xx in range(x * scale, (x + run) * scale):
                img[yy * size * scale + xx] = 0
with open(sys.argv[2], "wb") as f:
    f.write(b"P5 %d %d 255\n" % (size * scale, size * scale) + bytes(img))
PY
check "the SVG QR code decodes to exactly the printed URI" test "$(zbarimg --raw -q "$T/svg.pgm" 2>/dev/null)" = "$URI"
check "the secret is pending in users.json" test "$(json 'd["users"]["alice@example.com"]["totp_state"]' <"$T/etc/users.json")" = pending
check "users.json has the enrolled secret" test "$(json 'd["users"]["alice@example.com"]["totp_secret"]' <"$T/etc/users.json")" = "$SECRET"
check "enroll's stderr is empty" test -z "$ERR"
totp_settle
expect 2 "totp confirm with a wrong code" totp confirm alice@example.com "$(printf '%06d' $(( (10#$(code_at "$SECRET") + 1) % 1000000 )))"
check "the error says the code is wrong" err_has "wrong code"
expect 2 "totp confirm with a malformed code" totp confirm alice@example.com 12ab56
check "still pending" test "$(json 'd["users"]["alice@example.com"]["totp_state"]' <"$T/etc/users.json")" = pending
expect 1 "totp confirm without CODE is a usage error" totp confirm alice@example.com
totp_settle
CONFIRM_CODE=$(code_at "$SECRET" "now - 30 seconds")
expect 0 "totp confirm with a code from oathtool" totp confirm alice@example.com "$CONFIRM_CODE"
check "the secret is active" test "$(json 'd["users"]["alice@example.com"]["totp_state"]' <"$T/etc/users.json")" = active
expect 2 "totp confirm again: nothing pending" totp confirm alice@example.com "$(code_at "$SECRET")"
expect 2 "totp enroll over an active secret is refused" totp enroll alice@example.com --no-qr
expect 2 "the confirm code replayed through activate is refused" activate alice@example.com --code "$CONFIRM_CODE"
check "the refusal says replay" err_has "replay"
check "the audit log has the admin replay" grep -q 'event=begin origin=admin user="alice@example.com".*result=reject reason=replay' "$T/audit.log"
check "the audit log has the confirm" grep -q 'event=totp_confirm origin=admin user="alice@example.com".*result=accept' "$T/audit.log"
check "every audit line, wgotpctl's confirm too, starts with its UTC time" \
	eval '[ -s "$T/audit.log" ] && ! grep -qvE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z wgotp-audit event=" "$T/audit.log"'

# --- activate without wg-activator ---------------------------------------------
expect 1 "activate without --code (TOTP user) is a usage error" activate alice@example.com
expect 1 "activate --duration 5h (not an allowed duration) is a usage error" activate alice@example.com --code 123456 --duration 5h
expect 1 "activate --duration soon is a usage error" activate alice@example.com --code 123456 --duration soon
expect 2 "activate of an unknown user" activate nobody@example.com --code 123456
expect 2 "activate of an unknown device" activate alice@example.com --code 123456 --device phone
totp_settle
C_NOW=$(code_at "$SECRET")
expect 2 "activate with a good code but wg-activator down fails" activate alice@example.com --code "$C_NOW" --duration 4h
check "... saying the code was accepted and the daemon is not running" eval 'err_has "code accepted" && err_has "not running"'
expect 2 "that code is used now: replay" activate alice@example.com --code "$C_NOW"
check "... refused as a replay" err_has "replay"
expect 2 "deactivate with wg-activator down" deactivate alice@example.com
expect 0 "activate a no-OTP user: nothing to do" activate svc@example.com

# --- rate limit ------------------------------------------------------------------
printf '\n[RateLimit]\nMaxFailures = 3\nWindow = 15m\n' >>"$CONF"
expect 0 "user add carol (totp)" user add carol@example.com --method totp
expect 0 "device add carol" device add carol@example.com phone --public-key "$(wg genkey | wg pubkey)" --allowed-ips 10.8.0.6/32
run totp enroll carol@example.com --no-qr
CS=$(printf '%s\n' "$OUT" | sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p')
check "enroll --no-qr prints the URI and no QR code" eval 'rc_is 0 && test -n "$CS" && ! out_has "▀"'
totp_settle
expect 0 "carol confirms" totp confirm carol@example.com "$(code_at "$CS" "now - 30 seconds")"
bad=$(printf '%06d' $(( (10#$(code_at "$CS") + 500000) % 1000000 )))
for i in 1 2 3; do
	expect 2 "wrong code $i of 3 through activate" activate carol@example.com --code "$bad"
done
check "... each refused as a wrong code" err_has "wrong code"
totp_settle
expect 2 "after MaxFailures even the right code is refused" activate carol@example.com --code "$(code_at "$CS")"
check "... by the rate limit" err_has "rate limit"
expect 0 "totp reset" totp reset --force carol@example.com
check "carol's secret is gone" test "$(json '"totp_secret" in d["users"]["carol@example.com"], d["users"]["carol@example.com"]["totp_state"]' <"$T/etc/users.json")" = "(False, 'none')"
expect 2 "totp reset of an unknown user" totp reset --force nobody@example.com
expect 1 "totp reset without --force is a usage error" totp reset carol@example.com
check "... that says why" err_has "--force is required"

# --- invitations ---------------------------------------------------------------
expect 2 "invite without [Portal] PublicURL" invite carol@example.com --print
check "... names the key" err_has "PublicURL"
printf '\n[Portal]\nPublicURL = https://vpn.example.com/\n' >>"$CONF"
expect 0 "invite --print" invite carol@example.com --print
LINK=$OUT
check "the link is PublicURL/enrol#TOKEN ($LINK)" eval 'printf "%s" "$LINK" | grep -qxE "https://vpn\.example\.com/enrol#[0-9a-f]{64}"'
TOKEN=${LINK##*#}
check "users.json keeps an HMAC, not the token" eval '[ "$(json "d[\"users\"][\"carol@example.com\"][\"invite\"][\"mac\"]" <"$T/etc/users.json")" != "$TOKEN" ] && ! grep -q "$TOKEN" "$T/etc/users.json"'
check "... and an expiry 72 h away" eval 'e=$(json "d[\"users\"][\"carol@example.com\"][\"invite\"][\"expires\"]" <"$T/etc/users.json"); [ $((e - $(date +%s))) -gt $((72 * 3600 - 60)) ] && [ $((e - $(date +%s))) -le $((72 * 3600)) ]'
run user show carol@example.com
check "user show: the invitation is pending" eval 'printf "%s\n" "$OUT" | grep -q "^invite: *pending until"'
run --json user show carol@example.com
check "user show --json: invite.state pending" test "$(echo "$OUT" | json 'd["invite"]["state"]')" = pending
expect 2 "invite an email user" invite bob@example.com --print
check "... refused: codes come by mail" err_has "gets codes by email"
expect 2 "invite with Transport = none and no --print" invite carol@example.com
check "... says there is no transport" err_has "Transport = none"
expect 1 "invite without EMAIL is a usage error" invite
expect 0 "user add --method totp --invite --print" user add dan@example.com --method totp --invite --print
check "... prints the added user and a link" eval 'printf "%s\n" "$OUT" | grep -q "^added dan@example.com" && printf "%s\n" "$OUT" | grep -qE "^https://vpn\.example\.com/enrol#[0-9a-f]{64}$"'
expect 1 "user add --method email --invite is a usage error" user add erin@example.com --method email --invite
check "... and adds nobody" test "$(json '"erin@example.com" in d["users"]' <"$T/etc/users.json")" = False
expect 0 "totp reset --force ends the invitation too" totp reset --force carol@example.com
check "... carol has no invitation" test "$(json '"invite" in d["users"]["carol@example.com"]' <"$T/etc/users.json")" = False
check "the audit log has the invitations and the forced reset" eval 'grep -q "event=invite origin=admin user=\"carol@example.com\".*result=accept" "$T/audit.log" && grep -q "event=totp_reset origin=admin user=\"carol@example.com\".*reason=forced" "$T/audit.log"'
check "no token in the audit log" not grep -q "$TOKEN" "$T/audit.log"
expect 0 "user del dan" user del dan@example.com
check "no TOTP secret in the audit log" not grep -q -e "$SECRET" -e "$CS" "$T/audit.log"

# --- sessions without wg-activator ----------------------------------------------
run sessions
check "sessions exits 0 with wg-activator down" rc_is 0
check "... and warns that it shows the store" err_has "showing the sessions in the store"
check "alice's laptop is inactive" eval 'printf "%s\n" "$OUT" | grep -qE "^alice@example.com +laptop +inactive"'
check "svc's box needs no OTP" eval 'printf "%s\n" "$OUT" | grep -qE "^svc@example.com +box +no OTP needed"'
run sessions --json
check "sessions --json parses, source store" test "$(echo "$OUT" | json 'd["source"], len(d["devices"])')" = "('store', 4)"
run --json sessions
check "--json before the command works too" test "$(echo "$OUT" | json 'd["source"]')" = store
expect 1 "sessions with an argument is a usage error" sessions alice@example.com

# --- mail-test --------------------------------------------------------------------
expect 2 "mail-test with Transport = none" mail-test alice@example.com
check "... says there is no transport" err_has "Transport = none"
expect 1 "mail-test without ADDRESS is a usage error" mail-test
mail_ok=no
if [ "$HAVE_MAIL_LIB" != yes ]; then
	skip "tests/integration/lib/mail.sh is not there: mail-test not run"
elif ! /usr/bin/python3 -c 'import cryptography, aiosmtpd' 2>/dev/null || ! command -v openssl >/dev/null; then
	skip "python3 with cryptography and aiosmtpd, and openssl, needed for the SMTP server"
elif ! MAIL_PY=/usr/bin/python3 mail_setup; then
	ok 1 "mail_setup (test PKI)"
else
	MAIL_PY=/usr/bin/python3
	if smtpd_start ctl --mechanisms PLAIN; then
		mail_ok=yes
	else
		ok 1 "the SMTP server starts"
	fi
fi
if [ "$mail_ok" = yes ]; then
	cp "$CONF" "$T/conf.nomail"
	sed -i 's/^Transport = none$/Transport = smtp/' "$CONF"
	cat >>"$CONF" <<EOF

[Mail]
From = $MAIL_SENDER
CAFile = $MAIL_CA

[SMTP]
URL = smtp://127.0.0.1:$SMTPD_PORT
Auth = plain
Username = $MAIL_SENDER
PasswordFile = $MAIL_PASSWORD
EOF
	expect 0 "mail-test sends through SMTP" mail-test alice@example.com
	check "... and says so" out_has "sent a test code to alice@example.com via smtp"
	M=$SMTPD_DIR/msg-1.eml
	check "the SMTP server received it" test -s "$M"
	check "addressed to alice" test "$(py_mail "$M" 'm["To"]')" = alice@example.com
	CODE=$(py_mail "$M" '__import__("re").search(r"\b\d{6}\b", m.get_content()).group(0)')
	check "the mail holds a 6-digit code" eval 'printf "%s" "$CODE" | grep -qxE "[0-9]{6}"'
	check "the code is not printed" not out_has "$CODE"
	expect 2 "mail-test to an invalid address fails" mail-test "jürgen@example.com"
	expect 0 "invite mails the link" invite carol@example.com
	check "... and says so" out_has "invitation mailed to carol@example.com"
	M=$SMTPD_DIR/msg-2.eml
	check "the invitation reached carol" test "$(py_mail "$M" 'm["To"]')" = carol@example.com
	check "... with the link, the token in its fragment" eval 'py_mail "$M" "m.get_content()" | grep -qE "^https://vpn\.example\.com/enrol#[0-9a-f]{64}"'
	expect 0 "totp reset --force carol" totp reset --force carol@example.com

	# An email user: activate mails a code, then takes it.
	expect 0 "activate an email user without --code mails a code" activate bob@example.com --duration 4h
	check "... and says where it went ($OUT)" out_has "Enter the code sent to b"
	M=$SMTPD_DIR/msg-3.eml
	check "the code was mailed to bob" test "$(py_mail "$M" 'm["To"]')" = bob@example.com
	BCODE=$(py_mail "$M" '__import__("re").search(r"\b\d{6}\b", m.get_content()).group(0)')
	wrong=$(printf '%06d' $(( (10#$BCODE + 1) % 1000000 )))
	expect 2 "activate with a wrong emailed code" activate bob@example.com --code "$wrong"
	check "... refused as a wrong code" err_has "wrong code"
	expect 2 "activate with the emailed code (wg-activator down)" activate bob@example.com --code "$BCODE"
	check "... the code was accepted" err_has "code accepted"
	expect 2 "the emailed code cannot be used twice" activate bob@example.com --code "$BCODE"

	echo "not-the-password" >"$MAIL_TMP/wrong-pass"
	chmod 600 "$MAIL_TMP/wrong-pass"
	sed -i "s|^PasswordFile = .*|PasswordFile = $MAIL_TMP/wrong-pass|" "$CONF"
	expect 2 "mail-test with a wrong SMTP password fails in one line" mail-test alice@example.com
	cp "$T/conf.nomail" "$CONF"
fi

# --- deleting users ------------------------------------------------------------------
expect 0 "user del (no live session)" user del carol@example.com
check "carol is gone" test "$(json '"carol@example.com" in d["users"]' <"$T/etc/users.json")" = False

# --- against a real wg-activator ------------------------------------------------------
wg_why=""
if [ "$(id -u)" -ne 0 ]; then
	wg_why="needs root (network namespaces)"
else
	for t in ip wg wireguard-go ping; do
		command -v "$t" >/dev/null 2>&1 || { wg_why="$t not installed"; break; }
	done
	if [ -z "$wg_why" ]; then
		probe="wgotp-probe-$$"
		if ip netns add "$probe" 2>/dev/null; then
			ip netns del "$probe"
		else
			wg_why="cannot create network namespaces here"
		fi
	fi
	[ -z "$wg_why" ] && [ ! -c /dev/net/tun ] && wg_why="/dev/net/tun missing"
	[ -z "$wg_why" ] && [ ! -x "$ACT_BIN" ] && wg_why="wg-activator not built"
fi
if [ -n "$wg_why" ]; then
	skip "activate/deactivate against wg-activator: $wg_why"
elif ! wg_setup; then
	ok 1 "wg_setup (namespaces, wireguard-go)"
else
	W=$WG_TMP/ctl
	OUT=$("$CTL" init --prefix "$W" --interface "$WG_IF_SRV")
	check "init for the tunnel interface" test "$OUT" = "$W/wgotp.conf"
	export WGOTP_CONF=$W/wgotp.conf
	sed -i "s|^AuditLog = .*|AuditLog = $W/audit.log|" "$WGOTP_CONF"
	expect 0 "user add dave" user add dave@example.com --method totp
	expect 0 "device add dave laptop (the client namespace's key)" device add dave@example.com laptop --public-key "$WG_CLI_PUB" --allowed-ips "$WG_CLI_CIDR"
	run totp enroll dave@example.com --no-qr
	DS=$(printf '%s\n' "$OUT" | sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p')
	totp_settle
	expect 0 "dave confirms" totp confirm dave@example.com "$(code_at "$DS" "now - 30 seconds")"
	# wg-activator on the configuration init wrote.
	ACT_CONF=$WGOTP_CONF ACT_LOG=$W/activator.log ACT_SOCK=$W/run/activator.sock
	if act_start; then
		run check-config
		check "check-config sees wg-activator running" eval 'rc_is 0 && out_has "ok       wg-activator   running: interface $WG_IF_SRV"'
		check "no peer before activation" not wg_srv_has_peer "$WG_CLI_PUB"
		totp_settle
		DC=$(code_at "$DS")
		expect 0 "activate dave --code --duration 4h" activate dave@example.com --code "$DC" --duration 4h
		check "... prints the expiry" out_has "activated dave@example.com until"
		check "the peer is on the interface" wg_srv_has_peer "$WG_CLI_PUB"
		check "the client reaches the server through the tunnel" wg_ping_wait 12
		run sessions
		check "sessions: dave's laptop active, about 4h left, origin admin" \
			eval 'printf "%s\n" "$OUT" | grep -qE "^dave@example.com +laptop +active +(4h00m|3h59m) .* admin +Active (4h00m|3h59m)$"'
		check "sessions with wg-activator up gives no warning" test -z "$ERR"
		run sessions --json
		check "sessions --json: from wg-activator, active, origin admin" \
			test "$(echo "$OUT" | json 'd["source"], d["devices"][0]["state"], d["devices"][0]["origin"], 14000 < d["devices"][0]["left"] <= 14400')" = "('wg-activator', 'active', 'admin', True)"
		expect 2 "the same code again through activate is a replay" activate dave@example.com --code "$DC"
		check "... refused as a replay" err_has "replay"
		expect 0 "deactivate dave" deactivate dave@example.com
		check "... ended one session" out_has "ended 1 session of dave@example.com"
		check "the peer is gone at once" not wg_srv_has_peer "$WG_CLI_PUB"
		run sessions
		check "sessions: inactive again" eval 'printf "%s\n" "$OUT" | grep -qE "^dave@example.com +laptop +inactive"'
		expect 0 "deactivate again is not an error" deactivate dave@example.com
		check "... ended 0 sessions" out_has "ended 0 sessions"
		expect 2 "deactivate of an unknown device" deactivate dave@example.com --device phone
		expect 2 "deactivate of an unknown user" deactivate nobody@example.com
		totp_settle
		expect 0 "activate dave's laptop by name with the next code" activate dave@example.com --device laptop --code "$(code_at "$DS" "now + 30 seconds")"
		check "the peer is back" wg_srv_has_peer "$WG_CLI_PUB"
		expect 0 "device del ends the device's session first" device del dave@example.com laptop
		check "... the peer is gone" not wg_srv_has_peer "$WG_CLI_PUB"
		check "the audit log has the admin activation" grep -q 'event=begin origin=admin user="dave@example.com".*result=accept' "$W/audit.log"
		act_stop
	else
		ok 1 "wg-activator starts on the configuration init wrote"
	fi
fi

done_testing
