"""Build a deterministic, pure-Python wheel of `modelpack_runtime` from the files of the installed
package. The image installs the runtime from this wheel, never from an index, so the image always
runs the CLI's own runtime; and because the same version gives the same bytes (fixed timestamps and
modes, sorted entries), Docker's cache keeps the runtime layer across models and rebuilds."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from .constants import RUNTIME_DEPENDENCIES, RUNTIME_DIST, RUNTIME_ENTRY_POINTS, RUNTIME_PACKAGE

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


def runtime_version() -> str:
    from modelpack_runtime import __version__

    return __version__


def wheel_name(version: str | None = None) -> str:
    return f"{RUNTIME_PACKAGE}-{version or runtime_version()}-py3-none-any.whl"


def package_files(package_dir: Path | None = None) -> list[tuple[str, bytes]]:
    """(archive path, content) for every file of the runtime package, sorted."""
    if package_dir is None:
        spec = importlib.util.find_spec(RUNTIME_PACKAGE)
        assert spec is not None and spec.origin is not None, "modelpack_runtime is not importable"
        package_dir = Path(spec.origin).parent
    out: list[tuple[str, bytes]] = []
    for path in sorted(package_dir.rglob("*")):
        rel = path.relative_to(package_dir)
        if not path.is_file() or _SKIP_DIRS & set(rel.parts) or path.suffix in _SKIP_SUFFIXES:
            continue
        out.append((f"{RUNTIME_PACKAGE}/{rel.as_posix()}", path.read_bytes()))
    return out


def _metadata(version: str) -> bytes:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {RUNTIME_DIST}",
        f"Version: {version}",
        "Summary: modelpack's model microservice (Seldon REST, KServe V1, Open Inference V2, gRPC)",
        "License: Apache-2.0",
        "Requires-Python: >=3.9",
    ]
    lines += [f"Requires-Dist: {dep}" for dep in RUNTIME_DEPENDENCIES]
    return ("\n".join(lines) + "\n").encode()


def _entry_points() -> bytes:
    lines = ["[console_scripts]"] + [
        f"{name} = {target}" for name, target in sorted(RUNTIME_ENTRY_POINTS.items())
    ]
    return ("\n".join(lines) + "\n").encode()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_entries(version: str, files: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """All archive entries in order, RECORD last."""
    info = f"{RUNTIME_PACKAGE}-{version}.dist-info"
    wheel = (
        b"Wheel-Version: 1.0\nGenerator: modelpack.runtime_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries = list(files) + [
        (f"{info}/METADATA", _metadata(version)),
        (f"{info}/WHEEL", wheel),
        (f"{info}/entry_points.txt", _entry_points()),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in entries)
    record += f"{info}/RECORD,,\n"
    return entries + [(f"{info}/RECORD", record.encode())]


def build_runtime_wheel(outdir: Path, package_dir: Path | None = None, version: str | None = None) -> Path:
    """Write the wheel into `outdir` and return its path. Same inputs -> same bytes."""
    version = version or runtime_version()
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / wheel_name(version)
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in wheel_entries(version, package_files(package_dir)):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, whatever the host
            info.external_attr = (0o100644 & 0xFFFF) << 16  # regular file, rw-r--r--
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return target


def _package_dir() -> Path:
    spec = importlib.util.find_spec(RUNTIME_PACKAGE)
    assert spec is not None and spec.origin is not None, "modelpack_runtime is not importable"
    return Path(spec.origin).parent


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelpack" / "runtime-wheel"


def runtime_wheel_into(outdir: Path) -> Path:
    """The runtime wheel in `outdir` (mode 0664). Compressing it is a noticeable part of a rebuild
    after a Model.py edit, so the wheel is kept in ~/.cache/modelpack/runtime-wheel under a key of
    the package files' paths, sizes and mtimes (and the version) and built only when that changes.
    The bytes are the same either way (the wheel is deterministic)."""
    package_dir = _package_dir()
    version = runtime_version()
    key = hashlib.sha256(version.encode())
    for path in sorted(package_dir.rglob("*")):
        rel = path.relative_to(package_dir)
        if _SKIP_DIRS & set(rel.parts) or path.suffix in _SKIP_SUFFIXES or not path.is_file():
            continue
        st = path.stat()
        key.update(f"{rel.as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    cached = _cache_root() / key.hexdigest()[:32] / wheel_name(version)
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / wheel_name(version)
    if not cached.is_file():
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=cached.parent))
            os.replace(build_runtime_wheel(tmp, package_dir, version), cached)
            shutil.rmtree(tmp, ignore_errors=True)
            _prune_cache(cached.parent)
        except OSError:  # no writable cache: build straight into the context
            build_runtime_wheel(outdir, package_dir, version)
            os.chmod(target, 0o664)
            return target
    shutil.copyfile(cached, target)
    os.chmod(target, 0o664)
    return target


def _prune_cache(keep: Path, limit: int = 4) -> None:
    """Keep the newest `limit` cached wheels (an editable install changes the key with every edit)."""
    entries = sorted((p for p in keep.parent.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[limit:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
