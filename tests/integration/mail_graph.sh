#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The Graph transport against a local HTTPS emulator of the Microsoft
# identity platform and Graph (tests/helpers/ms-emulator.py): client
# secret and certificate (JWT PS256) credentials, the token cache shared
# through the store, 401 -> one refresh, 429/503 with Retry-After within
# the budget, 500 with Graph's error, a slow server against the budget,
# TLS verification.
set -u
. "$top_srcdir/tests/integration/lib/mail.sh"
mail_require
trap 'mail_cleanup' EXIT
mail_setup || { echo "Bail out! cannot make the test PKI"; exit 1; }
emu_start || { echo "Bail out! the emulator did not start"; exit 1; }

graph_conf() {	# FILE CREDENTIAL-LINES [MAIL-LINES]
	mail_conf "$1" "[Mail]
Transport = graph
From = $MAIL_SENDER
Subject = VPN code for %{address}
CAFile = $MAIL_CA
${3:-}

[Graph]
Tenant = $MAIL_TENANT
ClientId = $MAIL_CLIENT
Authority = $EMU_URL
URL = $EMU_URL
$2"
}
C=$MAIL_TMP/secret.conf
graph_conf "$C" "ClientSecretFile = $MAIL_SECRET"
mail_json() {	# N EXPR
	"$MAIL_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); m=d["message"]; print(eval(sys.argv[2]))' \
		"$EMU_DIR/mail-$1.json" "$2"
}

# 1. Client secret: one token request, one sendMail.
mail_send "$C" --code 314159 alice@example.com
check "client secret: sent" sent_ok
check "one token request, with the secret" [ "$(emu_count token 200)" = 1 ]
check "one sendMail accepted (202)" [ "$(emu_count sendmail 202)" = 1 ]
check "no request refused by the emulator" [ "$(emu_count token 400)$(emu_count token 401)$(emu_count sendmail 400)" = 000 ]
check "recipient" [ "$(mail_json 1 'm["toRecipients"][0]["emailAddress"]["address"]')" = alice@example.com ]
check "subject template expanded" [ "$(mail_json 1 'm["subject"]')" = "VPN code for alice@example.com" ]
check "the code is in the text body" [ "$(mail_json 1 '"314159" in m["body"]["content"] and m["body"]["contentType"]')" = Text ]
check "lifetime in words" [ "$(mail_json 1 '"5 minutes" in m["body"]["content"]')" = True ]
check "saveToSentItems is false" [ "$(mail_json 1 'd["saveToSentItems"]')" = False ]

# 2. A second process finds the token in the store: no new token request.
mail_send "$C" --code 271828 bob@example.com
check "second send: sent" sent_ok
check "the cached token was used (still one token request)" [ "$(emu_count token)" = 1 ]
mail_send "$C" --no-store --code 271828 bob@example.com
check "without the store: sent" sent_ok
check "without the store a token is fetched" [ "$(emu_count token)" = 2 ]

# 3. The cached token is revoked: 401, one refresh, sent.
emu_actions sendmail revoke
tok_before=$(emu_count token)
mail_send "$C" --code 100001 carol@example.com
check "401 with a revoked token: sent after a refresh" sent_ok
check "exactly one new token" [ "$(emu_count token)" = $((tok_before + 1)) ]
check "one 401 then 202" [ "$(emu_count sendmail 401)" = 1 ]
check "the refresh warning is logged" grep -q "refused the access token (401)" <<<"$MAIL_ERR"

# 4. 401 twice: refreshes once only, then fails with Graph's error.
emu_actions sendmail 401 401 401
tok_before=$(emu_count token)
s401_before=$(emu_count sendmail 401)
mail_send "$C" --code 100002 carol@example.com
check "401 twice: fails" failed_with "HTTP 401 InvalidAuthenticationToken"
check "only one refresh" [ "$(emu_count token)" = $((tok_before + 1)) ]
check "two sendMail attempts (not three)" [ "$(emu_count sendmail 401)" = $((s401_before + 2)) ]
emu_actions sendmail

# 5. 429 with Retry-After: 1 -> waits, retries, sent.
emu_actions sendmail 429:1
mail_send "$C" --code 100003 dave@example.com
check "429 Retry-After 1: sent on the retry" sent_ok
check "waited about the second it was asked to (${MAIL_MS} ms)" [ "$MAIL_MS" -ge 900 ]
check "the throttling warning is logged" grep -q "answered 429; retrying after 1 s" <<<"$MAIL_ERR"

# 6. 503 with Retry-After: 1 -> the same.
emu_actions sendmail 503:1
mail_send "$C" --code 100004 dave@example.com
check "503 Retry-After 1: sent on the retry" sent_ok

# 7. 429 with a Retry-After longer than the budget: fails at once.
emu_actions sendmail 429:30
mail_send "$C" --code 100005 dave@example.com
check "429 Retry-After 30 (budget 8 s): fails" failed_with "throttled (HTTP 429, Retry-After 30 s)"
check "and says the wait does not fit" failed_with "does not fit in the mail time budget"
echo "# returned after $MAIL_MS ms (no waiting)"
emu_actions sendmail

# 8. 500: Graph's error code and message.
emu_actions sendmail 500
mail_send "$C" --code 100006 erin@example.com
check "500: fails with Graph's code and message" \
	failed_with "HTTP 500 ErrorInternalServerError: An internal server error occurred"

# 9. A server slower than the budget: a bounded error, not a hang.
S=$MAIL_TMP/slow.conf
graph_conf "$S" "ClientSecretFile = $MAIL_SECRET" "Timeout = 1500ms"
emu_actions sendmail slow:6
mail_send "$S" --code 100007 erin@example.com
check "slow Graph: fails with a timeout" failed_with "ETIMEDOUT"
echo "# slow Graph: returned after $MAIL_MS ms with a 1500 ms budget"
emu_actions token slow:6
mail_send "$S" --no-store --code 100008 erin@example.com
check "slow token endpoint: fails with a timeout" failed_with "ETIMEDOUT"
echo "# slow token endpoint: returned after $MAIL_MS ms with a 1500 ms budget"
emu_actions token

# 10. Certificate credential: a PS256 JWT assertion the emulator verifies.
K=$MAIL_TMP/cert.conf
graph_conf "$K" "CertificateFile = $MAIL_APP_CERT
PrivateKeyFile = $MAIL_APP_KEY"
mail_send "$K" --no-store --code 100009 frank@example.com
check "certificate: sent" sent_ok
check "the token came from a verified client assertion" [ "$(emu_count token 200 assertion)" = 1 ]
mail_send "$K" --no-store --code 100010 frank@example.com
check "a second assertion (a fresh jti) is accepted too" sent_ok
check "two verified assertions" [ "$(emu_count token 200 assertion)" = 2 ]

# A certificate that is not the registered one: the emulator refuses it.
(cd "$MAIL_TMP" && openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.pem \
	-days 1 -subj "/CN=rogue" >/dev/null 2>&1 && chmod 600 rogue.key)
R=$MAIL_TMP/rogue.conf
graph_conf "$R" "CertificateFile = $MAIL_TMP/rogue.pem
PrivateKeyFile = $MAIL_TMP/rogue.key"
mail_send "$R" --no-store --code 100011 frank@example.com
check "an unregistered certificate: fails with the token endpoint's error" \
	failed_with "token endpoint: invalid_client: AADSTS700027"

# 11. A wrong client secret: the token endpoint's error, no sendMail.
W=$MAIL_TMP/wrong.conf
(umask 077; echo wrong >"$MAIL_TMP/wrong-secret")
graph_conf "$W" "ClientSecretFile = $MAIL_TMP/wrong-secret"
mail_before=$(emu_count sendmail)
mail_send "$W" --no-store --code 100012 gina@example.com
check "wrong secret: fails with invalid_client and the AADSTS text" \
	failed_with "token endpoint: invalid_client: AADSTS7000215: Invalid client secret provided."
check "no sendMail was tried" [ "$(emu_count sendmail)" = "$mail_before" ]
check "the wrong secret is not printed" not grep -q "wrong" <<<"$MAIL_OUT$MAIL_ERR"

# 12. A token endpoint answering garbage.
emu_actions token badjson
mail_send "$C" --no-store --code 100013 gina@example.com
check "token endpoint answering HTML: fails" failed_with "token endpoint: the answer is not a JSON object"

# 13. TLS: a server certificate from a CA we do not trust.
T=$MAIL_TMP/untrusted.conf
graph_conf "$T" "ClientSecretFile = $MAIL_SECRET"
sed -i "s|^CAFile = .*|CAFile = $MAIL_OTHER_CA|" "$T"
mail_send "$T" --no-store --code 100014 gina@example.com
check "untrusted server certificate: fails (EPROTO)" failed_with "EPROTO"

# 14. No code in anything mail-send or the library printed.
for c in 314159 271828 100001 100002 100003 100005 100006 100007 100009 100012; do
	check "code $c never printed" code_not_logged "$c"
done
check "the client secret never printed" code_not_logged "s3cr3t~client"

done_testing
