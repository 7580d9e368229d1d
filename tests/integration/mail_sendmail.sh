#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The sendmail transport with a fake sendmail that records its arguments,
# environment and input: -t -i, no shell, LF line ends, the headers; a
# sendmail that fails, one that hangs (killed at the end of the budget),
# one that exits without reading; a recipient with CRLF never reaches it.
set -u
. "$top_srcdir/tests/integration/lib/mail.sh"
mail_require
trap 'mail_cleanup' EXIT
mail_setup || { echo "Bail out! cannot make the test dir"; exit 1; }

# The fake sendmail lives in a directory with spaces and a quote in its
# name: a shell would split or choke on it, an argument vector does not.
D="$MAIL_TMP/bin dir 'x'"
mkdir -p "$D" "$MAIL_TMP/calls"
cp "$top_srcdir/tests/helpers/fake-sendmail" "$D/sendmail"
mode() { printf 'FAKE_SENDMAIL_DIR=%q\nFAKE_SENDMAIL_MODE=%s\n' "$MAIL_TMP/calls" "$1" >"$D/fake-sendmail.env"; }
calls() { ls "$MAIL_TMP/calls" | grep -c '\.args$'; }
C=$MAIL_TMP/sendmail.conf
mail_conf "$C" "[Mail]
Transport = sendmail
From = $MAIL_SENDER
Subject = Your code for %{host}

[Sendmail]
Path = $D/sendmail"

mode ok
mail_send "$C" --code 909090 alice@example.com
check "sent" sent_ok
check "sendmail ran once" [ "$(calls)" = 1 ]
check "arguments: -t -i" [ "$(cat "$MAIL_TMP/calls/call-1.args" | tr '\n' ' ')" = "-t -i " ]
check "a minimal environment" [ "$(grep -c '^PATH=/usr/sbin:/usr/bin:/sbin:/bin$' "$MAIL_TMP/calls/call-1.env")" = 1 ]
M=$MAIL_TMP/calls/call-1.msg
check "LF line ends (no CR) for sendmail" [ "$(grep -c $'\r' "$M")" = 0 ]
check "To header" [ "$(py_mail "$M" 'm["To"]')" = alice@example.com ]
check "From header" [ "$(py_mail "$M" 'm["From"]')" = "$MAIL_SENDER" ]
check "Subject with the host name" [ "$(py_mail "$M" 'm["Subject"]')" = "Your code for $(hostname)" ]
check "Date, Message-ID, MIME-Version, Content-Type" \
	[ "$(py_mail "$M" 'all(m[h] for h in ("Date","Message-ID","MIME-Version")) and m.get_content_charset()')" = utf-8 ]
check "the code in the body" [ "$(py_mail "$M" '"909090" in m.get_content()')" = True ]

mode fail
mail_send "$C" --code 909091 alice@example.com
check "a failing sendmail: error with its status and message" \
	failed_with "exit status 75: sendmail: fatal: queue file write error"

mode early
mail_send "$C" --code 909092 alice@example.com
echo "# a sendmail that exits 0 without reading: rc=$MAIL_RC"
check "a sendmail that exits without reading: no SIGPIPE, an answer" [ "$MAIL_RC" -le 1 ]

mode hang
H=$MAIL_TMP/hang.conf
sed 's/^\[Mail\]$/[Mail]\nTimeout = 1s/' "$C" >"$H"
before=$(calls)
mail_send "$H" --code 909093 alice@example.com
check "a hanging sendmail: fails with a timeout" failed_with "not done within the mail time budget (killed)"
echo "# hanging sendmail: returned after $MAIL_MS ms with a 1000 ms budget"
hang_pid=$(cat "$MAIL_TMP/calls/hang.pid")
check "and it is gone (killed and reaped)" not kill -0 "$hang_pid" 2>/dev/null

mode ok
before=$(calls)
mail_send "$C" --code 909094 $'alice@example.com\r\nBcc: eve@evil.test'
check "a recipient with CRLF is refused" failed_with "invalid recipient"
mail_send "$C" --code 909095 $'alice@example.com\nBcc: eve@evil.test'
check "a recipient with LF is refused" failed_with "invalid recipient"
check "sendmail was not started for them" [ "$(calls)" = "$before" ]

N=$MAIL_TMP/missing.conf
mail_conf "$N" "[Mail]
Transport = sendmail
From = $MAIL_SENDER
[Sendmail]
Path = $MAIL_TMP/nonexistent"
mail_send "$N" --code 909096 alice@example.com
check "a missing sendmail: the mailer is not built" [ "$MAIL_RC" = 2 ] 
check "and the reason names the key and the cause" grep -q "\[Sendmail\] Path .*/nonexistent: No such file or directory" <<<"$MAIL_ERR"

for c in 909090 909091 909093 909094; do
	check "code $c never printed" code_not_logged "$c"
done
done_testing
