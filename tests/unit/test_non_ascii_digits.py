"""Text that str.isdigit() accepts and int() refuses ('²', '¹²³') is refused as bad
input wherever a number is parsed from a header, a request body or a file name, never
raised as a ValueError (a 500, or a crash at start)."""

import pytest

from kraft.api.consumer_requests import instance_config
from kraft.config.cluster import GroupSettings
from kraft.config.cluster_keys import on_behalf_identity, on_behalf_token, request_signature, signature_valid
from kraft.errors import InvalidValue
from kraft.storage.producer_snapshots import snapshot_offsets

KEY = b"k" * 32
NOW_MS = 1_700_000_000_000


@pytest.mark.parametrize("stamp", ["²", "¹²³", "1²", "٣"])
def test_a_signature_stamp_of_other_digits_is_invalid(stamp):
    good = request_signature(KEY, "GET", "/x", b"", NOW_MS)
    assert not signature_valid(KEY, stamp + good[good.index("."):], "GET", "/x", b"", NOW_MS)


def test_an_on_behalf_stamp_of_other_digits_is_invalid():
    token = on_behalf_token(KEY, "User:alice", "127.0.0.1", "GET", "/x", NOW_MS)
    forged = token.replace(str(NOW_MS), "²")
    assert on_behalf_identity(KEY, forged, "GET", "/x", NOW_MS) is None
    assert on_behalf_identity(KEY, token, "GET", "/x", NOW_MS) == ("User:alice", "127.0.0.1")


@pytest.mark.parametrize("raw", ["²", "--5", "1²"])
def test_a_consumer_setting_of_other_digits_is_invalid_value(raw):
    with pytest.raises(InvalidValue):
        instance_config({"session.timeout.ms": raw}, GroupSettings())


def test_a_consumer_setting_as_a_decimal_string_is_taken():
    assert instance_config({"session.timeout.ms": " 45000 "}, GroupSettings())[1].session_timeout_ms == 45000


def test_a_snapshot_file_named_with_other_digits_is_ignored(tmp_path):
    (tmp_path / ("²" * 20 + ".producer")).write_text("")
    (tmp_path / (f"{42:020d}.producer")).write_text("")
    assert snapshot_offsets(tmp_path) == [42]
