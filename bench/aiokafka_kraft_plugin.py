"""A pytest plugin (`-p aiokafka_kraft_plugin`) that points aiokafka's functional tests at
kraft clusters started by bench/client_suites.py instead of a Kafka Docker container.

aiokafka's tests/conftest.py starts Kafka with Docker (`docker`, `kafka_image`,
`kafka_server`) and runs Kafka's scripts inside the container for ACLs and SCRAM users
(`acl_manager`, `kafka_config`). This plugin replaces those fixtures in the conftest module
before pytest reads its fixtures: the server fixture hands out the clusters' addresses, and
ACLs and SCRAM users go through the Kafka admin API (CreateAcls, DeleteAcls, DescribeAcls,
AlterUserScramCredentials) of the secured cluster. Only the tests that use a broker run:
the plugin deselects the suite's unit tests.

Read from the environment (set by the runner):
  KRAFT_AIOKAFKA_HOST, KRAFT_AIOKAFKA_PORT   the plaintext cluster's first Kafka listener
  KRAFT_AIOKAFKA_SASL_PORT                   the secured cluster's listener on the same host
                                             (SASL_PLAINTEXT: PLAIN and SCRAM users)
  KRAFT_AIOKAFKA_ADMIN                       "user:password" of that cluster's super user
"""

from __future__ import annotations

import os
import sys
import types

import pytest

SERVER_FIXTURES = ("docker", "kafka_image", "kafka_server", "ssl_folder", "acl_manager",
                   "kafka_config", "kerberos_utils")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    _stand_in_docker_module()


def _stand_in_docker_module() -> None:
    """conftest.py imports the Docker SDK at module level and names its Container class in
    an annotation; no Docker is used here, so a module with that one name does (installed
    before pytest imports the conftest, only when the SDK is missing)."""
    try:
        import docker  # noqa: F401
        return
    except ImportError:
        pass
    module = types.ModuleType("docker")
    module.models = types.SimpleNamespace(containers=types.SimpleNamespace(Container=object))
    module.from_env = _no_docker
    sys.modules["docker"] = module


def _no_docker(*_args, **_kw):
    raise RuntimeError("no Docker here: the tests run against kraft clusters (aiokafka_kraft_plugin)")



def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise pytest.UsageError(f"aiokafka_kraft_plugin: {name} is not set (run bench/client_suites.py aiokafka)")
    return value


def _admin_client():
    from confluent_kafka.admin import AdminClient
    user, _, password = _env("KRAFT_AIOKAFKA_ADMIN").partition(":")
    return AdminClient({
        "bootstrap.servers": f"{_env('KRAFT_AIOKAFKA_HOST')}:{_env('KRAFT_AIOKAFKA_SASL_PORT')}",
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
        "sasl.username": user, "sasl.password": password})


def acl_bindings(cluster=None, topic=None, group=None, transactional_id=None, allow_principal=None,
                 deny_principal=None, allow_host=None, deny_host=None, operation=None,
                 producer=None, consumer=None) -> list[tuple[str, str, str, str, str, str]]:
    """kafka-acls.sh's options (aiokafka's ACLManager takes them as keywords) as bindings:
    (resource type, resource name, principal, host, operation, permission), as the tool
    expands them: every principal on every resource, `--producer`/`--consumer` as their
    operation sets, hosts `*` unless given."""
    resources = []
    if cluster:
        resources.append(("CLUSTER", "kafka-cluster"))
    if topic is not None:
        resources.append(("TOPIC", topic))
    if group is not None:
        resources.append(("GROUP", group))
    if transactional_id is not None:
        resources.append(("TRANSACTIONAL_ID", transactional_id))
    grants = []
    if allow_principal is not None:
        grants.append((f"User:{allow_principal}", allow_host or "*", "ALLOW"))
    if deny_principal is not None:
        grants.append((f"User:{deny_principal}", deny_host or "*", "DENY"))
    ops_by_type: dict[str, list[str]] = {}
    if operation is not None:
        for kind, _ in resources:
            ops_by_type[kind] = [operation.upper()]
    if producer:
        ops_by_type.setdefault("TOPIC", []).extend(["WRITE", "DESCRIBE", "CREATE"])
        ops_by_type.setdefault("TRANSACTIONAL_ID", []).extend(["WRITE", "DESCRIBE"])
    if consumer:
        ops_by_type.setdefault("TOPIC", []).extend(["READ", "DESCRIBE"])
        ops_by_type.setdefault("GROUP", []).append("READ")
    if not resources or not grants or not ops_by_type:
        raise ValueError(f"an ACL needs a resource, a principal and an operation: {resources} {grants}")
    return [(kind, name, principal, host, op, permission)
            for kind, name in resources for op in ops_by_type.get(kind, [])
            for principal, host, permission in grants]


class AdminAclManager:
    """aiokafka's ACLManager (add_acl, remove_acl, list_acl, cleanup) over the admin API."""

    def __init__(self) -> None:
        self._admin = _admin_client()
        self._active: list[dict] = []

    @staticmethod
    def _binding(spec, as_filter: bool):
        from confluent_kafka.admin import (
            AclBinding, AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType,
            ResourceType)
        kind, name, principal, host, op, permission = spec
        cls = AclBindingFilter if as_filter else AclBinding
        # confluent-kafka names Kafka's CLUSTER resource type BROKER
        return cls(ResourceType["BROKER" if kind == "CLUSTER" else kind], name, ResourcePatternType.LITERAL, principal, host,
                   AclOperation[op], AclPermissionType[permission])

    def _wait(self, futures) -> list:
        return [f.result(timeout=30) for f in (futures.values() if isinstance(futures, dict) else futures)]

    def add_acl(self, **params) -> None:
        specs = acl_bindings(**params)
        self._wait(self._admin.create_acls([self._binding(s, False) for s in specs], request_timeout=30))
        self._active.append(params)

    def remove_acl(self, **params) -> None:
        specs = acl_bindings(**params)
        self._wait(self._admin.delete_acls([self._binding(s, True) for s in specs], request_timeout=30))
        self._active.remove(params)

    def list_acl(self, principal=None) -> list:
        from confluent_kafka.admin import (
            AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType, ResourceType)
        wanted = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                  f"User:{principal}" if principal else None, None,
                                  AclOperation.ANY, AclPermissionType.ANY)
        return self._admin.describe_acls(wanted, request_timeout=30).result(timeout=30)

    def cleanup(self) -> None:
        for params in self._active[:]:
            self.remove_acl(**params)


class AdminScramConfig:
    """aiokafka's KafkaConfig.add_scram_user (kafka-configs.sh --add-config SCRAM-SHA-256=
    [password=..],SCRAM-SHA-512=[password=..]) as AlterUserScramCredentials."""

    def __init__(self) -> None:
        self._admin = _admin_client()

    def add_scram_user(self, username: str, password: str) -> None:
        from confluent_kafka.admin import (
            ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion)
        # one request per mechanism: Kafka's controller answers DUPLICATE_RESOURCE to a user
        # named twice in one request, and so does kraft's
        for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
            upsert = UserScramCredentialUpsertion(username, ScramCredentialInfo(mechanism, 4096),
                                                  password.encode())
            for future in self._admin.alter_user_scram_credentials([upsert], request_timeout=30).values():
                future.result(timeout=30)


class NoKerberos:
    """The container's KDC does not exist here; the GSSAPI tests are excluded."""

    def kinit(self, principal):
        raise RuntimeError("no Kerberos KDC: GSSAPI tests cannot run against kraft")

    kdestroy = kinit


def _replacement_fixtures(conftest) -> dict:
    @pytest.fixture(scope="session", name="docker")
    def docker():
        yield None

    @pytest.fixture(scope="session", name="kafka_image")
    def kafka_image(request):
        return request.config.getoption("--docker-image")

    @pytest.fixture(scope="session", name="ssl_folder")
    def ssl_folder(tmp_path_factory):
        # the container generated the certificates; none exist here (SSL tests are excluded)
        return tmp_path_factory.mktemp("no-ssl-cert")

    @pytest.fixture(scope="session", name="kafka_server")
    def kafka_server():
        sasl = os.environ.get("KRAFT_AIOKAFKA_SASL_PORT")
        return conftest.KafkaServer(_env("KRAFT_AIOKAFKA_HOST"), int(_env("KRAFT_AIOKAFKA_PORT")),
                                    0, int(sasl) if sasl else 0, 0, None)

    @pytest.fixture(scope="class", name="acl_manager")
    def acl_manager(kafka_server):
        return AdminAclManager() if os.environ.get("KRAFT_AIOKAFKA_SASL_PORT") else None

    @pytest.fixture(scope="class", name="kafka_config")
    def kafka_config(kafka_server):
        return AdminScramConfig() if os.environ.get("KRAFT_AIOKAFKA_SASL_PORT") else None

    @pytest.fixture(scope="class", name="kerberos_utils")
    def kerberos_utils(kafka_server):
        return NoKerberos()

    fixtures = {name: value for name, value in locals().items() if name in SERVER_FIXTURES}
    assert set(fixtures) == set(SERVER_FIXTURES)
    return fixtures


@pytest.hookimpl(tryfirst=True)
def pytest_plugin_registered(plugin, plugin_name):
    """Swap the conftest's Docker fixtures before pytest parses them (it parses a conftest's
    fixtures when its directory is collected, after this hook)."""
    if not (plugin_name or "").endswith("conftest.py") or not hasattr(plugin, "KafkaServer"):
        return
    for name, fixture in _replacement_fixtures(plugin).items():
        setattr(plugin, name, fixture)


def pytest_collection_modifyitems(config, items):
    """Only the tests that talk to a broker: the suite's unit tests say nothing of kraft."""
    keep = [item for item in items if "kafka_server" in getattr(item, "fixturenames", ())]
    dropped = [item for item in items if "kafka_server" not in getattr(item, "fixturenames", ())]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep
