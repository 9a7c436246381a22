import pytest

from kraft.config.topic_configs import (
    CLUSTER_ONLY,
    TOPIC_CONFIGS,
    ConfigError,
    parse_config_value,
    parse_topic_override,
    typed_value,
)


def test_every_default_is_valid_and_canonical():
    for name, spec in TOPIC_CONFIGS.items():
        assert parse_config_value(name, spec.default) == spec.default, name


def test_kafka_defaults():
    assert TOPIC_CONFIGS["min.insync.replicas"].default == "2"
    assert TOPIC_CONFIGS["unclean.leader.election.enable"].default == "false"
    assert TOPIC_CONFIGS["retention.ms"].default == "604800000"
    assert TOPIC_CONFIGS["max.message.bytes"].default == "1048576"
    assert TOPIC_CONFIGS["message.timestamp.type"].default == "CreateTime"


@pytest.mark.parametrize(
    ("name", "raw", "canonical"),
    [
        ("min.insync.replicas", 2, "2"),
        ("min.insync.replicas", " 3 ", "3"),
        ("retention.ms", -1, "-1"),
        ("retention.bytes", "-1", "-1"),
        ("segment.bytes", 14, "14"),
        ("flush.messages", 2**63 - 1, str(2**63 - 1)),
        ("unclean.leader.election.enable", True, "true"),
        ("unclean.leader.election.enable", "FALSE", "false"),
        ("cleanup.policy", "delete,compact", "compact,delete"),
        ("cleanup.policy", ["compact", "delete"], "compact,delete"),
        ("cleanup.policy", "compact", "compact"),
        ("message.timestamp.type", "LogAppendTime", "LogAppendTime"),
        ("compression.type", "zstd", "zstd"),
        ("leader.replication.throttled.replicas", "0:1,1:2", "0:1,1:2"),
        ("follower.replication.throttled.replicas", "*", "*"),
        ("local.retention.ms", -2, "-2"),
        ("preallocate", "TRUE", "true"),
        ("index.interval.bytes", 0, "0"),
    ],
)
def test_accepted_values_become_canonical_strings(name, raw, canonical):
    assert parse_config_value(name, raw) == canonical


@pytest.mark.parametrize(
    ("name", "raw", "reason"),
    [
        ("min.insync.replicas", "x", "must be an integer >= 1, got 'x'"),
        ("min.insync.replicas", 0, "must be an integer >= 1, got 0"),
        ("min.insync.replicas", 2.0, "must be an integer >= 1, got 2.0"),
        ("min.insync.replicas", True, "must be an integer >= 1, got True"),
        ("min.insync.replicas", "1_000", "must be an integer >= 1, got '1_000'"),
        ("min.insync.replicas", 2**31, "must be an integer between 1 and 2147483647, got 2147483648"),
        ("retention.ms", -2, "must be an integer >= -1, got -2"),
        ("segment.bytes", 13, "must be an integer >= 14, got 13"),
        ("unclean.leader.election.enable", "yes", "must be true or false, got 'yes'"),
        ("unclean.leader.election.enable", 1, "must be true or false, got 1"),
        ("cleanup.policy", "zap", "must be one of 'delete', 'compact', 'compact,delete', got 'zap'"),
        ("message.timestamp.type", "createtime", "must be one of 'CreateTime', 'LogAppendTime', got 'createtime'"),
        ("max.message.bytes", None, "must be an integer >= 0, got None"),
        ("compression.type", "brotli",
         "must be one of 'uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer', got 'brotli'"),
        ("leader.replication.throttled.replicas", "0-1",
         'must be "", "*" or a list of partition:broker pairs such as "0:1,1:2", got \'0-1\''),
        ("local.retention.bytes", -3, "must be an integer >= -2, got -3"),
        ("segment.index.bytes", 3, "must be an integer >= 4, got 3"),
        ("max.compaction.lag.ms", 0, "must be an integer >= 1, got 0"),
    ],
)
def test_rejected_values_say_what_is_expected(name, raw, reason):
    with pytest.raises(ConfigError) as caught:
        parse_config_value(name, raw)
    assert caught.value.name == name
    assert caught.value.reason == reason
    assert str(caught.value) == f"{name}: {reason}"


def test_unknown_name_is_rejected_with_a_suggestion():
    with pytest.raises(ConfigError) as caught:
        parse_config_value("retention.msec", 5)
    assert caught.value.reason == 'unknown topic config (did you mean "retention.ms"?)'


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_topic_override_rejects_cluster_only_names():
    assert CLUSTER_ONLY == {"num.partitions", "replication.factor"}
    for name in CLUSTER_ONLY:
        with pytest.raises(ConfigError, match="cluster default, not a topic config"):
            parse_topic_override(name, 3)
    assert parse_topic_override("retention.ms", "1000") == "1000"


def test_typed_value():
    assert typed_value("min.insync.replicas", "2") == 2
    assert typed_value("unclean.leader.election.enable", "true") is True
    assert typed_value("cleanup.policy", "compact,delete") == "compact,delete"
    assert typed_value("flush.ms", str(2**63 - 1)) == 2**63 - 1


def test_kafkas_topic_config_set_is_accepted_and_what_kraft_ignores_is_marked():
    kafka_topic_configs = {
        "cleanup.policy", "compression.type", "delete.retention.ms", "file.delete.delay.ms",
        "flush.messages", "flush.ms", "follower.replication.throttled.replicas",
        "index.interval.bytes", "leader.replication.throttled.replicas", "local.retention.bytes",
        "local.retention.ms", "max.compaction.lag.ms", "max.message.bytes",
        "message.downconversion.enable", "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms", "message.timestamp.type", "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms", "min.insync.replicas", "preallocate", "remote.storage.enable",
        "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes",
        "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable",
        "errors.deadletterqueue.group.enable",  # KIP-1191
    }
    confluent_server_configs = {  # schema ID validation
        "confluent.key.schema.validation", "confluent.value.schema.validation",
        "confluent.key.subject.name.strategy", "confluent.value.subject.name.strategy",
    }
    iceberg_topic_configs = {"iceberg.mode", "iceberg.target.lag.ms", "iceberg.partition.spec",
                             "iceberg.delete"}  # Redpanda's
    assert set(TOPIC_CONFIGS) - CLUSTER_ONLY == kafka_topic_configs | confluent_server_configs | iceberg_topic_configs
    assert TOPIC_CONFIGS["segment.bytes"].applied and TOPIC_CONFIGS["compression.type"].applied


def test_an_iceberg_partition_spec_is_checked_as_a_topic_config():
    assert parse_topic_override("iceberg.partition.spec", "(hour(kafka.timestamp), bucket(4, kafka.key))")
    assert parse_topic_override("iceberg.partition.spec", "()") == "()"
    assert parse_topic_override("iceberg.partition.spec", "(value.region)")  # checked when the table is made
    for bad in ("hour(kafka.timestamp)", "(hour(kafka.key))", "(kafka.headers)", "(day(value))", "(region)",
                "(bucket(kafka.key))", "(" * 2000):
        with pytest.raises(ConfigError, match="partition spec"):
            parse_topic_override("iceberg.partition.spec", bad)
    with pytest.raises(ConfigError, match="key_value"):
        parse_topic_override("iceberg.mode", "avro")
