"""The warehouse's files, wherever it is: a directory (`file://`) or a bucket of an object
store (`s3://bucket/prefix`, through pyarrow's S3 filesystem). Iceberg's metadata names
files by location (a URI); here a location becomes the filesystem's path, so what a
snapshot names and what a listing finds compare as strings.

A file put here is whole or absent to a reader: on a directory it is written beside its
name, synced, then renamed; on an object store one PUT is all or nothing. pyarrow loads
at the first use, not at import (a node with no Iceberg topic never loads it).
S3 credentials come from the AWS SDK's own chain (AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, ~/.aws, an instance's role), never from cluster.toml.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import uuid
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from kraft.config.cluster import ClusterConfig

SCHEMES = ("file", "s3")


def for_node(config: ClusterConfig, node_id: int) -> Warehouse:
    """The warehouse cluster.toml's [iceberg] names for this node."""
    settings = config.iceberg
    return Warehouse(config.iceberg_warehouse(node_id), settings.s3_endpoint, settings.s3_region)


class Warehouse:
    def __init__(self, uri: str, s3_endpoint: str = "", s3_region: str = ""):
        self.scheme = urlparse(uri).scheme
        if self.scheme not in SCHEMES:
            raise ValueError(f"a warehouse is a directory or s3://bucket/prefix, not {uri!r}")
        self.uri = uri.rstrip("/")
        self.s3_endpoint, self.s3_region = s3_endpoint, s3_region

    @property
    def local(self) -> bool:
        return self.scheme == "file"

    def io_properties(self) -> dict[str, str]:
        """pyiceberg's FileIO properties for this warehouse; a reader's too (LoadTable's
        config): where the object store is, never a credential."""
        out = {}
        if self.scheme == "s3":
            if self.s3_endpoint:
                out["s3.endpoint"] = self.s3_endpoint
                out["s3.path-style-access"] = "true"  # as pyarrow addresses an endpoint's buckets
            # an S3-compatible store takes any region, and DuckDB refuses to read without
            # one: the region pyarrow assumes for an endpoint when none is set
            region = self.s3_region or ("us-east-1" if self.s3_endpoint else "")
            if region:
                out["s3.region"] = region
        return out

    def prepare(self) -> None:
        """A directory warehouse is made at the first Iceberg topic; a bucket must exist."""
        if self.local:
            os.makedirs(self.path(self.uri), exist_ok=True)

    @cached_property
    def _fs(self) -> Any:
        from pyarrow import fs  # type: ignore[import-untyped]  # ships no types
        if self.local:
            return fs.LocalFileSystem()
        options: dict[str, Any] = {}
        if self.s3_endpoint:
            options["endpoint_override"] = self.s3_endpoint
        if self.s3_region:
            options["region"] = self.s3_region
        elif not self.s3_endpoint:  # AWS itself: the bucket's own region, as pyiceberg finds it
            options["region"] = fs.resolve_s3_region(urlparse(self.uri).netloc)
        return fs.S3FileSystem(**options)

    def path(self, location: str) -> str:
        """The filesystem's path of a location ("" for one of another scheme). Not
        unquoted: pyarrow writes a partition value's %XX (a key's base64 "=") as is."""
        parsed = urlparse(location)
        if parsed.scheme != self.scheme:
            return ""
        if self.local:
            return os.path.normpath(parsed.path)
        return parsed.netloc + parsed.path.rstrip("/")  # keys as spelt: "a/./b" is another key

    # -- whole files ---------------------------------------------------------------------
    def put(self, location: str, data: bytes) -> None:
        path = self.path(location)
        if not self.local:
            with self._fs.open_output_stream(path) as f:
                f.write(data)
            return
        directory, name = os.path.split(path)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def read(self, location: str, limit: int) -> bytes:
        """The file's bytes; ValueError past `limit` (nothing larger is read)."""
        path = self.path(location)
        if self.local:
            with open(path, "rb") as f:
                data = f.read(limit + 1)
        else:
            with self._fs.open_input_stream(path) as f:
                data = f.read(limit + 1)
        if len(data) > limit:
            raise ValueError(f"more than {limit} bytes")
        return bytes(data)

    def delete(self, location: str) -> None:
        self.remove(self.path(location))

    def remove(self, path: str) -> None:
        """A file by its path; one already gone is no error (another node may be at it)."""
        try:
            if self.local:
                os.unlink(path)
            else:
                self._fs.delete_file(path)
        except FileNotFoundError:
            pass

    # -- listings ------------------------------------------------------------------------
    def names(self, location: str) -> list[str]:
        """The names of the files right under `location` (none when it does not exist)."""
        path = self.path(location)
        if self.local:
            try:
                return [e.name for e in os.scandir(path) if e.is_file(follow_symlinks=False)]
            except FileNotFoundError:
                return []
        return [posixpath.basename(i.path) for i in self._listing(path, recursive=False) if i.is_file]

    def files(self, path: str) -> Iterator[tuple[str, float]]:
        """(path, modified at, seconds since the epoch) of every file below `path`."""
        if not self.local:
            for info in self._listing(path, recursive=True):
                if info.is_file and info.mtime is not None:
                    yield info.path, info.mtime.timestamp()
            return
        for dirpath, _, names in os.walk(path):
            for name in names:
                full = os.path.join(dirpath, name)
                try:
                    yield full, os.stat(full).st_mtime
                except FileNotFoundError:
                    pass

    def directories(self, location: str) -> list[tuple[str, str]]:
        """(name, path) of the directories right under `location`."""
        path = self.path(location)
        if self.local:
            try:
                return [(e.name, e.path) for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
            except FileNotFoundError:
                return []
        from pyarrow import fs  # type: ignore[import-untyped]  # ships no types
        return [(posixpath.basename(i.path), i.path) for i in self._listing(path, recursive=False)
                if i.type == fs.FileType.Directory]

    def newest(self, path: str) -> float:
        """When a table's directory last changed. A directory: its own time and its
        metadata's and staged rounds' (each commit and round changes one). An object store
        has no directories: the newest of the objects under it."""
        if self.local:
            newest = os.stat(path).st_mtime
            for sub in ("metadata", "kraft-staged"):
                try:
                    newest = max(newest, os.stat(os.path.join(path, sub)).st_mtime)
                except FileNotFoundError:
                    pass
            return newest
        return max((mtime for _, mtime in self.files(path)), default=0.0)

    def remove_tree(self, path: str) -> None:
        if self.local:
            shutil.rmtree(path, ignore_errors=True)  # another node of the host may be at it too
            return
        try:
            self._fs.delete_dir(path)
        except FileNotFoundError:
            pass

    def _listing(self, path: str, recursive: bool) -> list[Any]:
        from pyarrow import fs  # type: ignore[import-untyped]  # ships no types
        return list(self._fs.get_file_info(fs.FileSelector(path, allow_not_found=True, recursive=recursive)))
