"""The sweep of deleted topics' tables (broker/iceberg_tables.py) comes at most hourly when
no image comes: a sweep still running when the next is due is neither started again nor
waited on in a loop (the node's event loop would spin until it ends)."""

from __future__ import annotations

import asyncio
import time

from kraft.broker.iceberg_tables import SWEEP, SWEEP_EVERY_S, IcebergTables
from kraft.config.cluster_tables import IcebergSettings
from kraft.iceberg.warehouse import Warehouse
from kraft.metadata.image import MetadataImage


async def test_a_sweep_due_while_one_still_runs_is_looked_at_once(tmp_path):
    image = MetadataImage(offset=1)
    tables = IcebergTables(1, lambda: image, {}, None, None, None,  # type: ignore[arg-type]
                           Warehouse(tmp_path.as_uri()), None, IcebergSettings.model_validate({}))  # type: ignore[arg-type]
    running = asyncio.create_task(asyncio.sleep(30))  # a sweep of a slow store, still going
    tables._running[SWEEP] = running
    tables._swept_at = time.monotonic() - SWEEP_EVERY_S - 1  # the next one due now
    looks = []
    sweep = tables._sweep
    tables._sweep = lambda live, pointers: (looks.append(1), sweep(live, pointers))  # type: ignore[method-assign]
    task = asyncio.create_task(tables.run())
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert looks == [1]  # due once; the next an hour on
    assert tables._running[SWEEP] is running and running.cancelled()  # not started again; stopped with the node
