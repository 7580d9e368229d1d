#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wgotp-dird over its real unix socket, with real callers: the uid check
# is SO_PEERCRED's (a process of another uid in the socket's group gets
# "forbidden", one outside the group cannot even connect), a stale socket
# is replaced at start, one request a connection, an idle caller is cut
# after 2 s and does not hold the next one up, a message over 4096 bytes
# is refused; then an invitation of wgotpctl opened and confirmed through
# the socket with oathtool's code, as the portal does, and a replayed
# code and the reused link refused. As root (SKIP otherwise).
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/tests/integration/lib/tap.sh"

[ "$(id -u)" -eq 0 ] || { echo "1..0 # SKIP needs root (callers of other uids)"; exit 0; }
for t in oathtool setpriv /usr/bin/python3; do
	command -v "$t" >/dev/null || { echo "1..0 # SKIP $t not installed"; exit 0; }
done
DIRD=$top_builddir/wgotp-dird/wgotp-dird
CTL=$top_builddir/wgotpctl/wgotpctl
T=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-dird.XXXXXX")
chmod 755 "$T"
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT

CONF=$("$CTL" init --prefix "$T/etc" --interface wg0) || { echo "Bail out! wgotpctl init"; exit 1; }
SOCK=$T/etc/run/dird.sock
chmod 755 "$T/etc/run"
cat >>"$CONF" <<CONF

[Dird]
Socket = $SOCK
AllowedUsers = root
AllowedGroups = nogroup
InviteLifetime = 1h

[Portal]
PublicURL = https://vpn.example.com
CONF
"$CTL" -c "$CONF" user add dave@example.com --method totp >/dev/null

# call [AS-UID] TEXT: one line to the socket, the reply line on stdout
call() {
	local pre=()
	if [ "$1" = --as ]; then pre=(setpriv --reuid="$2" --regid=nogroup --clear-groups); shift 2; fi
	"${pre[@]}" /usr/bin/python3 - "$SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect: %s" % e.strerror); sys.exit(0)
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(4096)
    if not d: break
    buf += d
print(buf.decode().strip())
PY
}
err_of() { python3 -c 'import json,sys; j=json.loads(sys.stdin.read() or "{}"); print(j.get("error", "ok" if j.get("ok") else "?"))'; }

# a stale socket from a killed daemon
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK"
"$DIRD" -c "$CONF" -f >"$T/dird.log" 2>&1 &
PID=$!
for _i in $(seq 1 50); do call '{"version":1,"op":"ping"}' 2>/dev/null | grep -q '"ok":true' && break; sleep 0.1; done
is "$(call '{"version":1,"op":"ping"}' | err_of)" ok "it replaces a stale socket and answers root's ping"
is "$(stat -c '%a %G' "$SOCK")" "660 nogroup" "the socket is 0660, group the first AllowedGroups entry"
is "$(call --as nobody '{"version":1,"op":"ping"}' | err_of)" ok "a caller in AllowedGroups (nobody, group nogroup) is allowed"
# restarted with nogroup no longer allowed: the socket's group is then
# changed by hand so that nobody can still connect, and only the daemon's
# SO_PEERCRED check stands in the way
kill "$PID"; wait "$PID" 2>/dev/null
sed -i 's/^AllowedGroups = nogroup$/AllowedGroups = root/' "$CONF"
"$DIRD" -c "$CONF" -f >>"$T/dird.log" 2>&1 &
PID=$!
for _i in $(seq 1 50); do [ -S "$SOCK" ] && call '{"version":1,"op":"ping"}' | grep -q ok && break; sleep 0.1; done
chgrp nogroup "$SOCK"
is "$(call --as nobody '{"version":1,"op":"ping"}' | err_of)" forbidden "a uid outside AllowedUsers/AllowedGroups gets forbidden (SO_PEERCRED)"
check "... and the refusal is logged with its uid" grep -q 'refused uid=65534' "$T/dird.log"
chgrp root "$SOCK"
out=$(call --as nobody '{"version":1,"op":"ping"}')
check "one outside the socket's group cannot connect at all ($out)" grep -q 'connect: Permission denied' <<<"$out"

# an idle caller is cut after 2 s; the next one is served after it
/usr/bin/python3 - "$SOCK" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(4)
PY
idle=$!
sleep 0.3
t0=$(date +%s%N)
r=$(call '{"version":1,"op":"ping"}' | err_of)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$r" ok "a caller behind an idle one is served"
check "... within the idle cut of 2 s ($ms ms)" test "$ms" -lt 2600
wait "$idle"
big=$(python3 -c 'print("{\"version\":1,\"op\":\"ping\",\"x\":\"" + "a" * 5000 + "\"}")')
is "$(call "$big" | err_of)" too_large "a message over 4096 bytes is refused"
is "$(call '{"version":1,"op":"ping"} {"version":1,"op":"ping"}' | err_of)" bad_json "two objects on one line are refused"

# the portal's requests, through the socket
LINK=$("$CTL" -c "$CONF" invite dave@example.com --print)
TOKEN=${LINK##*#}
r=$(call "{\"version\":1,\"op\":\"invite_open\",\"token\":\"$TOKEN\"}")
is "$(err_of <<<"$r")" ok "invite_open with wgotpctl's token"
SECRET=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$r")
check "... gives a base32 secret" grep -qE '^[A-Z2-7]{32}$' <<<"$SECRET"
is "$(call "{\"version\":1,\"op\":\"invite_open\",\"token\":\"$TOKEN\"}" | err_of)" used "the link opened again: used"
CODE=$(oathtool --totp -b "$SECRET")
is "$(call "{\"version\":1,\"op\":\"totp_confirm\",\"token\":\"$TOKEN\",\"code\":\"$CODE\"}" | err_of)" ok "totp_confirm with oathtool's code"
check "wgotpctl user show: totp active" eval '"$CTL" -c "$CONF" user show dave@example.com | grep -q "^totp: *active"'
is "$(call "{\"version\":1,\"op\":\"totp_disable\",\"user\":\"dave@example.com\",\"code\":\"$CODE\"}" | err_of)" replay "the same code cannot disable it (replay)"
is "$(call "{\"version\":1,\"op\":\"totp_confirm\",\"token\":\"$TOKEN\",\"code\":\"$CODE\"}" | err_of)" bad_token "the used link is dead"
check "the audit lines name the caller's uid" grep -q 'event=totp_confirm origin=portal user="dave@example.com" client="uid=0" method=totp result=accept' "$T/dird.log"
check "no token and no secret in the log" not grep -q -e "$TOKEN" -e "$SECRET" "$T/dird.log"
kill "$PID"
wait "$PID" 2>/dev/null
ok $? "SIGTERM stops it"
check "... and it removes its socket" test ! -e "$SOCK"
PID=
done_testing
