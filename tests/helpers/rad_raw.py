#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# One Access-Request over a bare UDP socket, built here byte by byte
# (RFC 2865, RFC 3579), so a test can see whether ANY datagram comes
# back, not only one that radclient would accept.
#
#   rad_raw.py HOST PORT SECRET USER PASSWORD [--ma] [--timeout S]
#
# Prints "none" when nothing arrived within the timeout, else the reply's
# code (2 Accept, 3 Reject, 11 Challenge) and "auth-ok" or "auth-bad"
# (its Response Authenticator checked against our secret).
import argparse
import hashlib
import hmac
import os
import socket
import struct
import sys


def attr(t, v):
    return struct.pack("!BB", t, len(v) + 2) + v


def hide_password(pw, secret, authenticator):
    pw = pw + b"\0" * (16 - len(pw) % 16 if len(pw) % 16 or not pw else 0)
    out, prev = b"", authenticator
    for i in range(0, len(pw), 16):
        b = hashlib.md5(secret + prev).digest()
        prev = bytes(x ^ y for x, y in zip(pw[i:i + 16], b))
        out += prev
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("secret")
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--ma", action="store_true", help="add Message-Authenticator")
    ap.add_argument("--timeout", type=float, default=3.0)
    a = ap.parse_args()
    secret = a.secret.encode()
    ident = os.urandom(1)[0]
    rauth = os.urandom(16)
    attrs = attr(1, a.user.encode()) + attr(2, hide_password(a.password.encode(), secret, rauth))
    if a.ma:
        attrs += attr(80, b"\0" * 16)
    length = 20 + len(attrs)
    pkt = struct.pack("!BBH", 1, ident, length) + rauth + attrs
    if a.ma:
        mac = hmac.new(secret, pkt, hashlib.md5).digest()
        pkt = pkt[:-16] + mac
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(a.timeout)
    s.sendto(pkt, (a.host, a.port))
    try:
        reply, _ = s.recvfrom(4096)
    except socket.timeout:
        print("none")
        return 0
    if len(reply) < 20:
        print("short")
        return 0
    code, rid, rlen = struct.unpack("!BBH", reply[:4])
    want = hashlib.md5(reply[:4] + rauth + reply[20:rlen] + secret).digest()
    ok = rid == ident and hmac.compare_digest(want, reply[4:20])
    print(code, "auth-ok" if ok else "auth-bad")
    return 0


if __name__ == "__main__":
    sys.exit(main())
