"""Build (and optionally serve) a tiny local conda channel for this example, offline:

* `python 3.11.2 modelpack_0`: the base image's CPython as a conda package. It holds a venv-style
  `pyvenv.cfg` and `bin/python3.11 -> /usr/bin/python3.11`, so the environment's python is the base
  image's interpreter with the environment as its prefix (site-packages inside the env).
  conda-forge's python package is a complete interpreter instead; both work the same here.
* `mp-conda-demo 1.0 0`: a pure-Python package (site-packages/mp_conda_demo).

Usage: python make_channel.py DIR [--serve PORT]   (needs py-rattler for the repodata index)"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

SUBDIR = "linux-64"
MTIME = 1700000000


def make_package(channel: Path, name: str, version: str, build: str, files: dict[str, str],
                 depends: tuple[str, ...] = (), symlinks: dict[str, str] | None = None) -> Path:
    """A conda .tar.bz2 with info/index.json, info/files and info/paths.json."""
    out = channel / SUBDIR
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}-{version}-{build}.tar.bz2"
    index = {"name": name, "version": version, "build": build, "build_number": 0, "depends": list(depends),
             "subdir": SUBDIR, "platform": "linux", "arch": "x86_64", "timestamp": MTIME * 1000, "license": "MIT"}
    links = symlinks or {}
    paths = []
    with tarfile.open(target, "w:bz2") as tar:
        def add(path: str, data: bytes | None = None, link: str | None = None) -> None:
            info = tarfile.TarInfo(path)
            info.mtime = MTIME
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
                tar.addfile(info)
            else:
                info.size, info.mode = len(data or b""), 0o644
                tar.addfile(info, io.BytesIO(data or b""))

        for path, text in sorted(files.items()):
            data = text.encode()
            add(path, data)
            paths.append({"_path": path, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(),
                          "size_in_bytes": len(data)})
        for path, link in sorted(links.items()):
            add(path, link=link)
            paths.append({"_path": path, "path_type": "softlink"})
        add("info/index.json", json.dumps(index, indent=2).encode())
        add("info/files", ("\n".join(sorted([*files, *links])) + "\n").encode())
        add("info/paths.json", json.dumps({"paths": paths, "paths_version": 1}, indent=2).encode())
    return target


def make_channel(channel: Path, demo_version: str = "1.0") -> Path:
    make_package(channel, "python", "3.11.2", "modelpack_0",
                 {"pyvenv.cfg": "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
                  "lib/python3.11/site-packages/.keep": ""},
                 symlinks={"bin/python3.11": "/usr/bin/python3.11", "bin/python3": "python3.11",
                           "bin/python": "python3.11"})
    make_package(channel, "mp-conda-demo", demo_version, "0",
                 {"lib/python3.11/site-packages/mp_conda_demo/__init__.py": "ANSWER = 42\n"},
                 depends=("python 3.11.*",))
    index(channel)
    return channel


def index(channel: Path) -> None:
    """(Re)write the channel's repodata.json with py-rattler's indexer."""
    (channel / "noarch").mkdir(exist_ok=True)
    import rattler.index

    asyncio.run(rattler.index.index_fs(channel, write_zst=False, write_shards=False, force=True))


if __name__ == "__main__":
    root = make_channel(Path(sys.argv[1]))
    print(f"channel in {root}")
    if "--serve" in sys.argv:
        import functools
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        port = int(sys.argv[sys.argv.index("--serve") + 1])
        handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
        print(f"serving http://127.0.0.1:{port}/")
        ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
