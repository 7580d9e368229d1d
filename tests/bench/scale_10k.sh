#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# 10,000 live sessions: start-up reconcile time (10,000 peers added in one
# UAPI operation), resident memory, and 1,000 of them expiring in the same
# second. Usage: top_builddir=BUILD tests/bench/scale_10k.sh [N=10000] [K=1000]
. "$(dirname "$0")/common.sh"
N=${1:-10000}
K=${2:-1000}
bench_config uapi "$N"
T=$(( $(date +%s) + 20 ))
"$BENCH" seed "$ACT_CONF" u "$N" "$T" "$K" || exit 1
echo "== $N stored sessions, $K of them expiring at $T ($(( T - $(date +%s) )) s from now)"
t0=$(date +%s%N)
act_start || exit 1
t1=$(date +%s%N)
echo "start-up, exec -> first ping answered: $(( (t1 - t0) / 1000000 )) ms"
grep -o 'reconcile: .*' "$ACT_LOG" | head -1 | sed 's/^/start-up /'
echo "peers on the interface: $(wg_srv_peer_count)"
echo "resident memory: $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' /proc/"$ACT_PID"/status)" \
	"(peak $(awk '/VmHWM/ {printf "%.1f MiB", $2 / 1024}' /proc/"$ACT_PID"/status))"
"$BENCH" watch "$ACT_CONF" "$K" "$T"
echo "peers on the interface after: $(wg_srv_peer_count) (want $((N - K)))"
echo "resident memory after: $(awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' /proc/"$ACT_PID"/status)"
act_stop
