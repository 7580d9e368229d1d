#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The SMTP transport against a real SMTP server (tests/helpers/smtpd.py,
# aiosmtpd) on a loopback port: STARTTLS required, AUTH PLAIN and LOGIN
# with a password file, XOAUTH2 with a token from the emulated Microsoft
# identity platform, SMTPS; the received message's RFC 5322 headers.
set -u
. "$top_srcdir/tests/integration/lib/mail.sh"
mail_require
trap 'mail_cleanup' EXIT
mail_setup || { echo "Bail out! cannot make the test PKI"; exit 1; }

smtp_conf() {	# FILE URL AUTH [MAIL-LINES] [MORE]
	mail_conf "$1" "[Mail]
Transport = smtp
From = $MAIL_SENDER
CAFile = $MAIL_CA
${4:-}

[SMTP]
URL = $2
Auth = $3
Username = $MAIL_SENDER
PasswordFile = $MAIL_PASSWORD
${5:-}"
}
msg() { echo "$SMTPD_DIR/msg-$1.eml"; }
meta() { "$MAIL_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SMTPD_DIR/msg-$1.json" "$2"; }

# 1. STARTTLS + AUTH PLAIN.
smtpd_start plain --mechanisms PLAIN || { echo "Bail out! smtpd did not start"; exit 1; }
C=$MAIL_TMP/plain.conf
smtp_conf "$C" "smtp://127.0.0.1:$SMTPD_PORT" plain "Subject = Code for %{address}"
mail_send "$C" --code 424242 alice@example.com
check "STARTTLS + PLAIN: sent" sent_ok
check "the server received it" [ -s "$(msg 1)" ]
check "over TLS" [ "$(meta 1 tls)" = True ]
check "authenticated with PLAIN as the sender" [ "$(meta 1 mechanism) $(meta 1 login)" = "PLAIN $MAIL_SENDER" ]
check "envelope from" [ "$(meta 1 mail_from)" = "$MAIL_SENDER" ]
check "envelope to" [ "$(meta 1 rcpt_tos)" = "['alice@example.com']" ]
M=$(msg 1)
check "From header" [ "$(py_mail "$M" 'm["From"]')" = "$MAIL_SENDER" ]
check "To header" [ "$(py_mail "$M" 'm["To"]')" = alice@example.com ]
check "Subject header" [ "$(py_mail "$M" 'm["Subject"]')" = "Code for alice@example.com" ]
check "Date header parses as RFC 5322" [ "$(py_mail "$M" 'm["Date"].datetime.tzinfo is not None')" = True ]
check "Message-ID at the sender's domain" [ "$(py_mail "$M" 'm["Message-ID"].endswith("@example.com>") and m["Message-ID"].startswith("<")')" = True ]
check "MIME-Version 1.0" [ "$(py_mail "$M" 'm["MIME-Version"]')" = 1.0 ]
check "Content-Type text/plain; charset=UTF-8" [ "$(py_mail "$M" 'm.get_content_type() + ";" + m.get_content_charset()')" = "text/plain;utf-8" ]
check "one of each header" [ "$(py_mail "$M" 'all(len(m.get_all(h)) == 1 for h in ("Date","From","To","Subject","Message-ID","MIME-Version","Content-Type"))')" = True ]
check "no defects in the message" [ "$(py_mail "$M" 'len(m.defects) + sum(len(m[h].defects) for h in m.keys())')" = 0 ]
check "the code is in the body" [ "$(py_mail "$M" '"424242" in m.get_content()')" = True ]
check "CRLF line ends on the wire" grep -q $'^MIME-Version: 1.0\r$' "$M"

# 2. A UTF-8 subject and body.
printf 'Gr\xc3\xbc\xc3\x9fe \xe2\x80\x93 Ihr Code lautet %%{code}, g\xc3\xbcltig %%{minutes} Minuten.\n' >"$MAIL_TMP/body.txt"
U=$MAIL_TMP/utf8.conf
smtp_conf "$U" "smtp://127.0.0.1:$SMTPD_PORT" plain "Subject = Ihr VPN-Zugangscode für %{address} – bitte nicht weitergeben
BodyFile = $MAIL_TMP/body.txt"
mail_send "$U" --code 777001 jürgen@example.com
check "a non-ASCII address is refused before anything is sent" failed_with "invalid recipient"
mail_send "$U" --code 777002 juergen@example.com
check "UTF-8 subject and body: sent" sent_ok
M=$(msg 2)
check "subject decodes back to the UTF-8 text" [ "$(py_mail "$M" 'm["Subject"]')" = "Ihr VPN-Zugangscode für juergen@example.com – bitte nicht weitergeben" ]
check "the raw message is ASCII (RFC 2047 subject, QP body)" [ "$(tr -d '\r' <"$M" | LC_ALL=C grep -c '[^ -~]')" = 0 ]
check "body decodes back" [ "$(py_mail "$M" 'm.get_content().strip()')" = "Grüße – Ihr Code lautet 777002, gültig 5 Minuten." ]

# 3. AUTH LOGIN only.
smtpd_start login --mechanisms LOGIN || { echo "Bail out! smtpd did not start"; exit 1; }
L=$MAIL_TMP/login.conf
smtp_conf "$L" "smtp://127.0.0.1:$SMTPD_PORT" plain
mail_send "$L" --code 555001 bob@example.com
check "STARTTLS + LOGIN: sent" sent_ok
check "authenticated with LOGIN" [ "$(meta 1 mechanism)" = LOGIN ]

# 4. A wrong password.
(umask 077; echo wrong-pass >"$MAIL_TMP/wrong-pass")
smtp_conf "$L" "smtp://127.0.0.1:$SMTPD_PORT" plain "" ""
sed -i "s|^PasswordFile = .*|PasswordFile = $MAIL_TMP/wrong-pass|" "$L"
mail_send "$L" --code 555002 bob@example.com
check "wrong password: authentication refused" failed_with "authentication refused (535)"
check "nothing more was delivered" [ ! -e "$SMTPD_DIR/msg-2.eml" ]
check "the password is not printed" not grep -q "wrong-pass" <<<"$MAIL_OUT$MAIL_ERR"

# 5. A server without STARTTLS: refused before AUTH, nothing sent.
smtpd_start plaintext --no-starttls || { echo "Bail out! smtpd did not start"; exit 1; }
N=$MAIL_TMP/nostarttls.conf
smtp_conf "$N" "smtp://127.0.0.1:$SMTPD_PORT" plain
mail_send "$N" --code 555003 carol@example.com
check "no STARTTLS: refused" failed_with "does not offer STARTTLS"
check "no login was tried in clear text" [ ! -e "$SMTPD_DIR/auth-failures" ]
check "nothing delivered" [ ! -e "$SMTPD_DIR/msg-1.eml" ]

# 6. SMTPS (implicit TLS).
smtpd_start smtps --implicit-tls --mechanisms PLAIN || { echo "Bail out! smtpd did not start"; exit 1; }
S=$MAIL_TMP/smtps.conf
smtp_conf "$S" "smtps://127.0.0.1:$SMTPD_PORT" plain
mail_send "$S" --code 555004 dave@example.com
check "SMTPS: sent" sent_ok
check "SMTPS: received" [ -s "$SMTPD_DIR/msg-1.eml" ]

# 7. XOAUTH2 with a token from the (emulated) Microsoft identity platform.
emu_start || { echo "Bail out! the emulator did not start"; exit 1; }
smtpd_start xoauth2 --mechanisms XOAUTH2 --tokens "$EMU_DIR/tokens" || { echo "Bail out! smtpd did not start"; exit 1; }
X=$MAIL_TMP/xoauth2.conf
smtp_conf "$X" "smtp://127.0.0.1:$SMTPD_PORT" xoauth2 "" "
[Graph]
Tenant = $MAIL_TENANT
ClientId = $MAIL_CLIENT
ClientSecretFile = $MAIL_SECRET
Authority = $EMU_URL"
sed -i "/^PasswordFile/d" "$X"
mail_send "$X" --code 666001 erin@example.com
check "XOAUTH2: sent" sent_ok
check "authenticated with XOAUTH2" [ "$(meta 1 mechanism) $(meta 1 login)" = "XOAUTH2 $MAIL_SENDER" ]
check "the token was asked for the Outlook scope" [ "$(emu_last scope)" = "https://outlook.office365.com/.default" ]
mail_send "$X" --code 666002 erin@example.com
check "XOAUTH2 again: sent with the cached token" sent_ok
check "still one token request" [ "$(emu_count token)" = 1 ]

# 8. The cached token is revoked: 535, one refresh, sent.
: >"$EMU_DIR/actions-token"
emu_actions sendmail	# (not used by SMTP)
"$MAIL_PY" -c 'import sys; open(sys.argv[1], "w").close()' "$EMU_DIR/tokens"
mail_send "$X" --code 666003 erin@example.com
check "revoked token: sent after one refresh" sent_ok
check "two token requests in all" [ "$(emu_count token)" = 2 ]
check "one refused login on the server" [ "$(grep -c XOAUTH2 "$SMTPD_DIR/auth-failures")" = 1 ]
check "the refresh warning is logged" grep -q "refused the XOAUTH2 token" <<<"$MAIL_ERR"

# 9. A server that never answers: bounded by the budget.
"$MAIL_PY" -c '
import socket, sys, time, os
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
open(sys.argv[1] + "/port", "w").write(str(s.getsockname()[1]))
conns = []
while True:
    c, _ = s.accept(); conns.append(c)   # accept, never greet
' "$(mkdir -p "$MAIL_TMP/mute" && echo "$MAIL_TMP/mute")" &
MAIL_PIDS="$MAIL_PIDS $!"
mute_port=$(wait_port "$MAIL_TMP/mute" $!)
Q=$MAIL_TMP/mute.conf
smtp_conf "$Q" "smtp://127.0.0.1:$mute_port" plain "Timeout = 1500ms"
mail_send "$Q" --code 666004 frank@example.com
check "a mute server: fails with a timeout" failed_with "ETIMEDOUT"
echo "# mute SMTP server: returned after $MAIL_MS ms with a 1500 ms budget"

for c in 424242 777002 555001 555002 666001 666003 666004; do
	check "code $c never printed" code_not_logged "$c"
done
check "the SMTP password never printed" code_not_logged "smtp-pass-42"

done_testing
