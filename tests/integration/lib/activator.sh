# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# wg-activator in tests: a configuration and users.json in a directory,
# the daemon started and stopped, raw protocol messages. Source after
# lib/wg.sh (it uses WG_TMP and WG_IF_SRV when they are set).
#
#   act_setup DIR IFNAME     writes DIR/wgotp.conf (ACT_CONF), DIR/users.json
#                            (ACT_USERS, empty), a state DB path, the socket
#                            path ACT_SOCK; sessions may last 2 s to 1 h
#   act_users JSON-USERS     replaces the "users" object of users.json
#   act_start [ARGS]         starts the daemon in the foreground (pid in
#                            ACT_PID, log in DIR/activator.log), waits for
#                            its socket; returns 1 if it died
#   act_kill9 / act_stop     SIGKILL / SIGTERM and wait
#   act_send LINE...         sends raw lines on one connection, prints replies
#   act_client ARGS          the C client over lib/activator_client.c

: "${top_builddir:?}"
ACT_BIN="$top_builddir/wg-activator/wg-activator"
ACT_CLIENT="$top_builddir/tests/helpers/act_client"

act_setup() {
	ACT_DIR=$1
	ACT_CONF="$ACT_DIR/wgotp.conf"
	ACT_USERS="$ACT_DIR/users.json"
	ACT_SOCK="$ACT_DIR/activator.sock"
	ACT_LOG="$ACT_DIR/activator.log"
	mkdir -p "$ACT_DIR"
	(umask 077; head -c 32 /dev/urandom >"$ACT_DIR/server.key")
	echo '{ "version": 1, "users": {} }' >"$ACT_USERS"
	chmod 640 "$ACT_USERS"	# TOTP secrets: never readable by others
	cat >"$ACT_CONF" <<CONF
[General]
Directory = $ACT_USERS
ServerKeyFile = $ACT_DIR/server.key
AuditLog = stderr

[Store]
Path = $ACT_DIR/state.db

[Session]
DefaultDuration = 1h
MaxDuration = 1h
Durations = 2s, 3s, 4s, 5s, 10s, 30s, 1h

[Activator]
Socket = $ACT_SOCK
Interface = $2
Backend = ${ACT_BACKEND:-auto}
AllowedUsers = root
ReconcileInterval = ${ACT_RECONCILE:-1m}
ConnectTimeout = 2000
ReplyTimeout = 5000
CONF
}

# act_users '"a@x.org": {...}, "b@x.org": {...}'
act_users() {
	local tmp="$ACT_USERS.tmp.$$"
	printf '{ "version": 1, "users": { %s } }\n' "$1" >"$tmp"
	chmod 640 "$tmp"
	mv "$tmp" "$ACT_USERS"
}

# A user entry with one device: act_user EMAIL DEVICE PUBKEY CIDR [require_otp]
act_user() {
	printf '"%s": { "method": "totp", "totp_state": "none", "enabled": true, "require_otp": %s, "devices": [ { "name": "%s", "public_key": "%s", "allowed_ips": ["%s"] } ] }' \
		"$1" "${5:-true}" "$2" "$3" "$4"
}

act_start() {
	local i
	"$ACT_BIN" -c "$ACT_CONF" -f "$@" >>"$ACT_LOG" 2>&1 &
	ACT_PID=$!
	type wg_track_pid >/dev/null 2>&1 && wg_track_pid "$ACT_PID"
	for i in $(seq 1 200); do
		if "$ACT_CLIENT" -c "$ACT_CONF" ping >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$ACT_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "# wg-activator did not start:" >&2
	sed 's/^/# /' "$ACT_LOG" >&2
	return 1
}

act_kill9() {
	kill -9 "$ACT_PID" 2>/dev/null
	wait "$ACT_PID" 2>/dev/null
	return 0
}

act_stop() {
	kill "$ACT_PID" 2>/dev/null
	wait "$ACT_PID" 2>/dev/null
}

act_client() {
	"$ACT_CLIENT" -c "$ACT_CONF" "$@"
}

# Send raw lines (each argument one line, newline added) on one
# connection; print every reply line.
act_send() {
	python3 - "$ACT_SOCK" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
for line in sys.argv[2:]:
    s.sendall(line.encode() + b"\n")
s.shutdown(socket.SHUT_WR)
buf = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    buf += d
sys.stdout.write(buf.decode())
PY
}
