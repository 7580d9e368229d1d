# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# A real OpenSSH server with pam_wgotp, for the integration tests: its own
# host key and configuration on a loopback port (UsePAM yes, keyboard-
# interactive only), its own PAM service, a local test user, and a real
# `ssh` client that answers the code prompt through SSH_ASKPASS.
#
#   sshd_require             SKIP (exit 0) unless root, sshd, ssh, useradd,
#                            oathtool and the built module are there
#   sshd_conf DIR            a minimal wgotp.conf in DIR (SSHD_WGOTP_CONF),
#                            users.json (SSHD_USERS), server key, store
#   sshd_setup DIR CONF ARGS a user (SSHD_USER, mapped to SSHD_EMAIL by
#                            domain=example.com), the PAM service file
#                            /etc/pam.d/SSHD_SERVICE with pam_wgotp.so
#                            config=CONF domain=example.com ARGS, sshd's
#                            configuration; call sshd_cleanup on exit.
#                            SSHD_AUTH_BEFORE, if set: auth lines put
#                            before pam_wgotp's (e.g. pam_unix.so)
#   sshd_password PASSWORD   gives SSHD_USER a password for pam_unix; the
#                            client then answers a "Password:" prompt with
#                            the one in $SSHD_DIR/password (ssh_password)
#   sshd_user_totp EMAIL SECRET [PUBKEY CIDR]   users.json entry (appended
#                            to SSHD_USERS_D, users.json rewritten)
#   sshd_start               starts sshd -D -e (log in SSHD_LOG), behind the
#                            command $SSHD_WRAP if set (it must exec sshd)
#   ssh_run CODE [CMD]       logs in as SSHD_USER answering CODE; output in
#                            SSH_OUT, status in SSH_RC, prompts in SSH_PROMPTS
#   sshd_cleanup             stops sshd, removes the user, the PAM service
#                            file, the symlink and /run/sshd if created here
#
# sshd takes its PAM service name from its program name (__progname):
# started through a symlink named wgotp-sshd-XXXXXX, it reads
# /etc/pam.d/wgotp-sshd-XXXXXX and no other file in /etc/pam.d is touched.

: "${top_builddir:?}" "${top_srcdir:?}"
SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
SSHD_MODULE="$top_builddir/pam_wgotp/.libs/pam_wgotp.so"
SSHD_PID=""
SSHD_MADE_RUNDIR=""

sshd_require() {
	local t
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP needs root (sshd, a test user, /etc/pam.d)"
		exit 0
	fi
	for t in ssh ssh-keygen useradd userdel oathtool python3; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "1..0 # SKIP $t not installed (build-aux/install-deps)"
			exit 0
		fi
	done
	if [ ! -x "$SSHD_BIN" ]; then
		echo "1..0 # SKIP $SSHD_BIN not installed (Debian: openssh-server)"
		exit 0
	fi
	if [ ! -f "$SSHD_MODULE" ]; then
		echo "1..0 # SKIP pam_wgotp not built (--disable-pam?)"
		exit 0
	fi
	if [ ! -d /etc/pam.d ] || ! getent passwd sshd >/dev/null; then
		echo "1..0 # SKIP no /etc/pam.d or no sshd privilege separation user"
		exit 0
	fi
}

# A free TCP port on 127.0.0.1 (the kernel picks it).
sshd_free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sshd_conf() {
	SSHD_WGOTP_DIR=$1
	SSHD_WGOTP_CONF=$1/wgotp.conf
	SSHD_USERS=$1/users.json
	mkdir -p "$1"
	chmod 700 "$1"
	(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$1/server.key")
	echo '{ "version": 1, "users": {} }' >"$SSHD_USERS"
	chmod 640 "$SSHD_USERS"	# TOTP secrets: never readable by others
	cat >"$SSHD_WGOTP_CONF" <<CONF
[General]
Directory = $SSHD_USERS
ServerKeyFile = $1/server.key
UnknownUser = totp

[Store]
Path = $1/state.db

[RateLimit]
MaxFailures = 1000
CONF
}

# sshd_user_totp EMAIL SECRET [PUBKEY CIDR]
sshd_user_totp() {
	local devices=""
	mkdir -p "$SSHD_DIR/users.d"
	if [ -n "${3:-}" ]; then
		devices=$(printf '{ "name": "laptop", "public_key": "%s", "allowed_ips": ["%s"] }' "$3" "$4")
	fi
	printf '"%s": { "method": "totp", "totp_secret": "%s", "totp_state": "active", "enabled": true, "require_otp": true, "devices": [ %s ] }' \
		"$1" "$2" "$devices" >"$SSHD_DIR/users.d/$1"
	{
		printf '{ "version": 1, "users": {\n'
		local first=1 f
		for f in "$SSHD_DIR"/users.d/*; do
			[ $first = 1 ] || printf ',\n'
			first=0
			cat "$f"
		done
		printf '\n} }\n'
	} >"$SSHD_USERS.tmp"
	chmod 640 "$SSHD_USERS.tmp"
	mv "$SSHD_USERS.tmp" "$SSHD_USERS"
}

# sshd_setup DIR CONF "PAM ARGS"
sshd_setup() {
	local id
	SSHD_DIR=$1
	SSHD_USERS=${SSHD_USERS:-$(sed -n 's/^Directory = //p' "$2")}
	id=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	SSHD_SERVICE="wgotp-sshd-$id"
	SSHD_USER="wgt$id"
	SSHD_EMAIL="$SSHD_USER@example.com"
	SSHD_LOG=$SSHD_DIR/sshd.log
	SSHD_PORT=$(sshd_free_port) || return 1
	mkdir -p "$SSHD_DIR/bin"
	chmod 755 "$SSHD_DIR" "$SSHD_DIR/bin"

	useradd -m -s /bin/sh -c "wgotp test user" "$SSHD_USER" || return 1
	SSHD_USER_MADE=1

	ssh-keygen -q -t ed25519 -N '' -f "$SSHD_DIR/hostkey" -C wgotp-test || return 1
	ln -s "$SSHD_BIN" "$SSHD_DIR/bin/$SSHD_SERVICE"
	cat >"/etc/pam.d/$SSHD_SERVICE" <<PAM
# wgotp test service (tests/integration/lib/sshd.sh): removed on exit
${SSHD_AUTH_BEFORE:-}
auth     required  $SSHD_MODULE config=$2 domain=example.com $3
account  required  pam_permit.so
session  required  pam_permit.so
session  required  $SSHD_MODULE config=$2 domain=example.com $3
PAM
	if [ ! -d /run/sshd ]; then
		mkdir -p /run/sshd && chmod 755 /run/sshd && SSHD_MADE_RUNDIR=1
	fi
	cat >"$SSHD_DIR/sshd_config" <<CONF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $SSHD_DIR/hostkey
PidFile $SSHD_DIR/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication no
PubkeyAuthentication no
AuthenticationMethods keyboard-interactive
PermitRootLogin no
AllowUsers $SSHD_USER
MaxAuthTries 3
LogLevel VERBOSE
PrintMotd no
Subsystem sftp internal-sftp
CONF
	# the client answers a password prompt with $SSHD_DIR/password, every
	# other prompt with the code in $SSHD_DIR/code
	cat >"$SSHD_DIR/askpass" <<ASK
#!/bin/sh
printf '%s\n' "\$1" >>"$SSHD_DIR/prompts"
case "\$1" in
*assword:*) [ -f "$SSHD_DIR/password" ] && exec cat "$SSHD_DIR/password" ;;
esac
cat "$SSHD_DIR/code"
ASK
	chmod 755 "$SSHD_DIR/askpass"
}

sshd_password() {
	printf '%s:%s\n' "$SSHD_USER" "$1" | chpasswd || return 1
	ssh_password "$1"
}

# ssh_password PASSWORD: what the client answers to "Password:" next
ssh_password() {
	(umask 077; printf '%s\n' "$1" >"$SSHD_DIR/password")
}

sshd_start() {
	local i
	: >"$SSHD_LOG"
	${SSHD_WRAP:-} "$SSHD_DIR/bin/$SSHD_SERVICE" -D -e -f "$SSHD_DIR/sshd_config" >>"$SSHD_LOG" 2>&1 &
	SSHD_PID=$!
	for i in $(seq 1 100); do
		grep -q "Server listening on 127.0.0.1 port $SSHD_PORT" "$SSHD_LOG" && return 0
		kill -0 "$SSHD_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# sshd did not start:"
	sed 's/^/# /' "$SSHD_LOG"
	return 1
}

# ssh_run CODE [COMMAND]: stdin is the caller's (a FIFO keeps a session open)
ssh_run() {
	printf '%s\n' "$1" >"$SSHD_DIR/code"
	: >"$SSHD_DIR/prompts"
	shift
	SSH_OUT=$(SSH_ASKPASS="$SSHD_DIR/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
		ssh -F /dev/null -p "$SSHD_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o PreferredAuthentications=keyboard-interactive \
		-o NumberOfPasswordPrompts=1 -o ConnectTimeout=10 -o BatchMode=no \
		"$SSHD_USER@127.0.0.1" "${@:-echo logged-in as \$(id -un)}" 2>"$SSHD_DIR/ssh.err")
	SSH_RC=$?
	SSH_PROMPTS=$(cat "$SSHD_DIR/prompts")
	return 0
}

# ssh_bg CODE COMMAND: a session in the background, its stdin the FIFO
# $SSHD_DIR/fifo held open on fd 7 until ssh_bg_end; output in
# $SSHD_DIR/bg.out, pid SSH_BG_PID.
ssh_bg() {
	printf '%s\n' "$1" >"$SSHD_DIR/code"
	rm -f "$SSHD_DIR/fifo"
	mkfifo "$SSHD_DIR/fifo"
	SSH_ASKPASS="$SSHD_DIR/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
		ssh -F /dev/null -p "$SSHD_PORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -o PreferredAuthentications=keyboard-interactive \
		-o NumberOfPasswordPrompts=1 -o ConnectTimeout=10 -o BatchMode=no \
		"$SSHD_USER@127.0.0.1" "$2" <"$SSHD_DIR/fifo" >"$SSHD_DIR/bg.out" 2>"$SSHD_DIR/ssh.err" &
	SSH_BG_PID=$!
	exec 7>"$SSHD_DIR/fifo"
}

# Close the session's stdin and wait for ssh; its status in SSH_RC.
ssh_bg_end() {
	exec 7>&-
	wait "$SSH_BG_PID"
	SSH_RC=$?
	SSH_BG_PID=""
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds (polled every 0.1 s)
wait_for() {
	local end=$(( $(date +%s) + $1 ))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.1
	done
	return 0
}

sshd_cleanup() {
	if [ -n "${SSH_BG_PID:-}" ]; then
		exec 7>&-
		kill "$SSH_BG_PID" 2>/dev/null
		wait "$SSH_BG_PID" 2>/dev/null
		SSH_BG_PID=""
	fi
	if [ -n "${SSHD_PID:-}" ]; then
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=""
	fi
	if [ -n "${SSHD_USER_MADE:-}" ]; then
		userdel -f -r "$SSHD_USER" 2>/dev/null
		SSHD_USER_MADE=""
	fi
	[ -n "${SSHD_SERVICE:-}" ] && rm -f "/etc/pam.d/$SSHD_SERVICE"
	[ -n "${SSHD_DIR:-}" ] && rm -f "$SSHD_DIR/bin/$SSHD_SERVICE"
	if [ -n "$SSHD_MADE_RUNDIR" ]; then
		rmdir /run/sshd 2>/dev/null
		SSHD_MADE_RUNDIR=""
	fi
	return 0
}

# Every line of sshd's log that the code would be in (it must not be).
sshd_log_has() {
	grep -q -- "$1" "$SSHD_LOG" "$SSHD_DIR/ssh.err" 2>/dev/null
}

# TAP: plan, ok, is, check, not, skip, diag, done_testing.
. "$top_srcdir/tests/integration/lib/tap.sh"
