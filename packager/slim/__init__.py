"""Slimming the image's virtualenv in the deps stage (issue 5: modelpack's overhead under 40 MB).

`elfstrip.py` and `slimvenv.py` are copied into the build context (``modelpack/slim/``) and run by
the image's own python; they use the standard library only (no binutils in slim base images).
"""

from __future__ import annotations

from pathlib import Path

CTX_SLIM = "modelpack/slim"  # build-context folder of the two scripts
FILES = ("elfstrip.py", "slimvenv.py")
KEEP_PIP_KEY = "MODELPACK_KEEP_PIP"  # .s2i/environment / -e: keep pip, setuptools and wheel in the image


def copy_scripts(dest: Path) -> None:
    """Write the scripts into `dest` (a folder of the build context)."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copyfile(Path(__file__).with_name(name), dest / name)
        (dest / name).chmod(0o664)
