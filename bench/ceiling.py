"""The "ceiling": the least a Python HTTP server must do to accept a v2 JSON produce.

One aiohttp process that accepts `POST /topics/{t}` and `POST /topics/{t}/partitions/{p}`
with the v2 JSON produce body ({"records": [{"value": ...}, ...]}), parses it with
orjson, appends each value (as its JSON text, as the real broker stores it) plus a
newline to one file, and answers the v2 response shape
({"offsets": [{"partition", "offset", "error_code": null, "error": null}], ...}).
No replication, no fsync, no log format, no metadata. `acks` and `timeout_ms` are
accepted and ignored. GET /status/ready answers 200.

Page cache: like kraft's logs (kraft/storage/log_file.py), the server drops what it wrote
behind the newest 8 MiB from the page cache, in a worker thread. Without that the two
sides would write in different regimes of this VM's memory: fresh page cache costs
several times the CPU per MB of recycled pages (bench/README.md), so the ratio would
measure the kernel, not the software.

Standalone:  .venv/bin/python bench/ceiling.py --port 9999 [--host 127.0.0.1] [--file PATH]
From Python: server = CeilingServer().start(); server.url; ...; server.stop()
             (a subprocess, so the server does not share the caller's CPU core or event loop)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

V2_JSON = "application/vnd.kafka.json.v2+json"


CACHE_WINDOW = 8 * 1024 * 1024  # the same as kraft's CACHE_WINDOW_BYTES


def build_app(path: Path):
    from concurrent.futures import ThreadPoolExecutor

    import orjson
    from aiohttp import web

    state = {"offset": 0, "bytes": 0, "cold_end": 0}
    f = open(path, "ab", buffering=1024 * 1024)  # noqa: SIM115 - open for the app's lifetime
    dropper = ThreadPoolExecutor(1, thread_name_prefix="drop-behind")

    def drop_behind() -> None:
        size = os.fstat(f.fileno()).st_size  # the bench truncates the file between runs
        cold_end = min(state["cold_end"], size)
        if size - cold_end >= 2 * CACHE_WINDOW:
            start = max(0, cold_end - CACHE_WINDOW)
            cold_end = size - CACHE_WINDOW
            dropper.submit(os.posix_fadvise, f.fileno(), start, cold_end - start, os.POSIX_FADV_DONTNEED)
        state["cold_end"] = cold_end

    def error(code: int, message: str, status: int):
        return web.Response(body=orjson.dumps({"error_code": code, "message": message}),
                            status=status, content_type="application/json")

    async def produce(request: web.Request):
        try:
            body = orjson.loads(await request.read())
            records = body["records"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return error(400, "malformed produce body", 400)
        if not isinstance(records, list) or not records:
            return error(422, "no records to produce", 422)
        partition = int(request.match_info.get("partition", 0))
        base = state["offset"]
        chunk = b"\n".join(orjson.dumps(r.get("value")) for r in records) + b"\n"
        f.write(chunk)
        drop_behind()
        state["offset"] = base + len(records)
        state["bytes"] += len(chunk)
        offsets = [{"partition": partition, "offset": base + i, "error_code": None, "error": None}
                   for i in range(len(records))]
        return web.Response(body=orjson.dumps({"offsets": offsets, "key_schema_id": None,
                                               "value_schema_id": None}), content_type=V2_JSON)

    async def ready(request):
        return web.Response(body=orjson.dumps({"ready": True, "records": state["offset"],
                                               "bytes": state["bytes"]}), content_type="application/json")

    async def close_file(app):
        dropper.shutdown(wait=True)
        f.close()

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/topics/{topic}", produce)
    app.router.add_post("/topics/{topic}/partitions/{partition}", produce)
    app.router.add_get("/status/ready", ready)
    app.on_cleanup.append(close_file)
    return app


def serve(host: str, port: int, path: Path) -> None:
    from aiohttp import web
    web.run_app(build_app(path), host=host, port=port, access_log=None, print=None)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class CeilingServer:
    """The ceiling server in a child process; `start()` waits until it answers."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, path: Path | None = None):
        self.host = host
        self.port = port or _free_port(host)
        self._tmp = None
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kraft-ceiling-")
            path = Path(self._tmp.name) / "ceiling.log"
        self.path = Path(path)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> CeilingServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--host", self.host,
             "--port", str(self.port), "--file", str(self.path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ceiling server exited: {self.proc.stderr.read().decode(errors='replace')}")
            try:
                with urllib.request.urlopen(self.url + "/status/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"ceiling server not ready on {self.url} within {timeout_s}s")

    def truncate(self) -> None:
        """Empty the output file between runs (the server appends; disk use stays small)."""
        try:
            os.truncate(self.path, 0)
        except OSError:
            pass

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9999)
    ap.add_argument("--file", type=Path, default=None,
                    help="output file (default: ceiling.log in a temp dir)")
    args = ap.parse_args()
    path = args.file
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="kraft-ceiling-")) / "ceiling.log"
    print(f"ceiling: http://{args.host}:{args.port} -> {path}", file=sys.stderr, flush=True)
    serve(args.host, args.port, path)


if __name__ == "__main__":
    main()
