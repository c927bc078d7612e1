"""--installer uv on the real engine, on both backends: the example builds, runs and answers; uv is
not in the final image; a private index (EXTRA_INDEX_URL with a password, PIP_TRUSTED_HOST, the
CA bundle) works as it does for pip and leaves nothing behind; a failing uv step is one line."""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import docker
import pytest

from .conftest import EXAMPLES, Images, run_cli
from .test_secrets import ca_bundle_with_marker, scan_stream
from .wheels import PrivateIndex, make_wheel

pytestmark = pytest.mark.docker


class HeadIndex(PrivateIndex):
    """The private index, also answering HEAD: uv probes a wheel's URL with HEAD (range-request
    support) before it downloads, as every real index (PyPI, devpi, Artifactory, Nexus) allows."""

    def __init__(self, wheels: list[Path], user: str, password: str) -> None:
        super().__init__(wheels, user, password)
        index = self

        def do_HEAD(handler) -> None:
            status, body, ctype = index.answer(handler.path, handler.headers.get("Authorization", ""))
            index.requests.append((f"HEAD {handler.path}", status))
            handler.send_response(status)
            handler.send_header("Content-Type", ctype)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()

        self.server.RequestHandlerClass.do_HEAD = do_HEAD  # type: ignore[attr-defined]
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
    token = uuid.uuid4().hex
    password = f"idxpw-{token[:16]}"
    wheel = make_wheel(tmp_path / "dist", "mp-private-demo", "0.1.0",
                       {"mp_private_demo/__init__.py": "SECRET_SAUCE = 7\n"})
    ca_needles = ca_bundle_with_marker(images.infra, tmp_path, f"modelpack-test-ca-{token[16:]}")
    with HeadIndex([wheel], "reader", password) as index:
        url = f"http://reader:{password}@127.0.0.1:{index.port}/simple"
        trusted = f"127.0.0.1:{index.port}"
        tag, result = images.build(EXAMPLES / "private-index", f"uv-private-{backend}", "--base-image",
                                   images.infra.base_image, "--ca-cert", str(tmp_path / "bundle.pem"),
                                   "-e", f"EXTRA_INDEX_URL={url}", "-e", f"PIP_TRUSTED_HOST={trusted}",
                                   "--installer", "uv", "--backend", backend, base=False)
        seen = list(index.requests)
    assert result.returncode == 0, result.explain()
    # the same settings, under uv's names: extra index (pip's best-match strategy), insecure host, CA
    for name in ("UV_EXTRA_INDEX_URL=", "UV_INSECURE_HOST=", "SSL_CERT_FILE=", "UV_INDEX_STRATEGY=unsafe-best-match"):
        assert name in result.output, name
    assert any(path.startswith("/files/mp_private_demo-0.1.0") and status == 200 for path, status in seen), seen
    app = run_container(tag)
    assert app.post("/predict", {"data": {"ndarray": [[1, 2]]}}).json()["data"]["ndarray"] == [[7.0, 14.0]]
    needles = {"password": password.encode(), "index url": url.encode(), "trusted host": trusted.encode(),
               **{f"ca bundle bytes {i}": n for i, n in enumerate(ca_needles)}}
    control = {"control": b"SECRET_SAUCE = 7"}  # positive control: the scan reads the layers' files
    found = scan_stream(docker_client.api.get_image(tag, chunk_size=1 << 20), {**needles, **control})
    assert found == {"control"}, f"found in the saved image: {sorted(found - {'control'})}"
    meta = json.dumps(docker_client.api.inspect_image(tag)) + json.dumps(docker_client.api.history(tag))
    assert not scan_stream([meta.encode()], needles)
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
