#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fault injection through a real `freeradius -X` with rlm_wgotp: the SQLite
# store locked by another process for longer than [Store] BusyTimeout, the
# store's file system full, the store read-only, the SMTP server dropping
# the connection in the middle of DATA. Each gives an Access-Reject with
# the reason in the log, never a crash, a hang or an Accept; the server
# keeps answering; a refused login changes nothing (the same code works
# once the fault is gone, and only once); the login works again then.
#
# freeradius runs in a private mount namespace (unshare -m) where the
# store's directory is a 16 MB tmpfs (the counter table takes 8): filled up, or mounted read-only, in
# that namespace only (nsenter). Needs root.
set -u
# mail.sh first: radius.sh's TAP helpers (ok, is, plan) replace its own.
. "$top_srcdir/tests/integration/lib/mail.sh"
. "$top_srcdir/tests/integration/lib/radius.sh"
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root (mount namespaces)"
	exit 0
fi
for t in unshare nsenter mount; do
	command -v "$t" >/dev/null 2>&1 || { echo "1..0 # SKIP $t not installed"; exit 0; }
done
rad_require
mail_require
if ! unshare -m --propagation private true 2>/dev/null; then
	echo "1..0 # SKIP cannot create mount namespaces here"
	exit 0
fi

RAD_ACTIVATE=no
RAD_CONF_EXTRA='[Store]
BusyTimeout = 300'
rad_init
LOCKER_PID=""
cleanup() {
	[ -n "$LOCKER_PID" ] && kill "$LOCKER_PID" 2>/dev/null && wait "$LOCKER_PID" 2>/dev/null
	rad_cleanup
	mail_cleanup
}
trap cleanup EXIT
mail_setup || { echo "Bail out! cannot make the test PKI"; exit 1; }
smtpd_start rad --mechanisms PLAIN --drop-in-data 1 || { echo "Bail out! smtpd did not start"; exit 1; }
smtpd_conf >> "$RAD_CONF"

STATE=$RAD_DIR/wgotp/state
DB=$STATE/state.db
# freeradius in its own mount namespace, the store's directory on a small
# tmpfs there (read-only with FAULT_RO=1, holding a copy of FAULT_SEED).
cat >"$RAD_DIR/mntns" <<'EOF2'
#!/bin/sh
mount -t tmpfs -o size=16m,mode=0700 wgotp-fault "$FAULT_STATE" || exit 1
if [ -n "${FAULT_SEED:-}" ]; then
	cp "$FAULT_SEED" "$FAULT_STATE/state.db" && chmod 600 "$FAULT_STATE/state.db"
	cp "$FAULT_SEED-counters" "$FAULT_STATE/state.db-counters"	# TOTP steps, counters
fi
if [ "${FAULT_RO:-}" = 1 ]; then
	mount -o remount,ro "$FAULT_STATE" || exit 1
fi
exec "$@"
EOF2
chmod 755 "$RAD_DIR/mntns"
export FAULT_STATE=$STATE
RAD_FR_ENV="unshare -m --propagation private $RAD_DIR/mntns"
# a command in freeradius's mount namespace
in_ns() { nsenter -t "$RAD_SERVER_PID" -m -- "$@"; }

S1=JBSWY3DPEHPK3PXP
S2=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
S3=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
S4=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U
rad_user_totp alice@example.com "$S1"
rad_user_totp bob@example.com "$S2"
rad_user_totp carol@example.com "$S3"
rad_user_totp erin@example.com "$S4"
rad_user_email dave@example.com
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

# TAP helpers over the last reply and the log
reject_no_accept_attrs() {
	[ "$RAD_CODE" = Access-Reject ] &&
		[ -z "$(rad_reply Session-Timeout)$(rad_reply WGOTP-Session-Expires)" ]
}
log_has() { grep -q -- "$1" "$RAD_LOG" "$RAD_LOG.stdout"; }
status_server() {
	rad_send status "Message-Authenticator = 0x00"
	grep -q '^Received Access-Accept' "$RAD_OUT"
}
sql() { in_ns /usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchone()[0])' "$DB" "$1"; }

# --- the store locked by another process -----------------------------------
# A TOTP challenge issued before the lock, answered under it.
rad_auth 'User-Name = "bob@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "bob: a TOTP challenge before the lock"
bob_state=$(rad_reply State)

rm -f "$RAD_DIR/locked" "$RAD_DIR/release"
in_ns /usr/bin/python3 -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2] + "/locked", "w").close()
while not os.path.exists(sys.argv[2] + "/release"):
    time.sleep(0.05)
c.execute("COMMIT")
' "$DB" "$RAD_DIR" &
LOCKER_PID=$!
for _i in $(seq 1 100); do [ -e "$RAD_DIR/locked" ] && break; sleep 0.05; done
check "another process holds the store's write lock" test -e "$RAD_DIR/locked"

# A single-pass TOTP code may be refused (the replay step cannot be
# written) or accepted (if the step is kept elsewhere), but never accepted
# without its step recorded: checked again once the fault is gone.
once_after_fault() {	# WHAT RESULT-UNDER-FAULT CODE-AFTER
	if [ "$2" = Access-Reject ]; then
		is "$3" Access-Accept "$1: the code refused under the fault is accepted now (nothing consumed)"
	else
		is "$3" Access-Reject "$1: the code accepted under the fault was recorded (replay refused)"
	fi
}
code_a=$(rad_totp "$S1")
t0=$(date +%s%N)
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$code_a\""
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
a_locked=$RAD_CODE
diag "store locked: a valid TOTP code got $a_locked in $ms ms (BusyTimeout = 300 ms)"
check "store locked: a TOTP login gets an answer ($a_locked) in bounded time (< 2.5 s)" \
	test "$a_locked" != none -a "$ms" -lt 2500
rad_auth 'User-Name = "alice@example.com", User-Password = ""'
check "store locked: a challenge cannot be stored: Access-Reject" reject_no_accept_attrs
code_b=$(rad_totp "$S2")
rad_auth "User-Name = \"bob@example.com\", State = $bob_state, User-Password = \"$code_b\""
check "store locked: answering a challenge gets Access-Reject" reject_no_accept_attrs
check "... the log says the database is busy" log_has "database busy for 300 ms"
check "freeradius still answers (Status-Server)" status_server

touch "$RAD_DIR/release"
wait "$LOCKER_PID"
LOCKER_PID=""
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$code_a\""
once_after_fault "lock released" "$a_locked" "$RAD_CODE"
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$code_a\""
is "$RAD_CODE" Access-Reject "... and the code is refused from then on (replay)"
rad_auth "User-Name = \"bob@example.com\", State = $bob_state, User-Password = \"$code_b\""
is "$RAD_CODE" Access-Accept "... and bob's challenge, answered under the lock, still works (no try used)"

# --- the store's file system full ------------------------------------------
in_ns sh -c "dd if=/dev/zero of='$STATE/fill' bs=4096 >/dev/null 2>&1; true"
check "the store's tmpfs is full" test "$(in_ns df --output=avail -B1 "$STATE" | tail -n 1 | tr -d ' ')" = 0
code_c=$(rad_totp "$S3")
rad_auth "User-Name = \"carol@example.com\", User-Password = \"$code_c\""
c_full=$RAD_CODE
diag "disk full: a valid TOTP code got $c_full"
check "disk full: a TOTP login gets an answer ($c_full)" test "$c_full" != none
rad_auth 'User-Name = "carol@example.com", User-Password = ""'
check "disk full: a challenge cannot be stored: Access-Reject" reject_no_accept_attrs
check "... the log says the disk is full" log_has "database or disk is full"
check "freeradius still answers (Status-Server)" status_server
in_ns rm -f "$STATE/fill"
rad_auth "User-Name = \"carol@example.com\", User-Password = \"$code_c\""
once_after_fault "space freed" "$c_full" "$RAD_CODE"
rad_auth "User-Name = \"carol@example.com\", User-Password = \"$code_c\""
is "$RAD_CODE" Access-Reject "... and the code is refused from then on (replay)"

# --- the SMTP server drops the connection in the middle of DATA ------------
rad_auth 'User-Name = "dave@example.com", User-Password = ""'
check "mail cut in the middle of DATA: Access-Reject, no challenge" reject_no_accept_attrs
is "$(rad_reply State)" "" "... and no State"
is "$(cat "$SMTPD_DIR/dropped" 2>/dev/null)" 1 "the SMTP server did cut the DATA"
check "... the log says the code was not sent" log_has "email code for dave@example.com not sent"
is "$(sql "SELECT count(*) FROM challenges WHERE user = 'dave@example.com'")" 0 \
	"... and no challenge is left in the store"
check "freeradius still answers (Status-Server)" status_server
rad_auth 'User-Name = "dave@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "the mail server works again: asking again at once gets a challenge"
dave_state=$(rad_reply State)
code_d=$(py_mail "$SMTPD_DIR/msg-1.eml" '" ".join(__import__("re").findall(r"(?<![0-9])[0-9]{6}(?![0-9])", m.get_content()))')
rad_auth "User-Name = \"dave@example.com\", State = $dave_state, User-Password = \"$code_d\""
is "$RAD_CODE" Access-Accept "... and the mailed code is accepted"

# --- the store read-only --------------------------------------------------
# A copy of the store (WAL) on a file system mounted read-only: the module
# cannot open it, and freeradius refuses to start rather than run without.
in_ns /usr/bin/python3 -c 'import sqlite3,sys; s=sqlite3.connect(sys.argv[1]); d=sqlite3.connect(sys.argv[2]); s.backup(d); d.close()' \
	"$DB" "$RAD_DIR/seed.db"
in_ns cp "$DB-counters" "$RAD_DIR/seed.db-counters"
check "freeradius ran through every fault (never crashed)" rad_alive
rad_stop
export FAULT_SEED=$RAD_DIR/seed.db FAULT_RO=1
t0=$(date +%s)
rad_start >"$RAD_DIR/ro-start.out"
started=$?
check "store read-only: freeradius refuses to start" test "$started" -ne 0
check "... at once (no hang)" test $(( $(date +%s) - t0 )) -lt 8
check "... saying it cannot open the state store" log_has "cannot open the state store"
grep -h "state store" "$RAD_LOG" "$RAD_LOG.stdout" | head -n 2 | sed 's/^/# /'
rad_stop
unset FAULT_RO
rad_start || { echo "Bail out! freeradius did not restart"; exit 1; }
rad_auth "User-Name = \"erin@example.com\", User-Password = \"$(rad_totp "$S4")\""
is "$RAD_CODE" Access-Accept "store writable again: a login is accepted"
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$code_a\""
is "$RAD_CODE" Access-Reject "... and the store kept alice's used step (replay refused)"
done_testing
