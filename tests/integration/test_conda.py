"""environment.yml -> an image, fully offline: the test builds a local conda channel from packages
it makes itself (examples/conda/make_channel.py: a `python` package wrapping the base image's
CPython, and a pure-Python package), serves it on loopback, and the build solves it on the host
with py-rattler and installs it in the conda build stage. The container is called, and the model
proves it runs inside the environment and imports the conda package."""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import EXAMPLES, Images, run_cli

pytestmark = pytest.mark.docker
PREFIX = "/opt/conda/envs/microservice"
CONDA_LOCK_VERSION = "4.0.3"  # its parser validates the conda-lock.yml modelpack writes


def _load_make_channel():
    spec = importlib.util.spec_from_file_location("make_channel", EXAMPLES / "conda" / "make_channel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def channel_dir(tmp_path_factory) -> Path:
    return _load_make_channel().make_channel(tmp_path_factory.mktemp("channel"))


@pytest.fixture(scope="module")
def channel_url(channel_dir: Path) -> Iterator[str]:
    root = channel_dir
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _example(tmp_path: Path, channel: str, extra_spec: str | None = None) -> Path:
    src = tmp_path / "conda"
    shutil.copytree(EXAMPLES / "conda", src)
    text = (src / "environment.yml").read_text().replace("http://127.0.0.1:8321/", channel)
    if extra_spec:
        text = text.replace("  - mp-conda-demo>=1.0\n", f"  - mp-conda-demo>=1.0\n  - {extra_spec}\n")
    (src / "environment.yml").write_text(text)
    return src


def test_conda_environment_builds_offline_and_the_runtime_runs_in_it(images: Images, run_container,
                                                                      channel_url: str, tmp_path: Path) -> None:
    src = _example(tmp_path, channel_url)
    tag, result = images.build(src, "conda")
    assert result.returncode == 0, result.explain()
    assert "conda environment /opt/conda/envs/microservice: 2 packages" in result.output
    running = run_container(tag)
    r = running.post("/api/v1.0/predictions", {"data": {"ndarray": [[1, 2]]}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["ndarray"] == [[42, 84]]
    tags = body["meta"]["tags"]
    assert tags["prefix"] == PREFIX  # the model's interpreter runs inside the conda environment
    assert tags["conda_package"] == f"{PREFIX}/lib/python3.11/site-packages/mp_conda_demo/__init__.py"
    assert tags["six"] == "1.16.0"  # environment.yml's pip: list, in the same environment
    code, out = running.container.exec_run(["sh", "-c", "command -v modelpack-microservice; "
                                            f"ls {PREFIX}/conda-meta; ls /opt/rattler /opt/venv 2>&1 || true"])
    text = out.decode()
    assert text.splitlines()[0] == f"{PREFIX}/bin/modelpack-microservice", text
    assert "mp-conda-demo-1.0-0.json" in text and "python-3.11.2-modelpack_0.json" in text
    # py-rattler and the pip virtualenv stay in the build stages
    assert "cannot access '/opt/rattler': No such file" in text and "cannot access '/opt/venv': No such file" in text


def test_unsolvable_environment_is_one_line(images: Images, channel_url: str, tmp_path: Path) -> None:
    src = _example(tmp_path, channel_url, extra_spec="modelpack-h2-no-such-conda-pkg")
    result = run_cli("build", str(src), images.tag("conda-bad"), "--base-image", images.infra.base_image,
                     "--progress", "plain")
    assert result.returncode == 7, result.explain()
    assert len(result.error_lines()) == 1, result.explain()
    line = result.error_lines()[0]
    assert line.startswith("error: environment.yml: cannot be solved for linux-64: "), line
    assert "No candidates were found for modelpack-h2-no-such-conda-pkg" in line, line
    assert "Step " not in result.output  # failed before any Docker build step


@pytest.fixture(scope="session")
def conda_lock_python() -> Path:
    """conda-lock in a virtualenv of its own (its pins are not ours), cached by version."""
    venv = Path(os.path.expanduser("~/.cache/modelpack-tests")) / f"conda-lock-{CONDA_LOCK_VERSION}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"conda-lock=={CONDA_LOCK_VERSION}"], check=True)
    return python


def test_conda_lock_pins_the_build(images: Images, run_container, channel_dir: Path, channel_url: str,
                                   conda_lock_python: Path, tmp_path: Path) -> None:
    src = _example(tmp_path, channel_url)
    locked = run_cli("lock", str(src))
    assert locked.returncode == 0, locked.explain()
    assert "wrote " in locked.stdout and "conda-lock.yml (2 conda packages with sha256" in locked.stdout
    # conda-lock's own parser reads the file
    check = subprocess.run([str(conda_lock_python), "-c", (
        "import sys, pathlib; from conda_lock.lockfile import parse_conda_lock_file; "
        "lf = parse_conda_lock_file(pathlib.Path(sys.argv[1])); "
        "print(sorted((p.name, p.version, p.platform, p.manager) for p in lf.package))"),
        str(src / "conda-lock.yml")], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    assert check.stdout.strip() == ("[('mp-conda-demo', '1.0', 'linux-64', 'conda'), "
                                    "('python', '3.11.2', 'linux-64', 'conda')]")
    # a newer package appears in the channel: the locked build still installs the locked 1.0
    make_channel = _load_make_channel()
    make_channel.make_channel(channel_dir, demo_version="1.1")
    tag, built = images.build(src, "conda-locked", "--locked")
    assert built.returncode == 0, built.explain()
    running = run_container(tag)
    code, out = running.container.exec_run(["ls", f"{PREFIX}/conda-meta"])
    assert "mp-conda-demo-1.0-0.json" in out.decode(), out.decode()
    # an edit of environment.yml makes the lock stale: --locked refuses in one line
    (src / "environment.yml").write_text((src / "environment.yml").read_text() + "# edited\n")
    stale = run_cli("build", str(src), "x", "--dry-run", "--locked")
    assert stale.returncode == 7, stale.explain()
    assert stale.error_lines() == ["error: --locked: conda-lock.yml is stale: environment.yml or the platform "
                                   "changed since conda-lock.yml was written; run `modelpack lock SRC`"]
