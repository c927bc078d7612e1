"""Which Python and platform a lock is for, and where pip-compile runs to honour them.

pip-compile evaluates environment markers (`python_version < "3.12"`, `sys_platform`,
`platform_machine`, `implementation_name`) against the interpreter that runs it, and has no
cross-target mode (`--pip-args "--python-version ..."` changes which wheels are fetched, not the
markers). So a lock is resolved by an interpreter of the image's Python on the image's platform:

- the default base image `python:X.Y-slim` runs CPython X.Y (its tag says so);
- a custom `--base-image` is asked: `python3` runs in it once per image id (cached in
  ~/.cache/modelpack/image-python.json), which needs Docker;
- when the host's interpreter matches (X.Y, implementation, platform), pip-compile runs here, as
  it always did (no Docker needed for the default base image); otherwise it runs in a container
  of the base image (packager.lock.incontainer).

The full version (python_full_version) is not compared: markers on it are rare, and requiring
the same patch release would send nearly every lock into a container.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from ..errors import DockerUnavailable, UsageError
from .imagecache import ImagePython
from .state import host_platform


@dataclass(frozen=True)
class LockTarget:
    python: str  # X.Y of the image
    platform: str  # linux/amd64
    base_image: str
    image: ImagePython | None  # what running the image said (a custom base image), else None
    on_host: bool  # the host's interpreter matches: pip-compile runs here

    def describe(self) -> str:
        here = f"Python {host_python()}{'' if host_platform() == self.platform else f' on {host_platform()}'}"
        full = self.image.full if self.image else self.python
        if self.on_host:
            return (f"{self.base_image} runs Python {full} on {self.platform}; pip-compile runs on "
                    f"this machine ({here}, the same Python)")
        return (f"{self.base_image} runs Python {full} on {self.platform}; this machine has {here}, "
                "so pip-compile runs in a container of the base image")


def host_python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def resolve_target(base_image: str, custom_base: bool, python: str, python_given: bool, platform: str) -> LockTarget:
    """`python` is the builder's default (or --python); for a custom base image the image decides."""
    host_matches = sys.implementation.name == "cpython" and platform == host_platform()
    if not custom_base:  # python:X.Y-slim: CPython X.Y
        return LockTarget(python, platform, base_image, None, host_matches and python == host_python())
    from ..backend.locktool import image_python  # needs docker: only for a custom base image

    try:
        info = image_python(base_image, platform)
    except DockerUnavailable as exc:
        raise DockerUnavailable(f"--base-image {base_image}: modelpack lock runs the image's python3 to learn "
                                f"its Python: {exc.message}", exc.hint) from None
    if python_given and python != info.version:
        raise UsageError(f"--python {python}: the base image {base_image} runs Python {info.full}",
                         "drop --python (a lock follows the base image's Python) or pass a base image "
                         f"with Python {python}")
    on_host = (host_matches and info.version == host_python()
               and info.implementation == sys.implementation.name)
    return LockTarget(info.version, platform, base_image, info, on_host)
