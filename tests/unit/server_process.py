"""A test server in a process of its own on a loopback port (the S3 store, the REST
catalog): started, waited for until a URL of it answers, and stopped with it."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerProcess:
    """`argv` run until `probe` answers, within start_s (imports take seconds on a
    loaded 2-core machine); `what` names it in the error when it does not."""

    def __init__(self, argv: list[str], probe: str, start_s: float, what: str):
        self._argv, self._probe, self._start_s, self._what = argv, probe, start_s, what
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(self._argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self._start_s
        while True:
            try:
                urllib.request.urlopen(self._probe, timeout=2).read()
                return
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self._what} did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
