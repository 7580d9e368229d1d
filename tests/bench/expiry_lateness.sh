#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Expiry lateness over N sessions (default 1,000) expiring 2 to 5 s after
# their activation: when each peer left the interface, minus its expiry.
# Usage: top_builddir=BUILD tests/bench/expiry_lateness.sh [N=1000]
. "$(dirname "$0")/common.sh"
N=${1:-1000}
bench_config uapi "$N"
act_start || exit 1
echo "== $N sessions, durations 2..5 s, UAPI backend"
"$BENCH" expiry "$ACT_CONF" u "$N"
echo "   peers left on the interface: $(wg_srv_peer_count)"
act_stop
