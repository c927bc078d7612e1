"""One cached virtualenv per peer, under ~/.cache/modelpack-bench/venvs, keyed by package pins and
Python version. A venv is used only if its `.complete` marker exists, so an interrupted install is
redone instead of half-used."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("MODELPACK_BENCH_CACHE", Path.home() / ".cache" / "modelpack-bench"))


@dataclass(frozen=True)
class Venv:
    """A peer's environment: `package` is the distribution whose version the results report."""

    key: str
    python: str
    requirements: tuple[str, ...]
    package: str
    note: str = ""

    @property
    def path(self) -> Path:
        return CACHE / "venvs" / self.key

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)


def _python_version(python: str) -> str:
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def find_python(minor: str) -> str | None:
    """A CPython `minor` ("3.12") interpreter: on PATH, or under pyenv."""
    candidates = [shutil.which(f"python{minor}")]
    candidates += sorted(glob.glob(str(Path.home() / f".pyenv/versions/{minor}.*/bin/python3")), reverse=True)
    for python in filter(None, candidates):
        try:
            if _python_version(python) == minor:
                return python
        except (OSError, subprocess.CalledProcessError):
            continue
    return None


def seldon_core() -> Venv:
    # seldon-core 1.19.0 declares Requires-Python >=3.12; on 3.11 pip only offers 1.18.2
    py312 = find_python("3.12")
    if py312:
        return Venv("seldon-core-1.19.0-py3.12", py312, ("seldon-core==1.19.0",), "seldon-core")
    return Venv(f"seldon-core-1.18.2-py{_python_version(sys.executable)}", sys.executable,
                ("seldon-core==1.18.2",), "seldon-core",
                note="no Python 3.12 found: seldon-core 1.19.0 needs it, so 1.18.2 ran instead")


def _here(key: str, requirements: tuple[str, ...], package: str) -> Venv:
    return Venv(f"{key}-py{_python_version(sys.executable)}", sys.executable, requirements, package)


def mlserver() -> Venv:
    # with uvloop 0.23 (pip's pick) MLServer 1.7.1's inference worker dies: "There is no current event loop"
    return _here("mlserver-1.7.1", ("mlserver==1.7.1", "uvloop==0.21.0"), "mlserver")


def kserve() -> Venv:
    return _here("kserve-0.21.0", ("kserve==0.21.0",), "kserve")


def ensure(venv: Venv, log) -> Venv:
    """Create and fill `venv` unless a complete one is cached."""
    marker = venv.path / ".complete"
    if marker.exists():
        return venv
    log(f"installing {' '.join(venv.requirements)} into {venv.path} (once; cached afterwards)")
    shutil.rmtree(venv.path, ignore_errors=True)
    venv.path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([venv.python, "-m", "venv", str(venv.path)], check=True)
    result = subprocess.run([venv.bin("pip"), "install", "--disable-pip-version-check", "-q",
                             *venv.requirements], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        raise RuntimeError(f"pip install {' '.join(venv.requirements)} failed in {venv.path}:\n{tail}")
    marker.touch()
    return venv


def installed_version(python: str, package: str) -> str:
    code = f"import importlib.metadata as m, sys; print(m.version({package!r}), '%d.%d.%d' % sys.version_info[:3])"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return "unknown"
    version, python_version = out.stdout.split()
    return f"{package} {version} (Python {python_version})"
