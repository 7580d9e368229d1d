#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# RadSec (RFC 6614): the shipped raddb/sites-available/wgotp-tls listener
# with Debian's radsecproxy in front of freeradius, as at a site whose NAS
# only speaks UDP: radclient -> UDP -> radsecproxy -> TLS (mutual, test CA
# made here with openssl) -> freeradius + rlm_wgotp. A TLS client without
# a certificate from the CA gets nothing.
set -u
. "$top_srcdir/tests/integration/lib/radius.sh"
rad_require
RSP=$(command -v radsecproxy || echo /usr/sbin/radsecproxy)
if [ ! -x "$RSP" ]; then
	echo "1..0 # SKIP radsecproxy not installed (Debian: radsecproxy)"
	exit 0
fi
command -v openssl >/dev/null || { echo "1..0 # SKIP openssl not installed"; exit 0; }

RAD_ACTIVATE=no
# TLS listeners need the thread pool: not -X, but -f with debug output.
RAD_FR_MODE="-f -xx"
rad_init
RSP_PID=
rsp_stop() {
	if [ -n "$RSP_PID" ]; then
		kill "$RSP_PID" 2>/dev/null
		wait "$RSP_PID" 2>/dev/null
		RSP_PID=
	fi
}
trap 'rsp_stop; rad_cleanup' EXIT
S1=JBSWY3DPEHPK3PXP
S2=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
rad_user_totp alice@example.com "$S1"
rad_user_totp bob@example.com "$S2"
rd=$RAD_DIR/raddb
TLS_PORT=$RAD_TLS_PORT
UDP_PORT=$((RAD_PORT + 3))

# --- a test CA, the server's and radsecproxy's certificates ------------------
pki=$rd/certs
mkdir -p "$pki"
(
	set -e
	cd "$pki"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out radsec-ca.pem -days 2 \
		-subj "/CN=wgotp RadSec test CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign"
	openssl req -newkey rsa:2048 -nodes -keyout radsec-server.key -out server.csr -subj "/CN=127.0.0.1"
	printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.ext
	openssl x509 -req -in server.csr -CA radsec-ca.pem -CAkey ca.key -CAcreateserial \
		-out radsec-server.pem -days 2 -extfile server.ext
	openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=radsecproxy"
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > client.ext
	openssl x509 -req -in client.csr -CA radsec-ca.pem -CAkey ca.key -CAcreateserial \
		-out client.pem -days 2 -extfile client.ext
	# a client certificate from a CA the server does not trust
	openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 \
		-subj "/CN=someone else"
	chmod 600 ./*.key
) > "$RAD_DIR/openssl.log" 2>&1 || { sed 's/^/# /' "$RAD_DIR/openssl.log"; echo "Bail out! openssl failed"; exit 1; }

# --- the shipped listener, on our port, with loopback as its client ----------
sed -e "s|port = 2083|port = $TLS_PORT|" -e "s|ipaddr = \*|ipaddr = 127.0.0.1|" \
    -e "s|ipaddr = 192.0.2.10|ipaddr = 127.0.0.1|" \
	"$top_srcdir/raddb/sites-available/wgotp-tls" > "$rd/sites-enabled/wgotp-tls"
grep -q "port = $TLS_PORT" "$rd/sites-enabled/wgotp-tls" ||
	{ echo "Bail out! the shipped wgotp-tls has no port = 2083 to adjust"; exit 1; }
rad_start || { echo "Bail out! freeradius did not start"; exit 1; }

# --- radsecproxy: UDP in, RadSec out ---------------------------------------
cat > "$RAD_DIR/radsecproxy.conf" <<EOF2
ListenUDP 127.0.0.1:$UDP_PORT
LogLevel 4
LogDestination file://$RAD_DIR/radsecproxy.log
tls wgotp {
	CACertificateFile $pki/radsec-ca.pem
	CertificateFile $pki/client.pem
	CertificateKeyFile $pki/client.key
}
client nas {
	host 127.0.0.1
	type udp
	secret $RAD_SECRET
}
server freeradius {
	host 127.0.0.1
	port $TLS_PORT
	type tls
	tls wgotp
	secret radsec
	StatusServer off
}
realm * {
	server freeradius
	accountingServer freeradius
}
EOF2
"$RSP" -f -c "$RAD_DIR/radsecproxy.conf" > "$RAD_DIR/radsecproxy.out" 2>&1 &
RSP_PID=$!
for _i in $(seq 1 100); do
	ss -Hlun "sport = :$UDP_PORT" 2>/dev/null | grep -q . && break
	kill -0 "$RSP_PID" 2>/dev/null || break
	sleep 0.1
done
if ! kill -0 "$RSP_PID" 2>/dev/null; then
	sed 's/^/# /' "$RAD_DIR/radsecproxy.out" "$RAD_DIR/radsecproxy.log" 2>/dev/null
	echo "Bail out! radsecproxy did not start"
	exit 1
fi
via() { rad_auth "$1" "127.0.0.1:$UDP_PORT"; }

# --- through the tunnel ------------------------------------------------------
via "User-Name = \"alice@example.com\", User-Password = \"$(rad_totp "$S1")\""
is "$RAD_CODE" Access-Accept "TOTP single pass via radsecproxy and RadSec: Access-Accept"
is "$(rad_reply Session-Timeout)" 28800 "the Accept's attributes come back through the proxy"
grep -Eq "Received Access-Request .* to 127.0.0.1:$TLS_PORT " "$RAD_LOG"
ok $? "freeradius received it on the RadSec port"
grep -q '(TLS) Creating attributes from client certificate' "$RAD_LOG"
ok $? "... in a TLS session with radsecproxy's client certificate"
if grep -Eq "Received Access-Request .* to 127.0.0.1:$RAD_PORT " "$RAD_LOG"; then r=1; else r=0; fi
ok $r "... and not over the UDP port"

via "User-Name = \"alice@example.com\", User-Password = \"$(rad_totp "$S1")\""
is "$RAD_CODE" Access-Reject "the same code again: replay, Access-Reject"

via 'User-Name = "bob@example.com", User-Password = ""'
is "$RAD_CODE" Access-Challenge "empty password: Access-Challenge through the proxy"
state=$(rad_reply State)
via "User-Name = \"bob@example.com\", State = $state, User-Password = \"$(rad_totp "$S2")\""
is "$RAD_CODE" Access-Accept "State + code through the proxy: Access-Accept"

rad_send acct "User-Name = \"bob@example.com\", Acct-Status-Type = Start, Acct-Session-Id = \"r1\"" "127.0.0.1:$UDP_PORT"
grep -q '^Received Accounting-Response' "$RAD_OUT"
ok $? "accounting goes over the same RadSec listener (auth+acct)"

# --- who may connect ---------------------------------------------------------
# tls_refused [CERT KEY]: a TLS client with this certificate (or none)
# connects; the server must end the handshake (it logs "Failed in TLS
# handshake" once per refused client; polled for up to 10 s, since the
# server may decide after the client has already finished).
tls_refused() {
	before=$(grep -c 'Failed in TLS handshake' "$RAD_LOG")
	timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -CAfile "$pki/radsec-ca.pem" \
		${1:+-cert "$1" -key "$2"} -quiet < /dev/null > "$RAD_DIR/s_client.out" 2>&1
	for _i in $(seq 1 100); do
		[ "$(grep -c 'Failed in TLS handshake' "$RAD_LOG")" -gt "$before" ] && return 0
		sleep 0.1
	done
	return 1
}
tls_refused
ok $? "a TLS client without a certificate is refused"
tls_refused "$pki/other.pem" "$pki/other.key"
ok $? "a TLS client with a certificate from another CA is refused"
via "User-Name = \"bob@example.com\", User-Password = \"$(rad_totp "$S2" 1)\""
is "$RAD_CODE" Access-Accept "radsecproxy's session still works after those"
rad_alive
ok $? "freeradius is still running"
kill -0 "$RSP_PID"
ok $? "radsecproxy is still running"

echo "1..$TAP_N"
[ "$TAP_FAILED" -eq 0 ]
