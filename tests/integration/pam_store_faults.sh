#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fault injection through pam_wgotp in a real sshd, which opens the store
# for every login: the store's file system read-only, the store locked by
# another process beyond [Store] BusyTimeout, the file system full. Each
# refuses the login with PAM_AUTHINFO_UNAVAIL (sshd logs "Authentication service
# cannot retrieve authentication info"), never a crash, a hang or a login;
# sshd keeps serving; the refused login consumed nothing (the same code
# logs in once the fault is gone, and only once).
#
# sshd runs in a private mount namespace (unshare -m) where the store's
# directory is a 16 MB tmpfs, remounted read-only or filled up there only
# (nsenter). Needs root. (wg-activator unreachable from PAM: unit/test_pam.)
set -u
. "$top_srcdir/tests/integration/lib/sshd.sh"
sshd_require
for t in unshare nsenter mount; do
	command -v "$t" >/dev/null 2>&1 || { echo "1..0 # SKIP $t not installed"; exit 0; }
done
if ! unshare -m --propagation private true 2>/dev/null; then
	echo "1..0 # SKIP cannot create mount namespaces here"
	exit 0
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-sshd.XXXXXX")
LOCKER_PID=""
cleanup() {
	[ -n "$LOCKER_PID" ] && kill "$LOCKER_PID" 2>/dev/null && wait "$LOCKER_PID" 2>/dev/null
	sshd_cleanup
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
sshd_conf "$TMP/wgotp"
STATE=$TMP/wgotp/state
DB=$STATE/state.db
mkdir -p "$STATE"
sed -i "s|^Path = .*|Path = $DB|" "$SSHD_WGOTP_CONF"
# Window = 4: four fresh codes (steps now .. now + 3) without waiting
printf '\n[Store]\nBusyTimeout = 300\n\n[General]\nAuditLog = %s\n\n[TOTP]\nWindow = 4\n' \
	"$TMP/audit.log" >>"$SSHD_WGOTP_CONF"
sshd_setup "$TMP" "$SSHD_WGOTP_CONF" "" || { echo "Bail out! sshd_setup failed"; exit 1; }
S1=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
sshd_user_totp "$SSHD_EMAIL" "$S1"

cat >"$TMP/mntns" <<EOF
#!/bin/sh
mount -t tmpfs -o size=16m,mode=0700 wgotp-fault "$STATE" || exit 1
exec "\$@"
EOF
chmod 755 "$TMP/mntns"
SSHD_WRAP="unshare -m --propagation private $TMP/mntns"
sshd_start || { echo "Bail out! sshd did not start"; exit 1; }
in_ns() { nsenter -t "$SSHD_PID" -m -- "$@"; }

authinfo_logged() {	# one more PAM_AUTHINFO_UNAVAIL line than before
	[ "$(grep -c "Authentication service cannot retrieve authentication info" "$SSHD_LOG")" -gt "$AUTHINFO" ]
}
refused() {	# DESC: the last ssh_run did not log in, sshd said why, sshd lives
	ok $((SSH_RC == 0)) "$1: the login is refused"
	# sshd may write its line after the client has gone: wait a little
	wait_for 5 authinfo_logged
	ok $? "... with PAM_AUTHINFO_UNAVAIL in sshd's log"
	AUTHINFO=$(grep -c "Authentication service cannot retrieve authentication info" "$SSHD_LOG")
	kill -0 "$SSHD_PID" 2>/dev/null
	ok $? "... and sshd still runs"
}
AUTHINFO=0
step=0
code() { oathtool --totp -b -N "now + $((step * 30)) seconds" "$S1"; }

# A first login creates the store in the namespace's tmpfs.
ssh_run "$(code)"
is "$SSH_OUT" "logged-in as $SSHD_USER" "a login with the store on the tmpfs"
step=1

# --- read-only ---------------------------------------------------------------
in_ns mount -o remount,ro "$STATE"
ok $? "the store's file system is remounted read-only (between logins)"
c=$(code)
ssh_run "$c"
refused "store read-only"
in_ns mount -o remount,rw "$STATE"
ssh_run "$c"
is "$SSH_OUT" "logged-in as $SSHD_USER" "writable again: the same code logs in (nothing was consumed)"
ssh_run "$c"
ok $((SSH_RC == 0)) "... once (replay refused)"
step=2

# --- locked ------------------------------------------------------------------
rm -f "$TMP/locked" "$TMP/release"
in_ns /usr/bin/python3 -c '
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2] + "/locked", "w").close()
while not os.path.exists(sys.argv[2] + "/release"):
    time.sleep(0.05)
c.execute("COMMIT")
' "$DB" "$TMP" &
LOCKER_PID=$!
wait_for 5 test -e "$TMP/locked"
ok $? "another process holds the store's write lock"
c=$(code)
t0=$(date +%s%N)
ssh_run "$c"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
refused "store locked"
diag "store locked: refused in $ms ms (BusyTimeout = 300 ms)"
grep -q "result=error reason=Device or resource busy" "$TMP/audit.log"
ok $? "... the audit log says the store was busy"
touch "$TMP/release"
wait "$LOCKER_PID"
LOCKER_PID=""
ssh_run "$c"
is "$SSH_OUT" "logged-in as $SSHD_USER" "lock released: the same code logs in"
ssh_run "$c"
ok $((SSH_RC == 0)) "... once (replay refused)"

step=3

# --- full --------------------------------------------------------------------
c=$(code)
in_ns sh -c "dd if=/dev/zero of='$STATE/fill' bs=4096 >/dev/null 2>&1; true"
is "$(in_ns df --output=avail -B1 "$STATE" | tail -n 1 | tr -d ' ')" 0 "the store's file system is full"
ssh_run "$c"
refused "disk full"
in_ns rm -f "$STATE/fill"
ssh_run "$c"
is "$SSH_OUT" "logged-in as $SSHD_USER" "space freed: the same code logs in"
ssh_run "$c"
ok $((SSH_RC == 0)) "... once (replay refused)"

done_testing
