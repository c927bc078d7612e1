"""environment.yml -> an image, fully offline: the test builds a local conda channel from packages
it makes itself (examples/conda/make_channel.py: a `python` package wrapping the base image's
CPython, and a pure-Python package), serves it on loopback, and the build solves it on the host
with py-rattler and installs it in the conda build stage. The container is called, and the model
proves it runs inside the environment and imports the conda package."""
from __future__ import annotations

import base64
import contextlib
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest

from .conftest import EXAMPLES, Images, run_cli
from .privateindex import assert_image_clean, private_index

pytestmark = pytest.mark.docker
PREFIX = "/opt/conda/envs/microservice"
CONDA_LOCK_VERSION = "4.0.3"  # its parser validates the conda-lock.yml modelpack writes


def _load_make_channel():
    spec = importlib.util.spec_from_file_location("make_channel", EXAMPLES / "conda" / "make_channel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Quiet(SimpleHTTPRequestHandler):
    """Serves the channel and records every path asked for (the BuildKit test counts downloads)."""

    requests: list[str]

    def log_message(self, *args: object) -> None:
        pass

    authorization: str | None = None  # when set, the channel wants this Authorization header

    def do_GET(self) -> None:
        if self.authorization is not None and self.headers.get("Authorization") != self.authorization:
            self.requests.append(f"401 {self.path}")
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="conda"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def channel_dir(tmp_path_factory) -> Path:
    return _load_make_channel().make_channel(tmp_path_factory.mktemp("channel"))


@contextlib.contextmanager
def serve_channel(root: Path, authorization: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """(URL, the paths asked for so far) of a channel folder served on loopback; with
    `authorization`, every request without that header gets 401 (a private channel)."""
    requests: list[str] = []
    handler = type("Recording", (_Quiet,), {"requests": requests, "authorization": authorization})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def channel_url(channel_dir: Path) -> Iterator[str]:
    with serve_channel(channel_dir) as (url, _requests):
        yield url


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
    _code, out = running.container.exec_run(["sh", "-c", ("command -v modelpack-microservice; "
                                            f"ls {PREFIX}/conda-meta; ls /opt/rattler /opt/venv 2>&1 || true")])
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
    _code, out = running.container.exec_run(["ls", f"{PREFIX}/conda-meta"])
    assert "mp-conda-demo-1.0-0.json" in out.decode(), out.decode()
    # an edit of environment.yml makes the lock stale: --locked refuses in one line
    (src / "environment.yml").write_text((src / "environment.yml").read_text() + "# edited\n")
    stale = run_cli("build", str(src), "x", "--dry-run", "--locked")
    assert stale.returncode == 7, stale.explain()
    assert stale.error_lines() == [("error: --locked: conda-lock.yml is stale: environment.yml or the platform "
                                   "changed since conda-lock.yml was written; run `modelpack lock SRC`")]


@pytest.mark.parametrize("backend", ["engine", "buildkit"])
def test_private_channel_credentials_come_from_the_auth_file_and_leave_nothing(
        images: Images, run_container, tmp_path: Path, docker_client: docker.DockerClient, backend: str) -> None:
    channel_dir = _load_make_channel().make_channel(tmp_path / "channel")  # its own: the lock test adds 1.1
    password = f"chanpw-{uuid.uuid4().hex[:16]}"
    header = "Basic " + base64.b64encode(f"reader:{password}".encode()).decode()
    auth = tmp_path / "rattler-auth.json"
    auth.write_text(json.dumps({"127.0.0.1": {"BasicHTTP": {"username": "reader", "password": password}}}))
    with serve_channel(channel_dir, authorization=header) as (url, seen):
        src = _example(tmp_path, url)
        # without the auth file: the host's solve gets 401, one line that says what to pass
        refused = run_cli("build", str(src), images.tag("conda-noauth"), "--base-image", images.infra.base_image,
                          "--backend", backend, "--progress", "plain")
        assert refused.returncode == 7, refused.explain()
        [line] = refused.error_lines()
        assert line.startswith("error: environment.yml: channel error for linux-64: ") and "401" in line, line
        assert line.endswith("give the channel's credentials in a rattler auth file keyed by its host name: "
                             "--conda-auth FILE (or RATTLER_AUTH_FILE)"), line
        # the lock: solved through the auth file; its package URLs hold no credential
        locked = run_cli("lock", str(src), "--conda-auth", str(auth))
        assert locked.returncode == 0, locked.explain()
        lock_text = (src / "conda-lock.yml").read_text()
        assert f"url: {url}linux-64/mp-conda-demo-1.0-0.tar.bz2" in lock_text, lock_text
        # the build, from the lock: the conda stage downloads through the secret (or the stage's copy)
        before = len(seen)
        tag, result = images.build(src, f"conda-private-{backend}", "--conda-auth", str(auth), "--locked",
                                   "--backend", backend)
        stage = seen[before:]  # no host solve: the lock is current, so these are the conda stage's
    assert result.returncode == 0, result.explain()
    # the stage read the channel with the credentials (401s are recorded as "401 <path>")
    assert any(p.startswith("/linux-64/repodata") for p in stage) and not any(p.startswith("401") for p in stage), stage
    if backend == "engine":  # no package cache between builds: both packages came through the auth
        assert sorted(p for p in stage if p.endswith(".tar.bz2")) == [
            "/linux-64/mp-conda-demo-1.0-0.tar.bz2", "/linux-64/python-3.11.2-modelpack_0.tar.bz2"], stage
    if backend == "buildkit":
        assert "--mount=type=secret,id=conda_auth" in result.output, result.explain()
    running = run_container(tag)
    assert running.post("/api/v1.0/predictions", {"data": {"ndarray": [[1, 2]]}}).json()["data"]["ndarray"] == [[42, 84]]
    _code, out = running.container.exec_run(["sh", "-c", f"ls /tmp/modelpack; cat {PREFIX}/conda-meta/*.json"])
    assert password not in out.decode() and "conda-auth" not in out.decode()
    needles = {"password": password.encode(), "basic auth header": header.split()[1].encode(),
               "auth file": auth.read_bytes()[:40]}
    # positive control: the conda package's file is in a layer
    assert_image_clean(docker_client, tag, needles, control=b"ANSWER = 42")
    for name, needle in needles.items():
        assert needle.decode() not in lock_text, f"{name} in conda-lock.yml"
        assert needle.decode() not in result.output + locked.output + refused.output, f"{name} printed"


def run_steps(dockerfile: str) -> list[str]:
    """The RUN instructions of a Dockerfile text, continuation lines joined."""
    joined = dockerfile.replace("\\\n", " ")
    return [line[4:] for line in joined.splitlines() if line.startswith("RUN ")]


# --- BuildKit: secret mounts instead of build args, cache mounts for py-rattler and pip / uv -------

PRIVATE_MODEL = """import sys

import mp_conda_demo
import mp_private_demo
import six


class Model:
    def predict(self, X, feature_names=None, meta=None):
        return [[v * mp_conda_demo.ANSWER * mp_private_demo.SECRET_SAUCE for v in row] for row in X]

    def tags(self):
        return {"prefix": sys.prefix, "six": six.__version__, "private": mp_private_demo.__file__}
"""


@pytest.mark.parametrize("installer, client", [("uv", "buildx"), ("pip", "docker-build")])
def test_conda_on_buildkit_reads_secrets_from_mounts_and_leaks_nothing(
        images: Images, run_container, channel_url: str, tmp_path: Path, docker_client: docker.DockerClient,
        installer: str, client: str) -> None:
    src = _example(tmp_path, channel_url)
    (src / "environment.yml").write_text((src / "environment.yml").read_text().replace(
        "      - six==1.16.0\n", "      - six==1.16.0\n      - mp-private-demo==0.1.0\n"))
    (src / "Model.py").write_text(PRIVATE_MODEL)
    with private_index(images.infra, tmp_path) as private:
        flags = ["--base-image", images.infra.base_image, *private.flags,
                 "--backend", "buildkit", "--installer", installer]
        env = {"MODELPACK_BUILDKIT_CLIENT": client}
        dry = run_cli("build", str(src), "x", "--dry-run", *flags, env=env)
        tag, result = images.build(src, f"conda-bk-{installer}", *flags, env=env, base=False)
        seen = list(private.index.requests)
    assert dry.returncode == 0, dry.explain()
    conda_stage = dry.stdout.split("# Final stage", 1)[0]
    # no build arg carries an index setting, and every download step mounts the secrets
    assert "ARG EXTRA_INDEX_URL" not in conda_stage and "ARG PIP_TRUSTED_HOST" not in conda_stage, conda_stage
    assert "COPY modelpack/ca.crt" not in conda_stage, conda_stage
    runs = run_steps(conda_stage)
    assert len(runs) >= 4 and all("--mount=type=secret,id=ca,target=/tmp/modelpack/ca.crt" in r for r in runs), runs
    cache = "/root/.cache/uv" if installer == "uv" else "/root/.cache/pip"
    pip_list = [r for r in runs if "conda-pip-requirements.txt" in r]
    assert len(pip_list) == 1 and f"--mount=type=cache,target={cache}" in pip_list[0], pip_list
    assert "--mount=type=secret,id=pip_env" in pip_list[0], pip_list
    assert any("--mount=type=cache,target=/root/.cache/rattler" in r and "conda_create.py" in r for r in runs), runs

    assert result.returncode == 0, result.explain()
    chosen = "docker buildx" if client == "buildx" else "/usr/bin/docker build with DOCKER_BUILDKIT=1"
    assert f"backend: buildkit ({chosen}" in result.stderr, result.explain()
    assert ("/simple/mp-private-demo/", 200) in seen, seen  # the pip: list reached the private index
    if installer == "uv":
        assert "/opt/uv/bin/uv pip install --python /opt/conda/envs/microservice/bin/python" in result.output
    app = run_container(tag)
    r = app.post("/api/v1.0/predictions", {"data": {"ndarray": [[1, 2]]}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ndarray"] == [[294, 588]], r.text  # 42 * 7 * x
    tags = r.json()["meta"]["tags"]
    assert tags["prefix"] == PREFIX and tags["six"] == "1.16.0", tags
    assert tags["private"].startswith(f"{PREFIX}/lib/python3.11/site-packages/mp_private_demo/"), tags

    needles = private.needles
    assert_image_clean(docker_client, tag, needles)
    for name, needle in needles.items():
        assert needle.decode() not in result.output + dry.output, f"{name} printed by the CLI"


def test_conda_on_buildkit_cache_mounts_keep_downloads(images: Images, tmp_path: Path) -> None:
    """A changed environment.yml reruns the environment step, but py-rattler's package cache (a
    cache mount) still holds the packages the first build downloaded: the channel serves only
    the new one; uv's cache mount does the same for the runtime and the pip: list."""
    make_channel = _load_make_channel()
    channel = make_channel.make_channel(tmp_path / "channel")
    with serve_channel(channel) as (url, requests):
        src = _example(tmp_path, url)
        flags = ("--backend", "buildkit", "--installer", "uv")
        _, first = images.build(src, "conda-bk-cache", *flags)
        assert first.returncode == 0, first.explain()
        extra = f"mp-conda-extra-{uuid.uuid4().hex[:8]}"  # a new package: never in any cache before
        make_channel.make_package(channel, extra, "1.0", "0",
                                  {f"lib/python3.11/site-packages/{extra.replace('-', '_')}.py": "X = 1\n"})
        make_channel.index(channel)
        text = (src / "environment.yml").read_text()
        text = text.replace("  - mp-conda-demo>=1.0\n", f"  - mp-conda-demo>=1.0\n  - {extra}\n")
        (src / "environment.yml").write_text(text.replace("      - six==1.16.0\n",
                                                          "      - six==1.16.0\n      - toolz==0.12.1\n"))
        del requests[:]
        _, again = images.build(src, "conda-bk-cache", *flags)
        seen = list(requests)
    assert again.returncode == 0, again.explain()
    assert "conda environment /opt/conda/envs/microservice: 3 packages (2 already in the package cache)" \
        in again.output, again.explain()
    tarballs = sorted(p for p in seen if p.endswith(".tar.bz2"))
    assert tarballs == [f"/linux-64/{extra}-1.0-0.tar.bz2"], seen  # only the new package was downloaded
    # the runtime (its layer follows the environment's) and the pip: list ran again, and uv's cache
    # mount held what they had downloaded before: uv prepares (fetches or unpacks) at most one
    # package per step, and says nothing when everything came from its cache
    installed = re.findall(r"#\d+ [\d.]+ Installed \d+ packages? in", again.output)
    assert len(installed) == 2, again.explain()
    prepared = [int(n) for n in re.findall(r"#\d+ [\d.]+ Prepared (\d+) packages? in", again.output)]
    assert all(n <= 1 for n in prepared), f"uv fetched {prepared} packages again\n{again.explain()}"
