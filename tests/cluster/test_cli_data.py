"""`kraft produce` / `kraft consume` against one real 3-node cluster.

Lines on stdin become records; consume prints them back as JSON lines, keys and values
intact; --partition/--offset pick where to read; mistakes are one `kraft: ...` line on
stderr with exit code 1, never a traceback.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
from cluster_client import NODES, call, create_topic

pytestmark = pytest.mark.cluster


_names = itertools.count()


@pytest.fixture(scope="module")
def cluster(shared_cluster):
    """The shared cluster of the session (tests/cluster/conftest.py)."""
    return shared_cluster


@pytest.fixture
def topic(cluster):
    return create_topic(cluster, f"cli-{next(_names)}", 3)


def kraft(cluster, *args, stdin="", timeout=30):
    return subprocess.run([sys.executable, "-m", "kraft", *args], input=stdin, check=False,
                          capture_output=True, text=True, timeout=timeout,
                          cwd=str(cluster.base_dir))


def consumed(result):
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def assert_one_line_error(result):
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("kraft: "), result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


LINES = ["plain value", "user-1:first", "user-2:second", "user-1:third:with:colons",
         "ünïcødé ☃:値", "", ":empty key", "trailing:", '{"json": "looking"}', "user-2:fourth"]


def test_produce_then_consume_round_trip(cluster, topic):
    boot = cluster.url(2)
    res = kraft(cluster, "produce", topic, "--bootstrap", boot, "--key-separator", ":",
                stdin="\n".join(LINES) + "\n")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    res = kraft(cluster, "consume", topic, "--from-beginning", "--idle-exit", "1",
                "--bootstrap", cluster.url(3))
    got = consumed(res)
    assert len(got) == len(LINES)
    expected = []
    for line in LINES:
        if ":" in line:
            key, value = line.split(":", 1)
            expected.append((key, value))
        else:
            expected.append((None, line))
    assert sorted(((r["key"], r["value"]) for r in got), key=repr) == sorted(expected, key=repr)
    for r in got:
        assert r["topic"] == topic and isinstance(r["offset"], int)
    # per partition, the lines keep their order; one key stays on one partition
    by_key = {}
    for r in got:
        if r["key"] is not None:
            by_key.setdefault(r["key"], set()).add(r["partition"])
    assert all(len(parts) == 1 for parts in by_key.values()), by_key
    user1 = [r["value"] for r in sorted(got, key=lambda r: r["offset"]) if r["key"] == "user-1"]
    assert user1 == ["first", "third:with:colons"]


def test_without_key_separator_the_whole_line_is_the_value(cluster, topic):
    lines = [f"k{i}:v{i}" for i in range(30)]
    res = kraft(cluster, "produce", topic, "--bootstrap", cluster.url(1),
                stdin="\n".join(lines) + "\n")
    assert res.returncode == 0, res.stderr
    got = consumed(kraft(cluster, "consume", topic, "--from-beginning", "--idle-exit", "1",
                         "--bootstrap", cluster.url(1)))
    assert sorted(r["value"] for r in got) == sorted(lines)
    assert all(r["key"] is None for r in got)


def test_many_lines_cross_the_batch_size(cluster, topic):
    lines = [f"line-{i:05d}" for i in range(1234)]
    res = kraft(cluster, "produce", topic, "--bootstrap", cluster.url(3),
                stdin="\n".join(lines) + "\n", timeout=60)
    assert res.returncode == 0, res.stderr
    total = sum(call("GET", f"{cluster.url(1)}/topics/{topic}/partitions/{p}/offsets")[1]
                ["end_offset"] for p in range(3))
    assert total == len(lines)
    got = consumed(kraft(cluster, "consume", topic, "--from-beginning", "--idle-exit", "1",
                         "--bootstrap", cluster.url(2), timeout=60))
    assert sorted(r["value"] for r in got) == lines


def test_consume_partition_and_offset(cluster, topic):
    lines = [f"p1-{i}" for i in range(8)]
    res = kraft(cluster, "produce", topic, "--partition", "1", "--bootstrap", cluster.url(1),
                stdin="\n".join(lines) + "\n")
    assert res.returncode == 0, res.stderr
    res = kraft(cluster, "produce", topic, "--partition", "0", "--bootstrap", cluster.url(2),
                stdin="other\n")
    assert res.returncode == 0, res.stderr
    got = consumed(kraft(cluster, "consume", topic, "--partition", "1", "--offset", "3",
                         "--idle-exit", "1", "--bootstrap", cluster.url(3)))
    assert [(r["partition"], r["offset"], r["value"]) for r in got] == \
        [(1, i, f"p1-{i}") for i in range(3, 8)]
    got = consumed(kraft(cluster, "consume", topic, "--partition", "1", "--from-beginning",
                         "--max-messages", "8", "--idle-exit", "5", "--bootstrap", cluster.url(2)))
    assert [r["value"] for r in got] == lines
    got = consumed(kraft(cluster, "consume", topic, "--partition", "0", "--from-beginning",
                         "--max-messages", "1", "--bootstrap", cluster.url(1)))
    assert [r["value"] for r in got] == ["other"]
    # without --from-beginning: only what comes later (nothing here)
    got = consumed(kraft(cluster, "consume", topic, "--partition", "1", "--idle-exit", "1",
                         "--bootstrap", cluster.url(1)))
    assert got == []


def test_produce_to_a_missing_topic_creates_it(cluster):
    res = kraft(cluster, "produce", "made-by-produce", "--bootstrap", cluster.url(2), stdin="a\nb\n")
    assert res.returncode == 0, res.stderr
    got = consumed(kraft(cluster, "consume", "made-by-produce", "--from-beginning",
                         "--max-messages", "2", "--bootstrap", cluster.url(1)))
    assert sorted(r["value"] for r in got) == ["a", "b"]


def test_produce_to_an_invalid_topic_name_fails_cleanly(cluster):
    for node in NODES:
        res = kraft(cluster, "produce", "bad!name", "--bootstrap", cluster.url(node), stdin="a\n")
        assert_one_line_error(res)
        assert "bad!name" in res.stderr


def test_consume_unknown_topic_fails_cleanly(cluster):
    res = kraft(cluster, "consume", "no-such-topic", "--from-beginning", "--idle-exit", "1",
                "--bootstrap", cluster.url(1))
    assert_one_line_error(res)


def test_consume_offset_out_of_range_fails_cleanly(cluster, topic):
    res = kraft(cluster, "consume", topic, "--partition", "0", "--offset", "5",
                "--idle-exit", "1", "--bootstrap", cluster.url(1))
    assert_one_line_error(res)
    assert "40402" in res.stderr or "range" in res.stderr


def test_produce_to_a_missing_partition_fails_cleanly(cluster, topic):
    res = kraft(cluster, "produce", topic, "--partition", "7", "--bootstrap", cluster.url(1),
                stdin="x\n")
    assert_one_line_error(res)


def test_unreachable_bootstrap_fails_cleanly(cluster):
    res = kraft(cluster, "produce", "whatever", "--bootstrap", "http://127.0.0.1:1",
                stdin="x\n")
    assert_one_line_error(res)


def test_crlf_line_endings_are_not_part_of_the_value(cluster, topic):
    """Like kafka-console-producer (readLine): "\\r\\n" ends a line, the "\\r" is not data."""
    res = kraft(cluster, "produce", topic, "--partition", "2", "--key-separator", ":",
                "--bootstrap", cluster.url(1), stdin="a\r\nk:b\r\nc\n")
    assert res.returncode == 0, res.stderr
    got = consumed(kraft(cluster, "consume", topic, "--partition", "2", "--from-beginning",
                         "--idle-exit", "1", "--bootstrap", cluster.url(2)))
    assert [(r["key"], r["value"]) for r in got] == [(None, "a"), ("k", "b"), (None, "c")]


def test_bench_produce_then_consume_reports_every_record(cluster, topic):
    produced = kraft(cluster, "bench", "produce", topic, "--bootstrap", cluster.url(1), "--records", "3000",
                     "--record-size", "200", "--json", timeout=120)
    assert produced.returncode == 0, produced.stderr
    result = json.loads(produced.stdout.strip().splitlines()[-1])["produce"]
    assert result["records"] == 3000 and not result["errors"], result
    consumed_run = kraft(cluster, "bench", "consume", topic, "--bootstrap", cluster.url(2), "--json", timeout=120)
    assert consumed_run.returncode == 0, consumed_run.stderr
    result = json.loads(consumed_run.stdout.strip().splitlines()[-1])["consume"]
    assert result["records"] == 3000 and not result["errors"], result
