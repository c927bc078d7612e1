"""KServeHost in-process through the real DataPlane: a KServe script run as __main__ with
ModelServer.start intercepted; sync and async handlers; KServe flags mapped to the runtime's."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelpack_runtime.dataplane import DataPlane
from modelpack_runtime.layouts.kserve import _launch_args
from modelpack_runtime.settings import Settings

ASYNC_MODEL = """
import argparse
import kserve
from kserve import model_server

class Doubler(kserve.Model):
    def __init__(self, name):
        super().__init__(name)
        self.factor = None

    def load(self):
        self.factor = 2
        self.ready = True

    async def preprocess(self, payload, headers=None):
        return {"instances": [[v * self.factor for v in row] for row in payload["instances"]]}

    async def predict(self, payload, headers=None):
        return {"predictions": [sum(row) for row in payload["instances"]]}

if __name__ == "__main__":
    args, _ = argparse.ArgumentParser(parents=[model_server.parser]).parse_known_args()
    kserve.ModelServer(workers=args.workers).start([Doubler("doubler")])
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path: Path) -> Iterator[None]:
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    monkeypatch.chdir(tmp_path)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        if name == "kserve" or name.startswith("kserve."):
            del sys.modules[name]


def _dp(tmp_path: Path, source: str, monkeypatch) -> DataPlane:
    (tmp_path / "serve.py").write_text(source)
    monkeypatch.setenv("MODELPACK_KSERVE_MODULE", "serve")
    dp = DataPlane(Settings(interface_name="modelpack_runtime.layouts.kserve.KServeHost", model_name="doubler"))
    dp.construct()
    dp.load()
    return dp


def test_async_handlers_and_v1_answer(tmp_path: Path, monkeypatch) -> None:
    dp = _dp(tmp_path, ASYNC_MODEL, monkeypatch)
    assert dp.ready, dp.failure
    assert dp.model.obj.kserve_model.factor == 2  # load() ran (the script did not call it)
    assert dp.v1_predict("doubler", {"instances": [[1, 2], [3, 4]]}) == {"predictions": [6, 14]}


def test_script_that_never_starts_a_server_is_a_clear_failure(tmp_path: Path, monkeypatch) -> None:
    dp = _dp(tmp_path, "import kserve\nclass M(kserve.Model):\n    pass\n", monkeypatch)
    assert not dp.ready
    assert "serve.py did not call kserve.ModelServer().start([model]) when run as __main__" in dp.failure


def test_kserve_flags_and_port(monkeypatch) -> None:
    base = ["modelpack-microservice", "modelpack_runtime.layouts.kserve.KServeHost"]
    assert _launch_args([], {"PORT": "7070"}) == [*base, "--http-port", "7070", "--grpc-port", "8081",
                                                  "--workers", "1", "--max-body-size", "104857600"]
    got = _launch_args(["--http_port", "8085", "--workers", "2", "--max_buffer_size", "1000",
                        "--max_asyncio_workers", "4", "--enable_grpc", "false"], {"PORT": "7070"})
    assert got == [*base, "--http-port", "8085", "--grpc-port", "8081", "--workers", "2",
                   "--max-body-size", "1000", "--threads", "4", "--grpc-workers", "0"]

