"""--installer uv on the real engine, on both backends: the example builds, runs and answers; uv is
not in the final image; a private index (EXTRA_INDEX_URL with a password, PIP_TRUSTED_HOST, the
CA bundle) works as it does for pip and leaves nothing behind; a failing uv step is one line."""
from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from .conftest import EXAMPLES, Images, run_cli
from .privateindex import assert_image_clean, private_index

pytestmark = pytest.mark.docker

BACKENDS = ("engine", "buildkit")


@pytest.mark.parametrize("backend", BACKENDS)
def test_uv_example_builds_runs_and_answers(images: Images, run_container, docker_client: docker.DockerClient,
                                            backend: str) -> None:
    tag, result = images.build(EXAMPLES / "requirements-params", f"uv-reqparams-{backend}",
                               "--installer", "uv", "--backend", backend)
    assert result.returncode == 0, result.explain()
    assert "/opt/uv/bin/uv pip install --python /opt/venv/bin/python" in result.output, result.explain()
    app = run_container(tag)
    r = app.post("/api/v1.0/predictions", {"data": {"ndarray": [[1.0, 2.0]]}})
    assert r.status_code == 200, r.text
    # uv stays in the deps stage: neither its folder nor a uv binary is in the final image
    probe = docker_client.containers.run(tag, entrypoint=["/bin/sh", "-c"], remove=True,
                                         command=[("test -e /opt/uv || echo no-opt-uv; command -v uv || echo no-uv; "
                                                   "/opt/venv/bin/python -c 'import six; print(six.__version__)'")])
    text = probe.decode()
    assert "no-opt-uv" in text and "no-uv" in text.replace("no-opt-uv", ""), text
    assert "1.16.0" in text, text


@pytest.mark.parametrize("backend", BACKENDS)
def test_uv_private_index_ca_and_no_secret_left(images: Images, run_container, tmp_path: Path,
                                                docker_client: docker.DockerClient, backend: str) -> None:
    with private_index(images.infra, tmp_path) as private:
        tag, result = images.build(EXAMPLES / "private-index", f"uv-private-{backend}", "--base-image",
                                   images.infra.base_image, *private.flags,
                                   "--installer", "uv", "--backend", backend, base=False)
        seen = list(private.index.requests)
    assert result.returncode == 0, result.explain()
    # the same settings, under uv's names: extra index (pip's best-match strategy), insecure host, CA
    for name in ("UV_EXTRA_INDEX_URL=", "UV_INSECURE_HOST=", "SSL_CERT_FILE=", "UV_INDEX_STRATEGY=unsafe-best-match"):
        assert name in result.output, name
    assert any(path.startswith("/files/mp_private_demo-0.1.0") and status == 200 for path, status in seen), seen
    app = run_container(tag)
    assert app.post("/predict", {"data": {"ndarray": [[1, 2]]}}).json()["data"]["ndarray"] == [[7.0, 14.0]]
    needles = private.needles
    assert_image_clean(docker_client, tag, needles)
    for name in ("password", "index url"):
        assert needles[name].decode() not in result.output, f"{name} printed by the CLI"


@pytest.mark.parametrize("backend", BACKENDS)
def test_failing_uv_step_is_one_line(images: Images, tmp_path: Path, backend: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES / "requirements-params", src)
    (src / "requirements.txt").write_text("mp-h1-no-such-package==9.9\n")
    _, result = images.build(src, f"uv-fail-{backend}", "--installer", "uv", "--backend", backend)
    assert result.returncode == 5, result.explain()
    errors = result.error_lines()
    assert len(errors) == 1, result.explain()
    assert "uv could not install requirement 'mp-h1-no-such-package'" in errors[0], errors[0]


def test_uv_is_the_default_installer() -> None:
    # the suite pins MODELPACK_INSTALLER=pip for its pip log checks; the CLI's own default is uv
    result = run_cli("build", "--help", env={"MODELPACK_INSTALLER": "uv"})
    assert result.returncode == 0, result.explain()
    from packager.flavour import INSTALLER_DEFAULT

    assert INSTALLER_DEFAULT == "uv"
    assert "default: uv]" in " ".join(result.stdout.split()), result.stdout


def test_unknown_installer_is_a_usage_error(images: Images) -> None:
    _, result = images.build(EXAMPLES / "minimal", "uv-bad", "--installer", "conda")
    assert result.returncode == 2, result.explain()
    assert result.error_lines() == ['error: --installer "conda": expected uv or pip'], result.explain()
