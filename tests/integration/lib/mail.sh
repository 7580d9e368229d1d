# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Mail tests: a test CA and certificates made with openssl, the HTTPS
# emulator of Microsoft's endpoints, a real SMTP server, a configuration,
# and mail-send (one code through the configured transport).
#
#   mail_require             SKIP the whole test unless python3 with
#                            cryptography and aiosmtpd and openssl exist
#   mail_setup               MAIL_TMP, a test CA (MAIL_CA), a server
#                            certificate for 127.0.0.1, an application
#                            certificate and key (MAIL_APP_CERT/KEY), a
#                            client secret (MAIL_SECRET), an SMTP password
#   mail_conf FILE TEXT      writes a wgotp.conf with [General]/[Store] in
#                            MAIL_TMP, then TEXT
#   emu_start [ARGS]         starts ms-emulator.py (EMU_DIR, EMU_PORT,
#                            EMU_URL); emu_actions KIND ACTION...
#   emu_count KIND [STATUS [AUTH]]  requests of that kind (with that
#                            status, that credential)
#   smtpd_start NAME [ARGS]  starts smtpd.py in MAIL_TMP/NAME (SMTPD_DIR,
#                            SMTPD_PORT)
#   mail_send CONF ARGS      runs mail-send; output in MAIL_OUT, status in
#                            MAIL_RC, time in MAIL_MS

: "${top_builddir:?}" "${top_srcdir:?}"
MAIL_SEND="$top_builddir/tests/helpers/mail-send"
MAIL_HELPERS="$top_srcdir/tests/helpers"
MAIL_TENANT=contoso.onmicrosoft.com
MAIL_CLIENT=11111111-2222-3333-4444-555555555555
MAIL_SENDER=vpn@example.com
MAIL_PIDS=""

. "$top_srcdir/tests/integration/lib/tap.sh"

mail_require() {
	MAIL_PY=""
	# Debian's python3 has python3-cryptography and python3-aiosmtpd even
	# when another python3 comes first in PATH.
	for py in /usr/bin/python3 python3; do
		if "$py" -c 'import cryptography, aiosmtpd' 2>/dev/null; then
			MAIL_PY=$py
			break
		fi
	done
	if [ -z "$MAIL_PY" ]; then
		echo "1..0 # SKIP python3 with cryptography and aiosmtpd (Debian: python3-cryptography python3-aiosmtpd)"
		exit 0
	fi
	if ! command -v openssl >/dev/null; then
		echo "1..0 # SKIP openssl not found"
		exit 0
	fi
	if [ ! -x "$MAIL_SEND" ]; then
		echo "Bail out! $MAIL_SEND not built (make check builds it)"
		exit 1
	fi
}

mail_cleanup() {
	local p
	for p in $MAIL_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $MAIL_PIDS; do
		wait "$p" 2>/dev/null
	done
	[ -n "${MAIL_TMP:-}" ] && rm -rf "$MAIL_TMP"
}

mail_setup() {
	MAIL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-mail.XXXXXX") || return 1
	local d=$MAIL_TMP/pki
	mkdir -p "$d"
	(
		set -e
		cd "$d"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
			-subj "/CN=wgotp test CA" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign"
		openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
			-days 2 -extfile server.ext
		# The application's credential, as uploaded to Entra ID: self-signed.
		openssl req -x509 -newkey rsa:2048 -nodes -keyout app.key -out app.pem -days 2 \
			-subj "/CN=wgotp mail app"
		# A CA nobody trusts, for the negative TLS test.
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 \
			-subj "/CN=other CA"
		chmod 600 ./*.key
	) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; return 1; }
	MAIL_CA=$d/ca.pem
	MAIL_OTHER_CA=$d/other.pem
	MAIL_SRV_CERT=$d/server.pem
	MAIL_SRV_KEY=$d/server.key
	MAIL_APP_CERT=$d/app.pem
	MAIL_APP_KEY=$d/app.key
	MAIL_SECRET=$MAIL_TMP/client-secret
	MAIL_PASSWORD=$MAIL_TMP/smtp-password
	(umask 077; echo "s3cr3t~client.Secret_value" >"$MAIL_SECRET"; echo "smtp-pass-42" >"$MAIL_PASSWORD")
	(umask 077; head -c 32 /dev/urandom >"$MAIL_TMP/server.key")
	echo '{ "version": 1, "users": {} }' >"$MAIL_TMP/users.json"
	chmod 640 "$MAIL_TMP/users.json"
}

mail_conf() {
	cat >"$1" <<CONF
[General]
Directory = $MAIL_TMP/users.json
ServerKeyFile = $MAIL_TMP/server.key
AuditLog = stderr

[Store]
Path = $MAIL_TMP/state.db

$2
CONF
}

# wait_port DIR PID: the port a helper wrote to DIR/port
wait_port() {
	local i
	for i in $(seq 1 100); do
		if [ -s "$1/port" ]; then
			cat "$1/port"
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

emu_start() {
	EMU_DIR=$MAIL_TMP/emu
	mkdir -p "$EMU_DIR"
	"$MAIL_PY" "$MAIL_HELPERS/ms-emulator.py" --dir "$EMU_DIR" --cert "$MAIL_SRV_CERT" \
		--key "$MAIL_SRV_KEY" --tenant "$MAIL_TENANT" --client-id "$MAIL_CLIENT" \
		--sender "$MAIL_SENDER" --secret-file "$MAIL_SECRET" --app-cert "$MAIL_APP_CERT" \
		"$@" 2>"$EMU_DIR/emulator.log" &
	EMU_PID=$!
	MAIL_PIDS="$MAIL_PIDS $EMU_PID"
	EMU_PORT=$(wait_port "$EMU_DIR" "$EMU_PID") || { cat "$EMU_DIR/emulator.log" >&2; return 1; }
	EMU_URL="https://127.0.0.1:$EMU_PORT"
}

emu_actions() {
	local kind=$1
	shift
	printf '%s\n' "$@" >"$EMU_DIR/actions-$kind"
}

# emu_count KIND [STATUS [AUTH]]: AUTH is "secret" or "assertion"
emu_count() {
	"$MAIL_PY" - "$EMU_DIR/requests.log" "$1" "${2:-}" "${3:-}" <<'PY'
import json, sys
path, kind, status, auth = sys.argv[1:5]
try:
    lines = [json.loads(l) for l in open(path)]
except FileNotFoundError:
    lines = []
print(sum(1 for l in lines if l["kind"] == kind and (not status or str(l["status"]) == status)
          and (not auth or l.get("auth") == auth)))
PY
}

# emu_last FIELD: a field of the last logged request
emu_last() {
	"$MAIL_PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1]).get(sys.argv[2]))' \
		"$EMU_DIR/requests.log" "$1"
}

smtpd_start() {
	SMTPD_DIR=$MAIL_TMP/$1
	shift
	mkdir -p "$SMTPD_DIR"
	"$MAIL_PY" "$MAIL_HELPERS/smtpd.py" --dir "$SMTPD_DIR" --cert "$MAIL_SRV_CERT" \
		--key "$MAIL_SRV_KEY" --user "$MAIL_SENDER" --password-file "$MAIL_PASSWORD" \
		"$@" 2>"$SMTPD_DIR/smtpd.log" &
	local pid=$!
	MAIL_PIDS="$MAIL_PIDS $pid"
	SMTPD_PORT=$(wait_port "$SMTPD_DIR" "$pid") || { cat "$SMTPD_DIR/smtpd.log" >&2; return 1; }
}

# smtpd_conf: the [Mail] and [SMTP] sections that send through the SMTP
# server smtpd_start started (STARTTLS, AUTH PLAIN as MAIL_SENDER)
smtpd_conf() {
	cat <<CONF

[Mail]
Transport = smtp
From = $MAIL_SENDER
CAFile = $MAIL_CA

[SMTP]
URL = smtp://127.0.0.1:$SMTPD_PORT
Auth = plain
Username = $MAIL_SENDER
PasswordFile = $MAIL_PASSWORD
CONF
}

# mail_send CONF [ARGS] ADDRESS
mail_send() {
	local conf=$1 t0 t1
	shift
	t0=$(date +%s%N)
	MAIL_OUT=$("$MAIL_SEND" -c "$conf" "$@" 2>"$MAIL_TMP/mail-send.err")
	MAIL_RC=$?
	t1=$(date +%s%N)
	MAIL_MS=$(((t1 - t0) / 1000000))
	MAIL_ERR=$(cat "$MAIL_TMP/mail-send.err")
	echo "# mail-send: rc=$MAIL_RC ${MAIL_MS} ms: $MAIL_OUT"
	[ -n "$MAIL_ERR" ] && printf '# stderr: %s\n' "$MAIL_ERR"
	cat "$MAIL_TMP/mail-send.err" >>"$MAIL_TMP/all-stderr"
	echo "$MAIL_OUT" >>"$MAIL_TMP/all-stdout"
	return 0
}

sent_ok() { [ "$MAIL_RC" -eq 0 ] && case "$MAIL_OUT" in "sent to "*) true ;; *) false ;; esac; }
failed_with() { [ "$MAIL_RC" -eq 1 ] && case "$MAIL_OUT" in *"$1"*) true ;; *) false ;; esac; }

# The code must never appear in what mail-send or the library printed.
code_not_logged() {
	! grep -q -- "$1" "$MAIL_TMP/all-stderr" "$MAIL_TMP/all-stdout" 2>/dev/null
}

# py_mail FILE EXPR: evaluate EXPR with m = the parsed RFC 5322 message
py_mail() {
	"$MAIL_PY" - "$1" "$2" <<'PY'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
print(eval(sys.argv[2]))
PY
}
