"""Fixtures for the integration tests: the real CLI, the real engine, containers on loopback.

Every image a test builds is tagged ``modelpack-it/<name>:<run id>`` and removed at the end of
the session (the base image and the build cache stay, so the next run is fast). One build per
example is shared by all tests (``example_image``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
RUN_ID = uuid.uuid4().hex[:8]


@dataclass(frozen=True)
class Infra:
    base_image: str
    registry: str
    user: str
    password: str
    ca_cert: str


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def explain(self) -> str:
        tail = "\n".join(self.output.splitlines()[-60:])
        return f"modelpack {' '.join(self.args)} -> exit {self.returncode}\n{tail}"


def modelpack_bin() -> str:
    explicit = os.environ.get("MODELPACK_CLI")
    if explicit:
        return explicit
    local = Path(sys.executable).with_name("modelpack")
    return str(local) if local.exists() else (shutil.which("modelpack") or "modelpack")


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
            timeout: float = 1200) -> CliResult:
    """Run the installed `modelpack` console script (not an import: the real entry point)."""
    full_env = {**os.environ, "CI": "true", **(env or {})}  # CI=true: plain progress lines
    # the suite's log checks read the Engine API builder's output; MODELPACK_BACKEND=buildkit runs it on BuildKit
    full_env.setdefault("MODELPACK_BACKEND", "engine")
    full_env.setdefault("MODELPACK_INSTALLER", "pip")  # and pip's (tests/integration/test_uv.py covers uv)
    proc = subprocess.run([modelpack_bin(), *args], input=stdin, capture_output=True, text=True, check=False,
                          env=full_env, timeout=timeout, cwd=REPO)
    return CliResult(list(args), proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def infra() -> Infra:
    return Infra(
        base_image=os.environ.get("MODELPACK_TEST_BASE_IMAGE", "modelpack-test-base:bookworm"),
        registry=os.environ.get("MODELPACK_TEST_REGISTRY", "127.0.0.1:5055"),
        user=os.environ.get("MODELPACK_TEST_REGISTRY_USER", ""),
        password=os.environ.get("MODELPACK_TEST_REGISTRY_PASSWORD", ""),
        ca_cert=os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt",
    )


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env(timeout=300)
    yield client
    client.close()


@dataclass
class Images:
    """Builds images through the CLI and remembers every tag for the session's cleanup."""

    infra: Infra
    client: docker.DockerClient
    tags: list[str] = field(default_factory=list)
    cache: dict[str, tuple[str, CliResult]] = field(default_factory=dict)

    def tag(self, name: str) -> str:
        tag = f"modelpack-it/{name}:{RUN_ID}"
        self.tags.append(tag)
        return tag

    def build(self, src: Path, name: str, *extra: str, env: dict[str, str] | None = None,
              base: bool = True) -> tuple[str, CliResult]:
        """`modelpack build SRC TAG --base-image ... --ca-cert ...`; returns (tag, result)."""
        tag = self.tag(name)
        args = ["build", str(src), tag, "--progress", "plain"]
        if base:
            args += ["--base-image", self.infra.base_image, "--ca-cert", self.infra.ca_cert]
        result = run_cli(*args, *extra, env=env)
        return tag, result

    def example(self, example: str) -> str:
        """The shared image of ``examples/<example>`` (built once per session)."""
        if example not in self.cache:
            tag, result = self.build(EXAMPLES / example, example)
            self.cache[example] = (tag, result)
        tag, result = self.cache[example]
        assert result.returncode == 0, result.explain()
        return tag

    def cleanup(self) -> None:
        for tag in reversed(self.tags):
            try:
                self.client.images.remove(tag, force=True, noprune=True)  # keep parents: the build cache
            except docker.errors.ImageNotFound:
                pass
            except docker.errors.APIError as exc:  # still report, but keep cleaning
                print(f"cleanup: could not remove {tag}: {exc}", file=sys.stderr)


@pytest.fixture(scope="session")
def images(infra: Infra, docker_client: docker.DockerClient) -> Iterator[Images]:
    def weights_helpers() -> set[str]:  # --model-dir builds make modelpack-weights:<digest> images
        return {t for i in docker_client.images.list("modelpack-weights") for t in i.tags}

    before = weights_helpers()
    store = Images(infra, docker_client)
    yield store
    store.tags += sorted(weights_helpers() - before - set(store.tags))  # this session's only
    store.cleanup()


class Running:
    """A started container with its published HTTP port on 127.0.0.1."""

    def __init__(self, container: docker.models.containers.Container) -> None:
        self.container = container
        container.reload()
        binding = container.attrs["NetworkSettings"]["Ports"]["9000/tcp"][0]
        self.url = f"http://127.0.0.1:{binding['HostPort']}"

    def logs(self) -> str:
        return self.container.logs().decode(errors="replace")[-4000:]

    def published(self, port: int) -> str:
        """``127.0.0.1:N`` where the container's ``port`` is published (e.g. 5000, gRPC)."""
        return f"127.0.0.1:{self.container.attrs['NetworkSettings']['Ports'][f'{port}/tcp'][0]['HostPort']}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self.container.reload()
            if self.container.status == "exited":
                raise AssertionError(f"container exited before ready:\n{self.logs()}")
            try:
                r = requests.get(self.url + "/v2/health/ready", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code} {r.text[:200]}"
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.3)
        raise AssertionError(f"not ready after {timeout}s ({last}):\n{self.logs()}")

    def post(self, path: str, body: object) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=30)


@pytest.fixture
def run_container(docker_client: docker.DockerClient) -> Iterator:
    """Factory: ``run_container(image, **docker_run_kwargs)`` -> a ready Running; removed after the test.
    Port 9000 is always published on 127.0.0.1; ``ports=`` publishes more (``Running.published``)."""
    started: list[docker.models.containers.Container] = []

    def start(image: str, *, ready: bool = True, ports: dict | None = None, **kwargs: object) -> Running:
        container = docker_client.containers.run(image, detach=True,
                                                 ports={"9000/tcp": ("127.0.0.1", None), **(ports or {})}, **kwargs)
        started.append(container)
        running = Running(container)
        if ready:
            running.wait_ready()
        return running

    yield start
    for container in started:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass
