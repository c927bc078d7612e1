"""Import boundaries: reading, planning and rendering need neither docker nor typer; every packager
module imports on its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MINE = [
    "packager.constants",
    "packager.redact",
    "packager.source.envfile",
    "packager.source.ignore",
    "packager.source.tree",
    "packager.source.modelcheck",
    "packager.source.requirements",
    "packager.source.project",
    "packager.source.deps",
    "packager.source.fetch",
    "packager.source.secrets",
    "packager.builders",
    "packager.spec",
    "packager.render",
    "packager.runtime_wheel",
    "packager.pipeline",
]


@pytest.mark.parametrize("module", MINE)
def test_imports_alone_without_docker_or_typer(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = [m for m in ('docker', 'typer', 'click') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cli_imports() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "packager", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0 and "Usage: modelpack" in done.stdout
