"""One [[hosts]] entry of cluster.toml: a machine that runs several broker processes as
one unit (a Python process uses one core; Redpanda runs a thread per core, kraft a
process per core).

Pure: the entry names its first id and first ports, and process i of the host is node
`first_id + i` with every port `first + i` and the data dir `<data_dir>/node-<id>`, so
the derived ids and ports stay the same from one start to the next as long as the entry
does. At most one process per host is a controller (the first, with `controller = true`):
losing the machine then costs the quorum one voter. The host is a failure domain:
placement never puts two replicas of a partition on one host (controller/placement.py).
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from kraft.config.node_config import _bind_host_problem, _host_problem
from kraft.config.toml_tables import Port, Table, invalid

MAX_PROCESSES = 256
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
# the ports a process takes, first + i each; raft_port only for the host's controller
_PORTS = ("http_port", "kafka_port", "inter_broker_port", "schema_registry_port")


def cores() -> int:
    """"cores": one process per core of the machine that reads the file (its CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class HostConfig(Table):
    name: Annotated[str, Field(strict=True)]
    # a number, or "cores": one per core of the machine reading the file (write the number
    # when the file is shared by machines: each derives the same ids only from the same count)
    processes: int | Literal["cores"]
    first_id: Annotated[int, Field(strict=True, ge=0, le=2**31 - 1)]
    controller: Annotated[bool, Field(strict=True)] = False  # its first process is also a controller
    address: Annotated[str, Field(strict=True)] = "127.0.0.1"  # what clients and the other nodes dial
    bind_host: Annotated[str, Field(strict=True)] | None = None
    http_port: Port
    kafka_port: Port
    raft_port: Port | None = None  # the controller's, with controller = true
    inter_broker_port: Port | None = None
    schema_registry_port: Port | None = None
    rack: Annotated[str, Field(strict=True, min_length=1, max_length=255)] | None = None
    data_dir: Annotated[str, Field(strict=True, min_length=1)]  # process i: <data_dir>/node-<first_id + i>

    @field_validator("processes", mode="plain")
    @classmethod
    def _processes(cls, value: object) -> int | str:
        """One message for both spellings (pydantic's would name each member of the union)."""
        if value == "cores" or (isinstance(value, int) and not isinstance(value, bool)
                                and 1 <= value <= MAX_PROCESSES):
            return value  # type: ignore[return-value]
        raise invalid("", f'must be a number from 1 to {MAX_PROCESSES}, or "cores", got {value!r}')

    @model_validator(mode="after")
    def _consistent(self) -> HostConfig:
        if not _NAME.fullmatch(self.name):
            raise invalid("name", "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit, "
                                  f"got {self.name!r}")
        if problem := _host_problem(self.address):  # checked here: the nodes' own check says "host"
            raise invalid("address", problem)
        if self.bind_host is not None and (problem := _bind_host_problem(self.bind_host)):
            raise invalid("bind_host", problem)
        if self.controller and self.raft_port is None:
            raise invalid("raft_port", "required with controller = true (the host's first process is a controller)")
        if not self.controller and self.raft_port is not None:
            raise invalid("raft_port", "only a controller uses a raft port: remove it, or set controller = true")
        count = self.process_count
        if self.first_id + count - 1 > 2**31 - 1:
            raise invalid("first_id", f"the host's {count} processes need ids up to {self.first_id + count - 1}, "
                                      f"past {2**31 - 1}")
        for field in _PORTS:
            first = getattr(self, field)
            if first is not None and first + count - 1 > 65535:
                raise invalid(field, f"the host's {count} processes need ports {first}-{first + count - 1}, "
                                     "past 65535")
        return self

    @property
    def process_count(self) -> int:
        return cores() if self.processes == "cores" else self.processes

    @property
    def node_ids(self) -> tuple[int, ...]:
        return tuple(range(self.first_id, self.first_id + self.process_count))

    def node_tables(self) -> list[dict[str, Any]]:
        """The [[nodes]] entries this host stands for, one per process."""
        tables = []
        for i, node_id in enumerate(self.node_ids):
            controller = self.controller and i == 0
            table: dict[str, Any] = {
                "id": node_id, "roles": ["controller", "broker"] if controller else ["broker"],
                "host": self.address, "data_dir": f"{self.data_dir.rstrip('/')}/node-{node_id}"}
            for field in _PORTS:
                if (first := getattr(self, field)) is not None:
                    table[field] = first + i
            if controller:
                table["raft_port"] = self.raft_port
            if self.bind_host is not None:
                table["bind_host"] = self.bind_host
            if self.rack is not None:
                table["rack"] = self.rack
            tables.append(table)
        return tables
