"""Helpers for data-plane unit tests: a DataPlane over one of tests/runtime/fixtures/<folder>,
constructed and loaded in this process. Each fixture folder's module has its own name; the
helper still removes what it imported so tests stay independent."""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

import pytest

from modelpack_runtime.dataplane import DataPlane
from modelpack_runtime.settings import Settings

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures")


class RecordingSink:
    """A MetricsSink that remembers what the data plane handed it."""

    def __init__(self) -> None:
        self.custom: list[tuple[list, str]] = []
        self.rewards: list[float] = []

    def record_custom(self, metrics: list, method: str) -> None:
        self.custom.append((list(metrics), method))

    def record_feedback(self, reward: float) -> None:
        self.rewards.append(reward)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def make_dp() -> Any:
    path_before = list(sys.path)
    modules_before = set(sys.modules)

    def make(folder: str, interface_name: str, *, load: bool = True, metrics: Any = None, **kw: Any) -> DataPlane:
        settings = Settings(interface_name, workdir=os.path.join(FIXTURES, folder), **kw)
        dp = DataPlane(settings, metrics)
        dp.construct()
        if load:
            dp.load()
        return dp

    yield make
    sys.path[:] = path_before
    for name in set(sys.modules) - modules_before:
        if not name.startswith(("modelpack_runtime", "numpy", "yaml", "_")):
            del sys.modules[name]


@pytest.fixture
def model_dir(tmp_path: Any) -> Callable[[str, str], str]:
    """Write a one-file model module into a fresh folder; returns the folder."""
    counter = [0]

    def write(module: str, source: str) -> str:
        counter[0] += 1
        d = tmp_path / f"m{counter[0]}"
        d.mkdir()
        (d / f"{module}.py").write_text(source)
        return str(d)

    return write
