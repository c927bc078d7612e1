"""Start the real `modelpack-microservice` (as `python -m modelpack_runtime`) on free loopback ports."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import pytest
import requests

from ..procs import terminate

MODELS = Path(__file__).parent / "models"
REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model: str, args: tuple = (), env: Optional[dict] = None, interface: str = "Model",
                 python: str = sys.executable, python_args: tuple = (), models_dir: Path = MODELS) -> None:
        self.http_port, self.metrics_port, self.grpc_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"mp-{self.http_port}.log"
        full_env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        full_env.update(env or {})
        # python_args replaces `-m modelpack_runtime` (e.g. `-c <blocker>` that then runs it)
        cmd = [python, *(python_args or ("-m", "modelpack_runtime")), interface, "--host", "127.0.0.1",
               "--http-port", str(self.http_port), "--metrics-port", str(self.metrics_port),
               "--grpc-port", str(self.grpc_port), *args]
        self.logfile = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, cwd=str(models_dir / model), env=full_env, stdout=self.logfile,
                                     stderr=subprocess.STDOUT)

    def output(self) -> str:
        if not self.logfile.closed:
            self.logfile.flush()
        return self.log.read_text(errors="replace")

    def wait_up(self, path: str = "/health/ping", ready: bool = True, timeout: float = 20.0) -> None:
        """Wait until the server answers `path` (with 200 when `ready`, with anything otherwise)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                r = requests.get(self.url + path, timeout=1)
                if r.status_code == 200 or not ready:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not up within {timeout}s:\n{self.output()}")

    def stop(self) -> int:
        code = terminate(self.proc)
        self.logfile.close()
        return code


@pytest.fixture
def start() -> Iterator:
    """start(model, *args, env=..., ready=True) -> a running Server, stopped at the end of the test."""
    servers: list[Server] = []

    def _start(model: str, *args: str, env: Optional[dict] = None, ready: bool = True,
               interface: str = "Model", **kw) -> Server:
        server = Server(model, args, env, interface, **kw)
        servers.append(server)
        server.wait_up(ready=ready)
        return server

    yield _start
    codes = {s.url: s.stop() for s in servers}
    # every server must shut down cleanly on SIGTERM (master exit code 0)
    assert all(code == 0 for code in codes.values()), codes


@pytest.fixture(scope="module")
def rowsum() -> Iterator[Server]:
    server = Server("rowsum", ("--workers", "1"))
    server.wait_up()
    yield server
    server.stop()
