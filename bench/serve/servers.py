"""The servers under test: how to start each one, where it says it is ready, which cases it serves.

Every server runs at its default settings except ports (free loopback ports, so nothing collides)
and, for modelpack and the raw baseline, the worker count the run asks for. gRPC cases run on the
servers' own gRPC ports: modelpack's (Seldon and V2 services), seldon-core's (Seldon), MLServer's and
KServe's (V2), and the raw gRPC baseline's. With 2 workers modelpack still serves gRPC from one
worker (its default GRPC_WORKERS=1), so the -w2 variants run the REST cases only.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import venvs
from .cases import ALL_CASES, MODEL_NAME, REST_CASES, Case, parse_case

MODELS = Path(__file__).resolve().parent / "models"
__all__ = ["MODELS", "MODEL_NAME", "SPECS", "Ports", "ServerSpec", "bench_bindir"]


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int


@dataclass(frozen=True)
class ServerSpec:
    """`argv(ports)` starts the server; `env` is added to a clean environment; the server is ready
    when GET `ready_path` answers 200."""

    name: str
    kind: str                          # "modelpack" | "raw" | "peer"
    workers: int
    venv: Callable[[], venvs.Venv] | None
    argv: Callable[[str, Ports], list[str]]   # (bin dir, ports) -> argv
    cwd: Path
    ready_path: str
    cases: tuple[Case, ...]
    env: Callable[[Ports], dict[str, str]] = field(default=lambda ports: {})
    package: str = "modelpack"


def _cases(*names: str) -> tuple[Case, ...]:
    return tuple(parse_case(n) for n in names)


_V2_GRPC = ("grpc-v2/small", "grpc-v2/large", "grpc-v2-raw/small", "grpc-v2-raw/large")


def _modelpack(workers: int) -> ServerSpec:
    return ServerSpec(
        name="modelpack" if workers == 1 else f"modelpack-w{workers}", kind="modelpack", workers=workers,
        venv=None,
        argv=lambda bindir, p: [f"{bindir}/modelpack-microservice", "Model", "--http-port", str(p.http),
                                "--grpc-port", str(p.grpc), "--metrics-port", str(p.metrics),
                                "--workers", str(workers), "--host", "127.0.0.1",
                                "--model-name", MODEL_NAME],
        cwd=MODELS / "seldon", ready_path=f"/v2/models/{MODEL_NAME}/ready",
        cases=ALL_CASES if workers == 1 else REST_CASES)


def _raw(workers: int) -> ServerSpec:
    return ServerSpec(
        name="raw" if workers == 1 else f"raw-w{workers}", kind="raw", workers=workers, venv=None,
        argv=lambda bindir, p: [f"{bindir}/python", "-m", "uvicorn", "raw_app:app", "--host", "127.0.0.1",
                                "--port", str(p.http), "--http", "httptools", "--loop", "uvloop",
                                "--no-access-log", "--log-level", "warning", "--workers", str(workers)],
        # the gRPC baseline runs in the (single) worker, beside the ASGI app: see raw_app.py
        env=lambda p: {"RAW_GRPC_PORT": str(p.grpc)} if workers == 1 else {},
        cwd=MODELS / "raw", ready_path="/ready", cases=ALL_CASES if workers == 1 else REST_CASES,
        package="uvicorn")


SPECS: dict[str, ServerSpec] = {s.name: s for s in [
    _raw(1),
    _raw(2),
    _modelpack(1),
    _modelpack(2),
    ServerSpec(
        name="seldon-core", kind="peer", workers=1, venv=venvs.seldon_core,
        argv=lambda bindir, p: [f"{bindir}/seldon-core-microservice", "Model", "--http-port", str(p.http),
                                "--grpc-port", str(p.grpc), "--metrics-port", str(p.metrics)],
        cwd=MODELS / "seldon", ready_path="/health/ping",
        cases=_cases("seldon/small", "seldon/large", "grpc-seldon/small", "grpc-seldon/large"),
        package="seldon-core"),
    ServerSpec(
        name="mlserver", kind="peer", workers=1, venv=venvs.mlserver,
        argv=lambda bindir, p: [f"{bindir}/mlserver", "start", str(MODELS / "mlserver")],
        env=lambda p: {"MLSERVER_HTTP_PORT": str(p.http), "MLSERVER_GRPC_PORT": str(p.grpc),
                       "MLSERVER_METRICS_PORT": str(p.metrics), "MLSERVER_HOST": "127.0.0.1"},
        cwd=MODELS / "mlserver", ready_path=f"/v2/models/{MODEL_NAME}/ready",
        cases=_cases("v2/small", "v2/large", *_V2_GRPC), package="mlserver"),
    ServerSpec(
        name="kserve", kind="peer", workers=1, venv=venvs.kserve,
        argv=lambda bindir, p: [f"{bindir}/python", "model.py", "--http_port", str(p.http),
                                "--grpc_port", str(p.grpc)],
        cwd=MODELS / "kserve", ready_path=f"/v2/models/{MODEL_NAME}/ready",
        cases=_cases("v1/small", "v2/small", "v2-binary/small", "v1/large", "v2/large", "v2-binary/large",
                     *_V2_GRPC),
        package="kserve"),
]}


def bench_bindir() -> str:
    """modelpack and the raw baseline run from the bench's own venv (the one running this code)."""
    return str(Path(sys.executable).parent)
