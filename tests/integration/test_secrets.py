"""The secret model: an index password, the index URL, PIP_TRUSTED_HOST and the CA bundle reach
the dependency install step and nothing else. `docker save` of the image, its config, history,
labels and env, and the CLI's output are searched for each of them."""
from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import docker
import pytest

from .conftest import EXAMPLES, Images, Infra
from .wheels import PrivateIndex, make_wheel

pytestmark = pytest.mark.docker


def ca_bundle_with_marker(infra: Infra, dest: Path, marker: str) -> list[bytes]:
    """The real bundle plus a generated self-signed CA; returns byte strings unique to the addition."""
    key, cert = dest / "ca.key", dest / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={marker}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    pem = cert.read_text()
    bundle = dest / "bundle.pem"
    bundle.write_text(Path(infra.ca_cert).read_text() + f"\n# {marker}\n" + pem)
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return [marker.encode(), body[1].encode(), body[len(body) // 2].encode()]


def scan_stream(chunks, needles: dict[str, bytes]) -> set[str]:
    """Names of the needles found anywhere in a byte stream (chunk boundaries handled)."""
    found: set[str] = set()
    keep = max(len(n) for n in needles.values())
    tail = b""
    for chunk in chunks:
        window = tail + chunk
        for name, needle in needles.items():
            if needle in window:
                found.add(name)
        tail = window[-keep:]
    return found


@pytest.fixture(scope="module")
def private_build(images: Images, infra: Infra, tmp_path_factory):
    work = tmp_path_factory.mktemp("private")
    token = uuid.uuid4().hex
    password = f"idxpw-{token[:16]}"
    wheel = make_wheel(work / "dist", "mp-private-demo", "0.1.0",
                       {"mp_private_demo/__init__.py": "SECRET_SAUCE = 7\n"})
    marker = f"modelpack-test-ca-{token[16:]}"
    ca_needles = ca_bundle_with_marker(infra, work, marker)
    with PrivateIndex([wheel], "reader", password) as index:
        url = f"http://reader:{password}@127.0.0.1:{index.port}/simple"
        trusted = f"127.0.0.1:{index.port}"
        tag, result = images.build(EXAMPLES / "private-index", "private-index", "--base-image",
                                   infra.base_image, "--ca-cert", str(work / "bundle.pem"),
                                   "-e", f"EXTRA_INDEX_URL={url}", "-e", f"PIP_TRUSTED_HOST={trusted}",
                                   base=False)
        requests_seen = list(index.requests)
    needles = {"password": password.encode(), "index url": url.encode(), "trusted host": trusted.encode(),
               **{f"ca bundle bytes {i}": n for i, n in enumerate(ca_needles)}}
    return tag, result, requests_seen, needles


def test_private_index_build_uses_the_index(private_build, run_container) -> None:
    tag, result, seen, _needles = private_build
    assert result.returncode == 0, result.explain()
    assert ("/simple/mp-private-demo/", 200) in seen, seen
    assert any(path.startswith("/files/mp_private_demo-0.1.0") and status == 200 for path, status in seen), seen
    app = run_container(tag)
    r = app.post("/predict", {"data": {"ndarray": [[1, 2]]}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["ndarray"] == [[7.0, 14.0]]


def test_no_secret_in_image_or_output(private_build, docker_client: docker.DockerClient) -> None:
    tag, result, _seen, needles = private_build
    assert result.returncode == 0, result.explain()
    # every byte of `docker save`: layer tars, image config (env, labels, history), manifest
    # positive control: the private package's source, installed in the venv layer, must be found,
    # which proves the scan reads the layers' file contents
    control = {"control": b"SECRET_SAUCE = 7"}
    found = scan_stream(docker_client.api.get_image(tag, chunk_size=1 << 20), {**needles, **control})
    assert found == {"control"}, f"found in the saved image: {sorted(found - {'control'})}"
    meta = json.dumps(docker_client.api.inspect_image(tag)) + json.dumps(docker_client.api.history(tag))
    assert not scan_stream([meta.encode()], needles)
    for name in ("password", "index url"):
        assert needles[name].decode() not in result.output, f"{name} printed by the CLI"
