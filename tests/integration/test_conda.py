"""environment.yml -> an image, fully offline: the test builds a local conda channel from packages
it makes itself (examples/conda/make_channel.py: a `python` package wrapping the base image's
CPython, and a pure-Python package), serves it on loopback, and the build solves it on the host
with py-rattler and installs it in the conda build stage. The container is called, and the model
proves it runs inside the environment and imports the conda package."""
from __future__ import annotations

import functools
import importlib.util
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import EXAMPLES, Images, run_cli

pytestmark = pytest.mark.docker
PREFIX = "/opt/conda/envs/microservice"


def _load_make_channel():
    spec = importlib.util.spec_from_file_location("make_channel", EXAMPLES / "conda" / "make_channel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def channel_url(tmp_path_factory) -> Iterator[str]:
    root = _load_make_channel().make_channel(tmp_path_factory.mktemp("channel"))
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
