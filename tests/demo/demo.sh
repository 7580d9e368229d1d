#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The demo of the whole chain (README's first command: build-aux/run-demo).
#
#   tests/demo/demo.sh [BUILDDIR]      as root, after a build
#
# Every part is the real program, on one shared wgotp.conf made by
# `wgotpctl init`, with the embedded defaults (SQLite store):
#   - a WireGuard server (wireguard-go) in a network namespace, with
#     wg-activator from the build tree adding and removing its peers;
#   - two "employee laptops", each a network namespace with its own
#     wireguard-go peer (alice: TOTP, bob: emailed codes);
#   - FreeRADIUS (`freeradius -X`) with rlm_wgotp and the shipped raddb
#     files, asked by radclient as a VPN portal would;
#   - a real SMTP server on loopback (STARTTLS + AUTH) whose inbox is shown;
#   - an OpenSSH jump host with pam_wgotp (a test user, removed on exit).
# The story, each step timed: the tunnel is blocked -> alice enrolled with
# her QR code -> RADIUS login with a TOTP code -> the tunnel passes traffic
# -> bob asks, receives the code by mail, answers the challenge -> a
# warning mail before the end, bob extends in place -> the
# sessions expire (DEMO_DURATION, 20 s) -> blocked again -> an SSH
# jump-host login through pam_wgotp opens and closes a session -> bob
# connects himself in wgotp-portal, in a headless Chromium (screenshots in
# BUILDDIR/tests/artifacts/demo/).
#
# Exit status: 0 when every step passed, 1 when one failed (the demo stops
# there and shows the logs), 77 when this machine cannot run it (not root,
# no network namespaces, a program missing: build-aux/install-deps). So the
# demo doubles as an end-to-end check (tests/integration/demo.sh).
# Everything it starts listens on loopback or inside its own namespaces;
# everything is removed on exit, also on Ctrl-C.
#
# Environment: DEMO_DURATION (session length, default 20s), DEMO_PAUSE=1
# (wait for Enter between steps), DEMO_KEEP=1 (keep the temporary files).
# Variables such as ACT_CONF and RAD_CONF are read by the sourced libraries.
# shellcheck disable=SC1090,SC2034
set -u
export LC_ALL=C

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${1:-${top_builddir:-$top_srcdir/_build}}
top_builddir=$(cd "$top_builddir" 2>/dev/null && pwd) || {
	echo "demo: no build directory ${1:-$top_srcdir/_build} (run build-aux/run-demo)" >&2
	exit 77
}
export top_srcdir top_builddir

DURATION=${DEMO_DURATION:-20s}
DURATION_S=${DURATION%s}
case $DURATION_S in ''|*[!0-9]*) echo "demo: DEMO_DURATION: seconds, e.g. 20s" >&2; exit 2 ;; esac
CTL=$top_builddir/wgotpctl/wgotpctl
ALICE=alice@example.com
BOB=bob@example.com

# ---- output ------------------------------------------------------------
if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' D=$'\e[2m' N=$'\e[0m'
else
	B='' G='' R='' Y='' D='' N=''
fi
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
DEMO_T0=$(now_ms)
STEP_NO=0 STEP_T0=0 STEP_OK=1 STEP_TITLE=""
SUMMARY=()

say() { printf '   %s\n' "$*"; }
explain() { printf '%s' "$D"; printf '   %s\n' "$@"; printf '%s' "$N"; }
indent() { sed 's/^/      | /'; }

step() {
	STEP_NO=$((STEP_NO + 1))
	STEP_TITLE=$1
	STEP_OK=1
	shift
	if [ "${DEMO_PAUSE:-}" = 1 ] && [ -t 0 ]; then
		read -r -p "   (Enter for step $STEP_NO) " _
	fi
	printf '\n%s== Step %d: %s ==%s\n' "$B" "$STEP_NO" "$STEP_TITLE" "$N"
	[ $# -gt 0 ] && explain "$@"
	STEP_T0=$(now_ms)
}

# must DESCRIPTION COMMAND...: a check that must pass, timed; what the
# command prints is shown indented under it. (Not "check": mail.sh has one.)
must() {
	local desc=$1 t0 ms rc out
	shift
	out=$(mktemp "${TMPDIR:-/tmp}/wgotp-demo-out.XXXXXX")
	MUST_OUT=$out
	t0=$(now_ms)
	"$@" >"$out" 2>&1
	rc=$?
	ms=$(($(now_ms) - t0))
	if [ "$rc" -eq 0 ]; then
		printf '   %s[ok]%s %s %s(%d ms)%s\n' "$G" "$N" "$desc" "$D" "$ms" "$N"
	else
		printf '   %s[FAILED]%s %s %s(%d ms)%s\n' "$R" "$N" "$desc" "$D" "$ms" "$N"
		STEP_OK=0
	fi
	[ -s "$out" ] && indent <"$out"
	rm -f "$out"
	MUST_OUT=""
	return "$rc"
}
refuse() { ! "$@"; }
# radius WANT ATTRS: one Access-Request (radclient), the reply must be WANT.
radius() { rad_auth "$2"; [ "$RAD_CODE" = "$1" ] || { echo "got $RAD_CODE"; return 1; }; }

step_end() {
	local ms=$(($(now_ms) - STEP_T0))
	if [ "$STEP_OK" = 1 ]; then
		printf '   %s-> step %d ok (%d ms)%s\n' "$B" "$STEP_NO" "$ms" "$N"
		SUMMARY+=("$(printf '%2d  %-58s %7d ms  ok' "$STEP_NO" "$STEP_TITLE" "$ms")")
		return 0
	fi
	SUMMARY+=("$(printf '%2d  %-58s %7d ms  FAILED' "$STEP_NO" "$STEP_TITLE" "$ms")")
	show_logs
	finish 1
}

step_skip() {
	local ms=$(($(now_ms) - STEP_T0))
	printf '   %s-> step %d skipped: %s%s\n' "$Y" "$STEP_NO" "$1" "$N"
	SUMMARY+=("$(printf '%2d  %-58s %7d ms  skipped' "$STEP_NO" "$STEP_TITLE" "$ms")")
}

show_logs() {
	local f
	echo
	echo "${R}The logs of the failed step (last lines):${N}"
	for f in "${ACT_LOG:-}" "${RAD_LOG:-}" "${RAD_OUT:-}" "${SMTPD_DIR:-/nonexistent}/smtpd.log" \
		"${SSHD_LOG:-}" "${SSHD_DIR:-/nonexistent}/ssh.err" "${PORTAL_LOG:-}" "${AUDIT:-}"; do
		[ -n "$f" ] && [ -s "$f" ] || continue
		echo "   --- $f"
		tail -n 25 "$f" | indent
	done
}

FINISHED=0
finish() {
	local rc=$1 total=$(($(now_ms) - DEMO_T0)) line
	FINISHED=1
	echo
	echo "${B}Summary${N}"
	for line in "${SUMMARY[@]}"; do
		echo "   $line"
	done
	if [ "$rc" -eq 0 ]; then
		echo "${G}demo: PASS${N} ($STEP_NO steps, $total ms in all)"
	else
		echo "${R}demo: FAIL${N} at step $STEP_NO: $STEP_TITLE ($total ms in all)"
	fi
	exit "$rc"
}

cannot_run() {
	echo "demo: cannot run here: $*" >&2
	echo "demo: (as root on Debian 12: build-aux/run-demo installs what is missing)" >&2
	FINISHED=1
	exit 77
}

# ---- prerequisites -----------------------------------------------------
[ "$(id -u)" -eq 0 ] || cannot_run "needs root (network namespaces, WireGuard interfaces)"
for p in "$CTL" "$top_builddir/wg-activator/wg-activator" "$top_builddir/rlm_wgotp/.libs/rlm_wgotp.so"; do
	[ -e "$p" ] || cannot_run "$p is not built"
done
# The test helpers the libraries use (wg-activator's readiness ping, the
# mail library's check): built here when the build did not make them.
if [ ! -x "$top_builddir/tests/helpers/act_client" ] || [ ! -x "$top_builddir/tests/helpers/mail-send" ]; then
	make -C "$top_builddir/tests" helpers/act_client helpers/mail-send >"${TMPDIR:-/tmp}/wgotp-demo-helpers.log" 2>&1 ||
		cannot_run "cannot build tests/helpers (see ${TMPDIR:-/tmp}/wgotp-demo-helpers.log)"
fi

# mail.sh first: its TAP helpers are replaced by radius.sh's (unused here).
. "$top_srcdir/tests/integration/lib/mail.sh"
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
. "$top_srcdir/tests/integration/lib/radius.sh"
SSHD_LIB=$top_srcdir/tests/integration/lib/sshd.sh
[ -f "$SSHD_LIB" ] && . "$SSHD_LIB"

# Each library's require function prints "1..0 # SKIP why" and exits when
# something is missing: run them in a subshell and keep the reason.
why() { local out; out=$("$@" 2>&1); printf '%s' "${out#1..0 # SKIP }"; }
r=$(why wg_require); [ -z "$r" ] || cannot_run "$r"
r=$(rad_missing); [ -z "$r" ] || cannot_run "$r"
r=$(why mail_require); [ -z "$r" ] || cannot_run "$r"
mail_require		# sets MAIL_PY
SSH_WHY=""
if ! type sshd_require >/dev/null 2>&1; then
	SSH_WHY="tests/integration/lib/sshd.sh is not there"
else
	SSH_WHY=$(why sshd_require)
fi

# ---- cleanup (also on Ctrl-C) ------------------------------------------
NS_B="" IF_B="" MUST_OUT=""
exec 3>&1 4>&2		# the terminal, for cleanup during a must's redirection
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	exec 1>&3 2>&4
	[ -n "$MUST_OUT" ] && rm -f "$MUST_OUT"
	if [ "$FINISHED" != 1 ]; then
		echo
		echo "demo: interrupted (status $rc): cleaning up"
	fi
	type sshd_cleanup >/dev/null 2>&1 && sshd_cleanup
	rad_stop
	[ -z "${DEMO_KEEP:-}" ] && [ -n "${RAD_DIR:-}" ] && rm -rf "$RAD_DIR"
	mail_cleanup
	wg_cleanup	# wg-activator and every wireguard-go, the namespaces, WG_TMP
	[ -n "$NS_B" ] && ip netns del "$NS_B" 2>/dev/null
	[ -n "$IF_B" ] && rm -f "$WG_UAPI_DIR/$IF_B.sock"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat <<EOF
${B}wgotp: the demo of the whole chain${N}
   source $top_srcdir
   build  $top_builddir
   Real programs only: wireguard-go, wg-activator, freeradius + rlm_wgotp,
   an SMTP server, sshd + pam_wgotp, wgotpctl. Sessions last $DURATION here
   (8 h by default). Ctrl-C stops it and removes everything it made.
EOF

# ---- step 1: the machines ----------------------------------------------
step "A WireGuard server, two laptops, FreeRADIUS, mail" \
	"Network namespaces: the server and two employee laptops, each with its" \
	"own wireguard-go. The laptops know the server; the server knows nobody." \
	"One wgotp.conf, written by 'wgotpctl init', is read by every part."

# bob's laptop: a third namespace and wireguard-go beside wg.sh's two.
laptop_b_setup() {
	NS_B="wgotp-b-$WG_ID" IF_B="wgb$WG_ID"
	ip netns add "$NS_B" || return 1
	ip -n "$NS_B" link set lo up
	ip -n "$WG_NS_SRV" link add veth2 type veth peer name veth3 netns "$NS_B" || return 1
	ip -n "$WG_NS_SRV" addr add 192.168.232.1/30 dev veth2
	ip -n "$NS_B" addr add 192.168.232.2/30 dev veth3
	ip -n "$WG_NS_SRV" link set veth2 up
	ip -n "$NS_B" link set veth3 up
	(umask 077; wg genkey >"$WG_TMP/bob.key")
	B_PUB=$(wg pubkey <"$WG_TMP/bob.key")
	_wg_start_go "$NS_B" "$IF_B" || return 1
	wg set "$IF_B" private-key "$WG_TMP/bob.key" \
		peer "$WG_SRV_PUB" endpoint "192.168.232.1:$WG_PORT" allowed-ips 10.231.0.0/24 || return 1
	ip -n "$NS_B" addr add 10.231.0.3/24 dev "$IF_B"
	ip -n "$NS_B" link set "$IF_B" up
}
ping_b() { ip netns exec "$NS_B" ping -c 1 -W 1 -q "$WG_SRV_IP" >/dev/null 2>&1; }
ping_b_wait() {
	local end=$(( $(date +%s) + ${1:-10} ))
	while [ "$(date +%s)" -lt "$end" ]; do
		ping_b && return 0
	done
	return 1
}

must "WireGuard server and alice's laptop (namespaces, wireguard-go)" wg_setup || step_end
must "bob's laptop (a third namespace, wireguard-go)" laptop_b_setup || step_end
say "server   $WG_NS_SRV: $WG_IF_SRV $WG_SRV_IP, listening on 192.168.231.1 and 192.168.232.1 :$WG_PORT"
say "alice    $WG_NS_CLI: $WG_IF_CLI $WG_CLI_IP, key $WG_CLI_PUB"
say "bob      $NS_B: $IF_B 10.231.0.3, key $B_PUB"

ETC=$WG_TMP/etc
AUDIT=$WG_TMP/audit.log
ctl() { "$CTL" -c "$CONF" "$@"; }
make_conf() {
	CONF=$("$CTL" init --prefix "$ETC" --interface "$WG_IF_SRV") || return 1
	# The demo's changes to what init wrote: an audit file, short sessions
	# with a warning halfway, and mail through the local SMTP server.
	sed -i -e "s|^AuditLog = .*|AuditLog = $AUDIT|" \
		-e "s|^DefaultDuration = .*|DefaultDuration = $DURATION|" \
		-e "s|^MaxDuration = .*|MaxDuration = $DURATION|" \
		-e "s|^Durations = .*|Durations = $DURATION|" \
		-e "/^Durations = /a WarnBefore = $((DURATION_S / 2))s" \
		-e '/^\[Mail\]/,$d' "$CONF"
	smtpd_conf >>"$CONF"
	# bob asks for a second code within the minute (the extend, step 8)
	printf '\n[Email]\nResendInterval = 5s\n' >>"$CONF"
}
must "a test CA and an SMTP server on 127.0.0.1 (STARTTLS, AUTH)" \
	eval 'mail_setup && smtpd_start inbox --mechanisms PLAIN' || step_end
must "wgotpctl init --prefix $ETC --interface $WG_IF_SRV" make_conf || step_end
say "the configuration every part reads ($CONF):"
grep -v '^#' "$CONF" | grep -v '^$' | indent

ACT_CONF=$CONF ACT_LOG=$WG_TMP/activator.log ACT_SOCK=$ETC/run/activator.sock
must "wg-activator -c wgotp.conf -f (talks to $WG_IF_SRV's UAPI socket)" act_start || step_end

RAD_ACTIVATE=yes
rad_init
trap cleanup EXIT		# rad_init sets its own traps
trap 'exit 130' INT
trap 'exit 143' TERM
RAD_CONF=$CONF
rad_write_raddb			# the shipped raddb files, pointing at our wgotp.conf
must "freeradius -X with rlm_wgotp and raddb/{mods,sites}-available/wgotp on 127.0.0.1:$RAD_PORT" rad_start || step_end
step_end

# ---- step 2: blocked ---------------------------------------------------
step "The tunnel is blocked" \
	"Nobody has logged in: the server's interface has no peer, so the" \
	"laptops' handshakes are ignored and no packet passes."
must "the server interface has no peer ($(wg_srv_peer_count) peers)" test "$(wg_srv_peer_count)" = 0
must "alice's laptop -> 10.231.0.1: no answer" refuse wg_ping
must "bob's laptop -> 10.231.0.1: no answer" refuse ping_b
step_end

# ---- step 3: enrol alice -----------------------------------------------
step "Enrol alice (TOTP) and her laptop" \
	"The admin adds the user and her device, then shows her the QR code;" \
	"her phone's authenticator app scans it (here: oathtool is the phone)."
must "wgotpctl user add $ALICE --method totp" ctl user add "$ALICE" --method totp --name "Alice Example" || step_end
must "wgotpctl device add $ALICE laptop --public-key ... --allowed-ips $WG_CLI_CIDR" \
	ctl device add "$ALICE" laptop --public-key "$WG_CLI_PUB" --allowed-ips "$WG_CLI_CIDR" || step_end
must "wgotpctl totp enroll $ALICE" eval 'ENROLL=$(ctl totp enroll "$ALICE")' || step_end
printf '%s\n' "$ENROLL" | indent
ALICE_SECRET=$(printf '%s\n' "$ENROLL" | sed -n 's/^otpauth:.*[?&]secret=\([A-Z2-7]*\).*/\1/p')
must "the otpauth:// URI carries the secret" test -n "$ALICE_SECRET" || step_end
# Not in the last 2 s of a 30 s step: the code the "phone" shows is still
# current when wgotpctl checks it.
settle() { while [ $(( $(date +%s) % 30 )) -ge 28 ]; do sleep 0.5; done; }
settle
# The confirmation uses the previous step's code (within the ±1 step
# window), so the login below may use the current one at once: a code at
# or below the last one accepted is refused as a replay.
CONFIRM=$(oathtool --totp -b -N "now - 30 seconds" "$ALICE_SECRET")
say "the phone shows $CONFIRM; alice types it to confirm the enrolment"
must "wgotpctl totp confirm $ALICE $CONFIRM" ctl totp confirm "$ALICE" "$CONFIRM" || step_end
step_end

# ---- step 4: RADIUS login with a TOTP code -----------------------------
step "alice logs in over RADIUS with a TOTP code" \
	"The VPN portal (radclient here) sends User-Name and the code as" \
	"User-Password, with Message-Authenticator. rlm_wgotp checks the code;" \
	"on Accept, post-auth asks wg-activator to add alice's laptop's peer."
settle
CODE=$(oathtool --totp -b "$ALICE_SECRET")
say "Access-Request: User-Name = \"$ALICE\", User-Password = \"$CODE\" (the phone's code now)"
must "Access-Request -> Access-Accept" radius Access-Accept "User-Name = \"$ALICE\", User-Password = \"$CODE\""
sed -n '/^Received/,/^Packet summary/{/^Packet summary/!p}' "$RAD_OUT" | indent
must "Session-Timeout = $DURATION_S (the demo session length)" test "$(rad_reply Session-Timeout)" = "$DURATION_S"
must "alice's laptop's peer is on $WG_IF_SRV" wg_srv_has_peer "$WG_CLI_PUB"
must "the same code again: Access-Reject (a replay)" radius Access-Reject "User-Name = \"$ALICE\", User-Password = \"$CODE\""
step_end

# ---- step 5: the tunnel passes -----------------------------------------
step "alice's tunnel passes traffic" \
	"The laptop's wireguard-go retries a refused handshake only every 5 s" \
	"(WireGuard's backoff), so the first ping may wait up to that long."
must "alice's laptop -> 10.231.0.1 through the tunnel" wg_ping_wait 12
must "bob's laptop is still blocked" refuse ping_b
wg show "$WG_IF_SRV" | indent
step_end

# ---- step 6: bob, emailed code ------------------------------------------
step "bob asks for a code by mail and answers the challenge" \
	"bob is an email user: the first Access-Request (empty password) gets an" \
	"Access-Challenge; the code is mailed through SMTP (STARTTLS + AUTH) to" \
	"his inbox; the second request carries the State and the code."
must "wgotpctl user add $BOB --method email" ctl user add "$BOB" --method email --name "Bob Example" || step_end
must "wgotpctl device add $BOB laptop --allowed-ips 10.231.0.3/32" \
	ctl device add "$BOB" laptop --public-key "$B_PUB" --allowed-ips 10.231.0.3/32 || step_end
must "Access-Request (empty password) -> Access-Challenge (the mail is sent before the reply)" \
	radius Access-Challenge "User-Name = \"$BOB\", User-Password = \"\"" || step_end
STATE=$(rad_reply State)
say "Reply-Message: $(rad_reply Reply-Message)"
# the newest code mail (alice's warning may arrive meanwhile)
MSG=$(grep -l '^Subject: Your VPN code' "$SMTPD_DIR"/msg-*.eml 2>/dev/null | sort -V | tail -n 1)
must "a mail arrived in the SMTP server's inbox" test -n "$MSG" || step_end
say "the inbox ($MSG):"
py_mail "$MSG" '"\n".join("%s: %s" % (h, m[h]) for h in ("From", "To", "Subject", "Date")) + "\n\n" + m.get_content().rstrip()' | indent
say "delivered over TLS: $("$MAIL_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tls"])' "${MSG%.eml}.json")"
BCODE=$(py_mail "$MSG" '" ".join(__import__("re").findall(r"(?<![0-9])[0-9]{6}(?![0-9])", m.get_content()))')
must "the mail holds one six-digit code ($BCODE)" eval '[[ "$BCODE" =~ ^[0-9]{6}$ ]]' || step_end
say "Access-Request: User-Name = \"$BOB\", State = $STATE, User-Password = \"$BCODE\""
must "Access-Request with State and the code -> Access-Accept" \
	radius Access-Accept "User-Name = \"$BOB\", State = $STATE, User-Password = \"$BCODE\""
say "Reply-Message: $(rad_reply Reply-Message)"
must "bob's laptop's peer is on $WG_IF_SRV" wg_srv_has_peer "$B_PUB"
must "bob's laptop -> 10.231.0.1 through the tunnel" ping_b_wait 12
must "the same State and code again: Access-Reject (used up)" \
	radius Access-Reject "User-Name = \"$BOB\", State = $STATE, User-Password = \"$BCODE\""
step_end

# ---- step 7: sessions ---------------------------------------------------
step "The admin's view: wgotpctl sessions" \
	"wg-activator holds a session per device, each with its expiry."
must "wgotpctl sessions" eval 'SESS=$(ctl sessions)'
printf '%s\n' "$SESS" | indent
must "two active sessions" test "$(printf '%s\n' "$SESS" | grep -c ' active ')" = 2
step_end

# ---- step 7b: the warning, and an extend in place -------------------------
step "A warning before the end, and an extend in place" \
	"[Session] WarnBefore: wg-activator mails each user before the session" \
	"ends. bob logs in again before the end: his session is extended" \
	"without touching the peer (same handshake, no packet lost)."
wait_warning() {	# ADDRESS: the warning mail to ADDRESS, within the session
	local end=$(( $(date +%s) + DURATION_S + 5 )) f
	while [ "$(date +%s)" -lt "$end" ]; do
		f=$(grep -l "^To: $1" $(grep -l '^Subject: Your VPN session' "$SMTPD_DIR"/msg-*.eml 2>/dev/null) /dev/null 2>/dev/null | grep -v '^/dev/null$' | head -n 1)
		[ -n "$f" ] && { WARN_MSG=$f; return 0; }
		sleep 0.2
	done
	return 1
}
must "the warning to $BOB arrived, $((DURATION_S / 2)) s before his end" wait_warning "$BOB" || step_end
py_mail "$WARN_MSG" '"\n".join("%s: %s" % (h, m[h]) for h in ("To", "Subject")) + "\n\n" + m.get_content().rstrip()' | indent
HS1=$(wg show "$WG_IF_SRV" latest-handshakes | awk -v k="$B_PUB" '$1 == k {print $2}')
must "bob asks again: Access-Challenge, a new code by mail" \
	radius Access-Challenge "User-Name = \"$BOB\", User-Password = \"\"" || step_end
STATE=$(rad_reply State)
MSG=$(grep -l '^Subject: Your VPN code' "$SMTPD_DIR"/msg-*.eml | sort -V | tail -n 1)
BCODE=$(py_mail "$MSG" '" ".join(__import__("re").findall(r"(?<![0-9])[0-9]{6}(?![0-9])", m.get_content()))')
must "the answer extends bob's session: Access-Accept" \
	radius Access-Accept "User-Name = \"$BOB\", State = $STATE, User-Password = \"$BCODE\"" || step_end
say "Reply-Message: $(rad_reply Reply-Message)"
must "wg-activator's audit line says event=extend with both deadlines" \
	grep -q "event=extend origin=radius user=\"$BOB\".*old_expires=.* expires=" "$ACT_LOG"
grep "event=extend origin=radius user=\"$BOB\"" "$ACT_LOG" | tail -n 1 | indent
HS2=$(wg show "$WG_IF_SRV" latest-handshakes | awk -v k="$B_PUB" '$1 == k {print $2}')
must "bob's peer kept its handshake ($HS1 = $HS2): it was not touched" test -n "$HS1" -a "$HS1" = "$HS2"
must "bob's laptop -> 10.231.0.1 through the tunnel" ping_b_wait 3
step_end

# ---- step 8: expiry -------------------------------------------------------
step "The sessions expire after $DURATION: blocked again" \
	"wg-activator's timer fires at each expiry and removes the peer; no" \
	"RADIUS or admin action is needed. Waiting..."
wait_gone() {	# KEY NAME: poll until the peer leaves (at most duration + 15 s)
	local end=$(( $(date +%s) + DURATION_S + 15 ))
	while wg_srv_has_peer "$1"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.2
	done
}
must "alice's peer removed by wg-activator" wait_gone "$WG_CLI_PUB"
must "bob's peer removed by wg-activator" wait_gone "$B_PUB"
must "alice's laptop -> 10.231.0.1: no answer" refuse wg_ping
must "bob's laptop -> 10.231.0.1: no answer" refuse ping_b
ctl sessions 2>&1 | indent
step_end

# ---- step 9: SSH jump host ----------------------------------------------
step "An SSH jump-host login through pam_wgotp" \
	"sshd with 'auth required pam_wgotp.so config=... domain=example.com" \
	"activate duration=$DURATION' and 'session ... deactivate_on_close': the" \
	"code is asked for over keyboard-interactive; the login activates the" \
	"user's WireGuard device, and logging out removes it."
ssh_step() {
	sshd_setup "$WG_TMP/sshd" "$CONF" "activate duration=$DURATION deactivate_on_close" || return 1
	CAROL=$SSHD_EMAIL
	say "jump-host user $SSHD_USER = directory user $CAROL (domain=example.com)"
	read -r _ CAROL_PUB <<<"$(wg_keypair)"
	must "wgotpctl user add $CAROL --method totp; device add ... desktop 10.231.0.4/32" \
		eval 'ctl user add "$CAROL" --method totp >/dev/null &&
		      ctl device add "$CAROL" desktop --public-key "$CAROL_PUB" --allowed-ips 10.231.0.4/32 >/dev/null' || return 1
	local uri secret
	uri=$(ctl totp enroll "$CAROL" --no-qr | grep '^otpauth://')
	secret=$(printf '%s' "$uri" | sed -n 's/.*[?&]secret=\([A-Z2-7]*\).*/\1/p')
	settle
	must "wgotpctl totp enroll + confirm (the QR code as for alice)" \
		ctl totp confirm "$CAROL" "$(oathtool --totp -b -N 'now - 30 seconds' "$secret")" || return 1
	must "sshd on 127.0.0.1:$SSHD_PORT with PAM service $SSHD_SERVICE" sshd_start || return 1
	settle
	local code
	code=$(oathtool --totp -b "$secret")
	say "ssh -p $SSHD_PORT $SSHD_USER@127.0.0.1, answering $code"
	ssh_bg "$code" 'echo "logged in as $(id -un) on the jump host"; read x; echo bye'
	must "the SSH session is open" wait_for 20 grep -q '^logged in' "$SSHD_DIR/bg.out" || return 1
	say "prompt shown: $(cat "$SSHD_DIR/prompts")"
	cat "$SSHD_DIR/bg.out" | indent
	must "while it is open, the desktop's peer is on $WG_IF_SRV" wg_srv_has_peer "$CAROL_PUB" || return 1
	ctl sessions | grep -e '^USER' -e "$CAROL" | indent
	ssh_bg_end
	must "logout (exit status $SSH_RC)" test "$SSH_RC" = 0
	must "deactivate_on_close: the peer leaves with the SSH session" \
		wait_for 10 eval '! wg_srv_has_peer "$CAROL_PUB"' || return 1
	ssh_run "$code"
	must "the same code again: SSH login refused (replay)" test "$SSH_RC" -ne 0
}
if [ -n "$SSH_WHY" ]; then
	step_skip "$SSH_WHY"
else
	ssh_step
	step_end
fi

# ---- step 10: the employee portal ----------------------------------------
step "bob connects himself in the employee portal (a real browser)" \
	"wgotp-portal over HTTPS (a certificate of the demo's CA): bob types his" \
	"email, then the code that arrives by mail, and is on the VPN. Headless" \
	"Chromium does the typing; a screenshot of each screen is kept."
PORTAL=$top_builddir/wgotp-portal/wgotp-portal
portal_why() {
	[ -x "$PORTAL" ] || { echo "wgotp-portal is not built (libmicrohttpd-dev)"; return; }
	for t in /usr/bin/chromium /usr/bin/chromedriver; do
		[ -x "$t" ] || { echo "$t is not installed (build-aux/install-deps)"; return; }
	done
	/usr/bin/python3 -c 'import selenium' 2>/dev/null || echo "python3-selenium is not installed"
}
portal_start() {
	PORTAL_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >>"$CONF" <<CONF

[Portal]
Listen = 127.0.0.1:$PORTAL_PORT
CertificateFile = $MAIL_SRV_CERT
PrivateKeyFile = $MAIL_SRV_KEY
PublicURL = https://127.0.0.1:$PORTAL_PORT
AssetsDirectory = $top_srcdir/wgotp-portal/assets
CompanyName = Example Corp
CONF
	# bob had a mail moments ago (step 6): the demo does not wait for the next
	if grep -q '^ResendInterval = ' "$CONF"; then
		sed -i 's/^ResendInterval = .*/ResendInterval = 0/' "$CONF"
	else
		printf '\n[Email]\nResendInterval = 0\n' >>"$CONF"
	fi
	chmod 600 "$MAIL_SRV_KEY"
	PORTAL_LOG=$WG_TMP/portal.log
	"$PORTAL" -c "$CONF" -f >"$PORTAL_LOG" 2>&1 &
	wg_track_pid $!
	local i
	for i in $(seq 1 100); do
		curl -s -o /dev/null --cacert "$MAIL_CA" "https://127.0.0.1:$PORTAL_PORT/" && return 0
		sleep 0.1
	done
	return 1
}
portal_step() {
	local spki
	must "wgotp-portal -c wgotp.conf -f on https://127.0.0.1:PORT" portal_start || return 1
	spki=$(openssl x509 -in "$MAIL_SRV_CERT" -pubkey -noout | openssl pkey -pubin -outform der |
		openssl dgst -sha256 -binary | base64)
	SHOTS=$top_builddir/tests/artifacts/demo
	rm -rf "$SHOTS" && mkdir -p "$SHOTS"
	must "bob is blocked before the portal" refuse ping_b
	DEMO_URL="https://127.0.0.1:$PORTAL_PORT" DEMO_EMAIL=$BOB DEMO_SPKI=$spki \
		DEMO_SMTPD_DIR=$SMTPD_DIR DEMO_SHOTS=$SHOTS DEMO_PROFILE=$WG_TMP/chromium HOME=$WG_TMP \
		timeout 120 /usr/bin/python3 "$top_srcdir/tests/demo/portal_demo.py" | tee "$WG_TMP/portal_demo.out"
	[ "${PIPESTATUS[0]}" -eq 0 ] || { STEP_OK=0; return 1; }
	PCODE=$(sed -n 's/.*the code arrived in the inbox: \([0-9]*\).*/\1/p' "$WG_TMP/portal_demo.out")
	must "bob's laptop's peer is on $WG_IF_SRV" wg_srv_has_peer "$B_PUB" || return 1
	must "bob's laptop -> 10.231.0.1 through the tunnel" ping_b_wait 12 || return 1
	say "the screenshots: $SHOTS/{1-email,2-code,3-status}.png"
}
PORTAL_WHY=$(portal_why)
if [ -n "$PORTAL_WHY" ]; then
	step_skip "$PORTAL_WHY"
else
	portal_step
	step_end
fi

# ---- step 11: audit -------------------------------------------------------
step "The audit log: one line per decision" \
	"[General] AuditLog = a file here (syslog by default); no code or secret in it."
grep -v ' event=totp_enroll ' "$AUDIT" | tail -n 12 | cut -c1-150 | indent
must "accepts over RADIUS and decisions logged" grep -q 'result=accept' "$AUDIT"
must "no code in the audit log" refuse grep -qw -e "$CODE" -e "$BCODE" "$AUDIT"
[ -n "${PCODE:-}" ] && must "no code in the portal's log" refuse grep -qw -e "$BCODE" -e "$PCODE" "$PORTAL_LOG"
step_end

finish 0
