"""Whether a broker's logs still hold everything its previous run wrote: Kafka's clean
shutdown (KIP-966), told to the controller when the broker registers.

They do when the previous run closed every log (sealed and fsynced) before it ended,
or when the machine has not restarted since that run began: a killed process leaves
its writes in the page cache, and only a power loss or a crash of the machine drops
what was not fsynced. The kernel's boot id tells the two apart. Without the state
file (a new or wiped data dir) the answer is no.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from kraft.storage.log_directory import replace_durably

log = logging.getLogger(__name__)

STATE_FILE = "run-state.json"
KERNEL_BOOT_ID = "/proc/sys/kernel/random/boot_id"
# The failure lab runs each node as if on its own machine: its power cut "reboots" it
# by writing a new id to the file this names.
BOOT_ID_FILE_ENV = "KRAFT_BOOT_ID_FILE"


def boot_id() -> str:
    """This machine's boot id; "" when unknown (then it matches nothing)."""
    try:
        return Path(os.environ.get(BOOT_ID_FILE_ENV) or KERNEL_BOOT_ID).read_text().strip()
    except OSError:
        return ""


class RunState:
    def __init__(self, directory: Path, current_boot_id: str | None = None):
        self.path = Path(directory) / STATE_FILE
        self.boot_id = boot_id() if current_boot_id is None else current_boot_id
        # whether the previous run closed every log; known once begin() has run. While this
        # run is on record as not closed, a log's own clean-shutdown marker is removed
        # without a fsync (LogDirectory.clear_clean_shutdown): if a power cut brings it
        # back, this record says not to trust it
        self.previous_closed: bool | None = None

    def begin(self) -> bool:
        """Judge the previous run, then record this one as running (durably, so a power
        cut from here on is seen). True when the logs are intact."""
        previous = self._read()
        self.previous_closed = previous.get("closed") is True
        intact = self.previous_closed or (bool(previous) and bool(self.boot_id)
                                          and previous.get("boot_id") == self.boot_id)
        self._write(closed=False)
        if not previous:
            log.info("no earlier run of this broker's replicas on record (a new or wiped data "
                     "dir): it registers as after an unclean shutdown")
        elif not intact:
            log.warning("the previous run did not close its logs and the machine may have "
                        "restarted since: this broker leaves every ISR and ELR at registration")
        return intact

    def end_cleanly(self) -> None:
        """Every log is closed and fsynced."""
        self._write(closed=True)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, closed: bool) -> None:
        replace_durably(self.path, json.dumps({"boot_id": self.boot_id, "closed": closed}))
