#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The shipped systemd files: `systemd-analyze verify` on
# contrib/systemd/wg-activator.service with each combination of its
# drop-ins, `systemd-analyze security --offline` on the same (the address
# families each storage mode needs; the exposure scores contrib/README.md
# reports), and contrib/tmpfiles.d/wgotp.conf applied under a temporary
# root. The units name /usr/sbin/wg-activator: in the copies verified
# here that path is the built program's, and man:wg-activator(8) is
# looked up in a MANPATH holding doc/wg-activator.8. Nothing is installed
# on this machine and no systemd needs to run.
# SKIP without systemd-analyze.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/tests/integration/lib/tap.sh"

command -v systemd-analyze >/dev/null 2>&1 || { echo "1..0 # SKIP systemd-analyze not installed (Debian: systemd)"; exit 0; }
BIN=$top_builddir/wg-activator/wg-activator
[ -x "$BIN" ] || { echo "1..0 # SKIP wg-activator not built"; exit 0; }

T=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-units.XXXXXX")
trap 'rm -rf "$T"' EXIT
U=$top_srcdir/contrib/systemd
mkdir -p "$T/man/man8"
cp "$top_srcdir/doc/wg-activator.8" "$T/man/man8/"
SDVER=$(systemd-analyze --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p')

# unit_dir NAME DROPIN...: the unit and those drop-ins in $T/NAME
unit_dir() {
	local d=$T/$1 f
	shift
	mkdir -p "$d/wg-activator.service.d"
	sed "s|/usr/sbin/wg-activator|$BIN|g" "$U/wg-activator.service" >"$d/wg-activator.service"
	for f in "$@"; do
		cp "$U/wg-activator.service.d/$f" "$d/wg-activator.service.d/$f"
	done
	echo "$d/wg-activator.service"
}

# Lines systemd-analyze says about our files (other units it loads on the
# way, e.g. Debian's freeradius.service, may have their own warnings).
ours() { grep -e "$T" -e 'wg-activator' "$1"; }

security() { systemd-analyze security --offline=true "$1" 2>/dev/null; }
# allowed FILE FAMILY-PATTERN: the address family is not restricted
allowed() { grep -E "^✗ RestrictAddressFamilies=~$2 " "$1" >/dev/null; }
exposure() { sed -n 's/^→ Overall exposure level for wg-activator.service: \([0-9.]*\).*/\1/p' "$1"; }

dropins=$(cd "$U/wg-activator.service.d" && ls -- *.conf)
for f in freeradius.conf redis-tcp.conf redis-unix.conf; do
	printf '%s\n' "$dropins" | grep -qx "$f" || diag "contrib/systemd/wg-activator.service.d/$f is missing"
done

# The combinations an admin installs: none (SQLite), with FreeRADIUS,
# Redis over TCP or a unix socket, each with and without FreeRADIUS.
combos="none
freeradius.conf
redis-tcp.conf
redis-unix.conf
freeradius.conf redis-tcp.conf
freeradius.conf redis-unix.conf"
n=0
while IFS= read -r combo; do
	n=$((n + 1))
	files=; [ "$combo" = none ] || files=$combo
	# shellcheck disable=SC2086
	unit=$(unit_dir "c$n" $files)
	MANPATH=$T/man systemd-analyze verify "$unit" >"$T/verify.$n" 2>&1
	rc=$?
	ours "$T/verify.$n" >"$T/verify.ours.$n"
	[ $rc -eq 0 ] && [ ! -s "$T/verify.ours.$n" ]
	ok $? "systemd-analyze verify: wg-activator.service with $combo"
	sed 's/^/# /' "$T/verify.ours.$n"
	security "$unit" >"$T/security.$n"
	e=$(exposure "$T/security.$n")
	[ -n "$e" ]
	ok $? "systemd-analyze security --offline scores it: $e"
	printf '%s\t%s\n' "$combo" "$e" >>"$T/scores"
	case $combo in
	*redis-tcp*)
		allowed "$T/security.$n" 'AF_\(INET\|INET6\)' && allowed "$T/security.$n" AF_UNIX &&
			allowed "$T/security.$n" AF_NETLINK
		ok $? "... IPv4 and IPv6 sockets allowed (Redis over TCP), Unix and netlink still" ;;
	*)
		allowed "$T/security.$n" AF_UNIX && allowed "$T/security.$n" AF_NETLINK &&
			! allowed "$T/security.$n" 'AF_\(INET\|INET6\)'
		ok $? "... Unix and netlink sockets only" ;;
	esac
done <<EOF2
$combos
EOF2

# wgotp-dird.service: verified the same way; no capability, no network.
DIRD=$top_builddir/wgotp-dird/wgotp-dird
cp "$top_srcdir/doc/wgotp-dird.8" "$T/man/man8/"
mkdir -p "$T/dird"
sed "s|/usr/sbin/wgotp-dird|$DIRD|g" "$U/wgotp-dird.service" >"$T/dird/wgotp-dird.service"
MANPATH=$T/man systemd-analyze verify "$T/dird/wgotp-dird.service" >"$T/verify.dird" 2>&1
rc=$?
grep -e "$T" -e 'wgotp-dird' "$T/verify.dird" >"$T/verify.dird.ours"
[ $rc -eq 0 ] && [ ! -s "$T/verify.dird.ours" ]
ok $? "systemd-analyze verify: wgotp-dird.service"
sed 's/^/# /' "$T/verify.dird.ours"
security "$T/dird/wgotp-dird.service" >"$T/security.dird"
e=$(sed -n 's/^→ Overall exposure level for wgotp-dird.service: \([0-9.]*\).*/\1/p' "$T/security.dird")
[ -n "$e" ] && awk -v e="$e" 'BEGIN { exit !(e <= 2.0) }'
ok $? "wgotp-dird.service: exposure $e (at most 2.0: no capability, no network)"
allowed "$T/security.dird" AF_UNIX && ! allowed "$T/security.dird" 'AF_\(INET\|INET6\|NETLINK\)'
ok $? "... Unix sockets only"

# The portal never writes users.json: not root, /etc read-only for it;
# wgotp-dird is the one unit that may write /etc/wgotp.
P=$U/wgotp-portal.service
grep -qx 'ProtectSystem=strict' "$P" && grep -E '^User=' "$P" | grep -qv '^User=root$' &&
	! grep -E '^ReadWritePaths=' "$P" | grep -q '/etc'
ok $? "wgotp-portal.service: its own user, ProtectSystem=strict, no writable path under /etc"
grep -qE '^ReadWritePaths=.*/etc/wgotp' "$U/wgotp-dird.service"
ok $? "wgotp-dird.service may write /etc/wgotp (users.json's rename and lock)"

# SupplementaryGroups=redis reaches a 0770 redis socket.
grep -qx 'SupplementaryGroups=redis' "$U/wg-activator.service.d/redis-unix.conf"
ok $? "redis-unix.conf adds the group redis"

# contrib/README.md reports these scores (for the systemd it names).
readme_ver=$(sed -n 's/.*`systemd-analyze security --offline=true`.*systemd \([0-9]*\).*/\1/p' "$top_srcdir/contrib/README.md" | head -n 1)
if [ -n "$readme_ver" ] && [ "$readme_ver" = "$SDVER" ]; then
	bad=
	while IFS="$(printf '\t')" read -r combo e; do
		row="| $(printf '%s' "$combo" | sed 's/\([^ ]*\.conf\)/`\1`/g; s/ /, /g') | $e |"
		grep -qF -- "$row" "$top_srcdir/contrib/README.md" || bad="$bad [$row]"
	done <"$T/scores"
	is "$bad" "" "contrib/README.md reports these scores (systemd $SDVER)"
elif [ -n "$readme_ver" ]; then
	skip "contrib/README.md reports the scores of systemd $readme_ver; this is $SDVER"
else
	ok 1 "contrib/README.md reports the systemd-analyze security scores"
fi

# The portal's unit, where the portal is built.
PBIN=$top_builddir/wgotp-portal/wgotp-portal
if [ -x "$PBIN" ]; then
	mkdir -p "$T/portal"
	cp "$top_srcdir/doc/wgotp-portal.8" "$T/man/man8/"
	sed "s|/usr/sbin/wgotp-portal|$PBIN|g" "$U/wgotp-portal.service" >"$T/portal/wgotp-portal.service"
	MANPATH=$T/man systemd-analyze verify "$T/portal/wgotp-portal.service" >"$T/verify.portal" 2>&1
	rc=$?
	grep -e "$T" -e 'wgotp-portal' "$T/verify.portal" >"$T/verify.portal.ours"
	[ $rc -eq 0 ] && [ ! -s "$T/verify.portal.ours" ]
	ok $? "systemd-analyze verify: wgotp-portal.service"
	sed 's/^/# /' "$T/verify.portal.ours"
	security "$T/portal/wgotp-portal.service" >"$T/security.portal"
	pe=$(sed -n 's/^→ Overall exposure level for wgotp-portal.service: \([0-9.]*\).*/\1/p' "$T/security.portal")
	[ -n "$pe" ]
	ok $? "systemd-analyze security --offline scores it: $pe"
	if [ -n "$readme_ver" ] && [ "$readme_ver" = "$SDVER" ]; then
		grep -qF -- "| \`wgotp-portal.service\` | $pe |" "$top_srcdir/contrib/README.md"
		ok $? "contrib/README.md reports the portal's score ($pe)"
	fi
else
	skip "wgotp-portal is not built (libmicrohttpd-dev)"
fi

# The Entra ID sync's service and timer.
CBIN=$top_builddir/wgotpctl/wgotpctl
if [ -x "$CBIN" ]; then
	mkdir -p "$T/sync"
	cp "$top_srcdir/doc/wgotpctl.8" "$T/man/man8/"
	sed "s|/usr/sbin/wgotpctl|$CBIN|g" "$U/wgotp-sync.service" >"$T/sync/wgotp-sync.service"
	cp "$U/wgotp-sync.timer" "$T/sync/wgotp-sync.timer"
	MANPATH=$T/man systemd-analyze verify "$T/sync/wgotp-sync.service" "$T/sync/wgotp-sync.timer" \
		>"$T/verify.sync" 2>&1
	rc=$?
	grep -e "$T" -e 'wgotp-sync' "$T/verify.sync" >"$T/verify.sync.ours"
	[ $rc -eq 0 ] && [ ! -s "$T/verify.sync.ours" ]
	ok $? "systemd-analyze verify: wgotp-sync.service and wgotp-sync.timer"
	sed 's/^/# /' "$T/verify.sync.ours"
fi

# tmpfiles.d: the audit log directory and file, under a temporary root.
if [ "$(id -u)" -eq 0 ] && getent group freerad >/dev/null && command -v systemd-tmpfiles >/dev/null 2>&1; then
	mkdir -p "$T/root/var/log" "$T/root/etc"
	cp /etc/passwd /etc/group "$T/root/etc/"	# tmpfiles resolves names under --root
	systemd-tmpfiles --create --root="$T/root" "$top_srcdir/contrib/tmpfiles.d/wgotp.conf" >"$T/tmpfiles.out" 2>&1
	ok $? "systemd-tmpfiles --create accepts contrib/tmpfiles.d/wgotp.conf"
	sed 's/^/# /' "$T/tmpfiles.out"
	is "$(stat -c '%a %U:%G' "$T/root/var/log/wgotp/audit.log" 2>&1)" "660 root:freerad" \
		"... and makes the audit log 0660 root:freerad"
else
	skip "systemd-tmpfiles under a temporary root needs root and the group freerad"
	skip "systemd-tmpfiles under a temporary root needs root and the group freerad"
fi
done_testing
