"""Iceberg topics' tables in an external REST catalog (cluster.toml's `[iceberg]
"catalog.uri"`; docs/ICEBERG.md, "An external catalog"), for the translators' worker
threads, in place of KraftCatalog.

The external catalog holds each table: its create and every commit go through it, with
the requirements pyiceberg sends (the snapshot a commit began from), so its refusal is the
compare-and-set that gives exactly once, as the metadata log's is for kraft's own catalog.
After each of its commits the new metadata file is also recorded in kraft's metadata log,
as a copy, so kraft's catalog, the status route and the topic's deletion read it as they
read their own. The copy never decides anything; a copy that fell behind (a node died
between the commit and the record) is brought up at the next load.

A table is `<catalog.namespace>.<topic>` (`<topic>~dlq` for the dead-letter table). It
carries its topic's id (`kraft.topic-id`): a table left by a deleted topic of the same
name (iceberg.delete=false) is never written for the new one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pyiceberg.catalog.rest import RestCatalog
from requests import Response, Session
from pyiceberg.exceptions import (CommitFailedException, CommitStateUnknownException, NamespaceAlreadyExistsError,
                                  NoSuchTableError, TableAlreadyExistsError)
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.utils.config import Config

from kraft.errors import KraftError
from kraft.iceberg.catalog import TABLE_PROPERTIES, Commit, TableMoved
from kraft.iceberg.names import DLQ, NAMESPACE, Pointers, live_key
from kraft.iceberg.warehouse import Warehouse

TOPIC_ID = "kraft.topic-id"  # a table's property: the id of the topic it is the table of
CATALOG_NAME = "kraft"  # pyiceberg's configuration of it: PYICEBERG_CATALOG__KRAFT__TOKEN, ...
REQUEST_TIMEOUT_S = 30.0  # a catalog that does not answer holds a table thread this long at most
log = logging.getLogger(__name__)


class CommitOutcomeUnknown(KraftError):
    """The catalog's answer to a commit was lost (a 5xx, a timeout): it may have landed.
    The next round loads the table and takes only the rounds that still follow on."""


class TableTaken(KraftError):
    """The external catalog's table of that name belongs to another topic (a deleted one's,
    kept): it is left alone, and the topic is not translated until it is dropped there."""


def catalog_properties(uri: str, warehouse: str) -> dict[str, Any]:
    """The REST catalog's properties: the uri and its warehouse (when cluster.toml names
    one), over what pyiceberg's own configuration gives catalog `kraft` (its environment,
    PYICEBERG_CATALOG__KRAFT__TOKEN or __CREDENTIAL, and ~/.pyiceberg.yaml): credentials
    never go into cluster.toml."""
    properties: dict[str, Any] = dict(Config().get_catalog_config(CATALOG_NAME) or {})
    properties["uri"] = uri
    if warehouse:
        properties["warehouse"] = warehouse
    return properties


def _bounded(session: Session) -> Session:
    """Every request of the session with a timeout (pyiceberg sets none), whichever adapter
    sends it (pyiceberg mounts its own for SigV4)."""
    send = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        kwargs["timeout"] = kwargs.get("timeout") or REQUEST_TIMEOUT_S
        return send(method, url, *args, **kwargs)
    session.request = request  # type: ignore[method-assign, assignment]
    return session


class ExternalCatalog(RestCatalog):
    def __init__(self, warehouse: Warehouse, image: Callable[[], Pointers], commit: Commit, uri: str,
                 namespace: str, catalog_warehouse: str = ""):
        super().__init__(CATALOG_NAME, **{**warehouse.io_properties(), **catalog_properties(uri, catalog_warehouse)})
        self.files = warehouse  # the table files, the staged rounds and housekeeping's listings
        self.namespace = namespace
        self._image = image
        self._record = commit
        self._namespace_made = False
        self._lock = threading.Lock()

    def _create_session(self) -> Session:
        return _bounded(super()._create_session())

    # -- what the translators use ----------------------------------------------------------
    def load(self, name: str, kept: bool = False) -> Table | None:
        """The live topic's table (or its dead-letter table); None before its first commit.
        TableTaken when the table of that name belongs to another topic."""
        image = self._image()
        key = live_key(image, name)
        if key is None:
            return None
        recorded = image.iceberg_tables.get(key)  # taken before the load: a copy only ever moves forward
        try:
            table = self.load_table((self.namespace, name))
        except NoSuchTableError:
            if recorded is None:
                return None
            table = self._register(name, key, recorded)
        owner = table.properties.get(TOPIC_ID)
        if owner != key:
            raise TableTaken(f"table {self.namespace}.{name} in the external catalog belongs to another topic "
                             f"(id {owner}); drop or rename it there for this topic's to be made")
        if table.metadata_location != recorded:
            self._copy(name, key, recorded, table.metadata_location)
        return table

    def create(self, name: str, schema: Schema, spec: PartitionSpec, properties: dict[str, str] | None = None) -> None:
        """The table, made in the external catalog unless it is there already (TableMoved)."""
        key = live_key(self._image(), name)
        if key is None:
            raise NoSuchTableError(f"no topic for table {self.namespace}.{name}")
        self._make_namespace()
        # where kraft's own catalog puts it, whatever the namespace (the sweep looks there)
        location = f"{self.files.uri}/{NAMESPACE}/{name.removesuffix(DLQ)}-{key.replace(DLQ, '-dlq')}"
        try:
            table = self.create_table((self.namespace, name), schema, location, spec,
                                      properties={**TABLE_PROPERTIES, **(properties or {}), TOPIC_ID: key})
        except TableAlreadyExistsError:
            raise TableMoved(f"table {self.namespace}.{name} was made meanwhile") from None
        self._copy(name, key, None, table.metadata_location)

    # -- pyiceberg's Catalog ---------------------------------------------------------------
    def commit_table(self, table: Table, requirements: tuple[Any, ...], updates: tuple[Any, ...]) -> CommitTableResponse:
        name = table.name()[-1]
        image = self._image()
        key = live_key(image, name)
        if key is None:
            raise NoSuchTableError(f"no topic for table {self.namespace}.{name}")
        recorded = image.iceberg_tables.get(key)
        try:
            response = super().commit_table(table, requirements, updates)
        except CommitFailedException as exc:
            # not re-raised as it is: on that pyiceberg deletes the attempt's manifests, and a
            # refusal may follow an attempt that landed (catalog.TableMoved)
            raise TableMoved(f"table {self.namespace}.{name} moved on: {exc}") from None
        except CommitStateUnknownException as exc:
            raise CommitOutcomeUnknown(f"table {self.namespace}.{name}: the catalog's answer to a commit was "
                                       f"lost ({exc}); the next round finds out") from None
        self._copy(name, key, recorded, response.metadata_location)
        return response

    def _register(self, name: str, key: str, recorded: str) -> Table:
        """A table kraft holds and the catalog does not (a cluster that kept its tables in
        its own catalog before, or a table dropped there by hand while its topic lives):
        registered from kraft's current metadata file, its rows and offsets kept."""
        self._make_namespace()
        try:
            table = self.register_table((self.namespace, name), recorded)
        except TableAlreadyExistsError:
            return self.load_table((self.namespace, name))
        log.info("iceberg: table %s registered in the external catalog from kraft's metadata", name)
        if table.properties.get(TOPIC_ID) is None:  # a table kraft's own catalog made
            with table.transaction() as tx:
                tx.set_properties({TOPIC_ID: key})
            table = self.load_table((self.namespace, name))
        return table

    def _copy(self, name: str, key: str, based_on: str | None, location: str) -> None:
        """Record the catalog's metadata file in kraft's metadata log. Best effort: another
        node's copy that came first is as good, and one missed (the controller moving) is
        made at a later load."""
        try:
            self._record(name.removesuffix(DLQ), key, based_on, location)
        except (TableMoved, KraftError, TimeoutError, OSError) as exc:
            log.debug("iceberg: %s's metadata file not copied now: %s", name, exc)

    def _make_namespace(self) -> None:
        """The namespace, made unless it exists (a catalog may let kraft use one it may
        not make)."""
        with self._lock:
            if self._namespace_made:
                return
            if not self.namespace_exists(self.namespace):
                try:
                    self.create_namespace(self.namespace)
                except NamespaceAlreadyExistsError:
                    pass
            self._namespace_made = True

    def drop_table_of(self, name: str, topic_id: str) -> list[str]:
        """Drop a deleted topic's tables (its own and its dead-letter table), where they are
        that topic's (a table of the name made for another topic stays); the names dropped.
        Their files go with the warehouse's sweep."""
        dropped = []
        for table_name, key in ((name, topic_id), (name + DLQ, topic_id + DLQ)):
            try:
                if self.load_table((self.namespace, table_name)).properties.get(TOPIC_ID) == key:
                    self.drop_table((self.namespace, table_name))
                    dropped.append(table_name)
            except NoSuchTableError:
                pass  # none, or another node dropped it first
        return dropped

    def drop_gone(self, keep_ids: set[str], grace_s: float) -> list[str]:
        """Drop the namespace's tables of topics that are gone (their id is not in keep_ids:
        the live topics' and the kept tables'), once no commit has touched them for grace_s
        (a node whose metadata is behind must not take a new topic's table); the names
        dropped. What a drop missed at the deletion (the catalog down then) goes here."""
        dropped = []
        for identifier in self.list_tables(self.namespace):
            try:
                table = self.load_table(identifier)
            except NoSuchTableError:
                continue
            owner = table.properties.get(TOPIC_ID)
            if owner is None or owner.removesuffix(DLQ) in keep_ids:
                continue  # not kraft's, or its topic's
            if time.time() - table.metadata.last_updated_ms / 1000 < grace_s:
                continue
            try:
                self.drop_table(identifier)
                dropped.append(identifier[-1])
            except NoSuchTableError:
                pass  # another node dropped it first
        return dropped
