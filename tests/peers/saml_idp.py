#!/usr/bin/env python3
"""SAML 2.0 IdP for muster's SSO integration tests, built on pysaml2.

pysaml2 parses the AuthnRequests and builds and signs the responses (through
the xmlsec1 CLI); this file only adds a small WSGI server on 127.0.0.1, test
users and knobs that make the responses wrong in controlled ways.

Run it with .venv/bin/python (`scripts/setup test` installs pysaml2 there and
the xmlsec1 command it signs with).

Environment:
  SAML_PORT  port to listen on; 0 (default) picks a free one
  SAML_DIR   work dir; holds the IdP key and certificate (idp.key, idp.crt),
             generated on first use and reused afterwards. Default: a
             temporary dir.

Prints `READY <port>` on stdout once serving (entity id
http://127.0.0.1:<port>/metadata); logs go to stderr. Exits when stdin closes.

Any SP is accepted without its metadata: the audience is the AuthnRequest's
Issuer, and the response goes to the request's AssertionConsumerServiceURL
(HTTP-POST binding). AuthnRequests are not expected to be signed.

Endpoints:
  GET  /__health               200 "ok"
  GET  /metadata               IdP metadata: KeyDescriptor use="signing" and
                               SingleSignOnService HTTP-Redirect /sso/redirect
       ?nocert=1               ... without any KeyDescriptor
       ?nouse=1                ... with a KeyDescriptor that has no `use`
  GET  /sso/redirect?SAMLRequest=..&RelayState=..[&knobs]
                               login page (form: Username, "Sign in"), or with
                               user=<name> the POST-binding form right away
  POST /sso/login              the login page's form: username, SAMLRequest,
                               RelayState and the knobs as hidden fields
  POST /idp-init               form user, acs, audience [, RelayState, knobs]:
                               unsolicited response (no InResponseTo)

The answer to a login is an HTML form `<form method="post" action="ACS">` with
hidden inputs SAMLResponse and RelayState that submits itself on load.

Knobs (query parameters, or form fields through the login page):
  sign_response=0|1      sign the Response (default 1)
  sign_assertion=0|1     sign the Assertion (default 1)
  sig=sha1|sha256|sha512     signature algorithm, rsa-<x> (default sha256)
  digest=sha1|sha256|sha512  digest algorithm (default sha256)
  audience=<uri>         audience instead of the request's Issuer
  no_audience=1          no AudienceRestriction at all
  lifetime_minutes=<n>   NotOnOrAfter = now + n; with n <= 0 the assertion is
                         already expired and IssueInstant/AuthnInstant/NotBefore
                         are moved 5 minutes before that
  expired=1              same as lifetime_minutes=-10
  not_before_minutes=<n> NotBefore = now + n (n > 0: not yet valid)
  in_response_to=<id>    InResponseTo instead of the request's ID

Users: NameID format emailAddress = <user>@example.test. Attributes, all with
NameFormat basic (urn:oasis:names:tc:SAML:2.0:attrname-format:basic):
  every user  email, mail = <user>@example.test
  alice       also givenName=Alice, sn=Example, surname=Example,
              displayName="Alice Example", groups=[engineering]
  bob         also givenName=Bob, sn=Example, surname=Example,
              displayName="Bob Example"
"""

import base64
import datetime as dt
import html
import os
import re
import shutil
import socketserver
import sys
import tempfile
import threading
import urllib.parse
import warnings
from xml.sax.saxutils import quoteattr
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# pysaml2 touches deprecated cryptography names at import: noise only.
warnings.filterwarnings("ignore", module=r"saml2(\.|$)")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from saml2 import BINDING_HTTP_REDIRECT, class_name  # noqa: E402
from saml2.attribute_converter import AttributeConverter  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.metadata import create_metadata_string  # noqa: E402
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NameID  # noqa: E402
from saml2.server import Server  # noqa: E402
from saml2.sigver import pre_signature_part, signed_instance_factory  # noqa: E402
from saml2.xmldsig import (  # noqa: E402
    DIGEST_SHA1,
    DIGEST_SHA256,
    DIGEST_SHA512,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    SIG_RSA_SHA512,
)

SIG_ALGS = {"sha1": SIG_RSA_SHA1, "sha256": SIG_RSA_SHA256, "sha512": SIG_RSA_SHA512}
DIGEST_ALGS = {"sha1": DIGEST_SHA1, "sha256": DIGEST_SHA256, "sha512": DIGEST_SHA512}
KNOBS = (
    "sign_response", "sign_assertion", "sig", "digest", "audience", "no_audience",
    "lifetime_minutes", "expired", "not_before_minutes", "in_response_to", "user",
)
ATTRIBUTES = ("email", "mail", "givenName", "sn", "surname", "displayName", "groups")
AUTHN = {"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}
USERS = {
    "alice": {
        "givenName": ["Alice"], "sn": ["Example"], "surname": ["Example"],
        "displayName": ["Alice Example"], "groups": ["engineering"],
    },
    "bob": {"givenName": ["Bob"], "sn": ["Example"], "surname": ["Example"], "displayName": ["Bob Example"]},
}


class BadRequest(Exception):
    pass


def log(msg):
    print(f"saml_idp: {msg}", file=sys.stderr, flush=True)


def ensure_keypair(work_dir):
    key_path, cert_path = os.path.join(work_dir, "idp.key"), os.path.join(work_dir, "idp.crt")
    if os.path.exists(key_path) and os.path.exists(cert_path):
        return key_path, cert_path
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "muster test SAML IdP")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    with open(key_path, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def make_idp(base, key_path, cert_path):
    xmlsec = shutil.which("xmlsec1")
    if not xmlsec:
        raise SystemExit("saml_idp: the xmlsec1 command is missing (Debian package xmlsec1)")
    conf = IdPConfig()
    conf.load({
        "entityid": f"{base}/metadata",
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(f"{base}/sso/redirect", BINDING_HTTP_REDIRECT)]},
            "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None,
                                   "name_form": NAME_FORMAT_BASIC}},
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            "want_authn_requests_signed": False,
        }},
        "key_file": key_path,
        "cert_file": cert_path,
        "xmlsec_binary": xmlsec,
        "metadata": {},
    })
    # pysaml2's default maps rename attributes to urn:oid/urn:mace names; send
    # the plain names under NameFormat basic instead.
    conv = AttributeConverter(NAME_FORMAT_BASIC)
    conv.from_dict({"identifier": NAME_FORMAT_BASIC,
                    "to": {a.lower(): a for a in ATTRIBUTES}, "fro": {a.lower(): a for a in ATTRIBUTES}})
    conf.attribute_converters = [conv]
    return conf, Server(config=conf)


def metadata_xml(conf, nocert=False, nouse=False):
    xml = create_metadata_string(None, config=conf)
    xml = xml.decode() if isinstance(xml, bytes) else xml
    if nocert:
        xml = re.sub(r"<(\w+:)?KeyDescriptor\b.*?</\1KeyDescriptor>", "", xml, flags=re.S)
    elif nouse:
        xml = re.sub(r'(<(?:\w+:)?KeyDescriptor\b[^>]*?)\s+use="[^"]*"', r"\1", xml)
    return xml


def flag(knobs, name, default):
    value = knobs.get(name)
    if value in (None, ""):
        return default
    return value.lower() not in ("0", "false", "no", "off")


def pick(table, knobs, name, default):
    value = (knobs.get(name) or default).lower()
    if value not in table:
        raise BadRequest(f"{name} must be one of {', '.join(table)}")
    return table[value]


def minutes(knobs, name):
    value = knobs.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None


def stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Idp:
    def __init__(self, base, work_dir):
        self.base = base
        self.conf, self.server = make_idp(base, *ensure_keypair(work_dir))
        self.lock = threading.Lock()  # pysaml2's Server keeps state unguarded

    def parse_request(self, saml_request):
        try:
            with self.lock:
                req = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        except Exception as e:
            raise BadRequest(f"cannot parse SAMLRequest: {e}") from e
        msg = req.message if req else None
        if msg is None:
            raise BadRequest("cannot parse SAMLRequest")
        if not msg.assertion_consumer_service_url:
            raise BadRequest("AuthnRequest without AssertionConsumerServiceURL")
        if msg.issuer is None or not msg.issuer.text:
            raise BadRequest("AuthnRequest without Issuer")
        return msg

    def know_sp(self, entity_id, acs):
        """Give pysaml2 a minimal metadata entry for an SP it has not seen.

        pysaml2 looks every SP up in its metadata store while building a
        response; the tests' SPs are not registered beforehand, so any SP is
        accepted by describing it from what the request says.
        """
        try:
            self.server.metadata[entity_id]
            return
        except KeyError:
            pass
        self.server.metadata.load("inline", f"""<md:EntityDescriptor \
xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID={quoteattr(entity_id)}>
<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:AssertionConsumerService index="0" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" \
Location={quoteattr(acs)}/>
</md:SPSSODescriptor>
</md:EntityDescriptor>""")

    def response(self, user, acs, sp_entity_id, in_response_to, knobs):
        """Signed Response XML for user, shaped by the knobs."""
        email = f"{user}@example.test"
        identity = {"email": [email], "mail": [email], **USERS.get(user, {})}
        sign_response = flag(knobs, "sign_response", True)
        sign_assertion = flag(knobs, "sign_assertion", True)
        sign_alg = pick(SIG_ALGS, knobs, "sig", "sha256")
        digest_alg = pick(DIGEST_ALGS, knobs, "digest", "sha256")
        if knobs.get("in_response_to"):
            in_response_to = knobs["in_response_to"]
        lifetime = minutes(knobs, "lifetime_minutes")
        if flag(knobs, "expired", False):
            lifetime = -10
        not_before = minutes(knobs, "not_before_minutes")

        audience = knobs.get("audience") or sp_entity_id
        with self.lock:
            self.know_sp(audience, acs)
            # Built unsigned; the knobs edit it below, and it is signed last so
            # every signature covers the edited content.
            resp = self.server.create_authn_response(
                identity=identity, in_response_to=in_response_to, destination=acs,
                sp_entity_id=audience,
                name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=email), userid=user,
                authn=AUTHN, sign_response=False, sign_assertion=False, encrypt_assertion=False,
            )
            assertion = resp.assertion
            conditions = assertion.conditions
            confirmations = [sc.subject_confirmation_data for sc in assertion.subject.subject_confirmation
                             if sc.subject_confirmation_data is not None]
            if flag(knobs, "no_audience", False):
                conditions.audience_restriction = []
            now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
            if lifetime is not None:
                end = now + dt.timedelta(minutes=lifetime)
                conditions.not_on_or_after = stamp(end)
                for scd in confirmations:
                    scd.not_on_or_after = stamp(end)
                if lifetime <= 0:
                    start = stamp(end - dt.timedelta(minutes=5))
                    resp.issue_instant = assertion.issue_instant = conditions.not_before = start
                    for statement in assertion.authn_statement:
                        statement.authn_instant = start
            if not_before is not None:
                conditions.not_before = stamp(now + dt.timedelta(minutes=not_before))

            to_sign = []
            cert = self.server.sec.my_cert
            if sign_assertion:
                assertion.signature = pre_signature_part(assertion.id, cert, 2, sign_alg=sign_alg,
                                                         digest_alg=digest_alg)
                to_sign.append((class_name(assertion), assertion.id))
            if sign_response:  # after the assertion: its signature is inside the Response's
                resp.signature = pre_signature_part(resp.id, cert, 1, sign_alg=sign_alg, digest_alg=digest_alg)
                to_sign.append((class_name(resp), resp.id))
            signed = signed_instance_factory(resp, self.server.sec, to_sign)
        if not isinstance(signed, str):
            signed = signed.to_string()
        return signed.decode() if isinstance(signed, bytes) else signed


def post_form(acs, saml_response_xml, relay_state):
    e = html.escape
    relay = (f'<input type="hidden" name="RelayState" value="{e(relay_state)}"/>\n'
             if relay_state is not None else "")
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Signing in</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{e(acs)}">
<input type="hidden" name="SAMLResponse" value="{e(base64.b64encode(saml_response_xml.encode()).decode())}"/>
{relay}<noscript><button type="submit">Continue</button></noscript>
</form>
</body></html>
"""


def login_page(fields):
    e = html.escape
    hidden = "\n".join(f'<input type="hidden" name="{e(k)}" value="{e(v)}"/>' for k, v in fields.items())
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body>
<h1>Test IdP</h1>
<form method="post" action="/sso/login">
{hidden}
<label for="username">Username</label>
<input id="username" type="text" name="username" autofocus required/>
<button type="submit">Sign in</button>
</form>
</body></html>
"""


def form_fields(environ):
    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        size = 0
    if size > 1 << 20:
        raise BadRequest("body too large")
    body = environ["wsgi.input"].read(size).decode("utf-8", "replace")
    return {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}


def app_for(idp):
    def app(environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        query = {k: v[-1] for k, v in
                 urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}

        def reply(status, body, ctype="text/html; charset=utf-8"):
            data = body.encode()
            start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(data))),
                                    ("Cache-Control", "no-store")])
            return [data]

        def answer_request(fields, user):
            if "SAMLRequest" not in fields:
                raise BadRequest("SAMLRequest missing")
            req = idp.parse_request(fields["SAMLRequest"])
            acs = req.assertion_consumer_service_url
            xml = idp.response(user, acs, req.issuer.text, req.id, fields)
            return reply("200 OK", post_form(acs, xml, fields.get("RelayState")))

        try:
            if path == "/__health" and method == "GET":
                return reply("200 OK", "ok", "text/plain")
            if path == "/metadata" and method == "GET":
                xml = metadata_xml(idp.conf, nocert=flag(query, "nocert", False), nouse=flag(query, "nouse", False))
                return reply("200 OK", xml, "application/samlmetadata+xml")
            if path == "/sso/redirect" and method == "GET":
                if query.get("user"):
                    return answer_request(query, query["user"])
                if "SAMLRequest" not in query:
                    raise BadRequest("SAMLRequest missing")
                idp.parse_request(query["SAMLRequest"])  # fail early, before the login page
                keep = {k: v for k, v in query.items() if k in ("SAMLRequest", "RelayState") + KNOBS}
                return reply("200 OK", login_page(keep))
            if path == "/sso/login" and method == "POST":
                fields = form_fields(environ)
                user = fields.get("username", "").strip()
                if not user:
                    raise BadRequest("username missing")
                return answer_request(fields, user)
            if path == "/idp-init" and method == "POST":
                fields = form_fields(environ)
                missing = [k for k in ("user", "acs", "audience") if not fields.get(k)]
                if missing:
                    raise BadRequest(f"missing: {', '.join(missing)}")
                xml = idp.response(fields["user"], fields["acs"], fields["audience"], None, fields)
                return reply("200 OK", post_form(fields["acs"], xml, fields.get("RelayState")))
            return reply("404 Not Found", "not found", "text/plain")
        except BadRequest as e:
            log(f"{method} {path}: {e}")
            return reply("400 Bad Request", str(e), "text/plain")
        except Exception as e:  # keep serving; the test sees a 500 and the log
            log(f"{method} {path}: {type(e).__name__}: {e}")
            return reply("500 Internal Server Error", f"{type(e).__name__}: {e}", "text/plain")

    return app


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    # A browser opens speculative connections; one idle socket must not stall
    # the others.
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        log(format % args)


def main():
    work_dir = os.environ.get("SAML_DIR") or tempfile.mkdtemp(prefix="saml-idp-")
    os.makedirs(work_dir, exist_ok=True)
    holder = {}

    def dispatch(environ, start_response):
        return holder["app"](environ, start_response)

    # Bind first: with SAML_PORT=0 the entity id is only known once listening.
    httpd = make_server("127.0.0.1", int(os.environ.get("SAML_PORT") or 0), dispatch,
                        server_class=ThreadingServer, handler_class=QuietHandler)
    port = httpd.server_address[1]
    holder["app"] = app_for(Idp(f"http://127.0.0.1:{port}", work_dir))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(f"READY {port}", flush=True)
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except KeyboardInterrupt:
        pass
    httpd.shutdown()


if __name__ == "__main__":
    main()
