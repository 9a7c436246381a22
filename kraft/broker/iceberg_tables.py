"""The Iceberg topics (docs/ICEBERG.md) this node leads partitions of: one translator task
per partition, and the table's committer where this node is the table's coordinator
(broker/table_coordinator.py), or stands in for one while the table has none.

Woken at every metadata image (like the coordinators), it looks again only when the
topics or their configs changed (the image shares unchanged areas, so that is one
identity check), and only at the topics with `iceberg.mode` set: a node leading
thousands of other partitions pays nothing for them. A translator runs while this
node leads its partition; a round (and a commit) every third of `iceberg.target.lag.ms`,
so the table trails the committed records by less than the target.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from kraft.broker.data_plane import DataPlane
from kraft.broker.isolation import visible_records_off_loop
from kraft.broker.table_coordinator import TableCoordinator, stand_in
from kraft.config.cluster_tables import IcebergSettings
from kraft.errors import KraftError
from kraft.iceberg.warehouse import Warehouse
from kraft.metadata.effective_configs import topic_config
from kraft.metadata.image import MetadataImage

log = logging.getLogger(__name__)

ROUND_BYTES = 16 * 1024 * 1024  # read per round at most; a partition far behind takes several rounds
TROUBLE_LOG_S = 30.0  # a translator's failing rounds are logged this often at most
COMMIT_WAIT_S = 10.0  # a commit waits this long for this node's image to hold it
# the translators' table work (Parquet, metadata files, a commit waiting for the controller)
# runs on threads of its own: it must never hold up the default executor's (log opens, fsyncs)
THREADS = 2

Key = tuple[str, int]  # (topic id, partition)
COMMITTER = -1  # the table's committer's task, by the side of its partitions' translators
SWEEP = ("", -2)  # the task removing deleted topics' tables
DROP = -3  # index of a task dropping a deleted topic's tables from an external catalog
SWEEP_EVERY_S = 3600.0  # deleted topics' leftovers are looked for at least this often
ControllerCall = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
WaitMetadata = Callable[[int, float], Awaitable[bool]]


class SchemaRegistryMissing(KraftError):
    """A schema mode on a node without a registry (no schema_registry_port)."""


def iceberg_topics(image: MetadataImage) -> list[str]:
    """The topics whose own configs set an iceberg.mode other than disabled (a topic's
    setting: a cluster default would make every topic, internal ones too, a table)."""
    return [name for name, configs in image.topic_configs.items()
            if configs.get("iceberg.mode", "disabled") != "disabled"]


class IcebergTables:
    def __init__(self, node_id: int, image: Callable[[], MetadataImage], defaults: dict[str, str],
                 data_plane: DataPlane, controller_call: ControllerCall, wait_metadata: WaitMetadata,
                 warehouse: Warehouse, coordinator: TableCoordinator, settings: IcebergSettings):
        self._node_id, self._image, self._defaults = node_id, image, defaults
        self._settings = settings
        self.coordinator = coordinator  # which tables this node commits
        self._plane, self._controller_call, self._wait_metadata = data_plane, controller_call, wait_metadata
        self.warehouse = warehouse
        self._changed = asyncio.Event()
        self._seen: tuple[Mapping[str, Any], object, object] | None = None
        self._running: dict[Key, asyncio.Task[None]] = {}
        # (topic, partition) -> (translated up to, last stable offset) at its latest round here
        self.progress: dict[tuple[str, int], tuple[int, int]] = {}
        self._catalog: Any = None  # made at the first Iceberg topic (the libraries load then)
        # time.monotonic() of the last sweep (the first comes with the first image, not before)
        self._swept_at = time.monotonic()
        self._tables_seen: dict[str, str] = {}  # live topics that were Iceberg topics here: id -> name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._threads: ThreadPoolExecutor | None = None

    def on_metadata(self) -> None:
        self._changed.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                try:  # and, if no image came meanwhile, a sweep when one is due
                    async with asyncio.timeout(max(0.0, self._swept_at + SWEEP_EVERY_S - time.monotonic())):
                        await self._changed.wait()
                except TimeoutError:
                    image = self._image()
                    self._sweep(set(image.topics), image.iceberg_tables)
                    continue
                self._changed.clear()
                self._follow(self._image())
                await asyncio.sleep(0.2)  # a burst of images is looked at once
        finally:
            for task in self._running.values():
                task.cancel()
            await asyncio.gather(*self._running.values(), return_exceptions=True)
            if self._threads is not None:
                self._threads.shutdown(wait=False, cancel_futures=True)

    def _follow(self, image: MetadataImage) -> None:
        seen = (image.topics, image.topic_configs, self.coordinator.loaded())
        if self._seen is not None and seen[0] is self._seen[0] and seen[1] is self._seen[1] and seen[2] == self._seen[2]:
            return
        if self._seen is None or len(image.topics) < len(self._seen[0]) \
                or time.monotonic() - self._swept_at >= SWEEP_EVERY_S:  # at the start, after deletions, hourly
            self._sweep(set(image.topics), image.iceberg_tables)
        self._seen = seen
        tables = {name: image.topic_ids[name] for name in iceberg_topics(image) if name in image.topic_ids}
        # a topic deleted (not one whose mode was turned off: its table stays as it was)
        ever = {**self._tables_seen, **{topic_id: name for name, topic_id in tables.items()}}
        if self._settings.catalog_uri:
            self._drop_external([(n, i) for i, n in ever.items() if i not in image.topics], image)
        self._tables_seen = {topic_id: name for topic_id, name in ever.items() if topic_id in image.topics}
        wanted: dict[Key, tuple[str, int]] = {}  # index COMMITTER: the table's committer
        for name in tables:
            topic = image.topic(name)
            if topic is None:
                continue
            # two nodes that both take themselves for the committer for a moment race
            # harmlessly: every commit is a compare-and-set
            if self.coordinator.coordinates(name) or stand_in(image, name) == self._node_id:
                wanted[(topic.topic_id, COMMITTER)] = (name, COMMITTER)
            for index, reg in enumerate(topic.partitions):
                if reg.leader == self._node_id:
                    wanted[(topic.topic_id, index)] = (name, index)
        for key in [k for k in self._running if k not in wanted and k[1] >= COMMITTER]:
            self._running.pop(key).cancel()
        led = {(name, index) for name, index in wanted.values()}
        for gone in [k for k in self.progress if k not in led]:
            del self.progress[gone]  # led elsewhere now: that leader reports it
        for key, (name, index) in wanted.items():
            task = self._running.get(key)
            if task is None or task.done():
                what = f"iceberg-{name}-{'committer' if index == COMMITTER else index}"
                self._running[key] = asyncio.create_task(self._repeat(name, key[0], index), name=what)

    def _sweep(self, live: set[str], pointers: Mapping[str, str]) -> None:
        """Remove the warehouse's tables of deleted topics (but kept ones), on the table
        threads (a task kept with the translators', cancelled with them when the node stops)."""
        from kraft.iceberg.leftovers import kept_ids, leftovers, remove
        live = live | kept_ids(pointers)
        self._swept_at = time.monotonic()  # also when one still runs: the next is due an hour on
        task = self._running.get(SWEEP)
        if task is not None and not task.done():
            return

        async def sweep() -> None:
            from kraft.iceberg.leftovers import GRACE_S
            try:
                await self._off_loop(lambda: remove(self.warehouse, leftovers(self.warehouse, live)))
                if self._settings.catalog_uri:  # and what a drop at a deletion missed
                    catalog = await self._catalog_made()
                    dropped = await self._off_loop(catalog.drop_gone, live, GRACE_S)
                    if dropped:
                        log.info("iceberg: tables of deleted topics dropped from the external catalog: %s", dropped)
            except Exception as exc:  # noqa: BLE001 - a store or catalog down: the next sweep tries again
                log.warning("iceberg: the tables of deleted topics not removed: %s", exc)
        self._running[SWEEP] = asyncio.create_task(sweep(), name="iceberg-sweep")

    def _drop_external(self, gone: list[tuple[str, str]], image: MetadataImage) -> None:
        """A deleted topic's tables leave the external catalog with it, unless kept
        (iceberg.delete=false): its table coordinator drops them, on the table threads,
        checking each is that topic's. Left to the sweep (at a start and after deletions,
        once untouched for a while): a drop that failed, one whose coordinator was moving,
        and a name already taken by a new topic (a drop goes by name)."""
        from kraft.iceberg.leftovers import kept_ids
        kept = kept_ids(image.iceberg_tables)
        for name, topic_id in gone:
            if topic_id in kept or (topic_id, DROP) in self._running or name in image.topic_ids \
                    or not self.coordinator.coordinates(name):
                continue

            async def drop(name: str = name, topic_id: str = topic_id) -> None:
                try:
                    catalog = await self._catalog_made()
                    dropped = await self._off_loop(catalog.drop_table_of, name, topic_id)
                    if dropped:
                        log.info("iceberg: %s dropped from the external catalog with its topic", dropped)
                except Exception as exc:  # noqa: BLE001 - a catalog down: a later sweep drops it
                    log.warning("iceberg: the tables of deleted topic %s not dropped from the external catalog: %s",
                                name, exc)
                finally:
                    self._running.pop((topic_id, DROP), None)
            self._running[(topic_id, DROP)] = asyncio.create_task(drop(), name=f"iceberg-drop-{name}")

    def _config(self, topic: str, name: str) -> Any:
        return topic_config(self._image(), self._defaults, topic, name)

    async def _repeat(self, topic: str, topic_id: str, index: int) -> None:
        """A partition's rounds (or the table's commits, index COMMITTER), every half the
        topic's target lag, until this node no longer leads the partition."""
        from pyiceberg.exceptions import RESTError

        from kraft.iceberg.housekeeping import Housekeeping  # the Iceberg libraries load here
        from kraft.iceberg.translator import PartitionTranslation, TableCommitter
        what = f"{topic} (commit)" if index == COMMITTER else f"{topic}-{index}"
        keeper: Housekeeping | None = None  # the committer's: compaction and orphans, when due
        complete_at: int | None = None  # a partition's last stable offset when its table held all of it
        logged = -TROUBLE_LOG_S
        while True:
            lag_ms = self._config(topic, "iceberg.target.lag.ms")
            behind = False
            try:
                catalog = await self._catalog_made()
                if index == COMMITTER:
                    await self._off_loop(TableCommitter(catalog, topic).commit)
                    keeper = keeper or Housekeeping(catalog, topic)
                    await self._off_loop(keeper.run)
                else:
                    work = PartitionTranslation(catalog, topic, index, self._config(topic, "iceberg.mode"),
                                                self._config(topic, "iceberg.partition.spec"))
                    behind, complete_at = await self._round(work, topic, index, complete_at)
            except asyncio.CancelledError:
                raise
            except (KraftError, OSError, RESTError) as exc:  # the leader moving, a full disk, a catalog down
                if time.monotonic() - logged >= TROUBLE_LOG_S:
                    logged = time.monotonic()
                    log.warning("iceberg: %s not translated this round: %s", what, exc)
            except Exception:  # noqa: BLE001 - the translator outlives a round gone wrong
                if time.monotonic() - logged >= TROUBLE_LOG_S:
                    logged = time.monotonic()
                    log.exception("iceberg: %s not translated this round", what)
            # a partition behind goes on at once (its rounds chain up for the committer); a
            # record waits a third of the target for its round and a third for the commit
            await asyncio.sleep(0 if behind else lag_ms / 3000)

    async def _round(self, work: Any, topic: str, partition: int, complete_at: int | None) -> tuple[bool, int | None]:
        """One round: whether it stopped short of the last stable offset (more to read), and
        the last stable offset when the table already held all of it (then, until the log
        moves on, a round costs a look at the offsets: the table never moves back)."""
        log_start, stable = await self._plane.offsets(topic, partition, stable=True)
        if stable == complete_at:
            return False, complete_at
        start = await self._off_loop(work.start)
        if start is None:
            return False, None  # no table yet, or MAX_CHAIN rounds wait for the committer
        position = log_start if start.offset is None or start.offset < log_start else start.offset
        self.progress[(topic, partition)] = (start.committed or 0, stable)
        if position >= stable:  # complete: the table (not a round still staged) holds all there is
            held = log_start if start.committed is None else start.committed
            return False, stable if start.offset == start.committed and held >= stable else None
        data, aborted = await self._plane.read_stable(topic, partition, position, ROUND_BYTES, 0)
        records, end = await visible_records_off_loop(data, position, aborted, ROUND_BYTES,
                                                      time.monotonic() + 30)
        end = min(end, stable)
        rows = [r for r in records if r.offset is not None and r.offset < stable] if records and \
            (records[-1].offset or 0) >= stable else records  # (the rows are made on the table's thread)
        if end > position:
            registry = None
            if work.mode != "key_value":  # the schema modes decode values with the node's registry
                if self._plane.registry_state is None:
                    raise SchemaRegistryMissing("this node serves no schema registry, which the schema modes need")
                registry = await self._plane.registry_state()
            staged = await self._off_loop(work.stage, start, rows, end, registry)
            log.debug("iceberg: %s-%d: %d rows staged, up to %d", topic, partition, staged, end)
        return position < end < stable, None

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="iceberg")
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    async def _catalog_made(self) -> Any:
        """The tables' catalog, made on a table thread at first use: kraft's own, or the
        external REST catalog cluster.toml names (whose making asks it for its config)."""
        if self._catalog is None:
            def make() -> Any:
                self.warehouse.prepare()
                settings = self._settings
                if not settings.catalog_uri:
                    from kraft.iceberg.catalog import KraftCatalog
                    return KraftCatalog(self.warehouse, self._image, self._commit_from_thread)
                from kraft.iceberg.external_catalog import ExternalCatalog
                return ExternalCatalog(self.warehouse, self._image, self._commit_from_thread, settings.catalog_uri,
                                       settings.catalog_namespace, settings.catalog_warehouse)
            made = await self._off_loop(make)
            self._catalog = self._catalog or made
        return self._catalog

    def _commit_from_thread(self, topic: str, topic_id: str, based_on: str | None, location: str) -> None:
        """The catalog's compare-and-set, run on the loop for a worker thread (which waits)."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._commit(topic, topic_id, based_on, location),
                                         self._loop).result(COMMIT_WAIT_S + 30)

    async def _commit(self, topic: str, topic_id: str, based_on: str | None, location: str) -> None:
        from kraft.errors import ConcurrentMetadataChange
        from kraft.iceberg.catalog import TableMoved
        try:
            answer = await self._controller_call("commit_iceberg_table", {
                "topic": topic, "topic_id": topic_id, "based_on": based_on, "metadata_location": location})
        except ConcurrentMetadataChange as exc:
            raise TableMoved(str(exc)) from None
        await self._wait_metadata(int(answer.get("metadata_offset", 0)), COMMIT_WAIT_S)
