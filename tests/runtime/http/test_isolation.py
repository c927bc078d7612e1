"""The runtime serves in an interpreter where typer, docker and jinja2 cannot be imported."""
from __future__ import annotations

import sys

import requests

# A sitecustomize-free blocker: `python -c` installs a meta-path finder that refuses the packager's
# dependencies (and the packager itself), then runs modelpack_runtime as `-m` would.
BLOCKER = """
import runpy, sys
BLOCKED = ("typer", "docker", "jinja2", "packager")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the runtime must not need it")
        return None
sys.meta_path.insert(0, Block())
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
sys.argv[0] = "modelpack-microservice"
runpy.run_module("modelpack_runtime", run_name="__main__", alter_sys=True)
"""


def test_runtime_serves_without_packager_dependencies(start) -> None:
    s = start("rowsum", "--workers", "2", python_args=("-c", BLOCKER))
    r = requests.post(s.url + "/predict", json={"data": {"ndarray": [[1.0, 2.0]]}})
    assert r.status_code == 200 and r.json()["data"]["ndarray"] == [[3.0]]
    assert requests.get(s.metrics_url).status_code == 200
    loaded = s.output()
    assert "blocked" not in loaded, loaded


def test_blocker_really_blocks(tmp_path) -> None:
    import subprocess

    code = BLOCKER.split("sys.argv[0]")[0] + "import jinja2\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0 and "jinja2 is blocked" in r.stderr
