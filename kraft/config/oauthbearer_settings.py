"""[security]'s SASL mechanisms and OAUTHBEARER keys, under Kafka's names.

`sasl.enabled.mechanisms` lists what SaslHandshake offers. OAUTHBEARER validates each
token one of Kafka's two ways: signed JWTs checked against the keys a JWKS endpoint
serves (KIP-768, `sasl.oauthbearer.jwks.endpoint.url`), or, with
`sasl.oauthbearer.allow.unsecured.jwt = true` (kraft's key: Kafka's default handler does
this unasked), unsigned JWTs as Kafka's OAuthBearerUnsecuredValidatorCallbackHandler
(its `unsecuredValidator*` options). The HTTP door takes the same tokens as
`Authorization: Bearer`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
ClaimName = Annotated[str, Field(strict=True, min_length=1, max_length=256)]
_DEFAULT_MECHANISMS: tuple[Mechanism, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class OAuthBearerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    sasl_enabled_mechanisms: Annotated[tuple[Mechanism, ...], Field(min_length=1)] = Field(
        _DEFAULT_MECHANISMS, alias="sasl.enabled.mechanisms")
    jwks_endpoint_url: Annotated[str, Field(strict=True, pattern=r"^https?://[^\s]+$")] | None = Field(
        None, alias="sasl.oauthbearer.jwks.endpoint.url")
    # Kafka's default: the keys are fetched again every hour (and when a token names a new key)
    jwks_endpoint_refresh_ms: Annotated[int, Field(strict=True, ge=1000)] = Field(
        3_600_000, alias="sasl.oauthbearer.jwks.endpoint.refresh.ms")
    expected_audience: tuple[ClaimName, ...] = Field((), alias="sasl.oauthbearer.expected.audience")
    expected_issuer: ClaimName | None = Field(None, alias="sasl.oauthbearer.expected.issuer")
    sub_claim_name: ClaimName = Field("sub", alias="sasl.oauthbearer.sub.claim.name")
    scope_claim_name: ClaimName = Field("scope", alias="sasl.oauthbearer.scope.claim.name")
    clock_skew_seconds: Annotated[int, Field(strict=True, ge=0, le=3600)] = Field(
        30, alias="sasl.oauthbearer.clock.skew.seconds")
    allow_unsecured_jwt: Annotated[bool, Field(strict=True)] = Field(
        False, alias="sasl.oauthbearer.allow.unsecured.jwt")
    unsecured_principal_claim_name: ClaimName = Field("sub", alias="unsecuredValidatorPrincipalClaimName")
    unsecured_scope_claim_name: ClaimName = Field("scope", alias="unsecuredValidatorScopeClaimName")
    unsecured_required_scope: tuple[ClaimName, ...] = Field((), alias="unsecuredValidatorRequiredScope")
    unsecured_allowable_clock_skew_ms: Annotated[int, Field(strict=True, ge=0, le=3_600_000)] = Field(
        0, alias="unsecuredValidatorAllowableClockSkewMs")

    @property
    def oauthbearer(self) -> bool:
        return "OAUTHBEARER" in self.sasl_enabled_mechanisms

    @model_validator(mode="after")
    def _one_validator(self) -> OAuthBearerSettings:
        if not self.oauthbearer:
            return self
        if self.jwks_endpoint_url is None and not self.allow_unsecured_jwt:
            raise _problem('"sasl.oauthbearer.jwks.endpoint.url"',
                           "OAUTHBEARER needs the identity provider's JWKS endpoint to check "
                           "signed tokens (or sasl.oauthbearer.allow.unsecured.jwt = true, "
                           "for unsigned test tokens)")
        if self.jwks_endpoint_url is not None and self.allow_unsecured_jwt:
            raise _problem('"sasl.oauthbearer.allow.unsecured.jwt"',
                           "choose one: signed tokens (jwks.endpoint.url) or unsecured ones")
        return self


def _problem(sub_path: str, reason: str) -> PydanticCustomError:
    # the same error shape as toml_tables.py's invalid: one line naming the key
    return PydanticCustomError("kraft_config", "{reason}", {"reason": reason, "sub_path": sub_path})
