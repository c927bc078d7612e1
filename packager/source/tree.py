"""List the files of a source folder that go into the context, with their sizes and a digest."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..constants import CONTEXT_MAX_BYTES, CONTEXT_WARN_BYTES
from ..errors import SourceError
from .ignore import IgnoreRules


@dataclass(frozen=True)
class SourceFile:
    rel: str  # POSIX path relative to the source root
    size: int
    mode: int  # permission bits (keeps `before-run` executable)


def walk_source(root: Path, rules: IgnoreRules) -> tuple[SourceFile, ...]:
    """Every included regular file under `root`, sorted by path. Symlinks to files are followed;
    symlinks to directories are not (they could leave the source folder)."""
    files: list[SourceFile] = []
    always = IgnoreRules([])
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        keep_dirs = []
        for name in sorted(dirnames):
            rel = prefix + name
            if always.excluded(rel, True):
                continue
            if rules.excluded(rel, True) and not rules.may_reinclude_under(rel):
                continue
            if not os.path.islink(os.path.join(dirpath, name)):
                keep_dirs.append(name)
        dirnames[:] = keep_dirs
        for name in sorted(filenames):
            rel = prefix + name
            full = os.path.join(dirpath, name)
            if rules.excluded(rel, False) or not os.path.isfile(full):
                continue
            st = os.stat(full)
            files.append(SourceFile(rel, st.st_size, st.st_mode & 0o777))
    files.sort(key=lambda f: f.rel)
    return tuple(files)


def source_digest(root: Path, files: tuple[SourceFile, ...]) -> str:
    """sha256 over (path, content hash, executable bit) of every included file: the image label
    io.modelpack.source-digest identifies exactly what was built."""
    outer = hashlib.sha256()
    for f in files:
        inner = hashlib.sha256()
        with open(root / f.rel, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                inner.update(chunk)
        executable = "x" if f.mode & 0o111 else "-"
        outer.update(f"{f.rel}\0{inner.hexdigest()}\0{executable}\n".encode())
    return "sha256:" + outer.hexdigest()


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def check_size(
    files: tuple[SourceFile, ...],
    extra_bytes: int = 0,
    limit: int = CONTEXT_MAX_BYTES,
    warn_at: int = CONTEXT_WARN_BYTES,
) -> str | None:
    """Refuse a context above `limit` (listing the biggest files); return a warning above `warn_at`."""
    total = sum(f.size for f in files) + extra_bytes
    biggest = sorted(files, key=lambda f: f.size, reverse=True)[:5]
    listed = ", ".join(f"{f.rel} ({human(f.size)})" for f in biggest)
    if total > limit:
        raise SourceError(
            f"build context is {human(total)}, above the {human(limit)} limit; biggest: {listed}",
            "list large files (data, checkpoints) in .dockerignore and load them at run "
            "time (model_uri) instead",
        )
    if total > warn_at:
        return (
            f"build context is {human(total)} (biggest: {listed}); consider excluding large files "
            "with .dockerignore"
        )
    return None
