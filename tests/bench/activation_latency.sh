#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Activation latency, request -> peer on the interface (the daemon replies
# after the peer change returned), p50/p99, UAPI and wg(8) side by side.
# Usage: top_builddir=BUILD tests/bench/activation_latency.sh [N=1000]
. "$(dirname "$0")/common.sh"
N=${1:-1000}
for backend in uapi wg; do
	bench_config "$backend" "$N"
	act_start || exit 1
	echo "== backend $backend, $N activations of distinct users, one client"
	"$BENCH" latency "$ACT_CONF" u "$N"
	echo "   peers on the interface: $(wg_srv_peer_count)"
	act_stop
	wg set "$WG_IF_SRV" $(wg show "$WG_IF_SRV" peers | sed 's/.*/peer & remove/') 2>/dev/null
done
