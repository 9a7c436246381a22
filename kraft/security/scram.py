"""Salted SCRAM credentials (RFC 5802, RFC 7677) and the server side of the exchange.

A credential keeps what Kafka keeps: salt, StoredKey, ServerKey and the iteration
count; never the password. HTTP Basic is checked against the same credential by
deriving StoredKey from the password given. The exchange (`ScramExchange`) is sans-IO:
bytes in, bytes out, for the Kafka listener's SASL frames.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from kraft.errors import AuthenticationFailed, InvalidValue

MECHANISMS = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
DEFAULT_MECHANISM = "SCRAM-SHA-256"
MIN_ITERATIONS = 4096  # Kafka's minimum and default
MAX_ITERATIONS = 16384
MAX_PASSWORD_BYTES = 1024


@dataclass(frozen=True)
class ScramCredential:
    mechanism: str
    salt: bytes
    stored_key: bytes
    server_key: bytes
    iterations: int

    def to_record_fields(self) -> dict:
        return {"mechanism": self.mechanism, "salt": _b64(self.salt),
                "stored_key": _b64(self.stored_key), "server_key": _b64(self.server_key),
                "iterations": self.iterations}

    @classmethod
    def from_record_fields(cls, f) -> ScramCredential:
        """From a record (or payload) with the base64 fields; binascii.Error when one is not."""
        return cls(f.mechanism, base64.b64decode(f.salt, validate=True),
                   base64.b64decode(f.stored_key, validate=True),
                   base64.b64decode(f.server_key, validate=True), f.iterations)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _hash_name(mechanism: str) -> str:
    try:
        return MECHANISMS[mechanism]
    except KeyError:
        raise InvalidValue(f"mechanism must be one of {', '.join(MECHANISMS)}, got {mechanism!r}") from None


def _salted(password: bytes, salt: bytes, iterations: int, hash_name: str) -> bytes:
    return hashlib.pbkdf2_hmac(hash_name, password, salt, iterations)


def salted_password(password: str, salt: bytes, iterations: int, mechanism: str) -> bytes:
    """RFC 5802's SaltedPassword (the client's side of an exchange derives it too)."""
    return _salted(check_password(password), salt, iterations, _hash_name(mechanism))


def make_credential(password: object, mechanism: str = DEFAULT_MECHANISM,
                    iterations: int = MIN_ITERATIONS) -> ScramCredential:
    """A fresh random salt each time: the same password twice gives different credentials.
    `password` may be any JSON value: check_password refuses all but a non-empty string."""
    hash_name = _hash_name(mechanism)
    secret = check_password(password)
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise InvalidValue(f"iterations must be {MIN_ITERATIONS}..{MAX_ITERATIONS}, got {iterations}")
    salt = secrets.token_bytes(24)
    return credential_from_salted(mechanism, salt, _salted(secret, salt, iterations, hash_name), iterations)


def credential_from_salted(mechanism: str, salt: bytes, salted_password: bytes, iterations: int) -> ScramCredential:
    """The stored credential of a SaltedPassword (RFC 5802: PBKDF2 of the password, done
    by whoever chose the salt; Kafka's AlterUserScramCredentials carries it)."""
    hash_name = _hash_name(mechanism)
    client_key = hmac.digest(salted_password, b"Client Key", hash_name)
    return ScramCredential(mechanism, salt, hashlib.new(hash_name, client_key).digest(),
                           hmac.digest(salted_password, b"Server Key", hash_name), iterations)


def check_password(password: object) -> bytes:
    if not isinstance(password, str) or not password:
        raise InvalidValue("password must be a non-empty string")
    secret = password.encode()
    if len(secret) > MAX_PASSWORD_BYTES:
        raise InvalidValue(f"password is longer than {MAX_PASSWORD_BYTES} bytes")
    return secret


def password_matches(credential: ScramCredential, password: str) -> bool:
    """Constant-time: the comparison takes as long whatever the password."""
    hash_name = MECHANISMS[credential.mechanism]
    secret = password.encode()[:MAX_PASSWORD_BYTES + 1]
    salted = _salted(secret, credential.salt, credential.iterations, hash_name)
    client_key = hmac.digest(salted, b"Client Key", hash_name)
    return hmac.compare_digest(hashlib.new(hash_name, client_key).digest(), credential.stored_key)


# A credential for unknown users, so that a wrong name costs what a wrong password costs
# and the answer cannot tell them apart.
DECOY = make_credential(secrets.token_urlsafe(16))


class ScramExchange:
    """One SCRAM authentication, server side: client-first -> server-first,
    client-final -> server-final. `lookup(name)` gives the user's credential or None."""

    def __init__(self, mechanism: str, lookup, nonce_suffix: str | None = None) -> None:
        """nonce_suffix: the server's part of the nonce; random unless given (RFC test vectors)."""
        self._nonce_suffix = nonce_suffix
        self._hash = _hash_name(mechanism)
        self._mechanism = mechanism
        self._lookup = lookup
        self.user: str | None = None
        self._credential: ScramCredential | None = None
        self._known = False
        self._client_first_bare = b""
        self._server_first = b""
        self._nonce = ""

    def first(self, client_first: bytes) -> bytes:
        try:
            text = client_first.decode()
            gs2, _, bare = _split_gs2(text)
            attrs = _attributes(bare)
            name = _unescape(attrs["n"])
            client_nonce = attrs["r"]
        except (UnicodeDecodeError, KeyError, ValueError):
            raise AuthenticationFailed("malformed SCRAM client-first message") from None
        if gs2.startswith("p"):
            raise AuthenticationFailed("channel binding is not supported")
        credential = self._lookup(name)
        self._known = credential is not None and credential.mechanism == self._mechanism
        self._credential = credential if self._known else DECOY
        self.user = name
        self._client_first_bare = bare.encode()
        self._nonce = client_nonce + (self._nonce_suffix or secrets.token_urlsafe(18))
        c = self._credential
        assert c is not None
        self._server_first = f"r={self._nonce},s={_b64(c.salt)},i={c.iterations}".encode()
        return self._server_first

    def final(self, client_final: bytes) -> bytes:
        c = self._credential
        if c is None:
            raise AuthenticationFailed("SCRAM client-final message before client-first")
        try:
            text = client_final.decode()
            without_proof, _, proof_part = text.rpartition(",p=")
            attrs = _attributes(without_proof)
            proof = base64.b64decode(proof_part, validate=True)
        except (UnicodeDecodeError, ValueError, KeyError):
            raise AuthenticationFailed("malformed SCRAM client-final message") from None
        # Kafka accepts a final nonce that ends with the server's: librdkafka before 2.x
        # (kcat from Debian) sends its own nonce in front of the whole server nonce again.
        if not attrs.get("r", "").endswith(self._nonce) or attrs.get("c") not in ("biws", "eSws"):
            raise AuthenticationFailed("Authentication failed")
        auth_message = self._client_first_bare + b"," + self._server_first + b"," + without_proof.encode()
        signature = hmac.digest(c.stored_key, auth_message, self._hash)
        if len(proof) != len(signature):
            raise AuthenticationFailed("Authentication failed")
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        good = hmac.compare_digest(hashlib.new(self._hash, client_key).digest(), c.stored_key)
        if not (good and self._known):
            raise AuthenticationFailed("Authentication failed")
        server_signature = hmac.digest(c.server_key, auth_message, self._hash)
        return b"v=" + base64.b64encode(server_signature)


def _split_gs2(text: str) -> tuple[str, str, str]:
    flag, sep1, rest = text.partition(",")
    authzid, sep2, bare = rest.partition(",")
    if not sep1 or not sep2 or flag not in ("n", "y") and not flag.startswith("p="):
        raise ValueError("bad gs2 header")
    return flag, authzid, bare


def _attributes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1:
            raise ValueError(f"bad SCRAM attribute {part!r}")
        out.setdefault(key, value)
    return out


def _unescape(name: str) -> str:
    if "=" in name.replace("=2C", "").replace("=3D", ""):
        raise ValueError("bad escape in SCRAM user name")
    return name.replace("=2C", ",").replace("=3D", "=")
