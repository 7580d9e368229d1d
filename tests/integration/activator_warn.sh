#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The warning before a session ends (issue 18), with wg-activator on a
# real wireguard-go interface and the test SMTP server:
#   - a 20 s session with WarnBefore = 10s: one mail 10 s +- 1 s before the
#     end, saying "Your VPN session on laptop ends at HH:MM";
#   - an extend re-arms it: one more mail for the new end, none for the old;
#   - kill -9 after the warning was scheduled, before it was sent: after
#     the restart it is sent once;
#   - kill -9 after it was sent: the restart sends nothing more;
#   - a send that fails (the relay drops the connection) is retried.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
. "$top_srcdir/tests/integration/lib/mail.sh"
wg_require
mail_require

trap 'mail_cleanup; wg_cleanup' EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
mail_setup || { echo "Bail out! mail_setup failed"; exit 1; }
smtpd_start smtp || { echo "Bail out! smtpd did not start"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
sed -i 's/^Durations = .*/Durations = 2s, 20s, 30s, 1h\nWarnBefore = 10s\nTimeZone = UTC/' "$ACT_CONF"
smtpd_conf >>"$ACT_CONF"
printf '\n[Portal]\nPublicURL = https://vpn.example.com\n' >>"$ACT_CONF"
act_users "$(act_user alice@example.com laptop "$WG_CLI_PUB" "$WG_CLI_CIDR")"
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }

# The worker is a thread started after the capabilities were dropped.
threads=$(ls "/proc/$ACT_PID/task" | wc -l)
check "the mail worker runs as a thread of its own ($threads threads)" test "$threads" -ge 2
caps_bad=
for task in /proc/"$ACT_PID"/task/*; do
	ce=$(awk '/^CapEff/ {print $2}' "$task/status")
	[ "$ce" = 0000000000001000 ] || caps_bad="$caps_bad $(basename "$task"):$ce"
done
check "every thread, the mail worker too, has only CAP_NET_ADMIN${caps_bad:+ (not:$caps_bad)}" test -z "$caps_bad"

mails() { find "$SMTPD_DIR" -name 'msg-*.eml' | wc -l; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# wait_mails N UNTIL_S: until there are N mails or the clock passes UNTIL_S;
# prints the arrival (ms) of the Nth
wait_mails() {
	while [ "$(mails)" -lt "$1" ] && [ "$(date +%s)" -lt "$2" ]; do sleep 0.05; done
	[ "$(mails)" -ge "$1" ] && now_ms
}

exp=$(act_client activate alice@example.com laptop 20)
ok $? "activate alice/laptop for 20 s"
t=$(wait_mails 1 $((exp + 2)))
check "the warning mail arrived" test -n "$t"
off=$(( exp * 1000 - ${t:-0} ))
diag "the warning arrived $off ms before the end"
check "it arrived 10 s +- 1 s before the end ($off ms)" test "$off" -ge 9000 -a "$off" -le 11000
hhmm=$(date -u -d "@$exp" +%H:%M)
subj=$(py_mail "$SMTPD_DIR/msg-1.eml" 'm["Subject"]')
is "$subj" "Your VPN session on laptop ends at $hhmm" "the subject says the device and the end"
to=$(py_mail "$SMTPD_DIR/msg-1.eml" 'm["To"]')
is "$to" "alice@example.com" "to the session's user"
body=$(py_mail "$SMTPD_DIR/msg-1.eml" 'm.get_content()')
check "the body names the end" eval 'case "$body" in *"ends at $hhmm"*) true ;; *) false ;; esac'
check "... and the portal's extend link ([Portal] PublicURL)" \
	eval 'case "$body" in *"extend it on https://vpn.example.com"*) true ;; *) false ;; esac'
check "the warning is audited" grep -q 'event=warn .*user="alice@example.com".*reason=mailed' "$ACT_LOG"
while [ "$(date +%s)" -lt $((exp + 1)) ]; do sleep 0.1; done
is "$(mails)" 1 "one warning per session end"

# An extend re-arms it for the new end: a 20 s session extended to 30 s
# before its warning: the only warning is 10 s before the new end.
exp=$(act_client activate alice@example.com laptop 20)
sleep 2
exp2=$(act_client activate alice@example.com laptop 30)
ok $? "extended before the warning ($exp -> $exp2)"
t=$(wait_mails 2 $((exp2 + 2)))
off=$(( exp2 * 1000 - ${t:-0} ))
check "the warning is for the new end ($off ms before it)" test -n "$t" -a "$off" -ge 9000 -a "$off" -le 11000
hhmm=$(date -u -d "@$exp2" +%H:%M)
is "$(py_mail "$SMTPD_DIR/msg-2.eml" 'm["Subject"]')" "Your VPN session on laptop ends at $hhmm" "  and says so"
while [ "$(date +%s)" -lt $((exp2 + 1)) ]; do sleep 0.1; done
is "$(mails)" 2 "none for the old end"

# kill -9 between the warning's schedule (the session stored, its timer
# armed) and its send: after the restart, sent once.
exp=$(act_client activate alice@example.com laptop 20)
sleep 3
act_kill9
ok 0 "wg-activator killed with SIGKILL 17 s before the end"
act_start || { echo "Bail out! wg-activator did not restart"; exit 1; }
t=$(wait_mails 3 $((exp + 2)))
off=$(( exp * 1000 - ${t:-0} ))
check "after the restart the warning is sent ($off ms before the end)" test -n "$t" -a "$off" -ge 9000 -a "$off" -le 11000
sleep 1
act_kill9
act_start || { echo "Bail out! wg-activator did not restart"; exit 1; }
ok 0 "killed with SIGKILL again after the send, restarted before the end"
while [ "$(date +%s)" -lt $((exp + 1)) ]; do sleep 0.1; done
is "$(mails)" 3 "sent once: not again after the second restart"

# A relay that drops the connection in DATA once: the warning is retried.
act_stop
mail_pids_before=$MAIL_PIDS
smtpd_start smtp-drop --drop-in-data 1 || { echo "Bail out! smtpd did not start"; exit 1; }
sed -i "s|^URL = smtp://127.0.0.1:.*|URL = smtp://127.0.0.1:$SMTPD_PORT|" "$ACT_CONF"
act_start || { echo "Bail out! wg-activator did not restart"; exit 1; }
exp=$(act_client activate alice@example.com laptop 20)
t=$(wait_mails 1 $((exp + 2)))
check "a warning whose first send failed arrives on a retry" test -n "$t" -a "$(( exp * 1000 - ${t:-0} ))" -ge 1000
check "  the relay dropped the first try" test "$(cat "$SMTPD_DIR/dropped" 2>/dev/null)" = 1
check "  the failure and the retry are logged" grep -q 'warning: mailing alice@example.com .* failed, try 1 of 5, again in 5 s' "$ACT_LOG"
while [ "$(date +%s)" -lt $((exp + 1)) ]; do sleep 0.1; done
is "$(mails)" 1 "  and it is sent once"
: "$mail_pids_before"

# A relay that accepts the connection and never answers: the send hangs
# until [Mail] Timeout, in the worker; the loop keeps serving requests.
act_stop
python3 - "$WG_TMP/hole.port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(60)
PY
hole_pid=$!
wg_track_pid "$hole_pid"
while [ ! -s "$WG_TMP/hole.port" ]; do sleep 0.05; done
sed -i "s|^URL = smtp://127.0.0.1:.*|URL = smtp://127.0.0.1:$(cat "$WG_TMP/hole.port")|" "$ACT_CONF"
act_start || { echo "Bail out! wg-activator did not restart"; exit 1; }
exp=$(act_client activate alice@example.com laptop 20)
while [ "$(date +%s)" -lt $((exp - 9)) ]; do sleep 0.05; done
worst=0
for i in $(seq 1 20); do
	t0=$(now_ms)
	act_client ping >/dev/null || worst=99999
	d=$(( $(now_ms) - t0 ))
	[ "$d" -gt "$worst" ] && worst=$d
	sleep 0.1
done
diag "slowest ping while the mail hung: $worst ms"
check "while a warning hangs in the relay, the daemon answers at once (slowest ping $worst ms)" test "$worst" -lt 500
exp2=$(act_client activate alice@example.com laptop 30)
check "  and extends a session" test "${exp2:-0}" -gt "$exp"

act_stop
ok $? "SIGTERM stops the daemon cleanly (the mail worker too)"
done_testing
