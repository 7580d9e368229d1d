#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# wg-activator's /metrics ([Metrics] Listen) over a real wireguard-go
# interface, scraped by a real Prometheus (Debian's prometheus): the login
# flow's decisions counted by another process (wgotpctl) through the
# shared metrics file, an activation, an expiry and its lateness, the
# badges; `promtool check metrics` on the scrape; the example alerting
# rules and their unit tests; bad requests and a client that sends
# nothing do not stop the endpoint. Skips without root, netns,
# prometheus or oathtool.
set -u
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
wg_require
for t in prometheus promtool oathtool curl; do
	command -v "$t" >/dev/null 2>&1 || { echo "1..0 # SKIP $t is not installed"; exit 0; }
done
. "$top_srcdir/tests/integration/lib/tap.sh"

CTL="$top_builddir/wgotpctl/wgotpctl"
SECRET=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
PROM_PID=

free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cleanup() {
	[ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
	wg_cleanup
}
trap cleanup EXIT
wg_setup || { echo "Bail out! wg_setup failed"; exit 1; }
act_setup "$WG_TMP/act" "$WG_IF_SRV"
MPORT=$(free_port)
cat >>"$ACT_CONF" <<CONF

[Metrics]
Listen = 127.0.0.1:$MPORT
CONF
read -r _ BOB_PUB <<<"$(wg_keypair)"
act_users "$(printf '"alice@example.com": { "method": "totp", "totp_secret": "%s", "totp_state": "active", "enabled": true, "require_otp": true, "devices": [ { "name": "laptop", "public_key": "%s", "allowed_ips": ["%s"] } ] }' \
	"$SECRET" "$WG_CLI_PUB" "$WG_CLI_CIDR"), $(act_user bob@example.com desk "$BOB_PUB" 10.231.0.77/32 false)"
(umask 077; openssl rand -hex 32 >"$ACT_DIR/server.key")	# wgotpctl's flow reads it
act_start || { echo "Bail out! wg-activator did not start"; exit 1; }

scrape() { curl -sS --max-time 5 "http://127.0.0.1:$MPORT/metrics"; }
# value NAME{LABELS}: the sample's value in the last scrape
value() { awk -v k="$1" '$1 == k { print $2 }' "$WG_TMP/scrape"; }

scrape >"$WG_TMP/scrape"
ok $? "GET /metrics answers"
is "$(value 'wgotp_build_info{version="'"$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"/\1/p' "$top_builddir/config.h")"'"}')" 1 "build info with the version"
is "$(value 'wgotp_devices{badge="no_2fa"}')" 1 "bob's desk: badge No 2FA"
is "$(value 'wgotp_devices{badge="inactive"}')" 1 "alice's laptop: badge Inactive"
is "$(value 'wgotp_devices{badge="active"}')" 0 "no live session"
is "$(value wgotp_reconcile_runs_total)" 1 "the start-up reconcile counted"
is "$(value 'wgotp_reconcile_repairs_total{action="added"}')" 1 "... which added bob's permanent peer"

# The login flow in another process: counted through the shared file.
"$CTL" -c "$ACT_CONF" activate alice@example.com --code 000000 --duration 2s >/dev/null 2>&1
code=$(oathtool --totp -b "$SECRET")
[ "$code" = 000000 ] && code=$(oathtool --totp -b -N "now + 30 seconds" "$SECRET")
"$CTL" -c "$ACT_CONF" activate alice@example.com --code "$code" --duration 2s >"$WG_TMP/activate.out" 2>&1
ok $? "wgotpctl activate with alice's code"
sed 's/^/# /' "$WG_TMP/activate.out"
scrape >"$WG_TMP/scrape"
is "$(value 'wgotp_login_decisions_total{frontend="admin",method="totp",result="reject",reason="bad_code"}')" 1 \
	"the wrong code: one reject, reason bad_code, front end admin"
is "$(value 'wgotp_login_decisions_total{frontend="admin",method="totp",result="accept",reason="ok"}')" 1 \
	"the right code: one accept"
is "$(value 'wgotp_activations_total{frontend="admin"}')" 1 "one activation by the admin"
is "$(value 'wgotp_devices{badge="active"}')" 1 "alice's laptop: badge Active"
is "$(value 'wgotp_devices{badge="inactive"}')" 0 "... and no longer Inactive"

# The expiry, 2 s later, and how late it was.
for _ in $(seq 1 60); do
	scrape >"$WG_TMP/scrape"
	[ "$(value wgotp_expiries_total)" = 1 ] && break
	sleep 0.1
done
is "$(value wgotp_expiries_total)" 1 "the session expired"
is "$(value wgotp_expiry_lateness_seconds_count)" 1 "its lateness observed once"
is "$(value 'wgotp_expiry_lateness_seconds_bucket{le="1"}')" 1 "... under a second late"
is "$(value 'wgotp_devices{badge="active"}')" 0 "no live session after the expiry"

promtool check metrics <"$WG_TMP/scrape" >"$WG_TMP/promtool.out" 2>&1
ok $? "promtool check metrics passes on the scrape$( [ -s "$WG_TMP/promtool.out" ] && printf ': %s' "$(head -c 300 "$WG_TMP/promtool.out")")"

# Bad requests get an answer and change nothing; the endpoint goes on.
raw() {	# raw BYTES: the status line of the reply
	/usr/bin/python3 - "$MPORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1"))
data = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
except socket.timeout:
    pass
print(data.split(b"\r\n", 1)[0].decode("latin-1"))
PY
}
is "$(raw 'POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n')" "HTTP/1.1 405 Method Not Allowed" "POST: 405"
is "$(raw 'GET /secrets HTTP/1.1\r\nHost: x\r\n\r\n')" "HTTP/1.1 404 Not Found" "another path: 404"
is "$(raw 'GET /metrics\r\n\r\n')" "HTTP/1.1 400 Bad Request" "no HTTP version: 400"
is "$(raw 'GET /metr\x01ics HTTP/1.1\r\n\r\n')" "HTTP/1.1 400 Bad Request" "a control byte: 400"
is "$(raw "GET /$(head -c 5000 /dev/zero | tr '\0' a) HTTP/1.1\r\n\r\n")" "HTTP/1.1 400 Bad Request" "a head over 4 KiB: 400"
is "$(raw 'HEAD /metrics HTTP/1.0\r\n\r\n')" "HTTP/1.1 200 OK" "HEAD: 200"
# A client that connects and sends nothing holds the endpoint 2 s at most.
/usr/bin/python3 -c 'import socket, sys, time; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); time.sleep(4)' "$MPORT" &
idle=$!
sleep 0.2
t0=$(date +%s%N)
scrape >/dev/null
t1=$(date +%s%N)
kill "$idle" 2>/dev/null
wait "$idle" 2>/dev/null
ok $(( (t1 - t0) / 1000000 < 3500 ? 0 : 1 )) "a silent client delays a scrape by the 2 s timeout at most ($(( (t1 - t0) / 1000000 )) ms)"
check "wg-activator still runs" kill -0 "$ACT_PID"

# A real Prometheus scrapes it.
PPORT=$(free_port)
mkdir -p "$WG_TMP/prom"
cat >"$WG_TMP/prom/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $top_srcdir/contrib/prometheus/wgotp-alerts.yml
scrape_configs:
  - job_name: wgotp-activator
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
YML
prometheus --config.file="$WG_TMP/prom/prometheus.yml" --storage.tsdb.path="$WG_TMP/prom/data" \
	--web.listen-address="127.0.0.1:$PPORT" >"$WG_TMP/prom/log" 2>&1 &
PROM_PID=$!
query() {	# query EXPR: the first sample's value
	curl -sS --max-time 5 --get --data-urlencode "query=$1" "http://127.0.0.1:$PPORT/api/v1/query" |
		/usr/bin/python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null
}
for _ in $(seq 1 150); do
	[ "$(query 'up{job="wgotp-activator"}')" = 1 ] && [ -n "$(query wgotp_expiries_total)" ] && break
	sleep 0.2
done
is "$(query 'up{job="wgotp-activator"}')" 1 "Prometheus scrapes wg-activator (up = 1)"
is "$(query wgotp_expiries_total)" 1 "... and reads the expiry"
is "$(query 'wgotp_login_decisions_total{result="accept"}')" 1 "... and the login flow's accept"
is "$(query 'sum(wgotp_devices)')" 2 "... and the badges of both devices"
rules=$(curl -sS --max-time 5 "http://127.0.0.1:$PPORT/api/v1/rules" |
	/usr/bin/python3 -c 'import json, sys; print(sum(len(g["rules"]) for g in json.load(sys.stdin)["data"]["groups"]))')
is "$rules" 5 "Prometheus loaded the 5 example alerting rules"
check "promtool check rules accepts them" promtool check rules "$top_srcdir/contrib/prometheus/wgotp-alerts.yml"
check "their unit tests pass (promtool test rules)" \
	sh -c 'cd "$1" && promtool test rules wgotp-alerts.test.yml' _ "$top_srcdir/tests/prometheus"

# The Grafana dashboard: JSON, and every metric it graphs is one we serve.
/usr/bin/python3 - "$top_srcdir/contrib/grafana/wgotp-dashboard.json" "$WG_TMP/scrape" <<'PY' >"$WG_TMP/dash.out" 2>&1
import json, re, sys
dash = json.load(open(sys.argv[1]))
served = {l.split()[2] for l in open(sys.argv[2]) if l.startswith("# TYPE ")}
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
missing = set()
for e in exprs:
    for name in re.findall(r"\b(wgotp_[a-z_]+?)(?:_bucket|_sum|_count)?\b(?![a-z_])", e):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if base not in served and name not in served:
            missing.add(name)
if not exprs or missing:
    print("missing:", sorted(missing), "panels with queries:", len(exprs))
    sys.exit(1)
print(len(exprs), "queries")
PY
ok $? "the Grafana dashboard graphs only served metrics ($(cat "$WG_TMP/dash.out"))"

done_testing
