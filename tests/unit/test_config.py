import importlib.resources
from pathlib import Path

import pydantic
import pytest

from kraft.config.cluster import (
    ConfigFileError,
    check_data_dirs,
    load_cluster_config,
    load_cluster_config_text,
)
from kraft.config.topic_configs import TOPIC_CONFIGS, topic_default


def node(node_id, roles=("controller", "broker"), host="127.0.0.1", http=None, raft="auto", extra=""):
    """One [[nodes]] table; ports default to 8080+id / 9090+id (raft) / 19090+id (kafka)."""
    lines = [
        "[[nodes]]",
        f"id = {node_id}",
        "roles = [" + ", ".join(f'"{role}"' for role in roles) + "]",
        f'host = "{host}"',
        f"http_port = {http or 8080 + node_id}",
        f'data_dir = "data/node-{node_id}"',
    ]
    if "broker" in roles and "kafka_port" not in extra:
        lines.append(f"kafka_port = {19090 + node_id}")
    if raft == "auto" and "controller" in roles:
        lines.append(f"raft_port = {9090 + node_id}")
    elif raft not in ("auto", None):
        lines.append(f"raft_port = {raft}")
    return "\n".join(lines) + "\n" + extra + "\n"


THREE_NODES = node(1) + node(2) + node(3)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as caught:
        load_cluster_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message[len(f"{path}: "):]


def test_bundled_default_loads_without_warnings(tmp_path):
    text = (importlib.resources.files("kraft") / "cluster.toml").read_text()
    config = load_cluster_config_text(text, base_dir=tmp_path)
    assert config.warnings == []
    assert config.cluster.name == "local" and config.cluster.id is None
    assert [n.id for n in config.nodes] == [1, 2, 3]
    assert [n.http_url for n in config.nodes] == ["http://127.0.0.1:8081", "http://127.0.0.1:8082", "http://127.0.0.1:8083"]
    assert [n.raft_address for n in config.nodes] == ["127.0.0.1:9191", "127.0.0.1:9192", "127.0.0.1:9193"]
    assert config.kafka_bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094"
    assert config.nodes[0].data_path == tmp_path / "data" / "node-1"
    assert config.topic_defaults["min.insync.replicas"] == "2"
    assert config.timeouts.broker_session_timeout_ms == 3000


def test_minimal_file_gets_every_default(tmp_path):
    config = load_cluster_config(write(tmp_path, THREE_NODES))
    assert config.cluster.name == "local"
    # nothing set: every topic default is Kafka's (DescribeConfigs says DEFAULT_CONFIG, not the file's)
    assert config.topic_defaults == {}
    assert all(topic_default(config.topic_defaults, name) == spec.default for name, spec in TOPIC_CONFIGS.items())
    assert config.timeouts.broker_heartbeat_interval_ms == 500
    assert config.timeouts.replica_lag_time_max_ms == 5000
    assert config.timeouts.controller_request_timeout_ms == 5000
    assert config.path == tmp_path / "cluster.toml"
    assert config.base_dir == tmp_path


def test_data_dir_is_relative_to_the_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    config = load_cluster_config(write(tmp_path, THREE_NODES))
    assert config.node(2).data_path == tmp_path / "data" / "node-2"
    assert config.node(2).data_path.is_absolute()


def test_topic_defaults_are_stored_as_canonical_strings(tmp_path):
    text = '[topic_defaults]\n"unclean.leader.election.enable" = true\n"retention.ms" = -1\n' + THREE_NODES
    config = load_cluster_config(write(tmp_path, text))
    assert config.topic_defaults["unclean.leader.election.enable"] == "true"
    assert config.topic_defaults["retention.ms"] == "-1"
    assert "retention.bytes" not in config.topic_defaults  # only what the file set


def test_roles_and_lookup(tmp_path):
    text = node(1, roles=["controller"]) + node(2, roles=["broker"]) + node(3, roles=["broker"])
    config = load_cluster_config(write(tmp_path, text))
    assert [n.id for n in config.controllers] == [1]
    assert [n.id for n in config.brokers] == [2, 3]
    assert config.node(1).is_controller and not config.node(1).is_broker
    assert config.node(2).raft_address is None
    with pytest.raises(ConfigFileError, match=r"nodes: no node has id 9"):
        config.node(9)


def test_a_broker_may_name_its_rack_a_controller_only_node_may_not(tmp_path):
    text = node(1, roles=["controller"]) + node(2, roles=["broker"], extra='rack = "az-1"') + node(3)
    config = load_cluster_config(write(tmp_path, text))
    assert (config.node(2).rack, config.node(3).rack) == ("az-1", None)
    message = load_error(tmp_path, node(1, extra='rack = "az-1"') + node(2, roles=["controller"], extra='rack = "a"')
                         + node(3))
    assert "rack" in message and "only brokers" in message, message
    assert "rack" in load_error(tmp_path, node(1, extra='rack = ""') + node(2) + node(3))


def test_ipv6_host_is_bracketed_in_urls(tmp_path):
    config = load_cluster_config(write(tmp_path, node(1, host="::1")))
    assert config.node(1).http_url == "http://[::1]:8081"
    assert config.node(1).raft_address == "::1:9091"  # pysyncobj splits at the last ':'


def test_config_is_frozen(tmp_path):
    config = load_cluster_config(write(tmp_path, THREE_NODES))
    with pytest.raises(pydantic.ValidationError):
        config.nodes[0].http_port = 1


def test_unknown_top_level_key(tmp_path):
    assert load_error(tmp_path, "colour = 1\n" + THREE_NODES) == "colour: unknown key"


def test_unknown_key_in_cluster(tmp_path):
    assert load_error(tmp_path, '[cluster]\nnmae = "x"\n' + THREE_NODES) == 'cluster.nmae: unknown key (did you mean "name"?)'


def test_unknown_key_in_nodes(tmp_path):
    text = node(1) + node(2, extra='color = "red"') + node(3)
    assert load_error(tmp_path, text) == "nodes[1].color: unknown key"


def test_unknown_timeout(tmp_path):
    text = '[timeouts]\n"broker.session.timeout" = 3000\n' + THREE_NODES
    assert load_error(tmp_path, text) == (
        'timeouts."broker.session.timeout": unknown key (did you mean "broker.session.timeout.ms"?)')


def test_a_misspelt_required_key_is_named_with_the_key_it_should_be(tmp_path):
    text = node(1) + node(2).replace("http_port", "htp_port") + node(3)
    assert load_error(tmp_path, text) == 'nodes[1].htp_port: unknown key (did you mean "http_port"?)'
    text = node(1) + node(2).replace("roles", "role") + node(3)
    assert load_error(tmp_path, text) == 'nodes[1].role: unknown key (did you mean "roles"?)'
    assert load_error(tmp_path, "[group]\n" + THREE_NODES) == 'group: unknown key (did you mean "groups"?)'


def test_cors_origins_are_checked(tmp_path):
    text = '[http]\n"access.control.allow.origin" = "https://a.example, app.example"\n' + THREE_NODES
    assert load_error(tmp_path, text) == (
        'http."access.control.allow.origin": an allowed origin is "*" or scheme://host[:port], '
        "got 'app.example'")
    text = '[http]\n"access.control.allow.origin" = "https://a.example:8443,*"\n' + THREE_NODES
    assert load_cluster_config(write(tmp_path, text)).http.allowed_origins() == {"https://a.example:8443", "*"}


def test_heartbeat_must_be_shorter_than_session(tmp_path):
    text = '[timeouts]\n"broker.heartbeat.interval.ms" = 3000\n' + THREE_NODES
    assert load_error(tmp_path, text) == (
        'timeouts."broker.heartbeat.interval.ms": must be less than "broker.session.timeout.ms" (3000), got 3000'
    )


def test_duplicate_node_id(tmp_path):
    text = node(1) + node(2) + node(1, http=8090, raft=9099).replace("node-1", "node-x")
    assert load_error(tmp_path, text) == "nodes[2].id: node id 1 is already used by nodes[0]"


def test_duplicate_port_on_same_host(tmp_path):
    text = node(1) + node(2, http=8081) + node(3)
    assert load_error(tmp_path, text) == "nodes[1].http_port: port 8081 on 127.0.0.1 is already used by nodes[0].http_port"


def test_raft_port_clashing_with_an_http_port(tmp_path):
    text = node(1) + node(2, raft=8081) + node(3)
    assert load_error(tmp_path, text) == "nodes[1].raft_port: port 8081 on 127.0.0.1 is already used by nodes[0].http_port"


def test_same_port_on_different_hosts_is_fine(tmp_path):
    text = "".join(node(i, host=f"127.0.0.{i + 1}", http=8081, raft=9091) for i in (1, 2, 3))
    config = load_cluster_config(write(tmp_path, text))
    assert {n.http_url for n in config.nodes} == {f"http://127.0.0.{i}:8081" for i in (2, 3, 4)}


def test_bad_role(tmp_path):
    text = node(1, roles=["controller", "brokr"]) + node(2) + node(3)
    assert load_error(tmp_path, text) == "nodes[0].roles[1]: must be 'controller' or 'broker', got 'brokr'"


def test_empty_roles(tmp_path):
    assert load_error(tmp_path, node(1, roles=[], raft=None) + THREE_NODES) == "nodes[0].roles: must not be empty"


def test_duplicate_role(tmp_path):
    text = node(1, roles=["broker", "controller", "broker"]) + node(2) + node(3)
    assert load_error(tmp_path, text) == "nodes[0].roles[2]: duplicate role 'broker'"


def test_controller_missing_raft_port(tmp_path):
    text = node(1) + node(2, raft=None) + node(3)
    assert load_error(tmp_path, text) == 'nodes[1].raft_port: required for a node with the "controller" role'


def test_broker_only_node_with_raft_port(tmp_path):
    text = THREE_NODES + node(4, roles=["broker"], raft=9094)
    assert load_error(tmp_path, text).startswith("nodes[3].raft_port: only controllers use a raft port")


def test_no_controller(tmp_path):
    text = node(1, roles=["broker"]) + node(2, roles=["broker"])
    assert load_error(tmp_path, text).startswith('nodes: no node has the "controller" role')


def test_no_broker(tmp_path):
    text = node(1, roles=["controller"]) + node(2, roles=["controller"]) + node(3, roles=["controller"])
    assert load_error(tmp_path, text).startswith('nodes: no node has the "broker" role')


def test_no_nodes_at_all(tmp_path):
    assert load_error(tmp_path, '[cluster]\nname = "x"\n') == "nodes: required key is missing (or [[hosts]] entries)"


def test_even_number_of_controllers_warns(tmp_path):
    path = write(tmp_path, node(1) + node(2))
    config = load_cluster_config(path)
    assert config.warnings == [
        f"{path}: nodes: 2 controllers tolerate no more failures than 1; use an odd number"
    ]


def test_shared_data_dir(tmp_path):
    text = node(1) + node(2).replace("node-2", "node-1") + node(3)
    assert load_error(tmp_path, text) == f"nodes[1].data_dir: data dir {tmp_path / 'data' / 'node-1'} is already used by nodes[0]"


def test_invalid_topic_default_value(tmp_path):
    text = '[topic_defaults]\n"min.insync.replicas" = "x"\n' + THREE_NODES
    assert load_error(tmp_path, text) == "topic_defaults.\"min.insync.replicas\": must be an integer >= 1, got 'x'"


def test_float_topic_default_value(tmp_path):
    text = '[topic_defaults]\n"retention.ms" = 1.5\n' + THREE_NODES
    assert load_error(tmp_path, text) == 'topic_defaults."retention.ms": must be an integer >= -1, got 1.5'


def test_unknown_topic_default(tmp_path):
    text = '[topic_defaults]\n"retention.msec" = 5\n' + THREE_NODES
    assert load_error(tmp_path, text) == 'topic_defaults."retention.msec": unknown topic config (did you mean "retention.ms"?)'


def test_wrong_type_for_port(tmp_path):
    text = node(1, http='"8081"') + node(2) + node(3)
    assert load_error(tmp_path, text) == "nodes[0].http_port: must be a valid integer, got '8081'"


def test_port_out_of_range(tmp_path):
    text = node(1, http=70000) + node(2) + node(3)
    assert load_error(tmp_path, text) == "nodes[0].http_port: must be less than or equal to 65535, got 70000"


def test_bad_host(tmp_path):
    text = node(1, host="not a host!") + node(2) + node(3)
    assert load_error(tmp_path, text).startswith("nodes[0].host: must be an IPv4/IPv6 address")
    wildcard = node(1, host="0.0.0.0") + node(2) + node(3)  # others could not connect to it
    assert load_error(tmp_path, wildcard).startswith("nodes[0].host: 0.0.0.0 is not an address others can connect to")


def test_bad_cluster_id(tmp_path):
    text = '[cluster]\nid = "not-a-uuid"\n' + THREE_NODES
    assert load_error(tmp_path, text).startswith("cluster.id: must be 22 characters of url-safe base64")


def test_good_cluster_id_and_password(tmp_path):
    text = '[cluster]\nid = "MkU3OEVBNTcwNTJENDM2Qk"\nraft_password = "s3cret-pw"\n' + THREE_NODES
    config = load_cluster_config(write(tmp_path, text))
    assert config.cluster.id == "MkU3OEVBNTcwNTJENDM2Qk"
    assert config.cluster.raft_password == "s3cret-pw"


def test_short_raft_password(tmp_path):
    text = '[cluster]\nraft_password = "short"\n' + THREE_NODES
    assert load_error(tmp_path, text).startswith("cluster.raft_password: must have at least 8 characters")


def test_toml_syntax_error_has_line_and_column(tmp_path):
    text = THREE_NODES + "[[nodes]]\nid = = 4\n"
    message = load_error(tmp_path, text)
    assert message.startswith("line 29, column 6: invalid TOML: ")


def test_missing_file():
    with pytest.raises(ConfigFileError) as caught:
        load_cluster_config("/nonexistent/cluster.toml")
    assert str(caught.value) == "/nonexistent/cluster.toml: cannot read: No such file or directory"


def test_data_dirs_that_exist_or_can_be_created_pass(tmp_path):
    config = load_cluster_config(write(tmp_path, THREE_NODES))
    (tmp_path / "data" / "node-1").mkdir(parents=True)
    check_data_dirs(config)
    check_data_dirs(config, node_ids=[2])


def test_data_dir_under_a_regular_file(tmp_path):
    path = write(tmp_path, THREE_NODES)
    (tmp_path / "data").write_text("not a directory")
    config = load_cluster_config(path)
    with pytest.raises(ConfigFileError) as caught:
        check_data_dirs(config)
    assert str(caught.value) == (
        f"{path}: nodes[0].data_dir: cannot create {tmp_path / 'data' / 'node-1'}: "
        f"{tmp_path / 'data'} is a file, not a directory"
    )


def test_data_dir_that_is_a_file(tmp_path):
    path = write(tmp_path, THREE_NODES)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "node-3").write_text("oops")
    with pytest.raises(ConfigFileError, match=r"nodes\[2\]\.data_dir: .* exists and is not a directory"):
        check_data_dirs(load_cluster_config(path))


def test_check_data_dirs_only_checks_the_nodes_asked_for(tmp_path):
    path = write(tmp_path, THREE_NODES)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "node-3").write_text("oops")
    config = load_cluster_config(path)
    check_data_dirs(config, node_ids=[1, 2])
    with pytest.raises(ConfigFileError, match="no node has id 7"):
        check_data_dirs(config, node_ids=[7])


SECURITY = '''[security]
super_users = ["admin"]
[[security.users]]
name = "admin"
password = "admin-password"
'''


def test_security_section_is_optional_and_read_with_its_users(tmp_path):
    assert load_cluster_config(write(tmp_path, THREE_NODES)).security is None
    security = load_cluster_config(write(tmp_path, SECURITY + THREE_NODES)).security
    assert security.authentication and security.super_users == ("admin",)
    assert not security.allow_everyone_if_no_acl_found
    assert [(u.name, u.mechanism) for u in security.users] == [("admin", "SCRAM-SHA-256")]


@pytest.mark.parametrize("extra, where", [
    ('[security]\ntls_cert = "a.pem"\n', "security.tls_key"),
    ('[security]\ntls_ca = "ca.pem"\n', "security.tls_cert"),
    ('[security]\ntls_cert = "a.pem"\ntls_key = "a.key"\ntls_client_auth = "required"\n', "security.tls_ca"),
    ('[security]\n[[security.users]]\nname = "a:b"\npassword = "pw"\n', "security.users[0].name"),
    ('[security]\n[[security.users]]\nname = "a"\npassword = "pw"\n[[security.users]]\nname = "a"\n'
     'password = "pw2"\n', "security.users[1].name"),
    ('[security]\n[[security.users]]\nname = "a"\npassword = "pw"\nmechanism = "MD5"\n', "security.users[0].mechanism"),
    ('[security]\nauthentication = "yes"\n', "security.authentication"),
])
def test_security_mistakes_name_their_key(tmp_path, extra, where):
    assert load_error(tmp_path, extra + THREE_NODES).startswith(where)


def test_tls_turns_every_node_url_to_https_with_files_beside_the_config(tmp_path):
    config = load_cluster_config(write(tmp_path, '[security]\ntls_cert = "certs/n.pem"\ntls_key = "certs/n.key"\n'
                                       + THREE_NODES))
    assert [n.http_url for n in config.nodes] == [f"https://127.0.0.1:{8080 + i}" for i in (1, 2, 3)]
    assert config.path_of(config.security.tls_cert) == tmp_path / "certs" / "n.pem"


def test_a_reachable_node_without_authentication_refuses_to_start(tmp_path):
    public = node(1, host="10.1.2.3") + node(2) + node(3)
    config = load_cluster_config(write(tmp_path, public))
    problem = config.exposure_problem(1)
    assert "10.1.2.3" in problem and "allow_unauthenticated" in problem and "\n" not in problem
    assert config.exposure_problem(2) is None  # loopback: an open cluster on this machine is fine
    for section in ("[security]\nauthentication = false\nallow_unauthenticated = true\n", SECURITY):
        assert load_cluster_config(write(tmp_path, section + public)).exposure_problem(1) is None
    off = load_cluster_config(write(tmp_path, "[security]\nauthentication = false\n" + public))
    assert off.exposure_problem(1) is not None


def test_a_reachable_node_taking_unsigned_tokens_refuses_to_start(tmp_path):
    """An unsigned JWT names whoever its sender likes: on an address other machines reach,
    that is no authentication, unless the file says the cluster is open on purpose."""
    public = node(1, host="10.1.2.3") + node(2) + node(3)
    unsigned = '[security]\n"sasl.oauthbearer.allow.unsecured.jwt" = true\n'
    config = load_cluster_config(write(tmp_path, unsigned + public))
    problem = config.exposure_problem(1)
    assert problem is not None and "allow.unsecured.jwt" in problem and "10.1.2.3" in problem
    assert config.exposure_problem(2) is None  # loopback
    opened = unsigned + "allow_unauthenticated = true\n"
    assert load_cluster_config(write(tmp_path, opened + public)).exposure_problem(1) is None


def test_bind_host_is_where_listeners_bind_and_host_what_others_dial(tmp_path):
    text = node(1, host="10.1.2.3", extra='bind_host = "0.0.0.0"') + node(2) + node(3)
    config = load_cluster_config(write(tmp_path, SECURITY + text))
    one, two = config.node(1), config.node(2)
    assert (one.listen_host, one.http_url, one.raft_address) == ("0.0.0.0", "http://10.1.2.3:8081", "10.1.2.3:9091")
    assert one.raft_bind_address == "0.0.0.0:9091" and one.source_host is None  # the kernel routes
    assert (two.listen_host, two.source_host) == ("127.0.0.1", "127.0.0.1")  # no bind_host: host
    assert load_error(tmp_path, node(1, extra='bind_host = "a b"') + node(2) + node(3)).startswith(
        "nodes[0].bind_host: must be an IPv4/IPv6 address")


def test_a_loopback_host_bound_to_every_address_without_authentication_refuses_to_start(tmp_path):
    config = load_cluster_config(write(tmp_path, node(1, extra='bind_host = "0.0.0.0"') + node(2) + node(3)))
    problem = config.exposure_problem(1)
    assert problem is not None and "bind_host: 0.0.0.0" in problem


def _typo(name: str) -> str:
    """The name with its middle character dropped (a short one's last doubled), as a
    hurried hand types it."""
    if len(name) < 4:
        return name + name[-1]
    middle = len(name) // 2
    return name[:middle] + name[middle + 1:]


def _every_key() -> list[tuple[str, str, str]]:
    """(where the key goes, the key, the path the error names) for every key cluster.toml
    may hold: its sections, each section's keys, [[nodes]] and [[security.users]] keys."""
    from kraft.config.cluster import (BootstrapUser, ClusterConfig, ClusterSection, GroupSettings, HttpSettings,
                                      NodeConfig, SecuritySettings, StorageSettings, Timeouts)
    from kraft.config.transaction_settings import KAFKA_NAMES

    def names(model) -> list[str]:
        return [f.alias or name for name, f in model.model_fields.items()]
    keys = [("top", name, "") for name in names(ClusterConfig) if name != "nodes"]
    for section, model in (("cluster", ClusterSection), ("timeouts", Timeouts), ("groups", GroupSettings),
                           ("storage", StorageSettings), ("http", HttpSettings), ("security", SecuritySettings)):
        keys += [(section, name, f"{section}.") for name in names(model) if name != "users"]
    keys += [("transactions", name, "transactions.") for name in KAFKA_NAMES.values()]
    keys += [("topic_defaults", name, "topic_defaults.") for name in TOPIC_CONFIGS]
    keys += [("nodes", name, "nodes[1].") for name in names(NodeConfig)]
    keys += [("users", name, "security.users[0].") for name in names(BootstrapUser)]
    return keys


@pytest.mark.parametrize("where,key,path", _every_key(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_misspelt_key_gets_a_suggestion(tmp_path, where, key, path):
    typo = _typo(key)
    quoted = f'"{typo}"' if "." in typo else typo
    if where == "top":
        text = f"[{typo}]\n" + THREE_NODES
    elif where == "nodes":
        text = node(1) + node(2, extra=f"{quoted} = 1") + node(3)
    elif where == "users":
        text = f'[security]\nsuper_users = ["a"]\n[[security.users]]\n{quoted} = "x"\n' + THREE_NODES
    else:
        text = f"[{where}]\n{quoted} = 1\n" + THREE_NODES
    error = load_error(tmp_path, text)
    assert error.startswith(path + quoted + ": unknown"), error
    assert error.endswith(f'(did you mean "{key}"?)'), error


def test_fetch_session_slots_default_to_kafkas_and_may_be_turned_off(tmp_path):
    assert load_cluster_config(write(tmp_path, THREE_NODES)).cluster.max_incremental_fetch_session_cache_slots == 1000
    text = '[cluster]\n"max.incremental.fetch.session.cache.slots" = 0\n' + THREE_NODES
    assert load_cluster_config(write(tmp_path, text)).cluster.max_incremental_fetch_session_cache_slots == 0
    message = load_error(tmp_path, '[cluster]\n"max.incremental.fetch.session.cache.slots" = -1\n' + THREE_NODES)
    assert message.startswith('cluster."max.incremental.fetch.session.cache.slots"'), message


def test_the_replica_selector_is_unset_by_default_and_only_the_rack_aware_one_is_taken(tmp_path):
    assert load_cluster_config(write(tmp_path, THREE_NODES)).cluster.replica_selector_class is None
    rack_aware = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
    text = f'[cluster]\n"replica.selector.class" = "{rack_aware}"\n' + THREE_NODES
    assert load_cluster_config(write(tmp_path, text)).cluster.replica_selector_class == rack_aware
    message = load_error(tmp_path, '[cluster]\n"replica.selector.class" = "com.example.Nearest"\n' + THREE_NODES)
    assert message.startswith('cluster."replica.selector.class": kraft implements '
                              'org.apache.kafka.common.replica.RackAwareReplicaSelector'), message



def test_a_schema_registry_port_on_one_node_is_needed_on_every_broker(tmp_path):
    text = node(1, extra="schema_registry_port = 8091") + node(2, extra="schema_registry_port = 8092") + node(3)
    assert load_error(tmp_path, text) == ("nodes[2].schema_registry_port: required on every broker once a node has "
                                          "one (the registry's writes go to the broker that leads _schemas)")


def test_schema_registry_ports_clash_like_any_other(tmp_path):
    text = node(1, extra="schema_registry_port = 8082") + node(2) + node(3)
    assert load_error(tmp_path, text).startswith("nodes[1].http_port: port 8082 on 127.0.0.1 is already used by "
                                                 "nodes[0].schema_registry_port")


def test_schema_registry_urls_list_every_node_secured_or_not(tmp_path):
    text = "".join(node(i, extra=f"schema_registry_port = {8090 + i}") for i in (1, 2, 3))
    assert load_cluster_config(write(tmp_path, text)).schema_registry_urls == \
        "http://127.0.0.1:8091,http://127.0.0.1:8092,http://127.0.0.1:8093"
    # a secured cluster serves its registry too, with its users and ACLs
    assert load_cluster_config(write(tmp_path, SECURITY + text)).schema_registry_urls == \
        "http://127.0.0.1:8091,http://127.0.0.1:8092,http://127.0.0.1:8093"


def test_an_inter_broker_port_is_a_brokers_and_its_own(tmp_path):
    text = node(1, extra="inter_broker_port = 29091\n") + node(2) + node(3, roles=("controller",))
    assert load_cluster_config(write(tmp_path, text)).node(1).inter_broker_port == 29091
    assert load_cluster_config(write(tmp_path, text)).node(2).inter_broker_port is None
    controller_only = node(1) + node(2, roles=("controller",), extra="inter_broker_port = 29092\n")
    assert load_error(tmp_path, controller_only).startswith(
        "nodes[1].inter_broker_port: only brokers fetch from each other")
    clash = node(1) + node(2, extra="inter_broker_port = 19091\n")
    assert load_error(tmp_path, clash) == \
        "nodes[1].inter_broker_port: port 19091 on 127.0.0.1 is already used by nodes[0].kafka_port"


def test_a_broker_without_a_kafka_port_refuses_to_load(tmp_path):
    """The other brokers replicate from it over Kafka: without the port they could not."""
    text = node(1) + node(2, extra="kafka_port = 0\n").replace("kafka_port = 0\n", "")
    assert load_error(tmp_path, text).startswith('nodes[1].kafka_port: required for a node with the "broker" role')


def test_the_iceberg_warehouse_is_beside_the_data_dirs_or_where_the_file_says(tmp_path):
    config = load_cluster_config(write(tmp_path, THREE_NODES))
    assert config.iceberg_warehouse(2) == (tmp_path / "data" / "iceberg").as_uri()  # the nodes of a machine share it
    config = load_cluster_config(write(tmp_path, THREE_NODES + '[iceberg]\nwarehouse = "../shared/wh"\n'))
    assert config.iceberg_warehouse(1) == (tmp_path.parent / "shared" / "wh").as_uri()  # relative to the file
    # an object store for several machines: the same bucket for every node
    config = load_cluster_config(write(tmp_path, THREE_NODES + '[iceberg]\nwarehouse = "s3://lake-1/kraft/"\n'
                                                               '"s3.endpoint" = "http://127.0.0.1:9000"\n'
                                                               '"s3.region" = "eu-west-1"\n'))
    assert config.iceberg_warehouse(1) == config.iceberg_warehouse(3) == "s3://lake-1/kraft"
    assert (config.iceberg.s3_endpoint, config.iceberg.s3_region) == ("http://127.0.0.1:9000", "eu-west-1")
    for bad in ('warehouse = "gs://lake/kraft"', 'warehouse = "s3://A_B/x"', 'warehouse = "s3://"',
                'warehouse = "s3://lake//kraft"', 'warehouse = "s3://lake/./kraft"', 'warehouse = "s3://lake/k?x=1"',
                '"s3.endpoint" = "127.0.0.1:9000"', '"s3.region" = "EU West"'):
        assert "iceberg." in load_error(tmp_path, THREE_NODES + f"[iceberg]\n{bad}\n"), bad
    assert "iceberg.warehous" in load_error(tmp_path, THREE_NODES + '[iceberg]\nwarehous = "x"\n')
    assert "iceberg.warehouse" in load_error(tmp_path, THREE_NODES + "[iceberg]\nwarehouse = 3\n")


def test_an_external_iceberg_catalog_and_the_table_coordinators_topic_are_settings(tmp_path):
    config = load_cluster_config(write(tmp_path, THREE_NODES))
    assert config.iceberg.catalog_uri == "" and config.iceberg.catalog_namespace == "kraft"  # kraft's own catalog
    assert (config.iceberg.coordinator_topic_partitions, config.iceberg.coordinator_topic_replication_factor) == (10, 3)
    config = load_cluster_config(write(tmp_path, THREE_NODES + '[iceberg]\n"catalog.uri" = "https://polaris:8181/api/'
                                                               'catalog"\n"catalog.namespace" = "lake"\n'
                                                               '"catalog.warehouse" = "prod"\n'
                                                               '"coordinator.topic.num.partitions" = 4\n'))
    assert (config.iceberg.catalog_uri, config.iceberg.catalog_namespace, config.iceberg.catalog_warehouse) == (
        "https://polaris:8181/api/catalog", "lake", "prod")
    assert config.iceberg.coordinator_topic_partitions == 4
    for bad in ('"catalog.uri" = "polaris:8181"', '"catalog.uri" = "http://h/x?token=1"',
                '"catalog.namespace" = "a.b"', '"catalog.namespace" = ""',
                '"coordinator.topic.num.partitions" = 0', '"coordinator.topic.replication.factor" = 0'):
        assert "iceberg." in load_error(tmp_path, THREE_NODES + f"[iceberg]\n{bad}\n"), bad
