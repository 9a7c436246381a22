"""DescribeTopicPartitions' paging (KIP-966): Kafka's cursor rules, as a pure function."""

from __future__ import annotations

from kraft.kafka.handlers.topic_partitions_api import Slice, page


def ranges(slices: list[Slice]) -> list[tuple[str, int, int]]:
    return [(s.name, s.first, s.end) for s in slices]


def test_one_page_holds_everything_under_the_limit():
    slices, cursor = page([("a", 2), ("b", 3)], None, 10)
    assert ranges(slices) == [("a", 0, 2), ("b", 0, 3)] and cursor is None


def test_a_topic_cut_by_the_limit_continues_at_its_next_partition():
    slices, cursor = page([("a", 2), ("b", 3)], None, 3)
    assert ranges(slices) == [("a", 0, 2), ("b", 0, 1)] and cursor == ("b", 1)
    slices, cursor = page([("b", 3)], cursor, 3)
    assert ranges(slices) == [("b", 1, 3)] and cursor is None


def test_a_full_page_at_a_topic_boundary_points_at_the_next_topic():
    slices, cursor = page([("a", 2), ("b", 3)], None, 2)
    assert ranges(slices) == [("a", 0, 2)] and cursor == ("b", 0)
    assert page([("a", 2)], None, 2) == ([Slice("a", 0, 2, True)], None)  # nothing after it


def test_unknown_topics_take_no_room_and_a_cursor_past_the_end_gives_nothing():
    slices, cursor = page([("a", None), ("b", 1)], None, 1)
    assert slices == [Slice("a", 0, 0, False), Slice("b", 0, 1, True)] and cursor is None
    assert ranges(page([("b", 1)], ("b", 5), 10)[0]) == [("b", 1, 1)]
