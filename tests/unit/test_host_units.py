"""`kraft host units NAME` (kraft/cli/host_units.py): a host's target wants the unit of
each of its processes (the controller's template for its controller), each unit is
PartOf= the target, a data dir outside the units' state directory is made writable, and
the files land where --out says, stale drop-ins of a smaller host removed.
test_systemd_units.py runs systemd's checker on them."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from kraft.cli import host_units
from kraft.config.cluster import load_cluster_config_text

CLUSTER = """
[cluster]
name = "hosts"

[[hosts]]
name = "a"
processes = 2
first_id = 1
controller = true
address = "10.0.0.1"
http_port = 8081
kafka_port = 9092
raft_port = 9193
data_dir = "/var/lib/kraft/a"

[[hosts]]
name = "b"
processes = 3
first_id = 10
address = "10.0.0.2"
http_port = 8081
kafka_port = 9092
data_dir = "/srv/kraft/b"
"""


def files_of(host: str, text: str = CLUSTER) -> dict[str, str]:
    config = load_cluster_config_text(text, "cluster.toml", "/")
    return host_units.host_unit_files(host, host_units.host_processes(config, host))


def settings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def app() -> typer.Typer:
    holder = typer.Typer()

    @holder.callback()
    def host() -> None:
        """kraft host"""
    host_units.register(holder)
    return holder


def test_the_target_wants_each_process_and_each_process_is_part_of_it():
    files = files_of("a")
    assert list(files) == ["kraft-host-a.target", "kraft-controller@1.service.d/host.conf",
                           "kraft-broker@2.service.d/host.conf"]
    target = settings(files["kraft-host-a.target"])
    assert "Wants=kraft-controller@1.service kraft-broker@2.service" in target
    assert "After=kraft-controller@1.service kraft-broker@2.service" in target  # start waits for them
    assert "WantedBy=multi-user.target" in target
    for drop_in in list(files)[1:]:
        assert settings(files[drop_in]) == ["[Unit]", "PartOf=kraft-host-a.target"]  # under /var/lib/kraft


def test_a_data_dir_outside_the_state_directory_is_made_writable():
    files = files_of("b")
    assert "Wants=kraft-broker@10.service kraft-broker@11.service kraft-broker@12.service" \
        in settings(files["kraft-host-b.target"])
    assert settings(files["kraft-broker@11.service.d/host.conf"]) == [
        "[Unit]", "PartOf=kraft-host-b.target", "[Service]", "ReadWritePaths=-/srv/kraft/b/node-11"]


def test_the_command_prints_or_writes_the_files_and_removes_what_a_larger_host_left(tmp_path):
    config = tmp_path / "cluster.toml"
    config.write_text(CLUSTER)
    printed = CliRunner().invoke(app(), ["units", "b", "-c", str(config)])
    assert printed.exit_code == 0, printed.output
    assert "### kraft-host-b.target" in printed.output and "PartOf=kraft-host-b.target" in printed.output
    out = tmp_path / "units"
    written = CliRunner().invoke(app(), ["units", "b", "-c", str(config), "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert (out / "kraft-broker@12.service.d" / "host.conf").exists()
    (out / "kraft-broker@99.service.d").mkdir()  # another host's, or the operator's own: kept
    (out / "kraft-broker@99.service.d" / "host.conf").write_text("[Unit]\nPartOf=kraft-host-c.target\n")
    config.write_text(CLUSTER.replace("processes = 3", "processes = 2"))
    again = CliRunner().invoke(app(), ["units", "b", "-c", str(config), "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert not (out / "kraft-broker@12.service.d" / "host.conf").exists()
    assert "removed" in again.output and "kraft-broker@12" in again.output
    assert (out / "kraft-broker@99.service.d" / "host.conf").exists()
    assert "kraft-broker@12" not in (out / "kraft-host-b.target").read_text()


def test_an_unknown_host_is_refused_with_the_hosts_there_are(tmp_path):
    config = tmp_path / "cluster.toml"
    config.write_text(CLUSTER)
    done = CliRunner().invoke(app(), ["units", "c", "-c", str(config)])
    assert done.exit_code == 2
    assert "no [[hosts]] entry named 'c'" in done.output and "hosts: a, b" in done.output
