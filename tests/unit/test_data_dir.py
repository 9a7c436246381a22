import base64
import stat

import pytest

from kraft.config.data_dir import (
    META_PROPERTIES,
    DataDirError,
    DataDirIdentity,
    check_identity,
    cluster_id_problem,
    format_data_dir,
    new_cluster_id,
    new_raft_password,
    read_identity,
)


def test_new_cluster_id_looks_like_kafkas():
    cluster_id = new_cluster_id()
    assert len(cluster_id) == 22 and "=" not in cluster_id
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert cluster_id_problem(cluster_id) is None
    assert new_cluster_id() != cluster_id


def test_cluster_id_shape_is_checked():
    assert cluster_id_problem("MkU3OEVBNTcwNTJENDM2Qk") is None  # the example from Kafka's docs
    assert "22 characters" in cluster_id_problem("short")
    assert "22 characters" in cluster_id_problem("MkU3OEVBNTcwNTJENDM2Q!")
    assert "reserved" in cluster_id_problem("AAAAAAAAAAAAAAAAAAAAAA")


def test_new_raft_password_is_long_and_random():
    assert len(new_raft_password()) >= 32
    assert new_raft_password() != new_raft_password()


def test_format_read_check_roundtrip(tmp_path):
    path = tmp_path / "deep" / "node-1"
    cluster_id, password = new_cluster_id(), new_raft_password()
    written = format_data_dir(path, cluster_id, 1, password)
    assert written == DataDirIdentity(cluster_id, 1, password)
    assert read_identity(path) == written
    assert check_identity(path, 1) == written
    assert check_identity(path, 1, cluster_id=cluster_id) == written


def test_meta_properties_is_plain_key_value_and_private(tmp_path):
    identity = format_data_dir(tmp_path / "n", new_cluster_id(), 7, "secret-password")
    meta = tmp_path / "n" / META_PROPERTIES
    lines = [line for line in meta.read_text().splitlines() if not line.startswith("#")]
    assert lines == [
        "version=1",
        f"cluster.id={identity.cluster_id}",
        "node.id=7",
        "raft.password=secret-password",
    ]
    assert stat.S_IMODE(meta.stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "n").iterdir()] == [META_PROPERTIES]  # no temp file left behind


def test_format_twice_is_refused(tmp_path):
    first = format_data_dir(tmp_path, new_cluster_id(), 1, new_raft_password())
    with pytest.raises(DataDirError) as caught:
        format_data_dir(tmp_path, new_cluster_id(), 2, new_raft_password())
    assert str(caught.value) == f"{tmp_path} is already formatted (cluster.id={first.cluster_id}, node.id=1)"
    assert read_identity(tmp_path) == first


def test_format_refuses_bad_arguments(tmp_path):
    with pytest.raises(DataDirError, match="cluster id"):
        format_data_dir(tmp_path, "nope", 1, "password")
    with pytest.raises(DataDirError, match="node id"):
        format_data_dir(tmp_path, new_cluster_id(), -1, "password")
    assert not (tmp_path / META_PROPERTIES).exists()


def test_format_under_a_regular_file_fails_cleanly(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataDirError, match="not a directory|cannot create"):
        format_data_dir(tmp_path / "file" / "node-1", new_cluster_id(), 1, "password")


def test_unformatted_dir_reads_as_none(tmp_path):
    assert read_identity(tmp_path) is None
    assert read_identity(tmp_path / "missing") is None


def test_check_refuses_unformatted_dir(tmp_path):
    with pytest.raises(DataDirError, match=r"is not formatted .*kraft format"):
        check_identity(tmp_path, 1)


def test_check_refuses_another_nodes_dir(tmp_path):
    format_data_dir(tmp_path, new_cluster_id(), 2, new_raft_password())
    with pytest.raises(DataDirError) as caught:
        check_identity(tmp_path, 1)
    assert "belongs to node.id=2, not node 1" in str(caught.value)


def test_check_refuses_another_clusters_dir(tmp_path):
    mine, theirs = new_cluster_id(), new_cluster_id()
    format_data_dir(tmp_path, theirs, 1, new_raft_password())
    with pytest.raises(DataDirError) as caught:
        check_identity(tmp_path, 1, cluster_id=mine)
    assert f"belongs to cluster.id={theirs}, not {mine}" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("garbage without equals\n", "not key=value"),
        ("version=1\nnode.id=1\n", "missing cluster.id, raft.password"),
        ("", "missing version"),
        ("version=9\ncluster.id=MkU3OEVBNTcwNTJENDM2Qk\nnode.id=1\nraft.password=p\n", "unsupported version"),
        ("version=1\ncluster.id=bad\nnode.id=1\nraft.password=p\n", "cluster.id must be 22"),
        ("version=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qk\nnode.id=one\nraft.password=p\n", "node.id must be"),
    ],
)
def test_corrupt_meta_properties_is_a_data_dir_error(tmp_path, content, complaint):
    (tmp_path / META_PROPERTIES).write_text(content)
    with pytest.raises(DataDirError) as caught:
        read_identity(tmp_path)
    assert complaint in str(caught.value)
    assert str(tmp_path / META_PROPERTIES) in str(caught.value)
    with pytest.raises(DataDirError):
        check_identity(tmp_path, 1)


def test_binary_meta_properties_is_a_data_dir_error(tmp_path):
    (tmp_path / META_PROPERTIES).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataDirError, match="corrupt"):
        read_identity(tmp_path)


def test_format_refuses_dir_with_corrupt_meta_properties(tmp_path):
    (tmp_path / META_PROPERTIES).write_text("junk")
    with pytest.raises(DataDirError, match="already formatted but unreadable"):
        format_data_dir(tmp_path, new_cluster_id(), 1, "password")
    assert (tmp_path / META_PROPERTIES).read_text() == "junk"


def test_comments_and_blank_lines_are_ignored(tmp_path):
    cluster_id = new_cluster_id()
    text = f"#\n# Kafka writes a dated comment here\n\nversion=1\ncluster.id={cluster_id}\nnode.id=3\nraft.password=pw\n"
    (tmp_path / META_PROPERTIES).write_text(text)
    assert read_identity(tmp_path) == DataDirIdentity(cluster_id, 3, "pw")


def test_format_refuses_a_path_that_is_a_file(tmp_path):
    (tmp_path / "node-1").write_text("x")
    with pytest.raises(DataDirError, match="cannot create"):
        format_data_dir(tmp_path / "node-1", new_cluster_id(), 1, "password")
