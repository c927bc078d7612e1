"""What modelpack learned about a base image's Python by running it (`modelpack lock`), cached by
image id in ~/.cache/modelpack/image-python.json, so each image is run once. The cache also
remembers which id a name had when it was probed: `modelpack build` (which must not need Docker
to plan) uses that to tell a lock made for another Python from a current one. No docker import."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImagePython:
    """The interpreter `python3` runs in an image, and the image's platform."""

    image_id: str  # sha256:...
    version: str  # X.Y, what environment markers call python_version
    full: str  # X.Y.Z, python_full_version
    implementation: str  # cpython, pypy: implementation_name
    machine: str  # platform_machine, e.g. x86_64
    platform: str  # the image's Docker platform, e.g. linux/amd64


def cache_file() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "modelpack" / "image-python.json"


def _read() -> dict:
    try:
        data = json.loads(cache_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"images": {}, "names": {}}
    if not isinstance(data, dict):
        return {"images": {}, "names": {}}
    data.setdefault("images", {})
    data.setdefault("names", {})
    return data


def _entry(data: dict, image_id: str) -> ImagePython | None:
    raw = data["images"].get(image_id)
    try:
        return ImagePython(**raw) if isinstance(raw, dict) else None
    except TypeError:  # written by another modelpack version: probe again
        return None


def cached(image_id: str) -> ImagePython | None:
    return _entry(_read(), image_id)


def cached_for_name(name: str) -> ImagePython | None:
    """The Python of the image `name` had when it was last probed on this machine, if ever."""
    data = _read()
    image_id = data["names"].get(name)
    return _entry(data, image_id) if isinstance(image_id, str) else None


def store(name: str, info: ImagePython) -> None:
    """Remember `info` (and that `name` pointed at it). Written atomically: concurrent runs keep a
    valid file, the last writer's."""
    data = _read()
    data["images"][info.image_id] = asdict(info)
    data["names"][name] = info.image_id
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".image-python-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, path)
