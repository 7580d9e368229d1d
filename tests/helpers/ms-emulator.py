#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A local HTTPS emulator of the Microsoft identity platform token endpoint
and of Graph's sendMail, for the mail integration tests.

  ms-emulator.py --dir DIR --cert server.pem --key server.key
                 --tenant T --client-id C --sender vpn@example.com
                 [--secret-file F] [--app-cert app.pem] [--expires-in N]

Listens on 127.0.0.1 and an ephemeral port, written to DIR/port once it
listens. Checks what a real endpoint would refuse:

  POST /{tenant}/oauth2/v2.0/token: form fields (grant_type, client_id,
    scope) and the credential: the client secret, or the JWT client
    assertion (PS256 signature verified against --app-cert, x5t#S256, aud,
    iss = sub = client id, exp - nbf <= 10 min, a fresh jti).
  POST /v1.0/users/{sender}/sendMail: a bearer token issued here for the
    Graph scope and not revoked, and the JSON message (subject, text body,
    one recipient, saveToSentItems false); the message is saved as
    DIR/mail-N.json.

  GET /v1.0/groups/{id}/transitiveMembers: the same bearer check; the
    members listed in DIR/group-{id}.json (a JSON list of directory
    objects: users with "@odata.type" "#microsoft.graph.user", mail,
    userPrincipalName, accountEnabled; groups and devices too), --page-size
    (default 2) per page with an absolute "@odata.nextLink"
    ($skiptoken=N); no such file: 404 Request_ResourceNotFound, as Graph
    answers for a deleted group.

Every request is logged as one JSON line in DIR/requests.log (kind, status,
auth, scope, error). Valid tokens are listed in DIR/tokens ("TOKEN SCOPE"
per line) so the SMTP test server can check XOAUTH2 logins.

Misbehaviour on demand: DIR/actions-token, DIR/actions-sendmail and
DIR/actions-members hold one
action per line, the first line is taken by the next request to that
endpoint: ok, 401, 500, 429:SECONDS, 503:SECONDS, slow:SECONDS, revoke
(forget every token issued so far, then answer normally), badjson.
"""

import argparse
import base64
import hashlib
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
OUTLOOK_SCOPE = "https://outlook.office365.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

lock = threading.Lock()
state = {"tokens": {}, "jtis": set(), "n_mail": 0, "n_token": 0}


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Refused(Exception):
    def __init__(self, status, body, reason):
        super().__init__(reason)
        self.status, self.body, self.reason = status, body, reason


def aad_error(code, desc, status=400):
    return Refused(status, {"error": code, "error_description": desc,
                            "error_codes": [0], "trace_id": "t"}, desc)


def graph_error(status, code, message):
    return Refused(status, {"error": {"code": code, "message": message,
                                      "innerError": {"request-id": "r"}}}, message)


def pop_action(kind):
    path = os.path.join(args.dir, "actions-" + kind)
    with lock:
        try:
            with open(path) as f:
                lines = [l.strip() for l in f if l.strip()]
        except FileNotFoundError:
            return "ok"
        if not lines:
            return "ok"
        with open(path, "w") as f:
            f.write("".join(l + "\n" for l in lines[1:]))
        return lines[0]


def write_tokens():
    path = os.path.join(args.dir, "tokens")
    with open(path + ".tmp", "w") as f:
        for tok, (scope, exp) in state["tokens"].items():
            f.write(f"{tok} {scope}\n")
    os.rename(path + ".tmp", path)


def check_assertion(jwt, token_url):
    parts = jwt.split(".")
    if len(parts) != 3:
        raise aad_error("invalid_client", "AADSTS50027: JWT token is invalid or malformed.", 401)
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        sig = b64url_decode(parts[2])
    except Exception:
        raise aad_error("invalid_client", "AADSTS50027: JWT token is invalid or malformed.", 401)
    if header.get("alg") != "PS256" or header.get("typ") != "JWT":
        raise aad_error("invalid_client", f"AADSTS5002738: wrong alg/typ {header}", 401)
    if header.get("x5t#S256") != app_x5t:
        raise aad_error("invalid_client", "AADSTS700027: x5t#S256 does not match a registered certificate.", 401)
    try:
        app_cert.public_key().verify(sig, (parts[0] + "." + parts[1]).encode(),
                                     padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                                     hashes.SHA256())
    except InvalidSignature:
        raise aad_error("invalid_client", "AADSTS700027: Client assertion contains an invalid signature.", 401)
    now = int(time.time())
    for k in ("aud", "iss", "sub", "jti", "nbf", "iat", "exp"):
        if k not in claims:
            raise aad_error("invalid_client", f"AADSTS700024: claim {k} missing", 401)
    if claims["aud"] != token_url:
        raise aad_error("invalid_client", f"AADSTS700021: aud {claims['aud']} is not {token_url}", 401)
    if claims["iss"] != args.client_id or claims["sub"] != args.client_id:
        raise aad_error("invalid_client", "AADSTS700021: iss/sub is not the client id", 401)
    if not (claims["nbf"] <= now + 60 and claims["exp"] > now - 60 and claims["exp"] - claims["nbf"] <= 600):
        raise aad_error("invalid_client", "AADSTS700024: assertion not within its valid time range", 401)
    with lock:
        if claims["jti"] in state["jtis"]:
            raise aad_error("invalid_client", "AADSTS700025: jti replayed", 401)
        state["jtis"].add(claims["jti"])


class Handler(BaseHTTPRequestHandler):
    server_version = "ms-emulator/1"

    def log_message(self, fmt, *a):
        sys.stderr.write("ms-emulator: " + fmt % a + "\n")

    def reply(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def log_request_json(self, entry):
        with lock:
            with open(os.path.join(args.dir, "requests.log"), "a") as f:
                f.write(json.dumps(entry) + "\n")

    def check_bearer(self):
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        with lock:
            known = state["tokens"].get(tok) if tok else None
        if not known or known[1] < time.time():
            raise graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if known[0] != GRAPH_SCOPE:
            raise graph_error(401, "InvalidAuthenticationToken", "Access token has the wrong audience.")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/")
        # ['', 'v1.0', 'groups', ID, 'transitiveMembers']
        if len(parts) != 5 or parts[1] != "v1.0" or parts[2] != "groups" or parts[4] != "transitiveMembers":
            self.log_request_json({"kind": "unknown", "path": url.path, "status": 404})
            return self.reply(404, graph_error(404, "ResourceNotFound", "no such path").body)
        entry = {"kind": "members", "status": 0, "error": None, "query": url.query}
        action = pop_action("members")
        entry["action"] = action
        extra = []
        try:
            if action.startswith("slow:"):
                time.sleep(float(action[5:]))
            elif action == "500":
                raise graph_error(500, "ErrorInternalServerError", "An internal server error occurred.")
            elif action.startswith("429:") or action.startswith("503:"):
                status = int(action[:3])
                extra = [("Retry-After", action[4:])]
                raise graph_error(status, "TooManyRequests" if status == 429 else "ServiceUnavailable",
                                  "Please retry after the time given in Retry-After.")
            elif action == "revoke":
                with lock:
                    state["tokens"].clear()
                    write_tokens()
            self.check_bearer()
            if self.headers.get("Content-Length") not in (None, "0") or self.headers.get("Content-Type"):
                raise graph_error(400, "BadRequest", "a GET has no body")
            gid = urllib.parse.unquote(parts[3])
            path = os.path.join(args.dir, f"group-{gid}.json")
            if "/" in gid or not os.path.exists(path):
                raise graph_error(404, "Request_ResourceNotFound",
                                  f"Resource '{gid}' does not exist or one of its queried reference-property objects are not present.")
            members = json.load(open(path))
            q = urllib.parse.parse_qs(url.query)
            skip = int(q.get("$skiptoken", ["0"])[0])
            page = members[skip:skip + args.page_size]
            body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
                    "value": page}
            if skip + args.page_size < len(members):
                nq = dict((k, v[0]) for k, v in q.items())
                nq["$skiptoken"] = str(skip + args.page_size)
                body["@odata.nextLink"] = (f"https://127.0.0.1:{port}{url.path}?"
                                           + urllib.parse.urlencode(nq, safe="$,"))
            entry["skip"] = skip
        except Refused as r:
            entry["status"], entry["error"] = r.status, r.reason
            self.log_request_json(entry)
            return self.reply(r.status, r.body, extra)
        entry["status"] = 200
        self.log_request_json(entry)
        self.reply(200, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = urllib.parse.urlsplit(self.path).path
        if path == f"/{args.tenant}/oauth2/v2.0/token":
            kind = "token"
        elif path.startswith("/v1.0/users/") and path.endswith("/sendMail"):
            kind = "sendmail"
        else:
            self.log_request_json({"kind": "unknown", "path": path, "status": 404})
            return self.reply(404, graph_error(404, "ResourceNotFound", "no such path").body)
        entry = {"kind": kind, "status": 0, "error": None}
        action = pop_action(kind)
        entry["action"] = action
        extra = []
        try:
            if action.startswith("slow:"):
                time.sleep(float(action[5:]))
            elif action == "revoke":
                with lock:
                    state["tokens"].clear()
                    write_tokens()
            elif action == "401":
                raise graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
            elif action == "500":
                raise graph_error(500, "ErrorInternalServerError", "An internal server error occurred. The operation failed.")
            elif action.startswith("429:") or action.startswith("503:"):
                status = int(action[:3])
                extra = [("Retry-After", action[4:])]
                raise graph_error(status, "TooManyRequests" if status == 429 else "ServiceUnavailable",
                                  "Please retry after the time given in Retry-After.")
            if action == "badjson":
                entry["status"] = 200
                self.log_request_json(entry)
                return self.reply(200, b"<html>not json</html>")
            if kind == "token":
                status, reply = self.token(body, entry)
            else:
                status, reply = self.sendmail(path, body, entry)
        except Refused as r:
            entry["status"], entry["error"] = r.status, r.reason
            self.log_request_json(entry)
            return self.reply(r.status, r.body, extra)
        entry["status"] = status
        self.log_request_json(entry)
        self.reply(status, reply)

    def token(self, body, entry):
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            raise aad_error("invalid_request", "AADSTS900144: not a form")
        form = urllib.parse.parse_qs(body.decode(), strict_parsing=True, keep_blank_values=True)
        if any(len(v) != 1 for v in form.values()):
            raise aad_error("invalid_request", "AADSTS90014: repeated field")
        f = {k: v[0] for k, v in form.items()}
        entry["scope"] = f.get("scope")
        if f.get("grant_type") != "client_credentials":
            raise aad_error("unsupported_grant_type", "AADSTS70003: grant_type")
        if f.get("client_id") != args.client_id:
            raise aad_error("unauthorized_client", "AADSTS700016: Application not found in the directory.")
        if f.get("scope") not in (GRAPH_SCOPE, OUTLOOK_SCOPE):
            raise aad_error("invalid_scope", f"AADSTS1002012: scope {f.get('scope')} is not valid.")
        token_url = f"https://127.0.0.1:{port}/{args.tenant}/oauth2/v2.0/token"
        if "client_secret" in f:
            entry["auth"] = "secret"
            if "client_assertion" in f:
                raise aad_error("invalid_request", "AADSTS90014: two credentials")
            if not args.secret_file or f["client_secret"] != open(args.secret_file).read().strip():
                raise aad_error("invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.", 401)
        elif "client_assertion" in f:
            entry["auth"] = "assertion"
            if f.get("client_assertion_type") != ASSERTION_TYPE:
                raise aad_error("invalid_request", "AADSTS700024: client_assertion_type")
            if not app_cert:
                raise aad_error("invalid_client", "AADSTS700027: no certificate registered", 401)
            check_assertion(f["client_assertion"], token_url)
        else:
            raise aad_error("invalid_client", "AADSTS7000216: client_assertion or client_secret required", 401)
        with lock:
            state["n_token"] += 1
            tok = f"eyJ0eXAi.tok{state['n_token']}.{secrets.token_urlsafe(24)}"
            state["tokens"][tok] = (f["scope"], time.time() + args.expires_in)
            write_tokens()
        return 200, {"token_type": "Bearer", "expires_in": args.expires_in,
                     "ext_expires_in": args.expires_in, "access_token": tok}

    def sendmail(self, path, body, entry):
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        with lock:
            known = state["tokens"].get(tok) if tok else None
        if not known or known[1] < time.time():
            raise graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
        if known[0] != GRAPH_SCOPE:
            raise graph_error(401, "InvalidAuthenticationToken", "Access token has the wrong audience.")
        sender = urllib.parse.unquote(path[len("/v1.0/users/"):-len("/sendMail")])
        if sender != args.sender:
            raise graph_error(404, "ErrorInvalidUser", f"The requested user '{sender}' is invalid.")
        if self.headers.get("Content-Type") != "application/json":
            raise graph_error(415, "UnsupportedMediaType", "not JSON")
        try:
            doc = json.loads(body)
            m = doc["message"]
            ok = (set(doc) == {"message", "saveToSentItems"} and doc["saveToSentItems"] is False
                  and isinstance(m["subject"], str) and m["body"]["contentType"] == "Text"
                  and isinstance(m["body"]["content"], str) and len(m["toRecipients"]) == 1
                  and "@" in m["toRecipients"][0]["emailAddress"]["address"])
        except Exception as e:
            ok, doc = False, None
        if not ok:
            raise graph_error(400, "ErrorInvalidRequest", "The message is not a valid sendMail body.")
        with lock:
            state["n_mail"] += 1
            with open(os.path.join(args.dir, f"mail-{state['n_mail']}.json"), "w") as f:
                json.dump(doc, f)
        return 202, b""


def main():
    global args, port, app_cert, app_x5t
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--tenant", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--sender", required=True)
    p.add_argument("--secret-file")
    p.add_argument("--app-cert")
    p.add_argument("--expires-in", type=int, default=3599)
    p.add_argument("--page-size", type=int, default=2)
    args = p.parse_args()
    app_cert = app_x5t = None
    if args.app_cert:
        app_cert = x509.load_pem_x509_certificate(open(args.app_cert, "rb").read())
        app_x5t = b64url(app_cert.fingerprint(hashes.SHA256()))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    write_tokens()
    with open(os.path.join(args.dir, "port.tmp"), "w") as f:
        f.write(f"{port}\n")
    os.rename(os.path.join(args.dir, "port.tmp"), os.path.join(args.dir, "port"))
    httpd.serve_forever()


if __name__ == "__main__":
    main()
