#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# wg-activator's control socket under bad input and load: every refusal
# gets a clear error reply, changes nothing, and the daemon keeps serving;
# SO_PEERCRED refusals; a second daemon; 50 concurrent clients.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
wg_require

. "$top_srcdir/tests/integration/lib/tap.sh"

trap 'wg_cleanup' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
users="$(act_user alice@example.com laptop "$WG_CLI_PUB" "$WG_CLI_CIDR")"
N=50
for i in $(seq 1 $N); do
	read -r _ k <<<"$(wg_keypair)"
	users="$users, $(act_user "u$i@example.com" dev "$k" "10.232.$((i / 200)).$((i % 200 + 1))/32")"
done
act_users "$users"
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }

A='"version":1,"op":"activate","user":"alice@example.com"'
# refused REQUEST EXPECTED-ERROR DESCRIPTION
refused() {
	local reply before after
	before=$(wg_srv_peer_count)
	reply=$(act_send "$1")
	after=$(wg_srv_peer_count)
	case "$reply" in
	*'"ok":false'*"\"error\":\"$2\""*)
		if [ "$before" = "$after" ] && [ -z "$(act_client list)" ]; then
			ok 0 "$3: $2"
		else
			ok 1 "$3: something changed ($before -> $after peers)"
		fi ;;
	*) ok 1 "$3: expected $2, got: ${reply:0:200}" ;;
	esac
}
refused '{"version":1,"op":' bad_json "truncated JSON"
refused 'hello' bad_json "not JSON"
refused '[1,2]' bad_json "not an object"
refused '{"version":1,"op":"ping"} x' bad_json "text after the object"
refused '{"op":"ping"}' bad_version "no version"
refused '{"version":2,"op":"ping"}' bad_version "wrong version"
refused '{"version":"1","op":"ping"}' bad_version "version as a string"
refused '{"version":1}' unknown_op "no op"
refused '{"version":1,"op":"reboot"}' unknown_op "unknown op"
refused '{"version":1,"op":"activate"}' bad_request "activate without user"
refused "{$A,\"colour\":\"red\"}" bad_request "unknown field"
refused "{$A,\"device\":\"laptop\",\"public_key\":\"$WG_CLI_PUB\"}" bad_request "device and key together"
refused "{$A,\"public_key\":\"not-a-key\"}" bad_key "invalid key"
refused "{$A,\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}" bad_key "key of 43 characters"
refused "{$A,\"device\":\"laptop\",\"allowed_ips\":[\"10.0.0.300/32\"]}" bad_cidr "invalid CIDR"
refused "{$A,\"device\":\"laptop\",\"allowed_ips\":[\"10.0.0.1/24\"]}" bad_cidr "CIDR with host bits"
refused "{$A,\"device\":\"laptop\",\"allowed_ips\":[\"10.231.0.3/32\"]}" bad_cidr "CIDR not the device's"
refused "{$A,\"device\":\"phone\"}" unknown_device "unknown device"
refused "{$A,\"public_key\":\"$(wg genkey | wg pubkey)\"}" unknown_device "key of no device of the user"
refused '{"version":1,"op":"activate","user":"mallory@example.com"}' unknown_user "unknown user"
refused "{$A,\"duration\":90000}" bad_duration "duration over MaxDuration"
refused "{$A,\"duration\":-5}" bad_duration "negative duration"
refused "{$A,\"duration\":\"8h\"}" bad_duration "duration as a string"
refused '{"version":1,"op":"deactivate","user":"alice@example.com","device":"phone"}' unknown_device "deactivate an unknown device"

reply=$(act_send '{"version":1,"op":"ping","id":"abc"}')
check "the id is echoed" eval 'case "$reply" in *"\"id\":\"abc\""*) true ;; *) false ;; esac'

# Over 64 KiB without a newline: too_large, then the connection closes.
reply=$(python3 - "$ACT_SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
try:
    s.sendall(b'{"version":1,"op":"ping","id":"' + b"x" * 70000 + b'"}\n')
except OSError:
    pass
buf = b""
while True:
    try:
        d = s.recv(65536)
    except OSError:
        break
    if not d:
        break
    buf += d
print(buf.decode().strip())
PY
)
check "a message over 64 KiB: too_large" eval 'case "$reply" in *"\"error\":\"too_large\""*) true ;; *) false ;; esac'

# Several requests on one connection are answered in order.
reply=$(act_send '{"version":1,"op":"ping","id":1}' '{"version":1,"op":"ping","id":2}' | tr -d '\n')
check "pipelined requests answered in order" eval 'case "$reply" in *"\"id\":1"*"\"id\":2"*) true ;; *) false ;; esac'

# SO_PEERCRED: uid 65534 with gid 0 may open the 0660 root:root socket,
# but is in neither AllowedUsers nor AllowedGroups. (The directories are
# made traversable and the configuration readable for it.)
chmod 711 "$WG_TMP" "$ACT_DIR"
install -m 644 "$ACT_CONF" "$ACT_DIR/client.conf"
out=$(setpriv --reuid=65534 --regid=0 --clear-groups "$ACT_CLIENT" -c "$ACT_DIR/client.conf" ping 2>&1)
check "a uid not allowed is refused ($out)" eval 'case "$out" in EACCES*forbidden*) true ;; *) false ;; esac'
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$ACT_CLIENT" -c "$ACT_DIR/client.conf" ping 2>&1)
check "the socket mode keeps other users out ($out)" eval 'case "$out" in EACCES*) true ;; *) false ;; esac'
check "socket mode is 0660" test "$(stat -c %a "$ACT_SOCK")" = 660

# A second daemon on the same socket refuses to start.
"$ACT_BIN" -c "$ACT_CONF" -f >"$WG_TMP/second.log" 2>&1
ok $(( $? == 0 )) "a second daemon refuses to start"
check "... saying why" grep -q "another wg-activator" "$WG_TMP/second.log"
check "the first still serves" eval 'act_client ping >/dev/null'

check "--check accepts the configuration" eval '"$ACT_BIN" -c "$ACT_CONF" --check >/dev/null'

# 50 clients connected at once, each activating another user.
out=$(python3 - "$ACT_SOCK" "$N" <<'PY'
import json, socket, sys
path, n = sys.argv[1], int(sys.argv[2])
socks = []
for i in range(1, n + 1):
    s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(path); socks.append(s)
for i, s in enumerate(socks, 1):
    s.sendall(json.dumps({"version": 1, "op": "activate", "user": "u%d@example.com" % i,
                          "duration": 3600, "origin": "admin", "id": i}).encode() + b"\n")
good = 0
for i, s in enumerate(socks, 1):
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(65536)
        if not d:
            break
        buf += d
    r = json.loads(buf)
    good += r.get("ok") is True and r.get("id") == i
print(good)
PY
)
check "50 concurrent clients all answered ok ($out)" test "$out" = "$N"
check "50 peers on the interface" test "$(wg_srv_peer_count)" -eq "$N"
# and 50 concurrent processes through lib/activator_client.c
pids=""
for i in $(seq 1 $N); do
	"$ACT_CLIENT" -c "$ACT_CONF" deactivate "u$i@example.com" >"$WG_TMP/c$i.out" 2>&1 &
	pids="$pids $!"
done
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
check "50 concurrent library clients deactivated ($bad failed)" test "$bad" -eq 0
check "no peer left" test "$(wg_srv_peer_count)" -eq 0
check "the daemon still runs" kill -0 "$ACT_PID"

act_kill9
out=$(act_client ping 2>&1)
check "a stale socket: the client says not running ($out)" eval 'case "$out" in ECONNREFUSED*"not running"*) true ;; *) false ;; esac'
act_start
ok $? "a restart replaces the stale socket"

done_testing
