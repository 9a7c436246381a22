"""Kafka's client quotas: which quota a request meets, how much it may use, and what the
controller accepts. Pure logic, a hand-turned clock."""

from kraft.broker.client_quotas import ClientQuotaManager
from kraft.controller.quota_control import alter_client_quotas
from kraft.metadata.client_quotas import (
    CLIENT_ID,
    MATCH_DEFAULT,
    MATCH_EXACT,
    MATCH_SPECIFIED,
    USER,
    applicable,
    entity_of,
    matching,
)
from kraft.metadata.delta import MetadataDelta
from kraft.metadata.image import MetadataImage
from kraft.metadata.image_codec import image_from_dict, image_to_dict

P, C = "producer_byte_rate", "consumer_byte_rate"


def e(**parts):
    return entity_of((USER if k == "user" else CLIENT_ID, v) for k, v in parts.items())


def test_the_most_specific_entity_that_sets_the_key_wins_in_kafkas_order():
    quotas = {e(client=None): {P: 1}, e(client="app"): {P: 2}, e(user=None): {P: 3},
              e(user=None, client=None): {P: 4}, e(user=None, client="app"): {P: 5},
              e(user="alice"): {P: 6}, e(user="alice", client=None): {P: 7},
              e(user="alice", client="app"): {P: 8}}
    order = [e(user="alice", client="app"), e(user="alice", client=None), e(user="alice"),
             e(user=None, client="app"), e(user=None, client=None), e(user=None), e(client="app"), e(client=None)]
    for expected in (8, 7, 6, 5, 4, 3, 2, 1):
        assert applicable(quotas, "alice", "app", P)[0] == expected
        quotas.pop(order[8 - expected])
    assert applicable(quotas, "alice", "app", P) is None


def test_each_key_is_resolved_on_its_own():
    quotas = {e(user="alice"): {P: 100}, e(client="app"): {C: 50}}
    assert applicable(quotas, "alice", "app", P)[0] == 100
    assert applicable(quotas, "alice", "app", C)[0] == 50
    assert applicable(quotas, "bob", "other", C) is None


def test_a_user_quota_is_one_budget_for_all_its_clients_and_a_default_client_quota_one_per_client():
    quotas = {e(user="alice"): {P: 100}, e(client=None): {P: 50}}
    assert applicable(quotas, "alice", "a", P)[1] == applicable(quotas, "alice", "b", P)[1]
    assert applicable(quotas, "bob", "a", P)[1] != applicable(quotas, "bob", "b", P)[1]


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_client_over_its_rate_waits_until_the_rate_is_back_at_the_quota():
    clock = Clock()
    quotas = {e(client="app"): {P: 1000.0}}
    manager = ClientQuotaManager(lambda: quotas, samples=3, sample_s=1.0, clock=clock)
    assert manager.record("u", "app", P, 1000) == 0  # 1000 B over the 2 s a new window counts: 500 B/s
    clock.now += 0.5
    assert manager.record("u", "app", P, 3000) == 2000  # 4000 B / 2 s = 2000 B/s: back at 1000 B/s in 2 s
    assert manager.wait_s("u", "app", P) == 2.0
    assert manager.record("u", "other", P, 10) == 0  # another client id: its own budget
    clock.now += 2.0
    assert manager.wait_s("u", "app", P) == 0.0
    assert manager.record("nobody", "x", C, 10**9) == 0  # no quota applies


def test_the_throttle_never_exceeds_the_window():
    clock = Clock()
    quotas = {e(user=None): {P: 1.0}}
    manager = ClientQuotaManager(lambda: quotas, samples=11, sample_s=1.0, clock=clock)
    assert manager.record("u", "", P, 10**9) == 11_000


def test_describe_filters_match_as_kafka_defines_them():
    quotas = {e(user="alice"): {P: 1}, e(user=None): {P: 2}, e(user="alice", client="app"): {P: 3},
              e(client="app"): {P: 4}}
    assert matching(quotas, [(USER, MATCH_EXACT, "alice")], strict=False) == sorted(
        [e(user="alice"), e(user="alice", client="app")], key=repr)
    assert matching(quotas, [(USER, MATCH_EXACT, "alice")], strict=True) == [e(user="alice")]
    assert matching(quotas, [(USER, MATCH_DEFAULT, None)], strict=False) == [e(user=None)]
    assert set(matching(quotas, [(USER, MATCH_SPECIFIED, None)], strict=False)) == {
        e(user="alice"), e(user="alice", client="app")}
    assert len(matching(quotas, [], strict=False)) == 4


def test_the_controller_takes_valid_entries_and_answers_each_invalid_one():
    image = MetadataImage()
    entries = [
        (e(user="alice"), [(P, 1000.0), (C, None)]),
        (entity_of([("ip", "10.0.0.1")]), [("connection_creation_rate", 5.0)]),  # not enforced here
        (e(client="app"), [("producer_bytes_rate", 1.0)]),  # misspelt
        (e(client="x"), [(P, 0.0)]),  # not positive
        (e(user="alice"), [(P, 5.0)]),  # the same entity twice
        (e(user="bob"), [(P, 1.0), (P, 2.0)]),  # one key twice
    ]
    records, answer = alter_client_quotas(image, entries, validate_only=False)
    assert [r["error"] for r in answer["results"]] == [None] + ["BadRequest"] * 5
    assert "not enforced" in answer["results"][1]["message"]
    assert "unknown quota" in answer["results"][2]["message"]
    assert [(r.entity, r.key, r.value) for r in records] == [(e(user="alice"), P, 1000.0),
                                                             (e(user="alice"), C, None)]
    assert alter_client_quotas(image, entries[:1], validate_only=True)[0] == []


def test_quotas_replay_into_the_image_and_survive_a_snapshot():
    records, _ = alter_client_quotas(MetadataImage(), [(e(user="alice"), [(P, 1000.0), (C, 500.0)]),
                                                       (e(client=None), [(C, 10.0)])], False)
    delta = MetadataDelta(MetadataImage(), 1)
    for r in records:
        delta.replay(r)
    image = delta.apply()
    assert image.client_quotas == {e(user="alice"): {P: 1000.0, C: 500.0}, e(client=None): {C: 10.0}}
    removed, _ = alter_client_quotas(image, [(e(client=None), [(C, None)])], False)
    delta = MetadataDelta(image, 2)
    for r in removed:
        delta.replay(r)
    after = delta.apply()
    assert after.client_quotas == {e(user="alice"): {P: 1000.0, C: 500.0}}  # no entity left empty
    assert image_from_dict(image_to_dict(after)).client_quotas == after.client_quotas
