"""Real third-party clients, each in its own virtualenv (they pin protobuf/numpy/gevent versions that
conflict with ours). Venvs are cached under ~/.cache/modelpack-compat/<package>-<version> (override with
MODELPACK_COMPAT_CACHE); a venv counts only once its `.ok` marker exists, so a failed install is redone."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from ..http.conftest import Server

CACHE = Path(os.environ.get("MODELPACK_COMPAT_CACHE", Path.home() / ".cache" / "modelpack-compat"))
SCRIPTS = Path(__file__).parent / "scripts"


def client_venv(name: str, requirement: str) -> Path:
    """The python of a cached virtualenv holding `requirement`, created on first use."""
    venv = CACHE / name
    python = venv / "bin" / "python"
    if (venv / ".ok").exists() and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pip install {requirement} into {venv} failed:\n{r.stdout}\n{r.stderr}")
    (venv / ".ok").write_text(requirement + "\n")
    return python


def run_client(python: Path, script: str, *args: Any) -> Any:
    """Run scripts/<script> with the client venv's python; it prints one JSON document."""
    r = subprocess.run([str(python), str(SCRIPTS / script), *map(str, args)], capture_output=True, text=True,
                       timeout=120, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, f"{script} failed:\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def seldon_python() -> Path:
    return client_venv("seldon-core-1.18.2", "seldon-core==1.18.2")


@pytest.fixture(scope="session")
def triton_python() -> Path:
    return client_venv("tritonclient-http-2.73.0", "tritonclient[http]==2.73.0")


@pytest.fixture(scope="module")
def compat_server() -> Iterator[Server]:
    server = Server("compat", ("--workers", "1"), interface="Model", models_dir=Path(__file__).parent / "models")
    server.wait_up()
    yield server
    server.stop()


@pytest.fixture
def client() -> Callable[..., Any]:
    return run_client
