"""What a controller command returns (Kafka's ControllerResult<T>): the metadata records
to commit, and the answer its caller gets once they are applied."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from kraft.metadata.records import MetadataRecord


class ControllerResult(NamedTuple):
    records: Sequence[MetadataRecord]
    answer: dict[str, Any]
