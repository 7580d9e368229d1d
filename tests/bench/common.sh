# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# Shared set-up for the wg-activator benchmarks: a wireguard-go interface
# in a private namespace (lib/wg.sh), a configuration, a users.json of
# generated users. Run as root from a configured build:
#   top_builddir=/path/to/build tests/bench/SCRIPT.sh
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
. "$top_srcdir/tests/integration/lib/wg.sh"
. "$top_srcdir/tests/integration/lib/activator.sh"
BENCH="$top_builddir/tests/bench/act_bench"
if [ ! -x "$BENCH" ] || [ ! -x "$ACT_BIN" ]; then
	echo "build first: make -C $top_builddir && make -C $top_builddir/tests bench/act_bench helpers/act_client" >&2
	exit 1
fi
wg_require >/dev/null || exit 1
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 1; }
trap wg_cleanup EXIT
wg_setup || { echo "wg_setup failed" >&2; exit 1; }

# bench_config BACKEND NUSERS: fresh state, users u1..uN
bench_config() {
	rm -rf "$WG_TMP/act"
	ACT_BACKEND=$1 act_setup "$WG_TMP/act" "$WG_IF_SRV"
	"$BENCH" users "$ACT_USERS" u "$2"
}
