"""What the built image is: non-root user, arbitrary UIDs, prompt SIGTERM, provenance labels."""
from __future__ import annotations

import time

import docker
import pytest

from .conftest import Images

pytestmark = pytest.mark.docker


def test_runs_as_uid_8888(images: Images, docker_client: docker.DockerClient, run_container) -> None:
    tag = images.example("minimal")
    assert docker_client.images.get(tag).attrs["Config"]["User"] == "8888"
    app = run_container(tag)
    code, out = app.container.exec_run(["id", "-u"])
    assert code == 0 and out.decode().strip() == "8888"


def test_serves_under_an_arbitrary_uid_in_group_0(images: Images, run_container) -> None:
    app = run_container(images.example("minimal"), user="12345:0")
    code, out = app.container.exec_run(["id", "-u"])
    assert code == 0 and out.decode().strip() == "12345"
    r = app.post("/predict", {"data": {"ndarray": [[1.5]]}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ndarray"] == [[3.0]]


def test_sigterm_stops_promptly(images: Images, run_container) -> None:
    app = run_container(images.example("minimal"))
    started = time.monotonic()
    app.container.kill(signal="SIGTERM")
    status = app.container.wait(timeout=15)
    elapsed = time.monotonic() - started
    assert elapsed < 5, f"took {elapsed:.1f}s to stop after SIGTERM:\n{app.logs()}"
    # the server is PID 1 (exec from the entry script) and exits cleanly on SIGTERM
    assert status["StatusCode"] == 0, app.logs()


def test_provenance_labels(images: Images, docker_client: docker.DockerClient) -> None:
    labels = docker_client.images.get(images.example("minimal")).labels
    assert labels["io.modelpack.builder"] == "python"
    assert labels["io.modelpack.model-name"] == "Model"
    assert labels["io.modelpack.service-type"] == "MODEL"
    assert labels["io.modelpack.source-digest"].startswith("sha256:")
    assert labels["io.modelpack.version"]
    assert labels["org.opencontainers.image.title"] == "Model"
