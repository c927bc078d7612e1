"""The lock's input digest: what the lock was computed from (every dependency manifest, local
wheel, the image's Python and platform). It is written as `# modelpack-lock` comment lines at the
top of requirements.lock, which pip ignores, so staleness is a comparison and names the changed file."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..source.deps import Dependencies

_MARK = "# modelpack-lock"
_INPUT = re.compile(rf"^{_MARK} input (?P<name>\S+) sha256:(?P<digest>[0-9a-f]{{64}})$")
_TARGET = re.compile(rf"^{_MARK} target python (?P<python>\S+) platform (?P<platform>\S+)$")
_BASE = re.compile(rf"^{_MARK} base-image (?P<image>\S+)$")
_TOTAL = re.compile(rf"^{_MARK} digest sha256:(?P<digest>[0-9a-f]{{64}})$")


@dataclass(frozen=True)
class LockInputs:
    """The digest of each input file (relative name -> sha256 hex) and the target. The base image
    is recorded for `modelpack build` (which Python a custom base image has) but is not an input:
    markers and wheels depend on the Python and the platform, not on the image's name."""

    files: tuple[tuple[str, str], ...]
    python: str
    platform: str
    base_image: str | None = None

    @property
    def digest(self) -> str:
        h = hashlib.sha256(f"python {self.python}\nplatform {self.platform}\n".encode())
        for name, digest in self.files:
            h.update(f"{name} {digest}\n".encode())
        return h.hexdigest()

    def header(self) -> str:
        lines = [
            f"{_MARK} digest sha256:{self.digest}",
            f"{_MARK} target python {self.python} platform {self.platform}",
        ]
        if self.base_image:
            lines.append(f"{_MARK} base-image {self.base_image}")
        lines += [f"{_MARK} input {name} sha256:{digest}" for name, digest in self.files]
        return "\n".join(lines) + "\n"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_inputs(root: Path, deps: Dependencies, python: str, platform: str,
                base_image: str | None = None) -> LockInputs:
    """The inputs of a lock for `deps` (as detected in `root`) on the target python/platform."""
    names: list[str] = []
    for rel in deps.local_paths:  # requirements.txt and the files it references
        path = root / rel
        if path.is_file():
            names.append(rel)
        elif path.is_dir():
            names += sorted(p.relative_to(root).as_posix() for p in path.rglob("*") if p.is_file())
    if deps.project is not None:
        names += list(deps.project.manifests)
    files = [(n, _sha256(root / n)) for n in sorted(set(names))]
    files += [(f"wheel:{w.name}", _sha256(w.path)) for w in deps.wheels]
    return LockInputs(tuple(files), python, platform, base_image)


def read_header(text: str) -> LockInputs | None:
    """The inputs recorded in a lock file's header, or None when it has no modelpack header."""
    files: list[tuple[str, str]] = []
    target: tuple[str, str] | None = None
    base: str | None = None
    for line in text.splitlines():
        if not line.startswith(_MARK):
            continue
        if m := _INPUT.match(line):
            files.append((m["name"], m["digest"]))
        elif m := _TARGET.match(line):
            target = (m["python"], m["platform"])
        elif m := _BASE.match(line):
            base = m["image"]
    if target is None:
        return None
    return LockInputs(tuple(files), *target, base)


def changed_input(old: LockInputs, new: LockInputs) -> str:
    """Name what differs between a recorded and a current input set (for a one-line message)."""
    if old.python != new.python:
        if old.base_image and new.base_image and old.base_image != new.base_image:
            return (f"the base image ({old.base_image} with Python {old.python} -> {new.base_image} with "
                    f"Python {new.python})")
        return f"the image's Python ({old.python} -> {new.python})"
    if old.platform != new.platform:
        return f"the platform ({old.platform} -> {new.platform})"
    before, after = dict(old.files), dict(new.files)
    for name in sorted(set(before) | set(after)):
        if name not in after:
            return f"{name} (removed)"
        if name not in before:
            return f"{name} (added)"
        if before[name] != after[name]:
            return f"{name} (changed)"
    return "nothing"
