"""The one OAUTHBEARER validator both front doors use: signed JWTs against the JWKS
keys when `sasl.oauthbearer.jwks.endpoint.url` is set, else unsecured ones (only when
`sasl.oauthbearer.allow.unsecured.jwt`; config refuses OAUTHBEARER with neither)."""

from __future__ import annotations

import time
from typing import Callable

from kraft.config.oauthbearer_settings import OAuthBearerSettings
from kraft.security.oauthbearer import BearerLogin
from kraft.security.signed_jwt import JwksKeys, validate_signed
from kraft.security.unsecured_jwt import validate_unsecured


class BearerValidator:
    def __init__(self, settings: OAuthBearerSettings,
                 clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        self.settings = settings
        self._clock_ms = clock_ms
        # the keys a JwksFetcher keeps current; None: unsecured tokens
        self.keys = JwksKeys() if settings.jwks_endpoint_url is not None else None

    def validate(self, token: str) -> BearerLogin:
        """The login a token proves; TokenRefused (an AuthenticationFailed) if none."""
        if self.keys is not None:
            return validate_signed(token, self.keys, self.settings)
        return validate_unsecured(token, self.settings, self._clock_ms())

    def lifetime_ms(self, login: BearerLogin) -> int:
        """How long the login may last from now: until the token expires (at least 1 ms)."""
        return max(1, login.expires_at_ms - self._clock_ms())
