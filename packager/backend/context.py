"""The build context as a deterministic tar stream.

We tar the rendered context ourselves (rather than letting the SDK walk the folder) so that
the same source gives byte-identical context bytes: entries sorted, mtime fixed, owner
root:root, no user or group names. Docker's layer cache keys COPY steps on file content and
metadata, so a fixed mtime and owner keep a rebuild of unchanged files a cache hit.
"""
from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import IO

FIXED_MTIME = 0  # seconds since the epoch; docker ignores mtime for the cache, tools comparing tars do not
DOCKERFILE_NAME = "Dockerfile"


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.pax_headers = {}
    # permission bits are kept as rendered: the renderer gives group 0 the owner's rights so the
    # image runs under OpenShift's arbitrary UIDs; setuid/sticky bits and file type bits are dropped
    info.mode = stat.S_IMODE(info.mode) & 0o777
    return info


def is_inline_dockerfile(dockerfile: str) -> bool:
    return "\n" in dockerfile or dockerfile.lstrip().upper().startswith(("FROM", "#", "ARG"))


def write_context(directory: Path, dockerfile: str, out: IO[bytes]) -> int:
    """Write ``directory`` as an uncompressed tar into ``out``; returns the number of files.

    ``dockerfile`` is either the Dockerfile's text (it is stored as ``Dockerfile``, replacing
    any file of that name) or the name of a file inside ``directory``.
    """
    directory = Path(directory)
    inline = is_inline_dockerfile(dockerfile)
    count = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        entries: list[Path] = []
        for root, dirs, files in os.walk(directory, followlinks=False):
            dirs.sort()
            base = Path(root)
            for name in dirs + sorted(files):
                entries.append(base / name)
        for path in sorted(entries, key=lambda p: p.relative_to(directory).as_posix()):
            arcname = path.relative_to(directory).as_posix()
            if inline and arcname == DOCKERFILE_NAME:
                continue
            info = _normalise(tar.gettarinfo(str(path), arcname=arcname))
            if info.isreg():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
                count += 1
            else:
                tar.addfile(info)
        if inline:
            data = dockerfile.encode("utf-8")
            info = _normalise(tarfile.TarInfo(DOCKERFILE_NAME))
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
            count += 1
    return count


def dockerfile_name(dockerfile: str) -> str:
    """The Dockerfile's path inside the context tar, for the Engine API's ``dockerfile`` field."""
    return DOCKERFILE_NAME if is_inline_dockerfile(dockerfile) else dockerfile


def context_tempfile(directory: Path, dockerfile: str) -> tuple[IO[bytes], int]:
    """The context tar in a temporary file (rewound), and its file count. Caller closes it."""
    fh = tempfile.TemporaryFile(prefix="modelpack-context-")
    count = write_context(directory, dockerfile, fh)
    fh.seek(0)
    return fh, count
