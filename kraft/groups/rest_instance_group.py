"""One group whose members are REST consumer instances living on its coordinator's node.

A REST proxy rejoins on its instances' behalf: when the group starts a rebalance,
every instance still in it rejoins at once (in Kafka each client would notice on its
next heartbeat and rejoin), so a rebalance completes within the call that caused it.
The proxy also heartbeats for every instance on each tick, as Confluent's proxy does
(its Kafka consumer's heartbeat thread runs on the proxy, not in the client's
requests): an instance keeps its membership and its partitions however long its client
is silent, until the instance itself expires (consumer.instance.timeout.ms, the
coordinator's sweep) or is deleted. An instance that lost its membership anyway (its
member was removed) rejoins on its client's next records request, as Kafka's consumer
does on its next poll. Pure: the caller passes `now_ms`; errors are GroupError values.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from kraft.groups import group_events as ev
from kraft.groups.consumer_instance import ConsumerInstance
from kraft.groups.classic_group import ClassicGroup
from kraft.groups.group_events import GroupError, GroupState
from kraft.groups.group_member import GroupConfig

MAX_STEPS = 10_000  # a bound on event processing per call: a loop here would be a bug


class RestInstanceGroup:
    def __init__(self, group_id: str, partitions: Mapping[str, int], member_id_prefix: str,
                 config: GroupConfig | None = None):
        self.group_id = group_id
        self.coordinator = ClassicGroup(group_id, partitions, config, member_id_prefix=member_id_prefix)
        self.instances: dict[str, ConsumerInstance] = {}
        self._partitions = dict(partitions)
        self._by_member: dict[str, str] = {}  # member id -> instance id
        self._join_error: tuple[GroupError, str] | None = None

    @property
    def state(self) -> GroupState:
        return self.coordinator.state

    # -- instances ---------------------------------------------------------------------
    def add(self, instance: ConsumerInstance) -> None:
        self.instances[instance.instance_id] = instance

    def remove(self, instance_id: str, now_ms: int) -> ConsumerInstance | None:
        instance = self.instances.pop(instance_id, None)
        if instance is not None and instance.member_id is not None:
            self._feed([ev.Leave(instance.member_id, now_ms)], now_ms)
        return instance

    def touch(self, instance: ConsumerInstance, now_ms: int, rejoin: bool = False) -> tuple[GroupError, str] | None:
        """A request from its client: a heartbeat. With `rejoin` (a records call, Kafka's
        poll) an instance that lost its membership joins again; any other call must not
        rejoin, or a stale member's commit would pass after winning its partitions back."""
        instance.last_seen_ms = now_ms
        if not instance.subscribed:
            return None
        if instance.member_id is None:
            return self._join(instance, now_ms) if rejoin else None
        self._feed([ev.Heartbeat(instance.member_id, instance.generation, now_ms)], now_ms)
        return None

    def subscribe(self, instance: ConsumerInstance, now_ms: int) -> tuple[GroupError, str] | None:
        """(Re)join with its current subscription; an unchanged one changes nothing.
        Returns why the group refused it (e.g. an assignor no member shares)."""
        instance.last_seen_ms = now_ms
        instance.note_existing(self._partitions)
        return self._join(instance, now_ms)

    def unsubscribe(self, instance: ConsumerInstance, now_ms: int) -> None:
        instance.topics, instance.pattern, instance.seen_topics = frozenset(), None, frozenset()
        if instance.member_id is not None:
            self._feed([ev.Leave(instance.member_id, now_ms)], now_ms)
        self._lost(instance)

    def tick(self, now_ms: int) -> None:
        """The proxy's heartbeat for each member instance, then the coordinator's timers."""
        beats: list[ev.Event] = [ev.Heartbeat(i.member_id, i.generation, now_ms)
                                 for i in self.instances.values() if i.member_id is not None]
        self._feed([*beats, ev.Tick(now_ms)], now_ms)

    def topics_changed(self, partitions: Mapping[str, int], now_ms: int) -> None:
        """New partition counts; pattern subscriptions may now mean other topics."""
        self._partitions = dict(partitions)
        self._feed([ev.TopicsChanged(self._partitions, now_ms)], now_ms)
        for instance in self.instances.values():
            instance.note_existing(self._partitions)
            if instance.pattern is not None and instance.member_id is not None:
                self._join(instance, now_ms)

    def commit_error(self, instance: ConsumerInstance) -> tuple[GroupError, str] | None:
        """Why this instance may not commit now (a stale member must not move offsets)."""
        if instance.subscribed and instance.member_id is None:
            return GroupError.UNKNOWN_MEMBER_ID, (
                f"instance {instance.instance_id!r} is no longer a member of group {self.group_id!r} "
                f"(its session timed out and its partitions were reassigned); fetch records to rejoin")
        member = instance.member_id or ""
        generation = instance.generation if instance.member_id else -1
        for effect in self.coordinator.handle(ev.CommitCheck(member, generation)):
            if isinstance(effect, ev.ErrorResponse):
                return effect.error, effect.message
        return None

    def unload(self) -> None:
        self.coordinator.handle(ev.Unload())
        self.instances.clear()
        self._by_member.clear()

    # -- driving the coordinator ---------------------------------------------------------
    def _join(self, instance: ConsumerInstance, now_ms: int) -> tuple[GroupError, str] | None:
        self._join_error = None
        self._feed([self._join_event(instance, now_ms)], now_ms)
        return self._join_error

    def _join_event(self, instance: ConsumerInstance, now_ms: int) -> ev.Join:
        timeout = instance.config.session_timeout_ms
        return ev.Join(instance.member_id, instance.instance_id, timeout, timeout,
                       (instance.config.assignor,), instance.wanted_topics(sorted(self._partitions)), now_ms)

    def _feed(self, events: list[ev.Event], now_ms: int) -> None:
        queue = deque(events)
        for _ in range(MAX_STEPS):
            if not queue:
                return
            for effect in self.coordinator.handle(queue.popleft()):
                self._react(effect, queue, now_ms)
        raise AssertionError(f"group {self.group_id!r}: events did not settle (bug)")

    def _react(self, effect: ev.Effect, queue: deque[ev.Event], now_ms: int) -> None:
        instance: ConsumerInstance | None
        if isinstance(effect, ev.StateChanged) and effect.new is GroupState.PREPARING_REBALANCE:
            for instance in self.instances.values():
                if instance.member_id is not None:
                    queue.append(self._join_event(instance, now_ms))  # the proxy rejoins for it
        elif isinstance(effect, ev.JoinPending):
            self._bind(effect.member_id)
        elif isinstance(effect, ev.JoinResponse):
            instance = self._bind(effect.member_id)
            if instance is not None:
                instance.generation = effect.generation
                queue.append(ev.Sync(effect.member_id, effect.generation, now_ms))
        elif isinstance(effect, ev.SyncResponse):
            instance = self._instance_of(effect.member_id)
            if instance is not None:
                instance.assignment = tuple(effect.assignment)
                instance.set_owned(instance.assignment)
        elif isinstance(effect, ev.MemberRemoved):
            instance = self._instance_of(effect.member_id)
            self._by_member.pop(effect.member_id, None)
            if instance is not None:
                self._lost(instance)
        elif isinstance(effect, ev.ErrorResponse):
            if effect.request == "join":
                self._join_error = (effect.error, effect.message)
            instance = self._instance_of(effect.member_id) if effect.member_id else None
            if instance is None or effect.request not in ("join", "heartbeat"):
                return
            if effect.error is GroupError.UNKNOWN_MEMBER_ID:
                self._lost(instance)
            elif effect.request == "heartbeat":  # stale generation or rebalancing: rejoin
                queue.append(self._join_event(instance, now_ms))

    def _bind(self, member_id: str) -> ConsumerInstance | None:
        """Match a member id the coordinator named to the instance whose join it answers."""
        if member_id in self._by_member:
            return self.instances.get(self._by_member[member_id])
        client_id = member_id.rsplit("-", 1)[0]
        for instance in self.instances.values():
            if instance.instance_id == client_id and instance.member_id is None:
                instance.member_id = member_id
                self._by_member[member_id] = instance.instance_id
                return instance
        return None

    def _instance_of(self, member_id: str) -> ConsumerInstance | None:
        instance_id = self._by_member.get(member_id)
        return self.instances.get(instance_id) if instance_id is not None else None

    def _lost(self, instance: ConsumerInstance) -> None:
        if instance.member_id is not None:
            self._by_member.pop(instance.member_id, None)
        instance.member_id, instance.generation = None, -1
        instance.assignment = ()
        instance.set_owned(instance.manual)
