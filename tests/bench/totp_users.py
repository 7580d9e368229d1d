#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""TOTP users for the RADIUS benchmarks (rlm_bench.sh, redis_bench.sh).

  totp_users.py users N USERS_JSON SECRETS_TSV
      N users user<i>@bench.example with random secrets: users.json (mode
      0640: the module refuses a world-readable one) and "email<TAB>secret"
  totp_users.py codes SECRETS_TSV OUT_TSV [PAP_TSV]
      "email<TAB>code" valid now (the current 30 s step, +-1 window), and
      with PAP_TSV "email<TAB>email-secret" for the PAP baseline
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import time


def users(n, users_json, secrets_tsv):
    u = {}
    with open(secrets_tsv, "w") as f:
        for i in range(n):
            s = base64.b32encode(os.urandom(20)).decode().rstrip("=")
            email = "user%d@bench.example" % i
            u[email] = {"method": "totp", "totp_secret": s, "totp_state": "active",
                        "enabled": True, "require_otp": True, "devices": []}
            f.write("%s\t%s\n" % (email, s))
    with open(users_json + ".tmp", "w") as f:
        json.dump({"version": 1, "users": u}, f, separators=(",", ":"))
    os.chmod(users_json + ".tmp", 0o640)
    os.rename(users_json + ".tmp", users_json)


def totp(secret, t):
    k = base64.b32decode(secret + "=" * (-len(secret) % 8))
    h = hmac.new(k, struct.pack(">Q", int(t) // 30), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7fffffff) % 1000000)


def codes(secrets_tsv, out_tsv, pap_tsv=None):
    now = time.time()
    pap = open(pap_tsv, "w") if pap_tsv else None
    with open(secrets_tsv) as f, open(out_tsv, "w") as w:
        for line in f:
            email, s = line.rstrip("\n").split("\t")
            w.write("%s\t%s\n" % (email, totp(s, now)))
            if pap:
                pap.write("%s\t%s-secret\n" % (email, email))
    if pap:
        pap.close()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "users":
        users(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "codes":
        codes(*sys.argv[2:])
    else:
        sys.exit(__doc__)
