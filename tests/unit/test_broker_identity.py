"""Who counts as another broker (kraft/broker/access.py, security/broker_login.py): only an
identity made by the brokers' SCRAM login; a client certificate or a token naming the
same user is an ordinary user, and a password for that name logs nobody in."""

from __future__ import annotations

from types import SimpleNamespace

from kraft.broker.access import AccessControl, Identity
from kraft.config.cluster_tables import SecuritySettings
from kraft.security.broker_login import BROKER_MECHANISM, BROKER_USER, broker_credential
from kraft.security.scram import make_credential

KEY = b"k" * 32


def access() -> AccessControl:
    # a user of the brokers' name in the log, with a password of its own
    image = SimpleNamespace(acls=frozenset(), scram_credentials={
        BROKER_USER: {BROKER_MECHANISM: make_credential("chosen-password")},
        "alice": {BROKER_MECHANISM: make_credential("alice-password")}})
    return AccessControl(SecuritySettings(super_users=("admin",)), lambda: image,  # type: ignore[arg-type, return-value]
                         broker_credential=broker_credential(KEY))


def test_only_the_brokers_login_makes_a_broker():
    a = access()
    named = Identity(f"User:{BROKER_USER}", "127.0.0.9")  # as a certificate's CN or a token's subject makes it
    proven = Identity(f"User:{BROKER_USER}", "127.0.0.9", broker=True)
    assert not a.allowed(named, "CLUSTER_ACTION", "CLUSTER") and not a.is_super_user(named)
    assert a.allowed(proven, "CLUSTER_ACTION", "CLUSTER") and a.is_super_user(proven)
    assert a.allowed(proven, "WRITE", "TOPIC", "anything")


def test_the_brokers_name_is_checked_against_the_derived_credential_only():
    a = access()
    assert a.credential(BROKER_USER, BROKER_MECHANISM) == broker_credential(KEY)  # not the log's
    assert a.credential(BROKER_USER, "SCRAM-SHA-512") is None
    assert not a.verify_password(BROKER_USER, "chosen-password")  # PLAIN: nobody
    # where only brokers may log in, a client's credential is not looked up at all
    assert a.credential("alice", BROKER_MECHANISM, brokers_only=True) is None
    assert a.credential("alice", BROKER_MECHANISM) is not None
