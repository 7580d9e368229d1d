#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Two freeradius servers (A and B) sharing one real redis-server: an email
# challenge issued by A is answered at B; a TOTP code accepted at A is
# refused at B; failures count across both; Redis stopped mid-run makes
# both reject (fail closed, one log line, no crash) and they serve again
# when it is back, without a restart.
. "$top_srcdir/tests/integration/lib/radius.sh"
. "$top_srcdir/tests/integration/lib/redis.sh"
rad_require
redis_require
grep -q '^#define HAVE_REDIS 1' "$top_builddir/config.h" || { echo "1..0 # SKIP built without hiredis"; exit 0; }

T=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-redisrad.XXXXXX")
A_PID= B_PID=
cleanup() {
	for p in $A_PID $B_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	redis_stop
	[ -n "${A_DIR:-}" ] && rm -rf "$A_DIR"
	[ -n "${B_DIR:-}" ] && rm -rf "$B_DIR"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
redis_start "$T/redis" || { echo "Bail out! redis-server did not start"; exit 1; }

# A fake sendmail that keeps every message (it runs with an empty environment).
cat > "$T/sendmail" <<EOF2
#!/bin/sh
cat > "$T/mail.\$\$"
EOF2
chmod 755 "$T/sendmail"
# The code in the newest mail (the body: after the first empty line).
last_code() {
	m=$(ls -t "$T"/mail.* 2>/dev/null | head -n1)
	[ -n "$m" ] && sed '1,/^$/d' "$m" | grep -oE '(^|[^0-9])[0-9]{6}([^0-9]|$)' | grep -oE '[0-9]{6}' | head -n1
}

S1=JBSWY3DPEHPK3PXP
S2=KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF
S3=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U
RAD_ACTIVATE=no
RAD_MAX_FAILURES=3
RAD_UNKNOWN_USER=totp
RAD_CONF_EXTRA="[Mail]
Transport = sendmail
From = vpn@example.com
[Sendmail]
Path = $T/sendmail"

# One freeradius per instance: radius.sh keeps one in globals, so set up
# each in turn and keep what differs.
mk_instance() {
	rad_init
	# servers that share state share the server key (codes are stored as
	# HMACs under it)
	[ -n "${A_DIR:-}" ] && cp "$A_DIR/wgotp/server.key" "$RAD_DIR/wgotp/server.key"
	sed -i -e 's/^Backend = sqlite$/Backend = redis/' "$RAD_CONF"
	cat >> "$RAD_CONF" <<EOF2
[Store]
RedisHost = 127.0.0.1
RedisPort = $REDIS_PORT
RedisUser = $REDIS_USER
RedisPasswordFile = $REDIS_PWFILE
RedisTimeout = 500
RedisConnectTimeout = 500
EOF2
	rad_user_totp alice@example.com "$S1"
	rad_user_totp bob@example.com "$S2"
	rad_user_totp carol@example.com "$S3"
	rad_user_email erin@example.com
	rad_start || { echo "Bail out! freeradius did not start"; exit 1; }
}
mk_instance
A_DIR=$RAD_DIR A_PORT=$RAD_PORT A_PID=$RAD_SERVER_PID A_LOG=$RAD_LOG
RAD_SERVER_PID=
mk_instance
B_DIR=$RAD_DIR B_PORT=$RAD_PORT B_PID=$RAD_SERVER_PID B_LOG=$RAD_LOG
RAD_SERVER_PID=
trap cleanup EXIT
A=127.0.0.1:$A_PORT
B=127.0.0.1:$B_PORT

plan 17

# --- email: challenge at A, answer at B ---------------------------------
rad_auth 'User-Name = "erin@example.com", User-Password = ""' "$A"
is "$RAD_CODE" Access-Challenge "email user at A: a challenge, and a mail"
state=$(rad_reply State)
code=$(last_code)
[ -n "$code" ]
ok $? "the mail holds a code"
rad_auth "User-Name = \"erin@example.com\", State = $state, User-Password = \"$code\"" "$B"
is "$RAD_CODE" Access-Accept "the code for A's challenge is accepted at B"
rad_auth "User-Name = \"erin@example.com\", State = $state, User-Password = \"$code\"" "$A"
is "$RAD_CODE" Access-Reject "... and the answered challenge is dead at A"

# --- TOTP replay across servers -------------------------------------------
c=$(rad_totp "$S1")
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$c\"" "$A"
is "$RAD_CODE" Access-Accept "TOTP code accepted at A"
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$c\"" "$B"
is "$RAD_CODE" Access-Reject "the same code at B: a replay, rejected"

# --- failures count across both (MaxFailures = 3) -------------------------
good=$(rad_totp "$S2")
bad=$(awk -v c="$good" 'BEGIN { printf "%06d", (c + 7) % 1000000 }')
rad_auth "User-Name = \"bob@example.com\", User-Password = \"$bad\"" "$A"
rad_auth "User-Name = \"bob@example.com\", User-Password = \"$bad\"" "$B"
rad_auth "User-Name = \"bob@example.com\", User-Password = \"$bad\"" "$A"
is "$RAD_CODE" Access-Reject "three wrong codes, at A, B and A"
rad_auth "User-Name = \"bob@example.com\", User-Password = \"$good\"" "$B"
is "$RAD_CODE" Access-Reject "then even the right code at B is refused (rate limit shared)"

# --- Redis stopped mid-run and restarted ----------------------------------
redis_stop
c=$(rad_totp "$S3")
rad_auth "User-Name = \"carol@example.com\", User-Password = \"$c\"" "$A"
is "$RAD_CODE" Access-Reject "Redis down: a valid code is rejected at A (fail closed)"
rad_auth "User-Name = \"carol@example.com\", User-Password = \"$c\"" "$B"
is "$RAD_CODE" Access-Reject "... and at B"
for i in 1 2 3 4 5; do
	rad_auth "User-Name = \"carol@example.com\", User-Password = \"$c\"" "$A"
done
kill -0 "$A_PID" 2>/dev/null && kill -0 "$B_PID" 2>/dev/null
ok $? "both servers are still running"
n=$(grep -c 'ERROR: .*logins fail closed' "$A_LOG")
is "$n" 1 "A logged Redis down once, not once per request"
[ "$n" = 1 ] || grep 'fail closed' "$A_LOG" | sed 's/^/# /'

redis_start_again || { echo "Bail out! redis-server did not restart"; exit 1; }
# A reconnects at most once a second: poll (no timing asserted).
end=$(( $(date +%s) + 10 ))
RAD_CODE=none
while [ "$RAD_CODE" != Access-Accept ] && [ "$(date +%s)" -lt "$end" ]; do
	rad_auth "User-Name = \"carol@example.com\", User-Password = \"$c\"" "$A"
	[ "$RAD_CODE" = Access-Accept ] || sleep 0.2
done
is "$RAD_CODE" Access-Accept "Redis back: A accepts again, by itself"
grep -q 'reachable again' "$A_LOG"
ok $? "A logged that Redis is back"
rad_auth "User-Name = \"carol@example.com\", User-Password = \"$c\"" "$B"
is "$RAD_CODE" Access-Reject "B serves again too: the code A just took is a replay at B"
# (what was stored before the restart survived it: AOF)
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$c\"" "$B"
is "$RAD_CODE" Access-Reject "the replay step stored before the restart is still there"
c2=$(rad_totp "$S1" 1)
rad_auth "User-Name = \"alice@example.com\", User-Password = \"$c2\"" "$B"
is "$RAD_CODE" Access-Accept "and the next step's code is accepted at B"
[ "$TAP_FAILED" -eq 0 ]
