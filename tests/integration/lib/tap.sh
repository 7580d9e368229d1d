# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Minimal TAP for the integration tests. Sourced by the tests and by the
# libraries next to it; the first source wins, so sourcing it twice keeps
# one count.
#
#   ok STATUS DESC      a test: STATUS 0 passes
#   check DESC CMD...   runs CMD; passes when it succeeds (check D not CMD)
#   not CMD...          the opposite of CMD's status
#   is GOT WANT DESC    string equality; shows both on failure
#   skip WHY            a skipped test
#   diag TEXT           a comment line
#   plan N              the plan, first; or done_testing, last
#   done_testing        prints the plan; status 0 when nothing failed
# TAP_N and TAP_FAILED count the tests run and failed.

if [ -z "${TAP_LOADED:-}" ]; then
	TAP_LOADED=1
	TAP_N=0
	TAP_FAILED=0

	plan() { echo "1..$1"; }

	ok() {
		TAP_N=$((TAP_N + 1))
		if [ "$1" -eq 0 ]; then
			echo "ok $TAP_N - $2"
		else
			echo "not ok $TAP_N - $2"
			TAP_FAILED=$((TAP_FAILED + 1))
		fi
	}

	check() { local d=$1; shift; "$@"; ok $? "$d"; }

	not() { ! "$@"; }

	is() {
		if [ "$1" = "$2" ]; then
			ok 0 "$3"
		else
			ok 1 "$3"
			echo "#   got:  '$1'"
			echo "#   want: '$2'"
		fi
	}

	skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # SKIP $1"; }

	diag() { echo "# $*"; }

	done_testing() { echo "1..$TAP_N"; [ "$TAP_FAILED" -eq 0 ]; }
fi
