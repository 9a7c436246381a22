"""A small OAuth/OIDC identity provider on loopback, for OAUTHBEARER runs: librdkafka's
0126 (bench/client_suites.py) and tests/cluster/test_oauthbearer.py.

It signs RS256 access tokens with a key made at start and serves that key as a JWKS.
Token endpoints (each a POST with `grant_type=client_credentials`, the client's id and
secret as HTTP Basic, as librdkafka's sasl.oauthbearer.method=oidc sends them; or with
the JWT-bearer grant (RFC 7523), an `assertion` the client signed with the private key
`write_client_keys` wrote, whose `sub` the token names; or, for Azure IMDS-style
clients, a GET with `Metadata: true` and the query api-version, resource and client_id):

  /token                 a valid token: sub and client_id are the client's id
  /token/invalid         a valid token with its signature spoilt
  /token/expired         a token that expired a minute ago
  /token/unknown-key     signed by a key the JWKS does not list
  /token/wrong-audience  for another audience
  /jwks                  the JWKS (GET)

A scope other than those in SCOPES is answered 400, as an identity provider refuses one.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "kraft"
ISSUER = "kraft-test-idp"
SCOPES = {"test", "test-scope", "api://1234-abcd/.default"}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_BODY = 64 * 1024


class OidcTokenServer:
    """Start with `with OidcTokenServer(...) as idp:`; `idp.url(path)` names an endpoint."""

    def __init__(self, host: str = "127.0.0.1", client_id: str = "kraft-client",
                 client_secret: str = "kraft-secret", lifetime_s: int = 30) -> None:
        self.client_id, self.client_secret, self.lifetime_s = client_id, client_secret, lifetime_s
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._client_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # JWT-bearer
        self.kid = secrets.token_hex(8)
        self.issued = 0  # tokens handed out (all kinds)
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="oidc-token-server",
                                        daemon=True)

    def __enter__(self) -> OidcTokenServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def write_client_keys(self, directory: Path, password: str) -> tuple[Path, Path]:
        """The JWT-bearer client's private key as PEM, plain and encrypted with `password`."""
        plain, encrypted = directory / "oidc-client.key", directory / "oidc-client-encrypted.key"
        for path, protection in ((plain, serialization.NoEncryption()),
                                 (encrypted, serialization.BestAvailableEncryption(password.encode()))):
            path.write_bytes(self._client_key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8, protection))
            path.chmod(0o600)
        return plain, encrypted

    def assertion_subject(self, assertion: str) -> str | None:
        """The `sub` of a JWT-bearer assertion signed by the client's key; None if not."""
        try:
            claims = jwt.decode(assertion, self._client_key.public_key(), algorithms=["RS256", "RS384", "RS512"],
                                options={"verify_aud": False})
        except jwt.InvalidTokenError:
            return None
        sub = claims.get("sub")
        return sub if isinstance(sub, str) and sub else None

    def jwks(self) -> dict:
        jwk = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def token(self, subject: str, kind: str = "", scope: str = "test") -> str:
        now = int(time.time())
        claims = {"sub": subject, "client_id": subject, "iss": ISSUER, "scope": scope,
                  "aud": "someone-else" if kind == "wrong-audience" else AUDIENCE,
                  "iat": now - 120 if kind == "expired" else now,
                  "exp": now - 60 if kind == "expired" else now + self.lifetime_s}
        key = self._stranger if kind == "unknown-key" else self._key
        kid = secrets.token_hex(8) if kind == "unknown-key" else self.kid
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
        if kind == "invalid":  # the last signature characters changed: no key verifies it
            token = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
        self.issued += 1
        return token


def _handler(idp: OidcTokenServer):
    kinds = {"/token": "", "/token/invalid": "invalid", "/token/expired": "expired",
             "/token/unknown-key": "unknown-key", "/token/wrong-audience": "wrong-audience"}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet: a test's output is for its own lines
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _issue(self, subject: str, scope: str) -> None:
            kind = kinds[urlsplit(self.path).path]
            self._json(200, {"access_token": idp.token(subject, kind, scope), "token_type": "Bearer",
                             "expires_in": idp.lifetime_s})

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            if split.path == "/jwks":
                return self._json(200, idp.jwks())
            if split.path not in kinds:
                return self._json(404, {"error": "not_found"})
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            missing = [p for p in ("api-version", "resource", "client_id") if not query.get(p)]
            if self.headers.get("Metadata") != "true" or missing:
                return self._json(400, {"error": "invalid_request",
                                        "error_description": f"missing {', '.join(missing) or 'Metadata: true'}"})
            self._issue(query["client_id"], "test")

        def do_POST(self) -> None:
            if urlsplit(self.path).path not in kinds:
                return self._json(404, {"error": "not_found"})
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._json(413, {"error": "invalid_request"})
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            scope = form.get("scope", "test")
            if scope not in SCOPES:
                return self._json(400, {"error": "invalid_scope"})
            if form.get("grant_type") == JWT_BEARER:
                subject = idp.assertion_subject(form.get("assertion", ""))
                if subject is None:
                    return self._json(400, {"error": "invalid_grant"})
                return self._issue(subject, scope)
            if form.get("grant_type") != "client_credentials":
                return self._json(400, {"error": "unsupported_grant_type"})
            if _basic(self.headers.get("Authorization")) != (idp.client_id, idp.client_secret):
                return self._json(401, {"error": "invalid_client"})
            self._issue(idp.client_id, scope)

    return Handler


def _basic(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        name, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return name, secret
