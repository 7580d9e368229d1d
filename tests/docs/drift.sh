#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Documentation that cannot drift from the code:
#  - every key of lib/conf.c's table is in wgotp.conf(5) and in
#    wgotp.conf.sample, under its section, with its default; and neither
#    documents a key the table does not have;
#  - every [Activator] key, option and short option of wg-activator is in
#    wg-activator(8);
#  - every wgotpctl command, subcommand and option is in wgotpctl(8);
#  - every audit event has an example line in doc/audit-log.md, every
#    reason of the login flow is explained there;
#  - every man page in doc/ passes `mandoc -T lint` and `groff -ww -z`
#    with no message at all.
# The man pages are read as mandoc renders them (mandoc -T ascii), so
# markup does not matter. SKIP without mandoc (build-aux/install-deps).
set -u
: "${top_srcdir:?}"
. "$top_srcdir/tests/integration/lib/tap.sh"
S=$top_srcdir

command -v mandoc >/dev/null 2>&1 || { echo "1..0 # SKIP mandoc not installed (Debian: mandoc)"; exit 0; }
command -v groff >/dev/null 2>&1 || { echo "1..0 # SKIP groff not installed (Debian: groff-base)"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-docs.XXXXXX")
trap 'rm -rf "$T"' EXIT

render() { mandoc -T ascii "$1" 2>/dev/null | col -b; }

# lib/conf.c: "Section<TAB>Key<TAB>default" for each row of keys[].
# A default that is a macro (set by configure, e.g. a path under
# $(pkgdatadir)) is "*": any documented default will do.
sed -n -e 's/^[[:space:]]*{ "\([A-Za-z]*\)", "\([A-Za-z]*\)", T_[A-Z]*, F([a-z_]*), [^,]*, [^,]*, "\([^"]*\)", [A-Za-z_]* },$/\1\t\2\t\3/p' \
	-e 's/^[[:space:]]*{ "\([A-Za-z]*\)", "\([A-Za-z]*\)", T_[A-Z]*, F([a-z_]*), [^,]*, [^,]*, [A-Z_][A-Z0-9_]*, [A-Za-z_]* },$/\1\t\2\t*/p' \
	"$S/lib/conf.c" >"$T/keys"
n_keys=$(wc -l <"$T/keys")
[ "$n_keys" -ge 50 ]
ok $? "lib/conf.c's key table parsed: $n_keys keys"

# "Section<TAB>Key<TAB>value" of wgotp.conf.sample (its values are the defaults).
awk '/^\[[A-Za-z]+\][[:space:]]*$/ { sec = $0; gsub(/[][[:space:]]/, "", sec); next }
	/^[A-Za-z]+[[:space:]]*=/ { k = $0; sub(/[[:space:]]*=.*/, "", k); v = $0; sub(/^[^=]*=[[:space:]]*/, "", v)
		sub(/[[:space:]]+$/, "", v); print sec "\t" k "\t" v }' "$S/wgotp.conf.sample" >"$T/sample"

# The same of wgotp.conf(5), from its source: the paragraph tags
# `.BR Key " = " value` (or `.BR Key " ="`) under `.SH [Section]`, the
# value's font escapes and quotes removed.
awk '/^\.SH / { sec = ""; if ($2 ~ /^\[[A-Za-z]+\]$/) { sec = $2; gsub(/[][]/, "", sec) }; next }
	sec != "" && /^\.BR [A-Za-z]+ " =/ { k = $2; v = $0; sub(/^\.BR [A-Za-z]+ " = ?"/, "", v); sub(/^ /, "", v)
		 gsub(/\\f[BIRP]/, "", v); gsub(/\\-/, "-", v); gsub(/\\&/, "", v)
		sub(/^"/, "", v); sub(/"$/, "", v); print sec "\t" k "\t" v }' "$S/doc/wgotp.conf.5" >"$T/man5"

check_keys() {
	local what=$1 file=$2 sec key def missing='' wrong='' extra='' got
	while IFS="$(printf '\t')" read -r sec key def; do
		got=$(awk -F '\t' -v s="$sec" -v k="$key" 'tolower($1) == tolower(s) && tolower($2) == tolower(k) { print "=" $3; exit }' "$file")
		if [ -z "$got" ]; then
			missing="$missing [$sec] $key"
		elif [ "$def" != "*" ] && [ "$got" != "=$def" ]; then
			wrong="$wrong [$sec] $key = '${got#=}', not '$def';"
		fi
	done <"$T/keys"
	while IFS="$(printf '\t')" read -r sec key def; do
		awk -F '\t' -v s="$sec" -v k="$key" 'tolower($1) == tolower(s) && tolower($2) == tolower(k) { f = 1 } END { exit !f }' "$T/keys" ||
			extra="$extra [$sec] $key"
	done <"$file"
	is "$missing" "" "$what has every key of lib/conf.c"
	is "$wrong" "" "$what gives each key the default lib/conf.c has"
	is "$extra" "" "$what has no key that lib/conf.c does not"
}
check_keys wgotp.conf.sample "$T/sample"
check_keys "wgotp.conf(5)" "$T/man5"

# wg-activator(8): the [Activator] keys, the long and the short options.
render "$S/doc/wg-activator.8" >"$T/act8.txt"
missing=
for key in $(awk -F '\t' '$1 == "Activator" { print $2 }' "$T/keys"); do
	grep -qw -- "$key" "$T/act8.txt" || missing="$missing $key"
done
is "$missing" "" "wg-activator(8) names every [Activator] key"
longs=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z]*_argument,.*/\1/p' "$S/wg-activator/main.c")
shorts=$(sed -n 's/.*getopt_long(argc, argv, "\([^"]*\)".*/\1/p' "$S/wg-activator/main.c" | tr -d ':+')
missing=
for o in $longs; do grep -q -- "--$o\b" "$T/act8.txt" || missing="$missing --$o"; done
for o in $(printf '%s' "$shorts" | sed 's/./& /g'); do
	grep -qE -- "(^|[^-a-z])-$o\b" "$T/act8.txt" || missing="$missing -$o"
done
[ -n "$longs" ] && [ -n "$shorts" ]
ok $? "wg-activator's options parsed: $(echo $longs) / $shorts"
is "$missing" "" "wg-activator(8) has every option"

# wgotpctl(8): commands (main.c's table), subcommands (each GROUP_cmds[]
# table), options (every struct option table), short options.
render "$S/doc/wgotpctl.8" >"$T/ctl8.txt"
awk '/^static const struct ctl_cmd commands\[\]/ { g = ""; t = 1; next }
	/^static const struct ctl_cmd [a-z]+_cmds\[\]/ { g = $5; sub(/_cmds.*/, "", g); t = 1; next }
	t && /^};/ { t = 0 }
	t && /{ "[a-z-]+", / { c = $0; sub(/^[^"]*"/, "", c); sub(/".*/, "", c); print (g == "" ? c : g " " c) }' \
	"$S"/wgotpctl/*.c | sort -u >"$T/cmds"
n=$(wc -l <"$T/cmds")
[ "$n" -ge 15 ]
ok $? "wgotpctl's command tables parsed: $n commands"
missing=
while read -r c; do
	# a group is documented through its subcommands
	grep -q "^$c " "$T/cmds" && continue
	grep -qE "^       $c( |$)" "$T/ctl8.txt" || missing="$missing [$c]"
done <"$T/cmds"
is "$missing" "" "wgotpctl(8) has a paragraph for every command"
longs=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z]*_argument,.*/\1/p' "$S"/wgotpctl/*.c | sort -u)
shorts=$(sed -n 's/.*getopt_long(argc, argv, "\([^"]*\)", opts.*/\1/p' "$S/wgotpctl/main.c" | tr -d ':+')
missing=
for o in $longs; do grep -q -- "--$o\b" "$T/ctl8.txt" || missing="$missing --$o"; done
for o in $(printf '%s' "$shorts" | sed 's/./& /g'); do
	grep -qE -- "(^|[^-a-z])-$o\b" "$T/ctl8.txt" || missing="$missing -$o"
done
[ -n "$longs" ] && [ -n "$shorts" ]
ok $? "wgotpctl's options parsed: $(echo $longs) / $shorts"
is "$missing" "" "wgotpctl(8) has every option"

# doc/audit-log.md: an example line for every event the code writes, in
# the format (the time first), and every reason of the login flow.
events=$( { sed -n 's/.*[^_]audit(\(f, \)\{0,1\}req, "\([a-z_]*\)".*/\2/p' "$S/lib/flow.c"
	sed -n 's/.*[^_]audit("\([a-z_]*\)".*/\1/p' "$S/wg-activator/ops.c"
	sed -n 's/.*\.event = "\([a-z_]*\)".*/\1/p' "$S"/wgotpctl/*.c; } | sort -u)
[ "$(printf '%s\n' "$events" | grep -c .)" -ge 5 ]
ok $? "audit events parsed from the code: $(echo $events)"
missing=
for e in $events; do
	grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z wgotp-audit event=$e origin=[a-z-]+ user=\"[^\"]*\" client=\"[^\"]*\" method=[a-z-]+ result=[a-z]+ reason=[a-z_]+ device=\"[^\"]*\"( duration=[0-9]+)?$" \
		"$S/doc/audit-log.md" || missing="$missing $e"
done
is "$missing" "" "doc/audit-log.md has a well-formed example line for each"
reasons=$(sed -n '/^static const char \*const reason_names\[[A-Z_]*\]/,/^};/ s/.*= "\([a-z_]*\)",.*/\1/p' "$S/lib/flow.c")
missing=
for r in $reasons; do grep -q "\`$r\`" "$S/doc/audit-log.md" || missing="$missing $r"; done
[ -n "$reasons" ] && [ -z "$missing" ]
ok $? "doc/audit-log.md explains every reason of lib/flow.c${missing:+ (missing:$missing)}"

# Every man page: mandoc -T lint and groff -ww, without a message.
for f in "$S"/doc/*.[1-8]; do
	name=${f#"$S"/}
	lint=$(mandoc -T lint "$f" 2>&1)
	is "$lint" "" "mandoc -T lint $name"
	out=$(groff -man -ww -z "$f" 2>&1)
	is "$out" "" "groff -man -ww -z $name"
done
done_testing
