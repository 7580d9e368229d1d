#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A real SMTP server for the mail integration tests (aiosmtpd): STARTTLS
with the test certificate, AUTH required (and only after STARTTLS), each
received message written to DIR/msg-N.eml with DIR/msg-N.json holding the
envelope, the login, the mechanism and whether TLS was on.

  smtpd.py --dir DIR --cert server.pem --key server.key
           [--user U --password-file F] [--mechanisms PLAIN,LOGIN,XOAUTH2]
           [--tokens FILE] [--no-starttls] [--implicit-tls] [--drop-in-data N]

Listens on 127.0.0.1 and an ephemeral port, written to DIR/port. XOAUTH2
accepts a token listed in FILE ("TOKEN SCOPE" lines, written by
ms-emulator.py) for the Outlook scope and the user --user. Failed logins
are appended to DIR/auth-failures. --drop-in-data N: the first N messages
are cut in the middle of DATA (after its first line the connection is
closed without a reply); their count is in DIR/dropped.
"""

import argparse
import asyncio
import base64
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

OUTLOOK_SCOPE = "https://outlook.office365.com/.default"


class Login:
    def __init__(self, login, mechanism):
        self.login = login
        self.mechanism = mechanism


def note_failure(what):
    with open(os.path.join(args.dir, "auth-failures"), "a") as f:
        f.write(what + "\n")


def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    login = auth_data.login.decode()
    password = auth_data.password.decode()
    want = open(args.password_file).read().strip() if args.password_file else None
    if login == args.user and want is not None and password == want:
        return AuthResult(success=True, auth_data=Login(login, mechanism))
    note_failure(f"{mechanism} {login}")
    return AuthResult(success=False, handled=False)


class DropInData(SMTP):
    """Closes the connection in the middle of DATA, args.drop_in_data times."""

    async def smtp_DATA(self, arg):
        if (DropInData.dropped >= args.drop_in_data or arg or not self.envelope.rcpt_tos
                or not self.session.authenticated):
            return await super().smtp_DATA(arg)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")
        DropInData.dropped += 1
        with open(os.path.join(args.dir, "dropped"), "w") as f:
            f.write(f"{DropInData.dropped}\n")
        self.transport.abort()

    dropped = 0


class Handler:
    def __init__(self):
        self.n = 0

    async def auth_XOAUTH2(self, server, args_):
        if len(args_) == 2:
            try:
                raw = base64.b64decode(args_[1], validate=True)
            except Exception:
                return AuthResult(success=False, handled=False)
        else:
            raw = await server.challenge_auth("", encode_to_b64=False)
            if not isinstance(raw, bytes):
                return AuthResult(success=False, handled=False)
        # "user=" USER ^A "auth=Bearer " TOKEN ^A ^A
        fields = dict(p.split("=", 1) for p in raw.decode().split("\x01") if "=" in p)
        user, auth = fields.get("user"), fields.get("auth", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        valid = {}
        if args.tokens and os.path.exists(args.tokens):
            for line in open(args.tokens):
                parts = line.split()
                if len(parts) == 2:
                    valid[parts[0]] = parts[1]
        if user == args.user and tok and valid.get(tok) == OUTLOOK_SCOPE:
            return AuthResult(success=True, auth_data=Login(user, "XOAUTH2"))
        note_failure(f"XOAUTH2 {user} {'known' if tok in valid else 'unknown'}-token")
        return AuthResult(success=False, handled=False)

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(args.dir, f"msg-{self.n}")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": getattr(session.auth_data, "login", None),
            "mechanism": getattr(session.auth_data, "mechanism", None),
            "tls": (session.ssl is not None
                    or server.transport.get_extra_info("ssl_object") is not None),
        }
        with open(base + ".json", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 OK queued"


def main():
    global args
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", default="vpn@example.com")
    p.add_argument("--password-file")
    p.add_argument("--mechanisms", default="PLAIN,LOGIN")
    p.add_argument("--tokens")
    p.add_argument("--no-starttls", action="store_true")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--drop-in-data", type=int, default=0)
    args = p.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    offered = set(args.mechanisms.split(","))
    exclude = [m for m in ("PLAIN", "LOGIN", "XOAUTH2") if m not in offered]
    handler = Handler()

    def factory():
        return DropInData(handler, hostname="smtp.test",
                    tls_context=None if (args.no_starttls or args.implicit_tls) else ctx,
                    require_starttls=not (args.no_starttls or args.implicit_tls),
                    # With implicit TLS the whole connection is TLS already.
                    auth_required=True,
                    auth_require_tls=not (args.no_starttls or args.implicit_tls),
                    authenticator=authenticator, auth_exclude_mechanism=exclude)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        factory, "127.0.0.1", 0, ssl=ctx if args.implicit_tls else None))
    port = server.sockets[0].getsockname()[1]
    with open(os.path.join(args.dir, "port.tmp"), "w") as f:
        f.write(f"{port}\n")
    os.rename(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))
    loop.run_forever()


if __name__ == "__main__":
    main()
