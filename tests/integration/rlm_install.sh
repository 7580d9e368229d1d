#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `make install` of rlm_wgotp with DESTDIR: the module and the raddb
# files; a file an admin edited is never overwritten (the new one goes
# next to it as FILE.dist); uninstall removes only what is still ours.
. "$top_srcdir/tests/integration/lib/radius.sh"
if [ ! -f "$top_builddir/rlm_wgotp/Makefile" ]; then
	echo "1..0 # SKIP rlm_wgotp is not configured (--disable-rlm)"
	exit 0
fi
D=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-install.XXXXXX")
trap 'rm -rf "$D"' EXIT
MK=${MAKE:-make}
inst() { env -u MAKEFLAGS -u MFLAGS $MK -s -C "$top_builddir/rlm_wgotp" "$1" DESTDIR="$D" > "$D/make.out" 2>&1; }
raddb=$(sed -n 's/^raddbdir = //p' "$top_builddir/rlm_wgotp/Makefile")
rlmdir=$(sed -n 's/^rlmdir = //p' "$top_builddir/rlm_wgotp/Makefile")
R=$D$raddb
files="dictionary.wgotp mods-available/wgotp sites-available/wgotp sites-available/wgotp-password sites-available/wgotp-tls"

plan 12
inst install
ok $? "make install DESTDIR=... succeeds"
[ -f "$D$rlmdir/rlm_wgotp.so" ] && [ ! -e "$D$rlmdir/rlm_wgotp.la" ]
ok $? "rlm_wgotp.so is installed in $rlmdir (without the libtool archive)"
r=0
for f in $files; do cmp -s "$top_srcdir/raddb/$f" "$R/$f" || { r=1; diag "$f not installed as shipped"; }; done
ok $r "every raddb file is installed under $raddb"

# An admin edits the module configuration.
printf '# edited by the admin\n' >> "$R/mods-available/wgotp"
cp "$R/mods-available/wgotp" "$D/edited"
inst install
ok $? "make install again succeeds"
cmp -s "$D/edited" "$R/mods-available/wgotp"
ok $? "the edited mods-available/wgotp is left as the admin wrote it"
cmp -s "$top_srcdir/raddb/mods-available/wgotp" "$R/mods-available/wgotp.dist"
ok $? "... and ours is next to it as mods-available/wgotp.dist"
grep -q 'mods-available/wgotp differs' "$D/make.out"
ok $? "... which make install says"
[ ! -e "$R/sites-available/wgotp.dist" ]
ok $? "an unedited file gets no .dist"
cmp -s "$top_srcdir/raddb/sites-available/wgotp" "$R/sites-available/wgotp"
ok $? "... and is still ours"

inst uninstall
ok $? "make uninstall succeeds"
cmp -s "$D/edited" "$R/mods-available/wgotp"
ok $? "uninstall keeps the edited file"
left=$(cd "$D" && find . -type f ! -name edited ! -name make.out ! -path './.*' | grep -v "mods-available/wgotp$")
is "$left" "" "uninstall removes everything else it installed (.dist included)"
