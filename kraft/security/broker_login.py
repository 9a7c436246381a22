"""How one broker logs in to another's Kafka listener (Kafka's inter-broker SASL login).

Kafka's brokers authenticate to each other with a principal the operator makes a super
user. kraft's nodes already share a secret (the peer key, kraft/config/cluster_keys.py),
so each derives the same SCRAM-SHA-256 credential for one reserved user, and nobody
configures it: a replica fetch or a transaction marker comes from a connection logged in
with that credential, which has every permission, as a super user has (the identity
carries it: access.Identity.broker; a client certificate or token that names the same
user is an ordinary user). The password never crosses the wire (SCRAM proves it), and a
user of that name in the metadata log logs in nobody: the derived credential is the only
one checked for it.
"""

from __future__ import annotations

import base64

from kraft.config.cluster_keys import broker_secret
from kraft.security.scram import MIN_ITERATIONS, ScramCredential, credential_from_salted, salted_password

BROKER_USER = "kraft-broker"
BROKER_MECHANISM = "SCRAM-SHA-256"


def broker_password(peer_key: bytes) -> str:
    return base64.b64encode(broker_secret(peer_key, "password")).decode()


def broker_credential(peer_key: bytes) -> ScramCredential:
    salt = broker_secret(peer_key, "salt")[:24]
    salted = salted_password(broker_password(peer_key), salt, MIN_ITERATIONS, BROKER_MECHANISM)
    return credential_from_salted(BROKER_MECHANISM, salt, salted, MIN_ITERATIONS)
