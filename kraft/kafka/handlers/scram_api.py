"""DescribeUserScramCredentials (50) and AlterUserScramCredentials (51): the users of
kraft's HTTP user API (/v1/security/users), per SCRAM mechanism, as Kafka keeps them.

Describing needs DESCRIBE on the cluster, altering ALTER, as in Kafka. An upsertion
carries the salt and SaltedPassword the client derived; StoredKey and ServerKey are
derived here, so the salted password (as good as the password to a SCRAM client)
goes no further than this node, like a password given over HTTP. A change answers
once every node that answers has it: a removed credential no longer logs in anywhere.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.errors import CredentialNotFound, DuplicateResource, KraftError, error_from_name
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext
from kraft.security.scram import MECHANISMS, ScramCredential, credential_from_salted
from kraft.errors.kafka_codes import CLUSTER_AUTHORIZATION_FAILED

MECHANISM_CODES = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}  # Kafka's ScramMechanism type bytes
MECHANISM_NAMES = {code: name for name, code in MECHANISM_CODES.items()}


def describe_users(credentials: Mapping[str, Mapping[str, ScramCredential]],
                   names: list[str] | None) -> list[dict[str, Any]]:
    """Kafka's answer per user: every user when none is named; a name given twice or
    one with no credential is answered with its error. Pure."""
    if not names:
        names = sorted(credentials)
    counts = {n: names.count(n) for n in names}
    out = []
    for name in dict.fromkeys(names):
        error: KraftError | None = None
        if counts[name] > 1:
            error = DuplicateResource("a user may be named once per request")
        elif not credentials.get(name):
            error = CredentialNotFound(f"user {name!r} has no SCRAM credential")
        infos = [] if error else [{"mechanism": MECHANISM_CODES[m], "iterations": c.iterations}
                                  for m, c in sorted(credentials[name].items())]
        out.append({"user": name, "error_code": error.kafka_code if error else error_codes.NONE,
                    "error_message": error.message if error else None, "credential_infos": infos})
    return out


async def describe(node: BrokerServices, ctx: RequestContext, request) -> dict:
    answer: dict[str, Any] = {"throttle_time": 0, "error_code": error_codes.NONE, "error_message": None,
                              "results": []}
    if not ctx.allowed("describe_cluster"):
        answer.update(error_code=CLUSTER_AUTHORIZATION_FAILED, error_message="DESCRIBE on the cluster is not authorized")
        return answer
    names = None if request.users is None else [u.name for u in request.users]
    answer["results"] = describe_users(node.image.scram_credentials, names)
    return answer


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _upsertion(u) -> controller_requests.ScramUpsertion:
    mechanism = MECHANISM_NAMES.get(int(u.mechanism), "")
    fields = {"name": u.name, "mechanism": mechanism, "iterations": int(u.iterations)}
    if mechanism in MECHANISMS and u.salt and u.salted_password:
        credential = credential_from_salted(mechanism, bytes(u.salt), bytes(u.salted_password), int(u.iterations))
        fields.update(salt=_b64(credential.salt), stored_key=_b64(credential.stored_key),
                      server_key=_b64(credential.server_key))
    return controller_requests.ScramUpsertion(**fields)


async def alter(node: BrokerServices, ctx: RequestContext, request) -> dict:
    users = list(dict.fromkeys([d.name for d in request.deletions] + [u.name for u in request.upsertions]))
    if not ctx.allowed("alter_cluster"):
        return {"throttle_time": 0, "results": [
            {"user": n, "error_code": CLUSTER_AUTHORIZATION_FAILED,
             "error_message": "ALTER on the cluster is not authorized"} for n in users]}
    try:
        result = await node.controller_call(controller_requests.AlterScramCredentials(
            deletions=[controller_requests.ScramDeletion(name=d.name, mechanism=MECHANISM_NAMES.get(int(d.mechanism), ""))
                       for d in request.deletions],
            upsertions=[_upsertion(u) for u in request.upsertions]))
        if "metadata_offset" in result:
            await node.wait_metadata_everywhere(result["metadata_offset"])
    except KraftError as exc:
        return {"throttle_time": 0, "results": [
            {"user": n, "error_code": error_codes.code_of(exc), "error_message": exc.message} for n in users]}
    return {"throttle_time": 0, "results": [
        {"user": r["user"], "error_code": error_from_name(r["error"], r["message"]).kafka_code if r["error"] else 0,
         "error_message": r["message"]} for r in result["results"]]}
