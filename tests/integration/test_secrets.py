"""The secret model: an index password, the index URL, PIP_TRUSTED_HOST and the CA bundle reach
the dependency install step and nothing else. `docker save` of the image, its config, history,
labels and env, and the CLI's output are searched for each of them."""
from __future__ import annotations

import docker
import pytest

from .conftest import EXAMPLES, Images, Infra
from .privateindex import assert_image_clean, private_index
from .wheels import PrivateIndex

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def private_build(images: Images, infra: Infra, tmp_path_factory):
    with private_index(infra, tmp_path_factory.mktemp("private"), PrivateIndex) as private:
        tag, result = images.build(EXAMPLES / "private-index", "private-index", "--base-image",
                                   infra.base_image, *private.flags, base=False)
        requests_seen = list(private.index.requests)
    return tag, result, requests_seen, private.needles


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
    assert_image_clean(docker_client, tag, needles)
    for name in ("password", "index url"):
        assert needles[name].decode() not in result.output, f"{name} printed by the CLI"
