"""The authentication back-off policy (kraft/security/auth_backoff.py), on a test clock."""

import pytest

from kraft.security.auth_backoff import MAX_HELD_S, MAX_KEYS, AuthBackoff, backoff_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_lone_failure_waits_the_delay():
    backoff = AuthBackoff(0.1, Clock())
    assert backoff.failed(("127.0.0.1", "admin")) == pytest.approx(0.1)


def test_concurrent_failures_of_one_key_are_answered_one_per_delay():
    backoff = AuthBackoff(0.1, Clock())
    held = [backoff.failed(("127.0.0.1", "admin")) for _ in range(5)]
    assert all(abs(h - 0.1 * n) < 1e-9 for n, h in zip(range(1, 6), held))


def test_no_answer_is_held_longer_than_the_cap():
    backoff = AuthBackoff(0.1, Clock())
    held = [backoff.failed(("127.0.0.1", "admin")) for _ in range(1000)]
    assert max(held) == pytest.approx(MAX_HELD_S)


def test_other_keys_are_not_held_back_by_a_flood_on_one():
    backoff = AuthBackoff(0.1, Clock())
    for _ in range(200):
        backoff.failed(("127.0.0.1", "admin"))
    assert backoff.failed(("127.0.0.2", "admin")) == pytest.approx(0.1)
    assert backoff.failed(("127.0.0.1", "bob")) == pytest.approx(0.1)


def test_the_queue_drains_with_time():
    clock = Clock()
    backoff = AuthBackoff(0.1, clock)
    for _ in range(30):
        backoff.failed(("127.0.0.1", "admin"))
    clock.now += 3.0
    assert backoff.failed(("127.0.0.1", "admin")) == pytest.approx(0.1)


def test_unknown_users_of_one_address_share_one_key():
    assert backoff_key("127.0.0.1", "x1", known=False) == backoff_key("127.0.0.1", "x2", known=False)
    assert backoff_key("127.0.0.1", "admin", known=True) != backoff_key("127.0.0.1", "x2", known=False)
    assert backoff_key("127.0.0.1", "x1", known=False) != backoff_key("127.0.0.2", "x1", known=False)


def test_zero_delay_turns_the_back_off_off():
    backoff = AuthBackoff(0.0, Clock())
    assert {backoff.failed(("127.0.0.1", "admin")) for _ in range(10)} == {0.0}


def test_the_table_stays_bounded():
    backoff = AuthBackoff(0.1, Clock())
    for n in range(MAX_KEYS + 500):
        backoff.failed((f"10.0.{n // 256}.{n % 256}", ""))
    assert len(backoff._released_at) <= MAX_KEYS
