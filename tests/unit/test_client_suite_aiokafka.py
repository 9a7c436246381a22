"""The aiokafka suite runner's pure parts: which of the suite's test modules use a broker,
and kafka-acls.sh's options (as aiokafka's ACL manager passes them) as ACL bindings."""

from __future__ import annotations

import pytest

from bench_scripts import load

plugin = load("aiokafka_kraft_plugin")
suites = load("client_suites")


def test_only_the_modules_that_use_a_broker_are_run(tmp_path):
    tests = tmp_path / "tests"
    (tests / "coordinator").mkdir(parents=True)
    (tests / "test_producer.py").write_text('@pytest.mark.usefixtures("setup_test_class")\nclass T: ...\n')
    (tests / "test_admin.py").write_text("class TestAdmin(KafkaIntegrationTestCase): ...\n")
    (tests / "test_fetcher.py").write_text('@pytest.mark.usefixtures("setup_test_class_serverless")\n')
    (tests / "coordinator" / "test_assignors.py").write_text("from pytest_mock import MockerFixture\n")
    (tests / "_testutil.py").write_text("class KafkaIntegrationTestCase: ...\n")
    assert suites.broker_test_files(tests) == ["tests/test_admin.py", "tests/test_producer.py"]


def test_a_deny_on_the_cluster_is_one_binding_on_kafkas_cluster_resource():
    assert plugin.acl_bindings(deny_principal="test", operation="CREATE", cluster=True) == [
        ("CLUSTER", "kafka-cluster", "User:test", "*", "CREATE", "DENY")]


def test_allow_and_deny_in_one_call_bind_each_principal_with_its_own_host():
    got = plugin.acl_bindings(allow_principal="a", deny_principal="b", deny_host="10.0.0.1",
                              operation="All", topic="t")
    assert got == [("TOPIC", "t", "User:a", "*", "ALL", "ALLOW"),
                   ("TOPIC", "t", "User:b", "10.0.0.1", "ALL", "DENY")]


def test_the_producer_and_consumer_shortcuts_expand_as_kafka_acls_does():
    producer = plugin.acl_bindings(allow_principal="p", producer=True, topic="t", transactional_id="tx")
    assert {(kind, op) for kind, _, _, _, op, _ in producer} == {
        ("TOPIC", "WRITE"), ("TOPIC", "DESCRIBE"), ("TOPIC", "CREATE"),
        ("TRANSACTIONAL_ID", "WRITE"), ("TRANSACTIONAL_ID", "DESCRIBE")}
    consumer = plugin.acl_bindings(allow_principal="c", consumer=True, topic="t", group="g")
    assert {(kind, name, op) for kind, name, _, _, op, _ in consumer} == {
        ("TOPIC", "t", "READ"), ("TOPIC", "t", "DESCRIBE"), ("GROUP", "g", "READ")}


@pytest.mark.parametrize("params", [{"operation": "READ", "topic": "t"},
                                    {"allow_principal": "a", "operation": "READ"},
                                    {"allow_principal": "a", "topic": "t"}])
def test_an_acl_without_a_principal_resource_or_operation_is_refused(params):
    with pytest.raises(ValueError):
        plugin.acl_bindings(**params)
