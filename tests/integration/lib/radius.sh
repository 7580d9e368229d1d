# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=sh
#
# A real FreeRADIUS (`freeradius -X`) with rlm_wgotp on loopback ports, in
# a private raddb built from the shipped raddb/ files, and radclient to
# talk to it. Source this from a TAP test after lib/tap.sh:
#
#   . "$top_srcdir/tests/integration/lib/radius.sh"
#   rad_require             # or "1..0 # SKIP ..." and exit
#   rad_init                # $RAD_DIR: wgotp.conf, users.json, raddb
#   rad_user_totp alice@example.com SECRET [PUBKEY IP]
#   rad_start
#   rad_auth 'User-Name = "alice@example.com", User-Password = "123456"'
#   rad_code / rad_reply ATTR   (of the last reply)
#
# Environment read: top_srcdir, top_builddir (automake), RAD_ACTIVATE
# (yes/no: post-auth activation), RAD_MODULE_EXTRA (lines added to the
# module section), RAD_KEEP (keep the directory).

: "${top_srcdir:?}" "${top_builddir:?}"

RAD_SECRET=testing123
RAD_SERVER_PID=

rad_find_freeradius() {
	for p in "$(command -v freeradius 2>/dev/null)" /usr/sbin/freeradius; do
		[ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

# Print the reason to skip, or nothing when everything is there.
rad_missing() {
	rad_find_freeradius >/dev/null || { echo "freeradius not installed (Debian: freeradius)"; return; }
	command -v radclient >/dev/null 2>&1 || { echo "radclient not installed (Debian: freeradius-utils)"; return; }
	[ -f "$top_builddir/rlm_wgotp/.libs/rlm_wgotp.so" ] || { echo "rlm_wgotp not built (--disable-rlm?)"; return; }
	command -v oathtool >/dev/null 2>&1 || { echo "oathtool not installed (Debian: oathtool)"; return; }
	command -v wg >/dev/null 2>&1 || { echo "wg not installed (Debian: wireguard-tools)"; return; }
}

rad_require() {
	why=$(rad_missing)
	if [ -n "$why" ]; then
		echo "1..0 # SKIP $why"
		exit 0
	fi
}

rad_free_port() {
	# Two consecutive free UDP ports (auth, acct) on loopback.
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		p=$(( 20000 + ($(od -An -N2 -tu2 /dev/urandom) % 20000) * 2 ))
		if ! ss -Hlun "sport = :$p" 2>/dev/null | grep -q . &&
		   ! ss -Hlun "sport = :$((p + 1))" 2>/dev/null | grep -q . &&
		   ! ss -Hltn "sport = :$((p + 2))" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

rad_cleanup() {
	rad_stop
	if [ -n "${RAD_DIR:-}" ] && [ -z "${RAD_KEEP:-}" ]; then
		rm -rf "$RAD_DIR"
	fi
}

rad_init() {
	RAD_DIR=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-rad.XXXXXX")
	trap rad_cleanup EXIT
	trap 'exit 1' INT TERM
	RAD_PORT=$(rad_free_port) || { echo "Bail out! no free port"; exit 1; }
	RAD_ACCT_PORT=$((RAD_PORT + 1))
	RAD_TLS_PORT=$((RAD_PORT + 2))
	RAD_CONF=$RAD_DIR/wgotp/wgotp.conf
	RAD_USERS=$RAD_DIR/wgotp/users.json
	RAD_LOG=$RAD_DIR/radiusd.log
	RAD_AUDIT=$RAD_DIR/audit.log
	mkdir -p "$RAD_DIR/wgotp/state" "$RAD_DIR/raddb/mods-enabled" "$RAD_DIR/raddb/sites-enabled" \
		"$RAD_DIR/lib" "$RAD_DIR/run" "$RAD_DIR/log"
	chmod 700 "$RAD_DIR/wgotp"
	od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$RAD_DIR/wgotp/server.key"
	chmod 600 "$RAD_DIR/wgotp/server.key"
	printf '{ "version": 1, "users": {} }\n' > "$RAD_USERS"
	chmod 640 "$RAD_USERS"	# TOTP secrets: never readable by others
	cat > "$RAD_CONF" <<EOF2
[General]
Directory = $RAD_USERS
ServerKeyFile = $RAD_DIR/wgotp/server.key
AuditLog = $RAD_AUDIT
UnknownUser = ${RAD_UNKNOWN_USER:-totp}

[Store]
Backend = sqlite
Path = $RAD_DIR/wgotp/state/state.db

[Session]
ChallengeLifetime = ${RAD_CHALLENGE_LIFETIME:-5m}

[Email]
CodeLifetime = ${RAD_CODE_LIFETIME:-5m}
MaxTries = ${RAD_MAX_TRIES:-5}
ResendInterval = ${RAD_RESEND_INTERVAL:-1s}

[RateLimit]
MaxFailures = ${RAD_MAX_FAILURES:-1000}

[Activator]
Socket = ${RAD_ACTIVATOR_SOCKET:-$RAD_DIR/run/activator.sock}
Interface = ${RAD_WG_IF:-wgotp0}
ConnectTimeout = 500
ReplyTimeout = 2000
EOF2
	if [ -n "${RAD_CONF_EXTRA:-}" ]; then
		printf '%s\n' "$RAD_CONF_EXTRA" >> "$RAD_CONF"
	fi
	rad_write_raddb
}

# The raddb: a minimal radiusd.conf, and the shipped dictionary,
# module and site files with paths and ports adjusted.
rad_write_raddb() {
	rd=$RAD_DIR/raddb
	for m in /usr/lib/freeradius/*.so; do
		ln -sf "$m" "$RAD_DIR/lib/"
	done
	ln -sf "$top_builddir/rlm_wgotp/.libs/rlm_wgotp.so" "$RAD_DIR/lib/rlm_wgotp.so"
	cat > "$rd/radiusd.conf" <<EOF2
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = $RAD_DIR/log
raddbdir = $rd
radacctdir = $RAD_DIR/log/radacct
name = freeradius
confdir = \${raddbdir}
modconfdir = \${confdir}/mods-config
certdir = \${confdir}/certs
cadir = \${confdir}/certs
run_dir = $RAD_DIR/run
db_dir = $RAD_DIR
libdir = $RAD_DIR/lib
pidfile = \${run_dir}/freeradius.pid
max_request_time = 30
cleanup_delay = 0
max_requests = 16384
hostname_lookups = no
log {
	destination = files
	file = \${logdir}/radius.log
	auth = yes
	auth_badpass = no
	auth_goodpass = no
}
checkrad = /usr/sbin/checkrad
security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}
thread pool {
	start_servers = ${RAD_THREADS:-8}
	max_servers = ${RAD_THREADS:-8}
	min_spare_servers = 1
	max_spare_servers = ${RAD_THREADS:-8}
	max_requests_per_server = 0
	auto_limit_acct = no
}
modules {
	\$INCLUDE mods-enabled/
}
policy {
}
instantiate {
}
\$INCLUDE clients.conf
\$INCLUDE sites-enabled/
EOF2
	# As Debian's raddb has it (mods-enabled/always): the unlang
	# return codes ok, reject, ... are module instances in 3.2.
	cat > "$rd/mods-enabled/always" <<'EOF2'
always reject {
	rcode = reject
}
always fail {
	rcode = fail
}
always ok {
	rcode = ok
}
always handled {
	rcode = handled
}
always noop {
	rcode = noop
}
EOF2
	cat > "$rd/dictionary" <<EOF2
\$INCLUDE $top_srcdir/raddb/dictionary.wgotp
EOF2
	cat > "$rd/clients.conf" <<EOF2
client localhost {
	ipaddr = 127.0.0.1
	secret = $RAD_SECRET
	require_message_authenticator = ${RAD_CLIENT_REQUIRE_MA:-no}
	virtual_server = wgotp
}
client localhost6 {
	ipaddr = ::1
	secret = $RAD_SECRET
	require_message_authenticator = yes
	virtual_server = wgotp
}
EOF2
	sed -e "s|^\([[:space:]]*\)config = .*|\1config = $RAD_CONF|" \
	    -e "s|^\([[:space:]]*\)activate = yes|\1activate = ${RAD_ACTIVATE:-yes}|" \
		"$top_srcdir/raddb/mods-available/wgotp" > "$rd/mods-enabled/wgotp"
	if [ -n "${RAD_MODULE_EXTRA:-}" ]; then
		# before the closing brace of the module section
		# (an item given here replaces the shipped one: freeradius
		# would take the first of two)
		awk -v extra="$RAD_MODULE_EXTRA" '
			BEGIN { n = split(extra, l, "\n"); for (i = 1; i <= n; i++) { split(l[i], f, " "); k[f[1]] = 1 } }
			/^}/ && !done { print extra; done = 1 }
			($1 in k) && $2 == "=" { next }
			{ print }' "$rd/mods-enabled/wgotp" > "$rd/mods-enabled/wgotp.tmp"
		mv "$rd/mods-enabled/wgotp.tmp" "$rd/mods-enabled/wgotp"
	fi
	# The shipped site has no listener of its own (on Debian it takes
	# the requests of its clients from the default site's): these stand
	# in for those, on loopback, IPv4 and ::1 (whose client requires
	# Message-Authenticator).
	cp "$top_srcdir/raddb/sites-available/wgotp" "$rd/sites-enabled/wgotp"
	cat >> "$rd/sites-enabled/wgotp" <<EOF2
listen {
	type = auth
	ipaddr = 127.0.0.1
	port = $RAD_PORT
	virtual_server = wgotp
}
listen {
	type = acct
	ipaddr = 127.0.0.1
	port = $RAD_ACCT_PORT
	virtual_server = wgotp
}
listen {
	type = auth
	ipv6addr = ::1
	port = $RAD_PORT
	virtual_server = wgotp
}
EOF2
}

# Add a PAP baseline (the benchmark) on port RAD_PORT + 3: every user's
# password is "<User-Name>-secret". Its listener has its own clients, so
# loopback requests to it stay in this virtual server.
rad_enable_pap_baseline() {
	rd=$RAD_DIR/raddb
	cat > "$rd/mods-enabled/pap" <<'EOF2'
pap {
	normalise = no
}
EOF2
	cat > "$rd/sites-enabled/pap" <<EOF2
clients pap_clients {
	client localhost {
		ipaddr = 127.0.0.1
		secret = $RAD_SECRET
		require_message_authenticator = yes
	}
}
server pap {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $((RAD_PORT + 3))
		clients = pap_clients
	}
	authorize {
		update control {
			&Cleartext-Password := "%{User-Name}-secret"
		}
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	post-auth {
	}
}
EOF2
}

# rad_users_json: write users.json from the lines in $RAD_DIR/users.d
# (one JSON member per user) so tests can add users one by one.
rad_users_flush() {
	{
		printf '{ "version": 1, "users": {\n'
		first=1
		for f in "$RAD_DIR"/users.d/*; do
			[ -f "$f" ] || continue
			[ $first = 1 ] || printf ',\n'
			first=0
			cat "$f"
		done
		printf '\n} }\n'
	} > "$RAD_USERS.tmp"
	chmod 640 "$RAD_USERS.tmp"
	mv "$RAD_USERS.tmp" "$RAD_USERS"
}

# rad_user EMAIL METHOD [SECRET] [PUBKEY IP]
rad_user() {
	mkdir -p "$RAD_DIR/users.d"
	email=$1 method=$2 secret=${3:-} pub=${4:-} ip=${5:-}
	devices=
	if [ -n "$pub" ]; then
		devices=$(printf '{ "name": "laptop", "public_key": "%s", "allowed_ips": ["%s/32"] }' "$pub" "$ip")
	fi
	if [ "$method" = totp ]; then
		totp=$(printf '"totp_secret": "%s", "totp_state": "active",' "$secret")
	else
		totp='"totp_state": "none",'
	fi
	printf '"%s": { "method": "%s", %s "enabled": true, "require_otp": true, "devices": [ %s ] }' \
		"$email" "$method" "$totp" "$devices" > "$RAD_DIR/users.d/$email"
	rad_users_flush
}

rad_user_totp() { rad_user "$1" totp "$2" "${3:-}" "${4:-}"; }
rad_user_email() { rad_user "$1" email "" "${2:-}" "${3:-}"; }

rad_totp() {
	# the code for SECRET at now + $2 steps (default 0)
	oathtool --totp -b -N "now + $(( ${2:-0} * 30 )) seconds" "$1"
}

rad_start() {
	fr=$(rad_find_freeradius)
	# a fresh log: readiness is read from it
	[ -f "$RAD_LOG" ] && mv "$RAD_LOG" "$RAD_LOG.$(date +%s%N)"
	: > "$RAD_LOG.stdout"
	${RAD_FR_ENV:-} "$fr" ${RAD_FR_MODE:--X} -d "$RAD_DIR/raddb" -n radiusd -l "$RAD_LOG" ${RAD_FR_ARGS:-} > "$RAD_LOG.stdout" 2>&1 &
	RAD_SERVER_PID=$!
	for _i in $(seq 1 100); do
		if grep -q 'Ready to process requests' "$RAD_LOG" "$RAD_LOG.stdout" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$RAD_SERVER_PID" 2>/dev/null; then
			echo "# freeradius exited:"
			tail -n 30 "$RAD_LOG" "$RAD_LOG.stdout" 2>/dev/null | sed 's/^/# /'
			RAD_SERVER_PID=
			return 1
		fi
		sleep 0.1
	done
	echo "# freeradius did not become ready"
	tail -n 30 "$RAD_LOG" "$RAD_LOG.stdout" 2>/dev/null | sed 's/^/# /'
	return 1
}

rad_stop() {
	if [ -n "${RAD_SERVER_PID:-}" ]; then
		kill "$RAD_SERVER_PID" 2>/dev/null
		wait "$RAD_SERVER_PID" 2>/dev/null
		RAD_SERVER_PID=
	fi
}

rad_alive() {
	[ -n "${RAD_SERVER_PID:-}" ] && kill -0 "$RAD_SERVER_PID" 2>/dev/null
}

# rad_send TYPE ATTRS [SERVER]: one request, the reply in $RAD_OUT.
# A challenge counts as an answer (Response-Packet-Type is not sent).
rad_send() {
	type=$1 attrs=$2 server=${3:-127.0.0.1:$RAD_PORT}
	RAD_OUT=$RAD_DIR/last.out
	printf '%s\n' "$attrs" | radclient -d "$RAD_DIR/raddb" -D /usr/share/freeradius -x -r 1 -t 3 -s "$server" "$type" "$RAD_SECRET" > "$RAD_OUT" 2>&1
	RAD_RC=$?
	return 0
}

# An Access-Request with Message-Authenticator; the reply code in $RAD_CODE
# ("Access-Accept", "Access-Challenge", "Access-Reject" or "none").
rad_auth() {
	rad_send auth "Message-Authenticator = 0x00, Response-Packet-Type = Access-Challenge, $1" "${2:-}"
	RAD_CODE=$(sed -n 's/^Received \(Access-[A-Za-z]*\) .*/\1/p' "$RAD_OUT" | head -n1)
	[ -n "$RAD_CODE" ] || RAD_CODE=none
}

rad_auth_no_ma() {
	rad_send auth "Response-Packet-Type = Access-Challenge, $1" "${2:-}"
	RAD_CODE=$(sed -n 's/^Received \(Access-[A-Za-z]*\) .*/\1/p' "$RAD_OUT" | head -n1)
	[ -n "$RAD_CODE" ] || RAD_CODE=none
}

rad_acct() {
	rad_send acct "$1" "127.0.0.1:$RAD_ACCT_PORT"
	RAD_CODE=$(sed -n 's/^Received \(Accounting-[A-Za-z]*\) .*/\1/p' "$RAD_OUT" | head -n1)
	[ -n "$RAD_CODE" ] || RAD_CODE=none
}

# The value of ATTR in the last reply (first occurrence), quotes removed.
rad_reply() {
	sed -n "/^Received/,\$ s/^[[:space:]]*$1 = \(.*\)\$/\1/p" "$RAD_OUT" | head -n1 | sed 's/^"\(.*\)"$/\1/'
}

# The attribute names in the last reply, sorted (to compare replies).
rad_reply_names() {
	sed -n '/^Received/,$ s/^[[:space:]]*\([A-Za-z0-9-]*\) = .*/\1/p' "$RAD_OUT" | sort
}

# TAP: plan, ok, is, check, not, skip, diag, done_testing.
. "$top_srcdir/tests/integration/lib/tap.sh"
