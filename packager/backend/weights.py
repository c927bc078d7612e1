"""The weights helper image (packager.weights): built once per content through the Engine API, so
that the main build context never carries the model files.

``ensure(weights, progress)`` returns ``modelpack-weights:<digest>``: when that tag exists it is
used as it is (nothing is read or sent); otherwise a context of just the files (plus a two-line
Dockerfile: ``FROM scratch``, ``COPY model/ /mnt/models/``) is streamed to the daemon once.
Both backends then ``COPY --from=`` it; BuildKit on the docker daemon resolves local images.

Clean-up: a helper image is never the parent of a model image (``COPY --from`` copies files),
so removing one only means its files are sent again the next time they are needed. After a new
helper image of a folder is built, the older ones of the same folder are removed (label
``io.modelpack.weights-source``); ``docker image rm $(docker image ls -q modelpack-weights)``
removes them all.
"""
from __future__ import annotations

import io
import tarfile
import tempfile
import time
from typing import IO, TYPE_CHECKING

import docker.errors

from packager.backend.buildlog import BuildLog
from packager.backend.client import connect, mapped_errors
from packager.backend.context import FIXED_MTIME
from packager.backend.progress import Progress
from packager.errors import BuildFailed
from packager.weights import CTX_MODEL, IMAGE_REPOSITORY, LABEL, MOUNT, SOURCE_LABEL

if TYPE_CHECKING:
    from packager.weights import Weights

DOCKERFILE = f"FROM scratch\nCOPY {CTX_MODEL}/ {MOUNT}/\n"


def write_tar(weights: Weights, fh: IO[bytes]) -> int:
    """The helper image's context into `fh`: the Dockerfile and model/ (fixed mtime, owner 0:0,
    modes as in the image). Returns its size and leaves `fh` rewound."""

    def info(name: str, mode: int, size: int = 0, is_dir: bool = False) -> tarfile.TarInfo:
        item = tarfile.TarInfo(name)
        item.mtime, item.uid, item.gid, item.uname, item.gname = FIXED_MTIME, 0, 0, "", ""
        item.mode, item.size = mode, size
        item.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
        return item

    with tarfile.open(fileobj=fh, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        data = DOCKERFILE.encode()
        tar.addfile(info("Dockerfile", 0o644, len(data)), io.BytesIO(data))
        tar.addfile(info(CTX_MODEL, 0o775, is_dir=True))
        for rel in weights.dirs:
            tar.addfile(info(f"{CTX_MODEL}/{rel}", 0o775, is_dir=True))
        for f in weights.files:
            with open(f.path, "rb") as src:
                tar.addfile(info(f"{CTX_MODEL}/{f.rel}", f.mode, f.size), src)
    size = fh.tell()
    fh.seek(0)
    return size


def exists(api, image: str) -> bool:
    try:
        api.inspect_image(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure(weights: Weights, progress: Progress | None = None) -> str:
    """The helper image's tag, after building it if it is missing."""
    progress = progress or Progress("auto")
    image = weights.image
    api = connect()
    try:
        with mapped_errors("weights image"):
            if exists(api, image):
                progress.line(f"weights: {image[:37]}... exists ({len(weights.files)} files, "
                              f"{weights.size / 1e6:.1f} MB): not sent")
                return image
            started = time.monotonic()
            with tempfile.TemporaryFile(prefix="modelpack-weights-") as fh:
                size = write_tar(weights, fh)
                progress.line(f"weights: building {image[:37]}... from {weights.origin} "
                              f"({len(weights.files)} files, sending {size / 1e6:.1f} MB once)")
                log = BuildLog(redact=progress.redact)
                labels = {LABEL: f"sha256:{weights.digest}", SOURCE_LABEL: weights.source_key}
                stream = api.build(fileobj=fh, custom_context=True, tag=image, labels=labels, rm=True,
                                   forcerm=True, decode=True)
                for chunk in stream:
                    if isinstance(chunk, dict):
                        for line in log.feed(chunk):
                            progress.line(line)
                if not log.image_id:
                    raise BuildFailed(f"the weights image for {weights.origin} was not built",
                                      hint="see the build output above and the daemon's log")
            progress.line(f"weights: built {image[:37]}... in {time.monotonic() - started:.1f}s")
            _remove_superseded(api, weights, progress)
            return image
    finally:
        api.close()


def _remove_superseded(api, weights: Weights, progress: Progress) -> None:
    """Remove the older helper images of the same folder (their files changed since)."""
    for item in api.images(name=IMAGE_REPOSITORY, filters={"label": f"{SOURCE_LABEL}={weights.source_key}"}):
        for tag in item.get("RepoTags") or []:
            if tag != weights.image:
                try:
                    api.remove_image(tag, noprune=False)
                    progress.line(f"weights: removed the superseded {tag[:37]}...")
                except docker.errors.APIError:
                    pass  # in use or gone: harmless, it is only a cache
