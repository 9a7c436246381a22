"""A small synchronous HTTP client for the CLI: tries each bootstrap URL in turn.

A refused connection moves on to the next node; an HTTP answer (even an error) is
final, so a user mistake is reported once, with the server's own message.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.request

USER_ENV, PASSWORD_ENV, CA_ENV = "KRAFT_USER", "KRAFT_PASSWORD", "KRAFT_CA"


def tls_context(ca_file: str | os.PathLike | None) -> ssl.SSLContext | None:
    """Checks https nodes against this CA file (KRAFT_CA when None), else the system's."""
    ca = ca_file or os.environ.get(CA_ENV)
    return ssl.create_default_context(cafile=str(ca)) if ca else None


def basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def credentials_from_env() -> tuple[str, str] | None:
    """(user, password) from KRAFT_USER / KRAFT_PASSWORD (never a command-line argument,
    which other users of the machine could read in the process list)."""
    user = os.environ.get(USER_ENV)
    return (user, os.environ.get(PASSWORD_ENV, "")) if user else None


def credentials_hint(status: int, auth: tuple[str, str] | None) -> str:
    """What to add to a 401's message: where the kraft commands take credentials from."""
    if status != 401:
        return ""
    if auth is None:
        return f"; the cluster asks for credentials: set {USER_ENV} and {PASSWORD_ENV}"
    return f"; the cluster refused {USER_ENV}={auth[0]} with its {PASSWORD_ENV}"


class AdminError(Exception):
    """One line for stderr; `error_code` is the server's, None when no node answered."""

    def __init__(self, message: str, error_code: int | None = None):
        super().__init__(message)
        self.error_code = error_code


class AdminClient:
    def __init__(self, bootstrap: list[str], timeout_s: float = 10.0,
                 auth: tuple[str, str] | None = None, ca_file: str | os.PathLike | None = None,
                 unreachable_note: str | None = None):
        """unreachable_note: said after "no node answered" (where the URLs came from)."""
        self.bootstrap = [u.rstrip("/") for u in bootstrap]
        self.unreachable_note = unreachable_note
        self.timeout_s = timeout_s
        self.auth, self.ca_file = auth, ca_file  # the bundled producer reuses them
        self._tls = tls_context(ca_file)
        self._authorization = basic_auth_header(*auth) if auth else None
        self._cluster_id: str | None = None

    def request(self, method: str, path: str, body=None, content_type: str = "application/json",
                accept: str | None = None):
        data = None if body is None else json.dumps(body).encode()
        problems = []
        for base in self.bootstrap:
            req = urllib.request.Request(base + path, data=data, method=method)
            if data is not None:
                req.add_header("Content-Type", content_type)
            if accept:
                req.add_header("Accept", accept)
            if self._authorization:
                req.add_header("Authorization", self._authorization)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s, context=self._tls) as resp:
                    raw = resp.read()
                    return json.loads(raw) if raw else None
            except urllib.error.HTTPError as exc:
                code: int | None = exc.code
                try:
                    err = json.loads(exc.read())
                    code = err.get("error_code", code)
                    message = f"{err.get('message')} (error_code {code})"
                except (ValueError, AttributeError):
                    message = f"HTTP {exc.code}"
                raise AdminError(message + credentials_hint(exc.code, self.auth), code) from None
            except (OSError, ValueError) as exc:
                problems.append(f"{base}: {getattr(exc, 'reason', exc)}")
        note = f"; {self.unreachable_note}" if self.unreachable_note else ""
        raise AdminError("no node answered: " + "; ".join(problems) + note)

    @property
    def cluster_id(self) -> str:
        if self._cluster_id is None:
            self._cluster_id = self.request("GET", "/v3/clusters")["data"][0]["cluster_id"]
        return self._cluster_id

    def v3(self, method: str, suffix: str, body=None):
        return self.request(method, f"/v3/clusters/{self.cluster_id}{suffix}", body)
