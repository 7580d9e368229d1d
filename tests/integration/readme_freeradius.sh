#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The README's FreeRADIUS steps on a stock Debian 12 freeradius, as a new
# admin would run them: a copy of the machine's /etc/freeradius/3.0 (the
# real one is only read), our raddb files installed into it by `make
# install` (raddbdir pointed at the copy), then the shell block under
# "## FreeRADIUS (rlm_wgotp)" in README.md, parsed out of README.md and run
# as written except that /etc/freeradius/3.0 names the copy. Debian's
# `default` site stays enabled. The NAS is the client example at the end
# of sites-available/wgotp. Then `freeradius -XC` and `freeradius -X` on the
# copy must start, and answer a wgotp login from the NAS.
#
# Changed in the copy only, for the test and not by the README: the ports
# of Debian's listeners (default: 1812/1813 -> free ports; inner-tunnel:
# 18120 -> a free port), libdir (our rlm_wgotp.so is installed next to the
# copy), logdir, and the module's `config =` (a wgotp.conf written by
# `wgotpctl init --prefix`, as /etc/wgotp is not ours to write).
#
# Needs root (freeradius changes to user freerad) and Debian's freeradius;
# SKIP otherwise.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/tests/integration/lib/tap.sh"

STOCK=/etc/freeradius/3.0
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root (freeradius runs as freerad)"
FR=$(command -v freeradius 2>/dev/null || echo /usr/sbin/freeradius)
[ -x "$FR" ] || skip_all "freeradius not installed (Debian: freeradius)"
[ -f "$STOCK/radiusd.conf" ] || skip_all "no stock $STOCK"
getent passwd freerad >/dev/null || skip_all "no freerad user"
for t in radclient oathtool ss wg; do
	command -v "$t" >/dev/null 2>&1 || skip_all "$t not installed (build-aux/install-deps)"
done
[ -f "$top_builddir/rlm_wgotp/Makefile" ] || skip_all "rlm_wgotp is not configured (--disable-rlm)"

D=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-readme-fr.XXXXXX")
FR_PID='' ACT_PID=''
cleanup() {
	local p
	for p in $FR_PID $ACT_PID; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
chmod 755 "$D"		# freerad reads the copy and the wgotp files below it
C=$D/raddb
CTL=$top_builddir/wgotpctl/wgotpctl

# The README's block: the first ```sh fence after the FreeRADIUS heading.
readme_block() {
	awk -v h="$1" '
		$0 == h { in_sec = 1; next }
		in_sec && /^## / { exit }
		in_sec && !in_blk && /^```sh$/ { in_blk = 1; next }
		in_blk && /^```$/ { exit }
		in_blk { print }' "$top_srcdir/README.md"
}

# Three free UDP ports in a row (auth, acct, inner-tunnel), IPv4 and IPv6.
free_ports() {
	local p _i k busy
	for _i in $(seq 1 20); do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
		busy=0
		for k in 0 1 2; do
			ss -Hlun "sport = :$((p + k))" | grep -q . && busy=1
		done
		[ $busy = 0 ] && { echo "$p"; return 0; }
	done
	return 1
}

# A request from the NAS (127.0.0.2, the example client): the reply's code
# in RC_CODE, the whole exchange in $D/last.out.
send() {
	local type=$1 attrs=$2 port=$3 secret=${4:-$NAS_SECRET} src=${5:-127.0.0.2}
	printf '%s, Packet-Src-IP-Address = %s\n' "$attrs" "$src" |
		radclient -d "$C" -D /usr/share/freeradius -x -r 1 -t 3 "127.0.0.1:$port" "$type" "$secret" \
		>"$D/last.out" 2>&1
	RC_CODE=$(sed -n 's/^Received \([A-Za-z-]*\) .*/\1/p' "$D/last.out" | head -n 1)
	[ -n "$RC_CODE" ] || RC_CODE=none
}

plan 22

BLOCK=$(readme_block '## FreeRADIUS (rlm_wgotp)')
printf '%s\n' "$BLOCK" | grep -q "$STOCK"
ok $? "README.md has the FreeRADIUS shell block, naming $STOCK"
printf '%s\n' "$BLOCK" | sed 's/^/#   /'

# rlm_wgotp(8) gives the same steps.
MAN=$(groff -man -Tascii -P-cbou "$top_srcdir/doc/rlm_wgotp.8" 2>/dev/null |
	awk '/^SETUP/ { s = 1; next } s && /^[A-Z]/ { exit } s && /^         +[^ ]/ { sub(/^ +/, ""); print }')
is "$MAN" "$BLOCK" "rlm_wgotp(8) SETUP has the README's steps"

cp -a "$STOCK" "$C"
[ -e "$C/sites-enabled/default" ] && [ -e "$C/sites-enabled/inner-tunnel" ]
ok $? "the copy of the stock configuration has Debian's default and inner-tunnel sites enabled"

# Our files, where `sudo make install` puts them (the module next to the
# copy instead of /usr/lib/freeradius).
env -u MAKEFLAGS -u MFLAGS "${MAKE:-make}" -s -C "$top_builddir/rlm_wgotp" install \
	raddbdir="$C" rlmdir="$D/lib" >"$D/make.out" 2>&1
ok $? "make install puts the module and the raddb files into the copy"
[ -f "$D/lib/rlm_wgotp.so" ] && [ -f "$C/sites-available/wgotp" ] && [ -f "$C/dictionary.wgotp" ]
ok $? "... rlm_wgotp.so, sites-available/wgotp and dictionary.wgotp are there"

# The README's steps, as written, on the copy.
printf '%s\n' "$BLOCK" | sed "s|$STOCK|$C|g" >"$D/steps.sh"
(cd / && sh -e "$D/steps.sh") >"$D/steps.out" 2>&1
ok $? "the README's steps run"
sed 's/^/# /' "$D/steps.out"
[ -L "$C/mods-enabled/wgotp" ] && [ -L "$C/sites-enabled/wgotp" ] && [ -e "$C/sites-enabled/default" ] &&
	grep -qx '$INCLUDE dictionary.wgotp' "$C/dictionary"
ok $? "... the module and the site are enabled, the dictionary included, default still enabled"

# The test's own changes to the copy (see the header).
P=$(free_ports) || { echo "Bail out! no free ports"; exit 1; }
AUTH=$P ACCT=$((P + 1)) INNER=$((P + 2))
# map_ports SITE: its listeners' standard ports become the test's (port = 0
# is the standard port of the listener's type). Applied to every enabled site.
map_ports() {
	local f
	f=$(readlink -f "$1")
	awk -v auth="$AUTH" -v acct="$ACCT" -v inner="$INNER" '
		function flush(  i, v) {
			for (i = 0; i < n; i++) {
				if (buf[i] ~ /^[[:space:]]*port[[:space:]]*=/) {
					v = buf[i]; sub(/^[^=]*=[[:space:]]*/, "", v); sub(/[[:space:]#].*/, "", v)
					if (v == "0") v = (type == "acct" ? acct : auth)
					else if (v == "1812") v = auth
					else if (v == "1813") v = acct
					else if (v == "18120") v = inner
					sub(/=.*/, "= " v, buf[i])
				}
				print buf[i]
			}
			n = 0
		}
		!depth && /^[[:space:]]*listen[[:space:]]*\{/ { depth = 0; type = ""; n = 0; inl = 1 }
		inl {
			buf[n++] = $0
			if ($0 ~ /^[[:space:]]*type[[:space:]]*=/) { type = $0; sub(/^[^=]*=[[:space:]]*/, "", type); sub(/[[:space:]#].*/, "", type) }
			t = $0; sub(/#.*/, "", t)
			depth += gsub(/\{/, "{", t) - gsub(/\}/, "}", t)
			if (depth <= 0) { flush(); inl = 0; depth = 0 }
			next
		}
		{ print }' "$f" >"$D/site.tmp" && cat "$D/site.tmp" >"$f"
}
for f in "$C"/sites-enabled/*; do
	map_ports "$f"
done
mkdir -p "$D/log"
chown freerad "$D/log"
sed -i -e "s|^libdir = .*|libdir = /usr/lib/freeradius:$D/lib|" -e "s|^logdir = .*|logdir = $D/log|" \
	"$C/radiusd.conf"

# wgotp's side: a configuration, a TOTP user enrolled by wgotpctl.
W=$D/wgotp
"$CTL" init --prefix "$W" --group freerad --interface wgtest0 >/dev/null
sed -i "s|^AuditLog = .*|AuditLog = $D/audit.log|" "$W/wgotp.conf"
install -m 0660 -g freerad /dev/null "$D/audit.log"
sed -i "s|^\([[:space:]]*\)config = /etc/wgotp/wgotp.conf|\1config = $W/wgotp.conf|" "$C/mods-available/wgotp"
ALICE=alice@example.com
PUB=$(wg genkey | wg pubkey)
"$CTL" -c "$W/wgotp.conf" user add "$ALICE" --method totp >/dev/null &&
	"$CTL" -c "$W/wgotp.conf" device add "$ALICE" laptop --public-key "$PUB" --allowed-ips 10.8.0.2/32 >/dev/null &&
	SECRET=$("$CTL" -c "$W/wgotp.conf" totp enroll "$ALICE" --no-qr | sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p') &&
	"$CTL" -c "$W/wgotp.conf" totp confirm "$ALICE" "$(oathtool --totp -b "$SECRET")" >/dev/null
ok $? "wgotpctl init, user add, device add, totp enroll and confirm"

# wg-activator, with a stand-in for wg(8) that keeps the interface's peers
# in a file (this test is about FreeRADIUS, not WireGuard).
cat >"$D/wg" <<WG
#!/bin/sh
# wg show IF peers | wg set IF peer KEY allowed-ips IPS | peer KEY remove
peers=$D/peers
touch "\$peers"
[ "\$1" = show ] && { cat "\$peers"; exit 0; }
shift 2
while [ \$# -gt 1 ]; do
	key=\$2; shift 2
	grep -vxF "\$key" "\$peers" >"\$peers.new"
	if [ "\$1" = allowed-ips ]; then echo "\$key" >>"\$peers.new"; shift; fi
	shift
	mv "\$peers.new" "\$peers"
done
WG
chmod 755 "$D/wg"
printf 'Backend = wg\nWgCommand = %s\n' "$D/wg" >"$D/act.conf"
sed -i "/^\[Activator\]/r $D/act.conf" "$W/wgotp.conf"
"$top_builddir/wg-activator/wg-activator" -c "$W/wgotp.conf" -f >"$D/activator.log" 2>&1 &
ACT_PID=$!
for _i in $(seq 1 100); do
	[ -S "$W/run/activator.sock" ] && break
	sleep 0.1
done
[ -S "$W/run/activator.sock" ]
ok $? "wg-activator runs"

# The NAS: the example at the end of sites-available/wgotp, uncommented,
# with the test's address and secret.
NAS_SECRET=readme-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
sed -n '/^#client /,/^#}/ s/^#//p' "$C/sites-available/wgotp" |
	sed -e "s|^\([[:space:]]*ipaddr = \).*|\1127.0.0.2|" -e "s|^\([[:space:]]*secret = \).*|\1$NAS_SECRET|" \
	>"$D/nas.conf"
grep -q 'virtual_server = wgotp' "$D/nas.conf" && grep -q 'require_message_authenticator = yes' "$D/nas.conf"
ok $? "sites-available/wgotp ends with a client example: virtual_server = wgotp, Message-Authenticator required"
cat "$D/nas.conf" >>"$C/clients.conf"

"$FR" -XC -d "$C" >"$D/xc.out" 2>&1
check "freeradius -XC accepts the configuration" grep -q 'Configuration appears to be OK' "$D/xc.out"

"$FR" -X -d "$C" >"$D/x.out" 2>&1 &
FR_PID=$!
ready=1
for _i in $(seq 1 150); do
	grep -q 'Ready to process requests' "$D/x.out" && { ready=0; break; }
	kill -0 "$FR_PID" 2>/dev/null || break
	sleep 0.1
done
ok $ready "freeradius -X starts, the default site still enabled"
if [ $ready != 0 ]; then
	grep -i 'error\|failed' "$D/x.out" | tail -n 5 | sed 's/^/# /'
	echo "Bail out! freeradius did not start"
	exit 1
fi
grep -q "Listening on auth address \* port $AUTH bound to server default" "$D/x.out"
ok $? "... Debian's default site holds the auth port (the wgotp site takes clients, not a port)"

send auth "User-Name = \"$ALICE\", User-Password = \"\", Message-Authenticator = 0x00" "$AUTH"
is "$RC_CODE" Access-Challenge "the NAS's Access-Request goes to the wgotp site: a challenge"
grep -q 'Reply-Message = "Enter' "$D/last.out"
ok $? "... with the module's prompt"

send auth "User-Name = \"$ALICE\", User-Password = \"$(oathtool --totp -b -N 'now + 30 seconds' "$SECRET")\", Message-Authenticator = 0x00" "$AUTH"
is "$RC_CODE" Access-Accept "a TOTP code as the password: Access-Accept"
grep -qxF "$PUB" "$D/peers" 2>/dev/null
ok $? "... and wg-activator added the device's peer"

grep -q "event=answer origin=radius user=\"$ALICE\" client=\"127.0.0.2\" method=totp result=accept\|event=begin origin=radius user=\"$ALICE\" client=\"127.0.0.2\" method=totp result=accept" "$D/audit.log"
ok $? "... written to the audit log with origin=radius and the NAS's address"
grep -qvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z wgotp-audit event=' "$D/audit.log"
ok $((!$?)) "every line of the audit log (wgotpctl's, freeradius's) starts with its UTC time"

# A client without virtual_server (Debian's localhost, testing123) stays
# with the default site: wgotp never sees its requests.
n=$(wc -l <"$D/audit.log")
send auth "User-Name = \"bob\", User-Password = \"123456\", Message-Authenticator = 0x00" "$AUTH" testing123 127.0.0.1
[ "$RC_CODE" = Access-Reject ] && [ "$(wc -l <"$D/audit.log")" = "$n" ]
ok $? "Debian's localhost client is still served by the default site, not by wgotp"

# sites-available/wgotp-password (the README's "password first" site) may
# be enabled beside both: it opens no port either. Its module instance is
# the one its header asks for.
kill "$FR_PID" 2>/dev/null
wait "$FR_PID" 2>/dev/null
FR_PID=
sed -n '/^#	wgotp wgotp_password {/,/^#	}/ s/^#	//p' "$C/sites-available/wgotp-password" |
	sed "s|config = /etc/wgotp/wgotp.conf|config = $W/wgotp.conf|" >"$C/mods-enabled/wgotp_password"
ln -s ../sites-available/wgotp-password "$C/sites-enabled/wgotp-password"
map_ports "$C/sites-enabled/wgotp-password"
grep -q 'single_pass = no' "$C/mods-enabled/wgotp_password" && "$FR" -XC -d "$C" >"$D/xc2.out" 2>&1
ok $? "wgotp-password enabled too (its wgotp_password instance from its header): freeradius -XC"
"$FR" -X -d "$C" >"$D/x2.out" 2>&1 &
FR_PID=$!
ready=1
for _i in $(seq 1 150); do
	grep -q 'Ready to process requests' "$D/x2.out" && { ready=0; break; }
	kill -0 "$FR_PID" 2>/dev/null || break
	sleep 0.1
done
ok $ready "... and freeradius -X starts with the three sites"
[ $ready = 0 ] || grep -i 'error\|failed' "$D/x2.out" | tail -n 5 | sed 's/^/# /'
