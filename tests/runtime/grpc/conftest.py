"""Fixtures for the gRPC tests: the real `modelpack-microservice` on free loopback ports (HTTP,
gRPC, metrics), gRPC channels, and virtualenvs for the third-party clients."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Optional

import grpc
import pytest
import requests

from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2_grpc, prediction_pb2_grpc

from ..procs import terminate

HERE = Path(__file__).parent
MODELS = HERE / "models"
REPO = HERE.parents[2]
VENV_CACHE = Path(os.environ.get("MODELPACK_TEST_VENVS", Path.home() / ".cache" / "modelpack-tests"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so no server outlives a killed run."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # not Linux/glibc: the fixtures' teardown still stops the server
        pass


class Server:
    """One `python -m modelpack_runtime` process; stop() sends SIGTERM and returns the exit code."""

    def __init__(self, model: str = "echo", args: tuple = (), env: Optional[dict] = None,
                 interface: str = "Model") -> None:
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.target = f"127.0.0.1:{self.grpc_port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self.log = Path(os.environ.get("TMPDIR", "/tmp")) / f"mp-grpc-{self.grpc_port}.log"
        full_env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
        full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        full_env.update(env or {})
        cmd = [sys.executable, "-m", "modelpack_runtime", interface, "--host", "127.0.0.1",
               "--http-port", str(self.http_port), "--metrics-port", str(self.metrics_port),
               "--grpc-port", str(self.grpc_port), *args]
        self.logfile = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, cwd=str(MODELS / model), env=full_env, stdout=self.logfile,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.channels: list[grpc.Channel] = []

    def output(self) -> str:
        self.logfile.flush()
        return self.log.read_text(errors="replace")

    def wait_up(self, timeout: float = 30.0, grpc_too: bool = True, ready: bool = True) -> None:
        """Wait for HTTP (200 when `ready`, any answer otherwise) and for the gRPC port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if requests.get(self.url + "/health/ping", timeout=1).status_code == 200 or not ready:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        else:
            raise AssertionError(f"HTTP not up within {timeout}s:\n{self.output()}")
        if grpc_too:
            ch = grpc.insecure_channel(self.target)
            try:
                grpc.channel_ready_future(ch).result(timeout=max(1.0, deadline - time.monotonic()))
            except grpc.FutureTimeoutError:
                raise AssertionError(f"gRPC not up within {timeout}s:\n{self.output()}") from None
            finally:
                ch.close()

    def channel(self, options: tuple = ()) -> grpc.Channel:
        ch = grpc.insecure_channel(self.target, options=list(options))
        self.channels.append(ch)
        return ch

    def seldon(self, service: str = "Model") -> object:
        return getattr(prediction_pb2_grpc, f"{service}Stub")(self.channel())

    def v2(self) -> grpc_predict_v2_pb2_grpc.GRPCInferenceServiceStub:
        return grpc_predict_v2_pb2_grpc.GRPCInferenceServiceStub(self.channel())

    def stop(self) -> int:
        for ch in self.channels:
            ch.close()
        code = terminate(self.proc)
        self.logfile.close()
        return code


@pytest.fixture
def start() -> Iterator:
    """start(model="echo", *args, env=..., wait=True, ready=True) -> a running Server, stopped after the test."""
    servers: list[Server] = []

    def _start(model: str = "echo", *args: str, env: Optional[dict] = None, wait: bool = True,
               interface: str = "Model", grpc_too: bool = True, ready: bool = True) -> Server:
        server = Server(model, args, env, interface)
        servers.append(server)
        if wait:
            server.wait_up(grpc_too=grpc_too, ready=ready)
        return server

    yield _start
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def echo() -> Iterator[Server]:
    """One shared echo server (1 worker, gRPC on) for the read-only tests of a module."""
    server = Server("echo", ("--grpc-threads", "4"))
    server.wait_up()
    yield server
    server.stop()


def client_venv(name: str, requirements: list[str], probe: str) -> Path:
    """A virtualenv under VENV_CACHE/<name> holding `requirements` (created once, then reused).
    Third-party clients live there, not in .venv: their protobuf/grpcio pins conflict with ours."""
    venv = VENV_CACHE / name
    python = venv / "bin" / "python"
    ok = lambda: python.exists() and subprocess.run([str(python), "-c", probe],  # noqa: E731
                                                    capture_output=True).returncode == 0
    if not ok():
        VENV_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        r = subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"pip install {requirements} into {venv} failed:\n{r.stdout}\n{r.stderr}")
        assert ok(), f"{venv}: `{probe}` still fails after installing {requirements}"
    return python


def run_client(python: Path, script: str, *args: str, timeout: float = 120) -> str:
    """Run tests/runtime/grpc/clients/<script> with `python`; return its stdout (fail on exit != 0)."""
    r = subprocess.run([str(python), str(HERE / "clients" / script), *args], capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{script} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout
