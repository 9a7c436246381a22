"""The replicated state machine: committed batch JSON in, new image out.

Every node replays the same committed batches in the same order (through Raft, or over
HTTP for broker-only nodes), so everything here is deterministic. `apply` never
raises: a raising apply would wedge pysyncobj, which retries it on every tick.

What each batch changed is accumulated until a consumer takes it with the image it
leads to (`take_changes`), as Kafka's metadata loader accumulates the deltas it has
not yet published; a restored snapshot or an installed image counts as everything.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from kraft.metadata.changes import EVERYTHING, ChangeNotes, MetadataChanges
from kraft.metadata.delta import MetadataDelta, RecordRejected
from kraft.metadata.image import MetadataImage
from kraft.metadata.image_codec import image_from_dict, image_to_dict
from kraft.metadata.records import MetadataBatch, decode_batch

DEDUPE_WINDOW = 4096  # request ids remembered, enough for any retry in flight
# Untaken changes naming more topics and partitions than this become "everything": a
# consumer that far behind may as well read the whole image, and a node whose changes
# nobody takes (a controller only) keeps no ever-growing set.
UNTAKEN_CHANGES_MAX = 20_000
FOLLOWER_WINDOW = 2048  # recent batches kept for brokers following over HTTP


@dataclass(frozen=True)
class ApplyResult:
    ok: bool
    offset: int  # the batch's metadata offset when ok, else the image's offset
    error: str | None = None
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "offset": self.offset, "error": self.error,
                "duplicate": self.duplicate}


class MetadataStateMachine:
    def __init__(self, image: MetadataImage | None = None):
        self.image = image or MetadataImage()
        self._results: OrderedDict[str, ApplyResult] = OrderedDict()
        self._recent: deque[tuple[int, str]] = deque(maxlen=FOLLOWER_WINDOW)
        self._recent_lock = threading.Lock()  # the Raft tick thread appends, HTTP reads
        # the changes since the last take_changes(); a consumer that has taken nothing
        # yet has seen nothing of the image, hence everything
        self._untaken: ChangeNotes | None = None  # None: everything
        self._changes_lock = threading.Lock()  # applied on the tick thread, taken on the loop

    def apply(self, batch_json: str) -> ApplyResult:
        try:
            return self._apply(batch_json)
        except Exception as exc:  # never raise into the Raft library
            return ApplyResult(False, self.image.offset, f"invalid batch: {exc}")

    def _apply(self, batch_json: str) -> ApplyResult:
        batch = decode_batch(batch_json)
        if batch.request_id is not None and batch.request_id in self._results:
            first = self._results[batch.request_id]
            return ApplyResult(first.ok, first.offset, first.error, duplicate=True)
        image = self.image
        result = self._replay(image, batch)
        if batch.request_id is not None:
            self._results[batch.request_id] = result
            while len(self._results) > DEDUPE_WINDOW:
                self._results.popitem(last=False)
        if result.ok:
            with self._recent_lock:
                self._recent.append((result.offset, batch_json))
        return result

    def _replay(self, image: MetadataImage, batch: MetadataBatch) -> ApplyResult:
        first = batch.records[0] if batch.records else None
        # A new controller's first record carries its (newer) epoch itself.
        starts_epoch = first is not None and first.type == "BecomeController"
        if not starts_epoch and batch.controller_epoch != image.controller_epoch:
            return ApplyResult(
                False, image.offset,
                f"stale controller epoch {batch.controller_epoch} (current {image.controller_epoch})",
            )
        offset = image.offset + 1
        delta = MetadataDelta(image, offset)
        try:
            for record in batch.records:
                delta.replay(record)
        except RecordRejected as exc:
            return ApplyResult(False, image.offset, str(exc))
        self._publish(delta.apply(), delta.changes())
        return ApplyResult(True, offset)

    def _publish(self, image: MetadataImage, changes: MetadataChanges) -> None:
        with self._changes_lock:  # the image and its changes move together
            self.image = image
            untaken = self._untaken
            if untaken is None or changes.everything:
                self._untaken = None
            else:
                untaken.add(changes)
                if untaken.size() > UNTAKEN_CHANGES_MAX:
                    self._untaken = None

    def take_changes(self) -> tuple[MetadataChanges, MetadataImage]:
        """What changed since the last call, and the image that holds those changes.
        One consumer takes them (the node, for its replicas); others read the image."""
        with self._changes_lock:
            untaken, self._untaken = self._untaken, ChangeNotes()
            return (EVERYTHING if untaken is None else untaken.frozen()), self.image

    def batches_after(self, offset: int) -> list[tuple[int, str]] | None:
        """Committed batches after `offset`, or None when they are no longer kept."""
        with self._recent_lock:
            if offset >= self.image.offset:
                return []
            if not self._recent or self._recent[0][0] > offset + 1:
                return None
            return [entry for entry in self._recent if entry[0] > offset]

    def snapshot(self) -> dict[str, Any]:
        return {
            "image": image_to_dict(self.image),
            "results": [[rid, r.to_json()] for rid, r in self._results.items()],
        }

    def restore(self, data: dict[str, Any]) -> None:
        self._publish(image_from_dict(data["image"]), EVERYTHING)
        self._results = OrderedDict(
            (rid, ApplyResult(**r)) for rid, r in data["results"]
        )
        with self._recent_lock:
            self._recent.clear()

    def install_image(self, image: MetadataImage) -> None:
        """For HTTP followers that were too far behind: jump to a full image."""
        self._publish(image, EVERYTHING)
        with self._recent_lock:
            self._recent.clear()
