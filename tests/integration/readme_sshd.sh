#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The README's SSH jump host steps on a stock Debian 12 OpenSSH: the shell
# block under "## SSH jump host (pam_wgotp)" in README.md, parsed out of
# README.md and run as written from the source tree, on copies of the
# machine's /etc/ssh and /etc/pam.d (the real ones are only read): in the
# block, /etc/ssh and /etc/pam.d name the copies, `sudo` runs its
# command, `sshd` is the real sshd on the copy's sshd_config (with a host
# key of the test's own), and `systemctl` is only recorded. In the copy of
# sshd_config, its Include names the copy's sshd_config.d. Then sshd -T
# must show the settings contrib/sshd_config.d/wgotp.conf is for, and the
# PAM lines the README shows must be those of contrib/pam.d/sshd.
#
# Needs root (sshd -t reads its privilege separation setup) and sshd;
# SKIP otherwise.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/tests/integration/lib/tap.sh"

SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root (sshd -t)"
[ -x "$SSHD_BIN" ] || skip_all "$SSHD_BIN not installed (Debian: openssh-server)"
[ -f /etc/ssh/sshd_config ] || skip_all "no stock /etc/ssh/sshd_config"
[ -d /etc/pam.d ] || skip_all "no /etc/pam.d"
command -v ssh-keygen >/dev/null 2>&1 || skip_all "ssh-keygen not installed"

D=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-readme-ssh.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT
trap 'exit 1' INT TERM
E=$D/etc

# The first fenced block whose info string is INFO ("sh", or "" for a
# plain one) under the README heading HEADING.
readme_block() {
	awk -v h="$1" -v info="$2" '
		$0 == h { in_sec = 1; next }
		in_sec && /^## / { exit }
		in_sec && /^```/ {
			if (!open) { open = 1; want = (substr($0, 4) == info); next }
			if (want) exit
			open = 0; next
		}
		in_sec && open && want { print }' "$top_srcdir/README.md"
}

# sshd -T of a configuration: "key value" lines, lower case keys.
effective() { "$SSHD_BIN" -T -f "$1" -h "$D/hostkey" -C user=nobody,host=localhost,addr=127.0.0.1 2>&1; }
setting() { awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"; }

plan 14

BLOCK=$(readme_block '## SSH jump host (pam_wgotp)' sh)
printf '%s\n' "$BLOCK" | grep -q '/etc/ssh/sshd_config.d/' && printf '%s\n' "$BLOCK" | grep -q 'sshd -t'
ok $? "README.md has the SSH jump host shell block: the sshd_config.d file and sshd -t"
printf '%s\n' "$BLOCK" | sed 's/^/#   /'

mkdir -p "$E"
cp -a /etc/ssh "$E/ssh"
cp -a /etc/pam.d "$E/pam.d"
rm -f "$E/ssh/sshd_config.d/wgotp.conf"
ssh-keygen -q -t ed25519 -N '' -f "$D/hostkey" -C wgotp-readme-test
grep -q '^Include /etc/ssh/sshd_config.d/\*\.conf' "$E/ssh/sshd_config"
ok $? "the stock sshd_config includes /etc/ssh/sshd_config.d/*.conf"
sed -i "s|^Include /etc/ssh/|Include $E/ssh/|" "$E/ssh/sshd_config"
[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd && made_run=1; }
trap '[ -n "${made_run:-}" ] && rmdir /run/sshd 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$D"' EXIT

effective "$E/ssh/sshd_config" >"$D/stock.T"
is "$(setting "$D/stock.T" kbdinteractiveauthentication)" no \
	"before: the stock configuration has keyboard-interactive off"

# The block, as written, with its paths pointing at the copies.
{
	printf 'set -e\n'
	printf 'sudo() { "$@"; }\n'
	printf 'sshd() { %s -f %s -h %s "$@"; }\n' "$SSHD_BIN" "$E/ssh/sshd_config" "$D/hostkey"
	printf 'systemctl() { echo "systemctl $*" >>%s; }\n' "$D/systemctl.log"
	printf '%s\n' "$BLOCK" | sed -e "s|/etc/ssh/|$E/ssh/|g" -e "s|/etc/pam\.d/|$E/pam.d/|g"
} >"$D/steps.sh"
(cd "$top_srcdir" && bash "$D/steps.sh") >"$D/steps.out" 2>&1
ok $? "the README's steps run, sshd -t included"
sed 's/^/# /' "$D/steps.out"
cmp -s "$top_srcdir/contrib/sshd_config.d/wgotp.conf" "$E/ssh/sshd_config.d/wgotp.conf"
ok $? "... contrib/sshd_config.d/wgotp.conf is in sshd_config.d"
cmp -s "$top_srcdir/contrib/pam.d/sshd" "$E/pam.d/sshd"
ok $? "... contrib/pam.d/sshd is pam.d/sshd"
grep -qx 'systemctl reload ssh' "$D/systemctl.log" 2>/dev/null
ok $? "... and ssh is reloaded (Debian's unit is ssh.service)"

"$SSHD_BIN" -t -f "$E/ssh/sshd_config" -h "$D/hostkey" >"$D/t.out" 2>&1
ok $? "sshd -t accepts the stock sshd_config with the drop-in"
sed 's/^/# /' "$D/t.out"
effective "$E/ssh/sshd_config" >"$D/after.T"
is "$(setting "$D/after.T" usepam)" yes "after: UsePAM yes"
is "$(setting "$D/after.T" kbdinteractiveauthentication)" yes \
	"... KbdInteractiveAuthentication yes (the drop-in wins over the stock 'no' after the Include)"
is "$(setting "$D/after.T" passwordauthentication)" no "... PasswordAuthentication no"
is "$(setting "$D/after.T" authenticationmethods)" keyboard-interactive \
	"... AuthenticationMethods keyboard-interactive: the password and the code both go through PAM"
is "$(setting "$D/after.T" permitrootlogin)" no "... PermitRootLogin no"

# The PAM lines the README shows are those of the file it installs.
missing=
while IFS= read -r line; do
	[ -n "$line" ] || continue
	want=$(printf '%s\n' "$line" | tr -s ' \t' ' ')
	grep -v '^[[:space:]]*#' "$top_srcdir/contrib/pam.d/sshd" | tr -s ' \t' ' ' | grep -qxF "$want" ||
		missing="$missing [$line]"
done <<LINES
$(readme_block '## SSH jump host (pam_wgotp)' '')
LINES
is "$missing" "" "every PAM line the README shows is in contrib/pam.d/sshd"
