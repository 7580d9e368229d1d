# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# A real WireGuard tunnel between two network namespaces, for the
# integration tests (wg-activator, RADIUS, PAM). Source this file from a
# bash TAP test:
#
#   . "$top_srcdir/tests/integration/lib/wg.sh"
#   wg_require                  # SKIP (exit 0) unless root + netns + wireguard-go
#   wg_setup                    # namespaces, veth, two wireguard-go interfaces
#   trap wg_cleanup EXIT        # or call wg_cleanup from your own trap
#   wg_ping                     # client -> server through the tunnel, once
#   wg_ping_wait 10             # ... retried for up to 10 s (handshake backoff)
#
# After wg_setup (all names unique per run, so tests may run in parallel):
#   WG_ID                 random tag used in every name
#   WG_TMP                private temporary directory (removed by wg_cleanup)
#   WG_NS_SRV WG_NS_CLI   network namespaces (server, client)
#   WG_IF_SRV WG_IF_CLI   wireguard-go interfaces (<= 15 characters)
#   WG_UAPI_DIR           where their UAPI sockets are (/var/run/wireguard)
#   WG_SRV_PUB WG_CLI_PUB public keys (base64); private keys stay in WG_TMP
#   WG_SRV_IP WG_CLI_IP   tunnel addresses (10.231.0.1, 10.231.0.2)
#   WG_CLI_CIDR           the client's allowed-ips on the server (10.231.0.2/32)
#
# The server interface starts with NO peer: whoever is tested (wg-activator)
# adds the client's peer. The client already knows the server's peer, so
# the tunnel works as soon as the server accepts the client's key.
#
# The veth pair lives entirely inside the two namespaces this file creates,
# so the fixed private subnets (192.168.231.0/30 underlay, 10.231.0.0/24
# tunnel) collide with nothing on the host or in other test runs.
#
# wg_cleanup kills every process started here (wireguard-go, and any pid
# registered with wg_track_pid), deletes the namespaces and WG_TMP. It is
# idempotent and safe to call from an EXIT trap at any point of wg_setup.

WG_UAPI_DIR=/var/run/wireguard
WG_SRV_IP=10.231.0.1
WG_CLI_IP=10.231.0.2
WG_CLI_CIDR=10.231.0.2/32
WG_PORT=51820
WG_PIDS=""

# Print "1..0 # SKIP why" and exit 0 when the tunnel cannot be built here.
wg_require() {
	local t
	if [ "$(id -u)" -ne 0 ]; then
		echo "1..0 # SKIP needs root (network namespaces)"
		exit 0
	fi
	for t in ip wg wireguard-go ping; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "1..0 # SKIP $t not installed (build-aux/install-deps)"
			exit 0
		fi
	done
	t="wgotp-probe-$$"
	if ! ip netns add "$t" 2>/dev/null; then
		echo "1..0 # SKIP cannot create network namespaces here"
		exit 0
	fi
	ip netns del "$t"
	if [ ! -c /dev/net/tun ]; then
		echo "1..0 # SKIP /dev/net/tun missing (wireguard-go needs it)"
		exit 0
	fi
}

# Remember a pid for wg_cleanup to kill (e.g. the daemon under test).
wg_track_pid() {
	WG_PIDS="$WG_PIDS $1"
}

# Start wireguard-go for interface $2 inside namespace $1; wait for its
# UAPI socket.
_wg_start_go() {
	local ns=$1 ifname=$2 i
	ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error \
		wireguard-go "$ifname" >"$WG_TMP/wireguard-go-$ifname.log" 2>&1 &
	wg_track_pid $!
	for i in $(seq 1 100); do
		[ -S "$WG_UAPI_DIR/$ifname.sock" ] && return 0
		sleep 0.05
	done
	echo "# wireguard-go $ifname did not create its UAPI socket:" >&2
	sed 's/^/# /' "$WG_TMP/wireguard-go-$ifname.log" >&2
	return 1
}

wg_setup() {
	WG_ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	WG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-wg.XXXXXX")
	WG_NS_SRV="wgotp-s-$WG_ID"
	WG_NS_CLI="wgotp-c-$WG_ID"
	WG_IF_SRV="wgs$WG_ID"
	WG_IF_CLI="wgc$WG_ID"

	ip netns add "$WG_NS_SRV" || return 1
	ip netns add "$WG_NS_CLI" || return 1
	ip -n "$WG_NS_SRV" link set lo up
	ip -n "$WG_NS_CLI" link set lo up
	# Created in the server namespace, the peer end moved to the client:
	# neither end ever exists in the host namespace.
	ip -n "$WG_NS_SRV" link add veth0 type veth peer name veth1 netns "$WG_NS_CLI" || return 1
	ip -n "$WG_NS_SRV" addr add 192.168.231.1/30 dev veth0
	ip -n "$WG_NS_CLI" addr add 192.168.231.2/30 dev veth1
	ip -n "$WG_NS_SRV" link set veth0 up
	ip -n "$WG_NS_CLI" link set veth1 up

	(umask 077; wg genkey >"$WG_TMP/srv.key"; wg genkey >"$WG_TMP/cli.key")
	WG_SRV_PUB=$(wg pubkey <"$WG_TMP/srv.key")
	WG_CLI_PUB=$(wg pubkey <"$WG_TMP/cli.key")

	_wg_start_go "$WG_NS_SRV" "$WG_IF_SRV" || return 1
	_wg_start_go "$WG_NS_CLI" "$WG_IF_CLI" || return 1

	wg set "$WG_IF_SRV" private-key "$WG_TMP/srv.key" listen-port "$WG_PORT" || return 1
	ip -n "$WG_NS_SRV" addr add "$WG_SRV_IP/24" dev "$WG_IF_SRV"
	ip -n "$WG_NS_SRV" link set "$WG_IF_SRV" up

	wg set "$WG_IF_CLI" private-key "$WG_TMP/cli.key" \
		peer "$WG_SRV_PUB" endpoint "192.168.231.1:$WG_PORT" allowed-ips 10.231.0.0/24 || return 1
	ip -n "$WG_NS_CLI" addr add "$WG_CLI_IP/24" dev "$WG_IF_CLI"
	ip -n "$WG_NS_CLI" link set "$WG_IF_CLI" up
}

# A fresh key pair: prints "PRIVATE PUBLIC" (for extra peers in tests).
wg_keypair() {
	local k
	k=$(wg genkey)
	echo "$k $(echo "$k" | wg pubkey)"
}

# One ping from the client to the server through the tunnel.
wg_ping() {
	ip netns exec "$WG_NS_CLI" ping -c 1 -W 1 -q "$WG_SRV_IP" >/dev/null 2>&1
}

# Ping until it works or $1 seconds (default 10) have passed. A client whose
# handshake was refused retries only every 5 s, hence the wait.
wg_ping_wait() {
	local end=$(( $(date +%s) + ${1:-10} ))
	while [ "$(date +%s)" -lt "$end" ]; do
		wg_ping && return 0
	done
	return 1
}

# Is this public key a peer of the server interface?
wg_srv_has_peer() {
	wg show "$WG_IF_SRV" peers 2>/dev/null | grep -qxF "$1"
}

wg_srv_peer_count() {
	wg show "$WG_IF_SRV" peers 2>/dev/null | grep -c . || true
}

wg_cleanup() {
	local p
	for p in $WG_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $WG_PIDS; do
		wait "$p" 2>/dev/null
	done
	WG_PIDS=""
	[ -n "${WG_NS_SRV:-}" ] && ip netns del "$WG_NS_SRV" 2>/dev/null
	[ -n "${WG_NS_CLI:-}" ] && ip netns del "$WG_NS_CLI" 2>/dev/null
	[ -n "${WG_IF_SRV:-}" ] && rm -f "$WG_UAPI_DIR/$WG_IF_SRV.sock"
	[ -n "${WG_IF_CLI:-}" ] && rm -f "$WG_UAPI_DIR/$WG_IF_CLI.sock"
	[ -n "${WG_TMP:-}" ] && rm -rf "$WG_TMP"
	WG_NS_SRV="" WG_NS_CLI="" WG_TMP=""
	return 0
}
