"""Which replica directory a partition reuses, deletes or sets aside (real files)."""

from __future__ import annotations

from kraft.storage import partition_dir


def _replica_with_records(root, topic, metadata: bytes | None):
    path = partition_dir.partition_path(root, topic, 0)
    path.mkdir(parents=True)
    (path / "00000000000000000000.log").write_bytes(b"records of some topic")
    if metadata is not None:
        (path / partition_dir.METADATA_FILE).write_bytes(metadata)
    return path


def test_the_same_topic_id_reuses_the_directory(tmp_path):
    path = _replica_with_records(tmp_path, "t", b"version: 0\ntopic_id: A\n")
    assert partition_dir.prepare(tmp_path, "t", 0, "A") == path
    assert (path / "00000000000000000000.log").read_bytes() == b"records of some topic"


def test_another_topic_id_is_a_deleted_topic_and_its_records_go(tmp_path):
    path = _replica_with_records(tmp_path, "t", b"version: 0\ntopic_id: OLD\n")
    partition_dir.prepare(tmp_path, "t", 0, "NEW")
    assert not (path / "00000000000000000000.log").exists()
    assert partition_dir.topic_id_of(path) == "NEW"


def test_records_without_a_readable_topic_id_are_set_aside_not_deleted(tmp_path):
    for topic, metadata in (("damaged", b"\x00\x00garbage"), ("missing", None), ("empty", b"")):
        path = _replica_with_records(tmp_path, topic, metadata)
        assert partition_dir.prepare(tmp_path, topic, 0, "A") == path
        assert list(path.glob("*.log")) == [] and partition_dir.topic_id_of(path) == "A"  # starts empty
        kept = list((tmp_path / partition_dir.STRAY_DIR).glob(f"{topic}-0.*/00000000000000000000.log"))
        assert [k.read_bytes() for k in kept] == [b"records of some topic"], topic


def test_a_directory_without_records_or_id_is_simply_reused(tmp_path):
    path = partition_dir.partition_path(tmp_path, "t", 0)
    path.mkdir()  # a crash between mkdir and writing the id
    assert partition_dir.prepare(tmp_path, "t", 0, "A") == path
    assert partition_dir.topic_id_of(path) == "A"
    assert not (tmp_path / partition_dir.STRAY_DIR).exists()
