"""Where the CLI looks for its cluster (kraft.client.target) and the profile store
(kraft.client.profiles), on real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kraft.client import profiles, target


@pytest.fixture(autouse=True)
def own_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config-home"))
    monkeypatch.delenv(target.CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)


def test_bootstrap_takes_host_port_lists_and_urls():
    assert target.bootstrap_urls("h1:8081, h2:8082", https=False) == ["http://h1:8081", "http://h2:8082"]
    assert target.bootstrap_urls("h1:8081", https=True) == ["https://h1:8081"]
    assert target.bootstrap_urls("http://h1:8081/", https=True) == ["http://h1:8081"]
    assert target.bootstrap_urls("[::1]:8081", https=False) == ["http://[::1]:8081"]


@pytest.mark.parametrize("bad", ["h1", "h1:port", "ftp://h1:21", "h1:99999", " , ", ":8081"])
def test_bootstrap_that_names_no_node_is_refused_in_words(bad):
    with pytest.raises(target.TargetError, match="--bootstrap"):
        target.bootstrap_urls(bad, https=False)


def test_file_commands_take_the_flag_then_kraft_config_then_the_local_file(tmp_path, monkeypatch):
    assert target.file_config(None).path is None  # the bundled default
    (tmp_path / "cluster.toml").write_text("")
    assert target.file_config(None).path == tmp_path / "cluster.toml"
    monkeypatch.setenv(target.CONFIG_ENV, "~/mine.toml")
    assert target.file_config(None) == target.ConfigChoice(Path.home() / "mine.toml", target.CONFIG_ENV)
    assert target.file_config(Path("x.toml")).path == tmp_path / "x.toml"


def test_client_commands_use_the_current_profile_before_the_local_file(tmp_path, monkeypatch):
    (tmp_path / "cluster.toml").write_text("")
    profiles.remember("prod", profiles.Profile(config="/etc/kraft/cluster.toml"))
    choice, bootstrap_profile = target.client_config(None)
    assert choice.path == Path("/etc/kraft/cluster.toml") and bootstrap_profile is None
    assert "profile 'prod'" in target.describe(choice)
    monkeypatch.setenv(target.CONFIG_ENV, str(tmp_path / "env.toml"))
    assert target.client_config(None)[0].path == tmp_path / "env.toml"


def test_profiles_are_remembered_switched_and_survive_a_reload():
    profiles.remember("a", profiles.Profile(config=profiles.BUNDLED))
    profiles.remember("b", profiles.Profile(bootstrap=["https://h:1"], ca="/ca.pem"))
    assert profiles.current() == ("b", profiles.Profile(bootstrap=["https://h:1"], ca="/ca.pem"))
    store = profiles.load()
    store.current = "a"
    profiles.save(store)
    assert profiles.current()[0] == "a" and set(profiles.load().profiles) == {"a", "b"}


def test_a_damaged_or_huge_profile_file_is_refused_in_words_not_read_whole():
    path = profiles.store_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(profiles.ProfileError, match="not a kraft profile list"):
        profiles.load()
    path.write_bytes(b" " * (profiles.MAX_STORE_BYTES + 10))
    with pytest.raises(profiles.ProfileError, match="over"):
        profiles.load()
