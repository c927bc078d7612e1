"""The data-plane modules import nothing from the packager side (packager, typer, docker, jinja2),
checked in a fresh interpreter."""
from __future__ import annotations

import json
import subprocess
import sys

MODULES = ["errors", "usermodel", "seldon_codec", "v2_codec", "v1", "dataplane"]
FORBIDDEN = ["packager", "typer", "docker", "jinja2"]


def test_dataplane_modules_import_without_packager_deps() -> None:
    code = (
        "import sys, json\n"
        + "".join(f"import modelpack_runtime.{m}\n" for m in MODULES)
        + f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []
