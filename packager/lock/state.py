"""Is the lock in a source folder current? Used by `modelpack build` to install from it, and by
`--locked` to refuse a stale or missing lock."""

from __future__ import annotations

import platform as host
import sys
from dataclasses import dataclass
from pathlib import Path

from ..source.deps import Dependencies
from . import LOCK_FILE
from .digest import LockInputs, changed_input, lock_inputs, read_header

_MACHINES = {
    "x86_64": "linux/amd64", "amd64": "linux/amd64", "aarch64": "linux/arm64", "arm64": "linux/arm64",
}


def host_platform() -> str | None:
    """The Docker platform the running interpreter resolves for (None off Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    return _MACHINES.get(host.machine().lower())


def default_platform(requested: str | None) -> str:
    """The platform a lock targets: --platform, else this machine's, else linux/amd64."""
    return requested or host_platform() or "linux/amd64"


@dataclass(frozen=True)
class LockState:
    status: str  # "current" | "stale" | "missing" | "none" (nothing to lock)
    reason: str = ""  # for stale: what changed
    file: str = LOCK_FILE  # requirements.lock, or conda-lock.yml for environment.yml


def image_python(base_image: str | None, python: str, python_given: bool, recorded: LockInputs | None) -> str:
    """The Python of the image a build is for, as far as it is known without Docker (builds plan
    without a daemon): --python when given; the builder's default for its own python:X.Y-slim;
    for a custom base image, what running it said on this machine (`modelpack lock` probed it),
    else what the lock recorded for that same base image, else the builder's default."""
    if python_given or base_image is None:
        return python
    from .imagecache import cached_for_name

    probed = cached_for_name(base_image)
    if probed is not None:
        return probed.version
    if recorded is not None and recorded.base_image == base_image:
        return recorded.python
    return python


def lock_state(root: Path, deps: Dependencies, python: str, platform: str, *,
               base_image: str | None = None, python_given: bool = True) -> LockState:
    """`base_image` is a custom --base-image (None: the builder's own); `python_given` says whether
    `python` came from --python (else it is the builder's default, which a custom image may not run)."""
    if deps.conda is not None:
        from ..conda.lockfile import CONDA_LOCK_FILE, read_conda_lock
        from ..conda.solve import conda_platform

        status, _ = read_conda_lock(root, deps.conda, conda_platform(platform))
        why = f"{deps.conda.file} or the platform changed since {CONDA_LOCK_FILE} was written"
        return LockState(status, why if status == "stale" else "", CONDA_LOCK_FILE)
    path = root / LOCK_FILE
    if not path.is_file():
        return LockState("none" if not (deps.requirements or deps.project) else "missing")
    recorded = read_header(path.read_text(encoding="utf-8-sig"))
    if recorded is None:
        return LockState("stale", f"{LOCK_FILE} has no modelpack-lock header (not written by modelpack lock)")
    python = image_python(base_image, python, python_given, recorded)
    current = lock_inputs(root, deps, python, platform, base_image=base_image or recorded.base_image)
    if recorded.digest == current.digest:
        return LockState("current")
    return LockState("stale", f"{changed_input(recorded, current)} since {LOCK_FILE} was written")
