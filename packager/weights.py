"""Model weights in a layer of their own (issue 5): the model folder, its content digest, and where
the build gets it from.

The folder is `--model-dir DIR`, or `MODELPACK_MODEL_DIR=path` in `.s2i/environment` (a folder
inside the source; `--model-dir` wins). Its files go to /mnt/models in a layer of their own, before
the source, and `MODEL_URI=/mnt/models` points the model class there.

How the layer is built so that editing code never re-sends or re-layers the weights:

- `modelpack build` (both backends): the weights are built once into a small helper image
  (``FROM scratch``, the files under /mnt/models), tagged by a digest of their paths, modes and
  bytes: ``modelpack-weights:<digest>``. It is built only when that tag is missing. The main
  Dockerfile copies from it (``COPY --from=modelpack-weights:<digest> ...``) and its context omits
  the weights, so a code edit sends only the code, and the COPY step is a cache hit.
- `modelpack dockerfile`: the weights are in the written context (``model/``) and the Dockerfile
  copies them from there, so the output stays self-contained for kaniko, buildah or any builder.

Hashing every byte on every build would cost a second per GB, so the digest of each file is
remembered by (path, size, mtime, inode) in ``~/.cache/modelpack/weights-index.json``, as git's
index does: an unchanged file is not read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import SourceError

MODEL_DIR_KEY = "MODELPACK_MODEL_DIR"  # .s2i/environment: the model folder inside the source
CTX_MODEL = "model"  # build-context folder of the weights (modelpack dockerfile only)
MOUNT = "/mnt/models"  # where the image has them; MODEL_URI points here
IMAGE_REPOSITORY = "modelpack-weights"
LABEL = "io.modelpack.weights"  # on the helper image: the content digest
SOURCE_LABEL = "io.modelpack.weights-source"  # on the helper image: a digest of the folder's path
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightsFile:
    rel: str  # posix path inside the folder
    path: Path
    mode: int  # as it will be in the image (group gets the owner's rights)
    size: int
    sha256: str


@dataclass(frozen=True)
class Weights:
    """A checked model folder and its content digest."""

    folder: Path
    origin: str  # "--model-dir DIR" or ".s2i/environment MODELPACK_MODEL_DIR=..." (for messages)
    files: tuple[WeightsFile, ...]
    dirs: tuple[str, ...]  # every sub-folder, posix, sorted
    digest: str  # hex sha256 over paths, modes and contents

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def image(self) -> str:
        return f"{IMAGE_REPOSITORY}:{self.digest}"

    @property
    def source_key(self) -> str:
        """Names the folder (not its content): superseded helper images of it can be found."""
        return hashlib.sha256(str(self.folder).encode()).hexdigest()[:32]


def image_mode(mode: int, is_dir: bool) -> int:
    """The mode in the image: readable by all, group 0 with the owner's rights (OpenShift's arbitrary
    UIDs run in group 0)."""
    mode &= 0o777
    return mode | ((mode & 0o700) >> 3) | (0o755 if is_dir else 0o644)


def check_folder(folder: Path, origin: str) -> Path:
    """An existing, non-empty folder; otherwise a SourceError naming `origin` (exit 3)."""
    path = folder.expanduser()
    if not path.exists():
        raise SourceError(f"{origin}: no such folder", "pass the folder holding the model files")
    if not path.is_dir():
        raise SourceError(f"{origin}: not a folder", "put the model file into a folder and pass the folder")
    if not any(path.iterdir()):
        raise SourceError(f"{origin}: the folder is empty", "save the model files into it")
    return path.resolve()


def _index_file() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelpack" / "weights-index.json"


def _load_index() -> dict[str, list]:
    try:
        data = json.loads(_index_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_index(index: dict[str, list]) -> None:
    path = _index_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(index, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache only: without it, the next build reads the files again


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def scan(folder: Path, origin: str) -> Weights:
    """Walk `folder` (symlinks followed, as the copy does) and digest it."""
    index = _load_index()
    changed = False
    files: list[WeightsFile] = []
    dirs: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames.sort()
        base = Path(dirpath)
        rel_base = base.relative_to(folder).as_posix()
        if rel_base != ".":
            dirs.append(rel_base)
        for name in sorted(filenames):
            path = base / name
            st = path.stat()
            key = str(path)
            stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
            entry = index.get(key)
            if entry and entry[:3] == stamp:
                digest = entry[3]
            else:
                digest = _file_digest(path)
                index[key] = [*stamp, digest]
                changed = True
            rel = name if rel_base == "." else f"{rel_base}/{name}"
            files.append(WeightsFile(rel, path, image_mode(st.st_mode, False), st.st_size, digest))
    if changed:
        _save_index(index)
    files.sort(key=lambda f: f.rel)
    h = hashlib.sha256()
    for d in sorted(dirs):
        h.update(f"D {d}\n".encode())
    for f in files:
        h.update(f"F {f.rel}\0{f.mode:o}\0{f.size}\0{f.sha256}\n".encode())
    return Weights(folder, origin, tuple(files), tuple(sorted(dirs)), h.hexdigest())


def load(model_dir: Path | None, root: Path, env_value: str | None, env_origin: str) -> Weights | None:
    """The model folder of a build: --model-dir (wins) or MODELPACK_MODEL_DIR inside the source."""
    if model_dir is not None:
        origin = f"--model-dir {model_dir}"
        folder = check_folder(model_dir, origin)
        if folder == root.resolve():
            raise SourceError(f"{origin}: is the source folder itself", "move the model files into a sub-folder")
        return scan(folder, origin)
    if not env_value:
        return None
    origin = f"{env_origin}: {MODEL_DIR_KEY}={env_value}"
    rel = Path(env_value)
    if rel.is_absolute() or ".." in rel.parts:
        raise SourceError(f"{origin}: not a folder inside the source", "give a path relative to the source folder")
    folder = check_folder(root / rel, origin)
    if folder == root.resolve():
        raise SourceError(f"{origin}: is the source folder itself", "move the model files into a sub-folder")
    return scan(folder, origin)


def copy_into(weights: Weights, dest: Path) -> None:
    """The weights as files of a build context (`modelpack dockerfile`), modes as in the image."""
    dest.mkdir(parents=True, exist_ok=True)
    os.chmod(dest, 0o775)
    for d in weights.dirs:
        (dest / d).mkdir(parents=True, exist_ok=True)
        os.chmod(dest / d, 0o775)
    for f in weights.files:
        shutil.copyfile(f.path, dest / f.rel)
        os.chmod(dest / f.rel, f.mode)


def inside(weights: Weights | None, root: Path) -> str | None:
    """The folder's path relative to the source root when it lies inside it, else None."""
    if weights is None:
        return None
    try:
        rel = weights.folder.relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    return rel if rel != "." else None
