"""Start a server, time it to ready, measure its memory, stop it. Linux /proc only, no psutil."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ppid_map() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # the command name (field 2) may hold spaces: split after its closing parenthesis
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry)] = int(fields[1])
    return parents


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    parents = _ppid_map()
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += children
        frontier = children
    return tree


def _kib(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(root: int) -> dict:
    """RSS and PSS (MB) of every process in the tree; PSS splits pages shared after fork fairly."""
    procs = []
    for pid in process_tree(root):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        procs.append({"pid": pid, "cmd": cmd.strip()[:120],
                      "rss_mb": round(_kib(f"/proc/{pid}/status", "VmRSS:") / 1024, 1),
                      "pss_mb": round(_kib(f"/proc/{pid}/smaps_rollup", "Pss:") / 1024, 1)})
    return {"processes": procs,
            "rss_total_mb": round(sum(p["rss_mb"] for p in procs), 1),
            "pss_total_mb": round(sum(p["pss_mb"] for p in procs), 1),
            "rss_max_process_mb": max((p["rss_mb"] for p in procs), default=0.0)}


def http_status(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return 0


@dataclass
class Server:
    """A running server process (its own session, so the whole group can be signalled)."""

    name: str
    proc: subprocess.Popen
    started: float
    log_path: Path

    def wait_ready(self, url: str, timeout: float = 60.0) -> float:
        """Poll `url` every 5 ms until it answers 200; return seconds since the process started."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode} before it was"
                                   f" ready; its output is in {self.log_path}")
            if http_status(url, timeout=1.0) == 200:
                return time.monotonic() - self.started
            time.sleep(0.005)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout:.0f} s; see {self.log_path}")

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM the server's process group, SIGKILL it after `grace` s, and reap any process of
        the group that outlived its parent (a worker orphaned by a crashed master)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def start(name: str, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> Server:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    log.close()
    return Server(name, proc, started, log_path)
