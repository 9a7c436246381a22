"""Nodes' data dirs on the lazy filesystem, so the lab can cut their power.

Each node's data dir becomes a FUSE mount (kraft/scenario/faults/lazy_fs.py) over a backing
dir beside it (`node-1` over `node-1.disk`). A power cut kills the node, asks the mount
what it holds unsynced, kills the filesystem process (the unsynced writes die with it)
and mounts the backing dir again: the node restarts on what was fsynced and nothing
else. Needs root, /dev/fuse and libfuse 3 (Debian: fuse3); `available()` says why not.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

MOUNT_WAIT_S = 10.0
CONTROL_ANSWER_LIMIT = 64 * 1024  # its answers are one short JSON line
_probe: tuple[bool, str] | None = None


def available() -> tuple[bool, str]:
    """Whether this machine can mount the lazy filesystem (probed once, by mounting one)."""
    global _probe
    if _probe is None:
        _probe = _probe_mount()
    return _probe


def _probe_mount() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "a FUSE mount for power cuts needs root"
    if not os.path.exists("/dev/fuse"):
        return False, "no /dev/fuse on this machine"
    with tempfile.TemporaryDirectory(prefix="kraft-lazyfs-probe-") as tmp:
        disk = LazyDisk(Path(tmp) / "disk", Path(tmp) / "mnt")
        try:
            disk.mount()
        except LazyDiskError as exc:
            return False, str(exc)
        finally:
            disk.close()
    return True, ""


class LazyDiskError(RuntimeError):
    pass


class LazyDisk:
    """One mount: the backing dir (what a power cut leaves) and the mount point."""

    def __init__(self, backing: Path, mountpoint: Path):
        self.backing = Path(backing)
        self.mountpoint = Path(mountpoint)
        self.log = self.mountpoint.with_name(self.mountpoint.name + ".lazyfs.log")
        self.control = self.mountpoint.with_name(self.mountpoint.name + ".ctl")
        # the simulated machine's boot id: every mount is a new boot (a power cut remounts)
        self.boot_id_file = self.mountpoint.with_name(self.mountpoint.name + ".boot_id")
        self._proc: subprocess.Popen | None = None

    def mount(self) -> None:
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        self.boot_id_file.write_text(uuid.uuid4().hex + "\n")
        with open(self.log, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "kraft.scenario.faults.lazy_fs", str(self.backing), str(self.mountpoint)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + MOUNT_WAIT_S
        while not (os.path.ismount(self.mountpoint) and self.control.exists()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self._stop_process()
                tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
                raise LazyDiskError("the lazy filesystem did not mount: " + (" | ".join(tail) or "no output"))
            time.sleep(0.05)

    def stats(self) -> dict:
        """Unsynced bytes and files the mount holds now (what a power cut would drop)."""
        return self._ask(b"stats")

    def set_delay(self, delay_ms: int) -> None:
        """Every read, write and fsync on the mount waits delay_ms first (0: a fast disk
        again). Returns once the filesystem has it in force."""
        answer = self._ask(b"delay %d" % delay_ms)
        if answer.get("delay_ms") != delay_ms:
            raise LazyDiskError(f"the lazy filesystem refused the delay: {answer.get('error', answer)}")

    def _ask(self, request: bytes) -> dict:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.control))
            s.sendall(request + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
                if len(answer) > CONTROL_ANSWER_LIMIT:
                    raise LazyDiskError(f"the lazy filesystem's answer passed {CONTROL_ANSWER_LIMIT} bytes")
        return json.loads(answer)

    def cut(self) -> dict:
        """The power cut: every unsynced write is gone; mounted again on what was synced.
        The node using the dir must already be dead. Returns what was dropped."""
        try:
            dropped = self.stats()
        except (OSError, ValueError) as exc:
            dropped = {"error": f"no stats: {exc}"}
        self._stop_process()
        self.mount()
        return dropped

    def _stop_process(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        # the dead filesystem's mount answers ENOTCONN: detach it (the kernel's cached
        # pages of it go with it)
        subprocess.run(["umount", "-l", str(self.mountpoint)], capture_output=True)
        self.control.unlink(missing_ok=True)

    def close(self) -> None:
        """Unmount in order: the kernel writes back what it still caches, then the
        process ends. (Used when the run is over, not as a fault.)"""
        if self._proc is not None and self._proc.poll() is None:
            subprocess.run(["umount", str(self.mountpoint)], capture_output=True)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self._stop_process()


def put_under(data_path: Path) -> LazyDisk:
    """Move a prepared data dir onto a backing dir beside it and mount it back in place."""
    data_path = Path(data_path)
    backing = data_path.with_name(data_path.name + ".disk")
    data_path.rename(backing)
    disk = LazyDisk(backing, data_path)
    disk.mount()
    return disk
