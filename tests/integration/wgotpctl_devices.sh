#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wgotpctl device add --generate (issue 17): the client config it prints
# is accepted by wg-quick strip, its PNG QR code decodes (zbarimg) to
# exactly that config, and a real wireguard-go client brought up from it
# in a network namespace reaches the server after activation, not before;
# the server key comes from the interface through wg-activator; the
# private key is stored nowhere (config directory, store, logs); 200 adds
# at once get 200 distinct addresses; a full pool is a clear error;
# per-device 2FA: of one user's otp-none and otp-required devices only the
# first is on the interface without a code, also after a restart, and
# device set moves a device on and off at once; badges in sessions.
set -u
: "${top_builddir:?}" "${top_srcdir:?}"
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
CTL="$top_builddir/wgotpctl/wgotpctl"
for t in zbarimg wg-quick python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "1..0 # SKIP $t not installed (build-aux/install-deps)"; exit 0; }
done
wg_require
. "$top_srcdir/tests/integration/lib/tap.sh"
[ -x "$CTL" ] || { echo "Bail out! $CTL not built"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/wgotpctl-dev.XXXXXX")
trap 'wg_cleanup; rm -rf "$T"' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
cat >>"$ACT_CONF" <<CONF

[Network]
Endpoint = 192.168.231.1:$WG_PORT
AddressPool = 10.231.0.0/24
DNS = 10.231.0.1
PersistentKeepalive = 25
CONF
export WGOTP_CONF=$ACT_CONF
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }

run() {
	OUT=$("$CTL" "$@" 2>"$T/stderr")
	RC=$?
	ERR=$(cat "$T/stderr")
	cat "$T/stderr" >>"$T/ctl-stderr.log"	# wgotpctl's log and audit lines
	return 0
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(($1))"; }
devices_of() { json "' '.join(x['name'] for x in d['users']['$1']['devices'])" <"$ACT_USERS"; }

# --- bad input ---------------------------------------------------------
run user add alice@example.com --method email
check "user add alice" test "$RC" = 0
run device add alice@example.com laptop --generate --public-key "$WG_CLI_PUB"
check "--generate with --public-key is a usage error ($ERR)" test "$RC" = 1
run device add alice@example.com laptop
check "neither --generate nor --public-key is a usage error" test "$RC" = 1
run device add alice@example.com laptop --generate --otp sometimes
check "a bad --otp is a usage error" test "$RC" = 1
run device add alice@example.com laptop --public-key "$WG_CLI_PUB" --png "$T/x.png"
check "--png without --generate is a usage error" test "$RC" = 1
check "the refused adds changed nothing" test -z "$(devices_of alice@example.com)"

# --- add --generate ------------------------------------------------------
mkdir -p "$T/out"
run device add alice@example.com laptop --generate --png "$T/out/laptop.png" --svg "$T/out/laptop.svg" \
	--conf "$T/out/laptop.conf"
check "device add --generate exits 0 ($ERR)" test "$RC" = 0
printf '%s\n' "$OUT" >"$T/stdout"
PRIV=$(sed -n 's/^PrivateKey = //p' "$T/stdout")
PUB=$(json "d['users']['alice@example.com']['devices'][0]['public_key']" <"$ACT_USERS")
check "the config has a private key" test -n "$PRIV"
is "$(printf '%s\n' "$PRIV" | wg pubkey)" "$PUB" "users.json keeps the public key of the printed private key"
is "$(json "d['users']['alice@example.com']['devices'][0]['allowed_ips']" <"$ACT_USERS")" "['10.231.0.2/32']" \
	"the first free address of the pool (.1 is the server's)"
check "the config names the address" grep -qx 'Address = 10.231.0.2/32' "$T/out/laptop.conf"
check "the server's key, read from the interface through wg-activator" \
	grep -qx "PublicKey = $WG_SRV_PUB" "$T/out/laptop.conf"
check "the endpoint, AllowedIPs (the pool), DNS and keepalive" eval \
	'grep -qx "Endpoint = 192.168.231.1:$WG_PORT" "$T/out/laptop.conf" && grep -qx "AllowedIPs = 10.231.0.0/24" "$T/out/laptop.conf" && grep -qx "DNS = 10.231.0.1" "$T/out/laptop.conf" && grep -qx "PersistentKeepalive = 25" "$T/out/laptop.conf"'
check "stdout shows the config as --conf wrote it" eval 'printf "%s\n" "$OUT" | head -n "$(wc -l <"$T/out/laptop.conf")" | cmp -s - "$T/out/laptop.conf"'
check "and a QR code in the terminal" eval 'printf "%s\n" "$OUT" | grep -q "█"'
check "--conf, --png and --svg are mode 0600" test "$(stat -c %a "$T/out/laptop.conf" "$T/out/laptop.png" "$T/out/laptop.svg" | sort -u)" = 600
check "the SVG is an SVG" grep -q '<svg xmlns=' "$T/out/laptop.svg"
zbarimg -q --raw "$T/out/laptop.png" >"$T/decoded" 2>/dev/null
# zbarimg ends what it decoded with a newline of its own
check "zbarimg decodes the PNG to exactly the config" eval '{ cat "$T/out/laptop.conf"; echo; } | cmp -s - "$T/decoded"'
check "wg-quick strip accepts the config" eval 'wg-quick strip "$T/out/laptop.conf" >"$T/out/stripped.conf" 2>"$T/strip.err"'
check "and keeps the peer" grep -q "^PublicKey = $WG_SRV_PUB" "$T/out/stripped.conf"

# The private key: printed once, stored nowhere wgotp keeps anything.
PRIV_HEX=$(printf '%s' "$PRIV" | base64 -d | od -An -tx1 | tr -d ' \n')
check "the private key is nowhere under the config directory, the store or the daemon's log" \
	not grep -rqaF -e "$PRIV" -e "$PRIV_HEX" "$WG_TMP/act"
check "nor in wgotpctl's log and audit lines" not grep -qaF "$PRIV" "$T/ctl-stderr.log"
check "wgotpctl's audit line says a device was added" grep -qE 'event=device_add .*user="alice@example.com".*reason="?generated"?.*device="laptop"' "$T/ctl-stderr.log"
run device show alice@example.com laptop --config
check "device show --config exits 0" test "$RC" = 0
check "the template has no private key" eval 'case "$OUT" in *"$PRIV"*) false ;; *"PrivateKey = PRIVATE_KEY_OF_THIS_DEVICE"*) true ;; *) false ;; esac'
check "and the same peer and address" eval 'printf "%s\n" "$OUT" | grep -qx "Address = 10.231.0.2/32" && printf "%s\n" "$OUT" | grep -qx "PublicKey = $WG_SRV_PUB"'

# --- a real client from that config --------------------------------------
check "wg setconf takes the stripped config on the client" wg setconf "$WG_IF_CLI" "$T/out/stripped.conf"
check "the client cannot reach the server before activation" not wg_ping
check "the device's peer is not on the server yet" not wg_srv_has_peer "$PUB"
act_client activate alice@example.com laptop 30 >/dev/null
ok $? "activate alice/laptop"
check "the client from the generated config reaches the server" wg_ping_wait 12
run sessions
check "sessions: laptop's badge is Active" eval 'printf "%s\n" "$OUT" | grep -E "^alice@example.com +laptop " | grep -qE "Active [0-9]+s$"'
act_client deactivate alice@example.com >/dev/null
check "after deactivation it cannot" not wg_ping

# --- per-device 2FA --------------------------------------------------------
read -r _ BOX_PUB <<<"$(wg_keypair)"
read -r _ PC_PUB <<<"$(wg_keypair)"
run user add bob@example.com --method email
run device add bob@example.com box --public-key "$BOX_PUB" --otp none
check "bob's box: otp none ($OUT)" test "$RC" = 0
run device add bob@example.com pc --public-key "$PC_PUB" --otp required
check "bob's pc: otp required" test "$RC" = 0
check "the otp-none device is on the interface without a code" wg_srv_has_peer "$BOX_PUB"
check "the otp-required device is not" not wg_srv_has_peer "$PC_PUB"
run sessions
check "sessions: box's badge is No 2FA" eval 'printf "%s\n" "$OUT" | grep -E "^bob@example.com +box " | grep -q "No 2FA$"'
check "sessions: pc's badge is Inactive" eval 'printf "%s\n" "$OUT" | grep -E "^bob@example.com +pc " | grep -q "Inactive$"'
run --json sessions
check "sessions --json carries the badge" eval 'printf "%s\n" "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); b={(x[\"user\"],x[\"device\"]): x[\"badge\"] for x in d[\"devices\"]}; sys.exit(0 if b[(\"bob@example.com\",\"box\")]==\"No 2FA\" and b[(\"bob@example.com\",\"pc\")]==\"Inactive\" else 1)"'
act_stop
wg set "$WG_IF_SRV" peer "$PC_PUB" allowed-ips 10.231.0.99/32	# as if left behind
act_start || { echo "Bail out! wg-activator did not restart"; exit 1; }
for i in $(seq 1 50); do wg_srv_has_peer "$PC_PUB" || break; sleep 0.1; done
check "after a restart and reconcile: the box is still there" wg_srv_has_peer "$BOX_PUB"
check "the pc is not (its stray peer removed)" not wg_srv_has_peer "$PC_PUB"
run activate bob@example.com --device box
check "activate of an otp-none device needs no code ($OUT)" eval 'test "$RC" = 0 && case "$OUT" in *"needs no OTP"*) true ;; *) false ;; esac'
run device set bob@example.com pc --otp none
check "device set pc --otp none" test "$RC" = 0
check "the pc is on the interface at once" wg_srv_has_peer "$PC_PUB"
run device set bob@example.com pc --otp required
check "device set pc --otp required" test "$RC" = 0
check "the pc leaves the interface at once" not wg_srv_has_peer "$PC_PUB"
check "the box stays" wg_srv_has_peer "$BOX_PUB"
check "device set is audited" grep -qE 'event=device_set .*user="bob@example.com".*reason="?otp=required"?.*device="pc"' "$T/ctl-stderr.log"
run user set bob@example.com --otp none
check "user set --otp none (the default of devices without their own)" test "$RC" = 0
check "pc keeps its own setting" not wg_srv_has_peer "$PC_PUB"
is "$(json "d['users']['bob@example.com']['require_otp']" <"$ACT_USERS")" "False" "require_otp is false in users.json"
run user set bob@example.com --method totp
check "user set --method totp" eval 'test "$RC" = 0 && case "$OUT" in *"totp enroll"*) true ;; *) false ;; esac'
check "user set is audited" grep -qE 'event=user_set .*user="bob@example.com".*reason=method_totp ' "$T/ctl-stderr.log"
run user set bob@example.com --otp maybe
check "user set --otp maybe is a usage error" test "$RC" = 1
run device rename bob@example.com box router
check "device rename" test "$RC" = 0
is "$(devices_of bob@example.com)" "router pc" "the device has its new name"
check "a renamed otp-none device stays on the interface" wg_srv_has_peer "$BOX_PUB"
run device rename bob@example.com router pc
check "rename onto an existing name is refused" test "$RC" = 2
run user disable bob@example.com
check "user disable" test "$RC" = 0
check "a disabled user's otp-none device leaves the interface at once" not wg_srv_has_peer "$BOX_PUB"
is "$(json "[x.get('otp') for x in d['users']['bob@example.com']['devices']]" <"$ACT_USERS")" "['none', 'required']" \
	"the devices keep their own 2FA setting"
run user enable bob@example.com
check "enabled again: it is back at once" wg_srv_has_peer "$BOX_PUB"
run device del bob@example.com router
check "device del of an otp-none device" test "$RC" = 0
check "its peer is gone at once (no key left behind that reconcile would never touch)" not wg_srv_has_peer "$BOX_PUB"
read -r _ SVC_PUB <<<"$(wg_keypair)"
run user add svc@example.com --no-otp
run device add svc@example.com box --public-key "$SVC_PUB"
check "a no-OTP user's device (the old way) is on the interface" wg_srv_has_peer "$SVC_PUB"
run user del svc@example.com
check "user del: its peer is gone at once" eval 'test "$RC" = 0 && ! wg_srv_has_peer "$SVC_PUB"'

# --- addresses: 200 at once, a full pool ------------------------------------
mkdir -p "$T/par"
cat >"$T/par/wgotp.conf" <<CONF
[General]
Directory = users.json
ServerKeyFile = server.key
AuditLog = stderr
[Store]
Path = state.db
[Activator]
Socket = none.sock
[Network]
Endpoint = vpn.example.com:51820
AddressPool = 10.50.0.0/16, fd00:50::/64
ServerPublicKey = $WG_SRV_PUB
CONF
(umask 077; head -c 32 /dev/urandom >"$T/par/server.key")
echo '{ "version": 1, "users": {} }' >"$T/par/users.json"
export WGOTP_CONF="$T/par/wgotp.conf"
"$CTL" user add par@example.com --method email >/dev/null
for i in $(seq 1 200); do wg genkey | wg pubkey; done >"$T/par/keys"
i=0
pids=""
while read -r k; do
	i=$((i + 1))
	"$CTL" device add par@example.com "d$i" --public-key "$k" >/dev/null 2>>"$T/par/err" &
	pids="$pids $!"
done <"$T/par/keys"
# shellcheck disable=SC2086
wait $pids	# not a bare wait: wireguard-go and wg-activator run in the background
is "$(json "len(d['users']['par@example.com']['devices'])" <"$T/par/users.json")" 200 "200 parallel adds: 200 devices"
is "$(json "len({x['allowed_ips'][0] for x in d['users']['par@example.com']['devices']})" <"$T/par/users.json")" 200 \
	"200 distinct IPv4 addresses"
is "$(json "len({x['allowed_ips'][1] for x in d['users']['par@example.com']['devices']})" <"$T/par/users.json")" 200 \
	"200 distinct IPv6 addresses"
is "$(json "sorted(int(x['allowed_ips'][0].split('.')[3].split('/')[0]) + 256 * int(x['allowed_ips'][0].split('.')[2]) for x in d['users']['par@example.com']['devices']) == list(range(2, 202))" <"$T/par/users.json")" True \
	"the lowest 200 free host numbers, none skipped"
check "no add failed (only audit lines on stderr)" not grep -qv 'wgotp-audit event=device_add ' "$T/par/err"
is "$(grep -c 'event=device_add' "$T/par/err")" 200 "200 audit lines"

sed -i 's|^AddressPool = .*|AddressPool = 10.60.0.0/30|' "$T/par/wgotp.conf"
read -r _ K1 <<<"$(wg_keypair)"
read -r _ K2 <<<"$(wg_keypair)"
run device add par@example.com small1 --public-key "$K1"
check "a /30 pool has one client address" eval 'test "$RC" = 0 && case "$OUT" in *10.60.0.2/32*) true ;; *) false ;; esac'
cp "$T/par/users.json" "$T/par/before.json"
run device add par@example.com small2 --public-key "$K2"
check "the next add: a full pool is an error ($ERR)" eval 'test "$RC" = 2 && case "$ERR" in *"AddressPool 10.60.0.0/30 is full"*) true ;; *) false ;; esac'
check "which changed nothing" cmp -s "$T/par/users.json" "$T/par/before.json"
run device add par@example.com small2 --generate
check "--generate with a full pool fails too" test "$RC" = 2
check "and still changed nothing" cmp -s "$T/par/users.json" "$T/par/before.json"
sed -i -e 's|^AddressPool = .*|AddressPool = 10.70.0.0/24|' -e '/^Endpoint = /d' "$T/par/wgotp.conf"
run device add par@example.com small2 --generate
check "--generate without [Network] Endpoint is an error ($ERR)" eval 'test "$RC" = 2 && case "$ERR" in *"Endpoint is not set"*) true ;; *) false ;; esac'
check "checked before anything changed" cmp -s "$T/par/users.json" "$T/par/before.json"
sed -i -e '/^ServerPublicKey = /d' "$T/par/wgotp.conf"
printf 'Endpoint = vpn.example.com:51820\n' >>"$T/par/wgotp.conf"
run device add par@example.com small2 --generate
check "no ServerPublicKey and no wg-activator: an error ($ERR)" eval 'test "$RC" = 2 && case "$ERR" in *"ServerPublicKey is not set and wg-activator does not answer"*) true ;; *) false ;; esac'
check "which changed nothing" cmp -s "$T/par/users.json" "$T/par/before.json"

done_testing
