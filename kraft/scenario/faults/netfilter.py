"""The command layer under NetworkFaults: iptables and tc calls, and the probes that say
whether this machine can run network faults at all (root, iptables, tc, netem)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

CHAIN_PREFIX = "KRAFT-"
DEVICE = "lo"

class NetworkFaultError(RuntimeError):
    """A command that installs or removes a fault failed; the message quotes it."""


def _run(cmd: list[str], check: bool = True, timeout: float = 15.0) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise NetworkFaultError(f"{cmd[0]} is not installed (needed for: {' '.join(cmd)})") from None
    except subprocess.TimeoutExpired:
        raise NetworkFaultError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f}s") from None
    if check and proc.returncode != 0:
        raise NetworkFaultError(
            f"`{' '.join(cmd)}` failed (exit {proc.returncode}): {_said(proc)}")
    return proc


def _said(proc: subprocess.CompletedProcess) -> str:
    return (proc.stderr or proc.stdout or "").strip().replace("\n", " ") or "no output"


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["iptables", "-w", *args], check=check)


def _tc(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run(["tc", *args], check=check)


@functools.lru_cache(maxsize=1)
def iptables_available() -> tuple[bool, str]:
    """(usable, one sentence why or why not): Linux, root, iptables present and working."""
    if not sys.platform.startswith("linux"):
        return False, f"network faults need Linux iptables; this platform is {sys.platform}"
    if os.geteuid() != 0:
        return False, (f"network faults need root to change iptables rules; this process runs "
                       f"as uid {os.geteuid()}")
    if shutil.which("iptables") is None:
        return False, "network faults need iptables, which is not installed (apt-get install iptables)"
    probe = f"{CHAIN_PREFIX}probe-{os.getpid()}"
    made = _run(["iptables", "-w", "-N", probe], check=False)
    if made.returncode != 0:
        return False, f"iptables is installed but cannot create a chain: {_said(made)}"
    _run(["iptables", "-w", "-X", probe], check=False)
    version = _run(["iptables", "-V"], check=False).stdout.strip()
    return True, f"{version or 'iptables'} usable as root"


@functools.lru_cache(maxsize=1)
def netem_available() -> tuple[bool, str]:
    """Can a netem qdisc be created? Tried on the loopback of a scratch network namespace
    (``unshare -n``), or on lo itself when it has no qdisc of its own yet."""
    if os.geteuid() != 0:
        return False, "tc netem needs root"
    if shutil.which("tc") is None:
        return False, "tc netem needs tc (iproute2), which is not installed"
    if shutil.which("unshare"):
        proc = _run(["unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem",
                     "delay", "1ms"], check=False)
        if proc.returncode == 0:
            return True, "netem qdisc available"
        if "unknown" in _said(proc).lower():
            return False, f"the kernel has no netem qdisc (sch_netem): tc said {_said(proc)!r}"
    root = _run(["tc", "qdisc", "show", "dev", DEVICE, "root"], check=False).stdout
    if root and not root.startswith("qdisc noqueue"):
        return False, f"cannot probe netem: {DEVICE} already has a qdisc ({root.strip()})"
    proc = _run(["tc", "qdisc", "add", "dev", DEVICE, "root", "handle", "4b53:", "netem",
                 "delay", "0ms"], check=False)
    if proc.returncode != 0:
        return False, f"the kernel has no usable netem qdisc: tc said {_said(proc)!r}"
    _run(["tc", "qdisc", "del", "dev", DEVICE, "root", "handle", "4b53:"], check=False)
    return True, "netem qdisc available"


@functools.lru_cache(maxsize=1)
def tc_shaping_available() -> tuple[bool, str]:
    """Can htb + a u32 filter on one source address shape loopback traffic here?
    Checked in a scratch network namespace so the real lo is not touched."""
    if os.geteuid() != 0:
        return False, "tc shaping needs root"
    if shutil.which("tc") is None:
        return False, "tc (iproute2) is not installed"
    if shutil.which("unshare") is None:
        return True, "tc present (not probed: no unshare for a scratch namespace)"
    script = ("tc qdisc add dev lo root handle 1: htb && "
              "tc class add dev lo parent 1: classid 1:10 htb rate 100kbit && "
              "tc filter add dev lo parent 1: protocol ip prio 1 u32 "
              "match ip src 127.0.0.2/32 match ip dst 127.0.0.3/32 flowid 1:10")
    proc = _run(["unshare", "-n", "sh", "-c", script], check=False)
    if proc.returncode != 0:
        return False, f"tc cannot rate-limit one address on lo (htb + u32): {_said(proc)}"
    return True, "htb with u32 source-address filters works on lo"


def _drop_chain(chain: str) -> list[str]:
    """Best effort: unhook, flush and delete a chain; returns the errors."""
    errors = []
    for _ in range(20):  # every jump, should one have been added twice
        if _iptables("-D", "OUTPUT", "-j", chain, check=False).returncode != 0:
            break
    for args in (("-F", chain), ("-X", chain)):
        proc = _iptables(*args, check=False)
        if proc.returncode != 0 and "No chain" not in _said(proc) \
                and "does not exist" not in _said(proc):
            errors.append(f"iptables {' '.join(args)}: {_said(proc)}")
    return errors


