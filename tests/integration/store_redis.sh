#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The store's unit tests (tests/unit/test_store.c) against the Redis
# backend: a real redis-server on a free loopback port, an ACL user with a
# password from a file, the default user off.
. "$top_srcdir/tests/integration/lib/redis.sh"
redis_require
TEST_STORE="$top_builddir/tests/unit/test_store"
[ -x "$TEST_STORE" ] || { echo "1..0 # SKIP $TEST_STORE not built"; exit 0; }
if ! grep -q '^#define HAVE_REDIS 1' "$top_builddir/config.h"; then
	echo "1..0 # SKIP built without hiredis"
	exit 0
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/wgotp-redis.XXXXXX")
trap 'redis_stop; rm -rf "$DIR"' EXIT
trap 'exit 1' INT TERM
redis_start "$DIR/redis" || { echo "Bail out! redis-server did not start"; exit 1; }

WGOTP_TEST_STORE=redis WGOTP_TEST_REDIS_HOST=127.0.0.1 WGOTP_TEST_REDIS_PORT=$REDIS_PORT \
WGOTP_TEST_REDIS_USER=$REDIS_USER WGOTP_TEST_REDIS_PASSWORD_FILE=$REDIS_PWFILE \
TMPDIR=$DIR "$TEST_STORE"
