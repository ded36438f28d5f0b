#!/usr/bin/env python3
"""SMTP server for muster's email integration tests, built on aiosmtpd.

aiosmtpd speaks SMTP (EHLO, AUTH, MAIL, RCPT, DATA); this file only keeps
every accepted message, parses it with the standard email package, and adds a
small HTTP API on 127.0.0.1 to read the messages and take the server down and
up again.

Run it with .venv/bin/python (`scripts/setup test` installs aiosmtpd there).

Environment:
  SMTP_PORT      SMTP port to listen on; 0 (default) picks a free one
  SMTP_USER      with SMTP_PASSWORD: AUTH PLAIN or LOGIN with these
  SMTP_PASSWORD  credentials is required before MAIL. Unset: no AUTH is
                 offered and anyone may send.
  SMTP_TLS       1: offer STARTTLS with a self-signed certificate for
                 localhost and 127.0.0.1 made at start-up, and require it
                 before AUTH and MAIL. Unset: plain SMTP only (and AUTH
                 is allowed without TLS, on loopback).
  SMTP_REJECT    comma-separated recipients refused for good at RCPT
                 (550 5.1.1), as a server refuses an unknown mailbox.

Both servers listen on 127.0.0.1. Prints `READY <smtp_port> <http_port>` on
stdout once both are serving; logs go to stderr. Exits when stdin closes.

Every message is accepted (250) for any sender and recipients, but those in
SMTP_REJECT.

HTTP endpoints (JSON unless said otherwise):
  GET    /__health   200 "ok" (text/plain)
  GET    /messages   the accepted messages, oldest first:
                     [{"mail_from": envelope sender,
                       "rcpt_tos": [envelope recipients],
                       "subject": Subject header, decoded, or null,
                       "to": To header, decoded, or null,
                       "text": the text/plain body, decoded, or null,
                       "html": the text/html body, decoded, or null,
                               (both with \n line endings)
                       "raw": the DATA as received (UTF-8),
                       "tls": whether the session had upgraded with
                              STARTTLS}, ...]
  GET    /certificate the server certificate (PEM; 404 without SMTP_TLS),
                     for the client to trust
  DELETE /messages   forget them all; 200 {}
  POST   /stop       close the SMTP listener and drop open SMTP connections:
                     new connections are refused; 200 {} (also when stopped)
  POST   /start      listen again on the same SMTP port; 200 {} (also when
                     listening), 500 {"error": ...} if the port is taken
"""

import asyncio
import email
import json
import logging
import os
import sys
import threading
import urllib.parse
import warnings
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def self_signed():
    """A key and a certificate for localhost and 127.0.0.1, valid for a day: (ssl context, PEM)."""
    import datetime
    import ipaddress
    import ssl
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    with tempfile.TemporaryDirectory() as d:
        cert_file, key_file = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        with open(cert_file, "wb") as f:
            f.write(cert_pem)
        with open(key_file, "wb") as f:
            f.write(key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
    return context, cert_pem.decode()

# Noise: aiosmtpd warns on every connection that AUTH is allowed without TLS
# (the point here, on loopback) and on every AUTH about its own use of a
# deprecated attribute.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="smtp: %(name)s: %(message)s")
logging.getLogger("mail.log").addFilter(
    lambda r: not any(s in r.getMessage() for s in ("auth_require_tls", "login_data is deprecated")))


def log(msg):
    print(f"smtp: {msg}", file=sys.stderr, flush=True)


def parse(envelope):
    raw = envelope.original_content or b""
    record = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
              "subject": None, "to": None, "text": None, "html": None,
              "raw": raw.decode("utf-8", "replace")}
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
        for header in ("subject", "to"):
            if msg[header] is not None:
                record[header] = str(msg[header])
        for kind, key in (("plain", "text"), ("html", "html")):
            part = msg.get_body(preferencelist=(kind,))
            if part is not None:
                # SMTP puts CRLF on every line; the content is the same with LF.
                record[key] = part.get_content().replace("\r\n", "\n")
    except Exception as e:  # keep the message; the test sees the nulls and the log
        log(f"cannot parse message from {envelope.mail_from}: {type(e).__name__}: {e}")
    return record


class Mailbox:
    """The SMTP side: an asyncio loop in its own thread, a listener that can be
    closed and opened again on the same port, and the accepted messages."""

    def __init__(self, port, user, password, tls, reject=()):
        self.port = port
        self.reject = {r.strip().lower() for r in reject if r.strip()}
        self.messages = []
        self.lock = threading.Lock()
        self.server = None
        self.connections = set()  # SMTP protocol instances with an open connection
        self.smtp_args = {"hostname": "localhost", "enable_SMTPUTF8": True}
        self.certificate = None
        if tls:
            context, self.certificate = self_signed()
            self.smtp_args.update(tls_context=context, require_starttls=True)
        if user is not None and password is not None:
            self.smtp_args.update(authenticator=self.authenticate, auth_required=True,
                                  auth_require_tls=tls)
            self.credentials = LoginPassword(user.encode(), password.encode())
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data == self.credentials
        if not ok:
            log(f"AUTH {mechanism} refused for {session.peer}")
        return AuthResult(success=ok, handled=False)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            log(f"recipient {address} refused")
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        record = parse(envelope)
        record["tls"] = session.ssl is not None
        with self.lock:
            self.messages.append(record)
        log(f"message from {record['mail_from']} to {record['rcpt_tos']}: {record['subject']!r}")
        return "250 OK"

    def new_connection(self):
        mailbox = self

        class Connection(SMTP):
            def connection_made(self, transport):
                mailbox.connections.add(self)
                super().connection_made(transport)

            def connection_lost(self, exc):
                mailbox.connections.discard(self)
                super().connection_lost(exc)

        return Connection(self, loop=self.loop, **self.smtp_args)

    async def _start(self):
        if self.server is None:
            self.server = await self.loop.create_server(self.new_connection, "127.0.0.1", self.port)
            self.port = self.server.sockets[0].getsockname()[1]

    async def _stop(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()

    def start(self):
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()

    def stop(self):
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result()


def api_handler(mailbox):
    class Api(BaseHTTPRequestHandler):
        def reply(self, status, body):
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def route(self, method):
            # Read any body, so that closing the socket does not reset it.
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urllib.parse.urlsplit(self.path).path
            try:
                if (method, path) == ("GET", "/__health"):
                    return self.reply(200, "ok")
                if (method, path) == ("GET", "/certificate"):
                    if mailbox.certificate is None:
                        return self.reply(404, {"error": "no TLS"})
                    return self.reply(200, mailbox.certificate)
                if (method, path) == ("GET", "/messages"):
                    with mailbox.lock:
                        return self.reply(200, list(mailbox.messages))
                if (method, path) == ("DELETE", "/messages"):
                    with mailbox.lock:
                        mailbox.messages.clear()
                    return self.reply(200, {})
                if (method, path) == ("POST", "/stop"):
                    mailbox.stop()
                    return self.reply(200, {})
                if (method, path) == ("POST", "/start"):
                    mailbox.start()
                    return self.reply(200, {})
                return self.reply(404, {"error": "not found"})
            except Exception as e:  # e.g. the SMTP port was taken while stopped
                log(f"{method} {path}: {type(e).__name__}: {e}")
                return self.reply(500, {"error": f"{type(e).__name__}: {e}"})

        def do_GET(self):
            self.route("GET")

        def do_POST(self):
            self.route("POST")

        def do_DELETE(self):
            self.route("DELETE")

        def log_message(self, format, *args):
            log(format % args)

    return Api


def main():
    mailbox = Mailbox(int(os.environ.get("SMTP_PORT") or 0),
                      os.environ.get("SMTP_USER"), os.environ.get("SMTP_PASSWORD"),
                      os.environ.get("SMTP_TLS") == "1",
                      (os.environ.get("SMTP_REJECT") or "").split(","))
    mailbox.start()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), api_handler(mailbox))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(f"READY {mailbox.port} {httpd.server_address[1]}", flush=True)
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except KeyboardInterrupt:
        pass
    httpd.shutdown()
    mailbox.stop()


if __name__ == "__main__":
    main()
