"""`modelpack push` to the authenticated registry on loopback: the digest it reports is the one the
registry serves and a pull by digest gives back the same image; a wrong password is exit 6 with one
line that names the registry and never shows the password."""
from __future__ import annotations

import docker
import pytest
import requests

from .conftest import RUN_ID, Images, Infra, run_cli

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def remote_tag(images: Images, infra: Infra, docker_client: docker.DockerClient) -> str:
    local = images.example("minimal")
    remote = f"{infra.registry}/modelpack-it/minimal:{RUN_ID}"
    docker_client.images.get(local).tag(remote)
    images.tags.append(remote)
    return remote


def test_push_and_pull_back_by_digest(remote_tag: str, infra: Infra, docker_client: docker.DockerClient) -> None:
    result = run_cli("push", remote_tag, "--username", infra.user, "--password-stdin", stdin=infra.password + "\n")
    assert result.returncode == 0, result.explain()
    assert infra.password not in result.output
    name, version = remote_tag.split("/", 1)[1].rsplit(":", 1)
    head = requests.head(f"http://{infra.registry}/v2/{name}/manifests/{version}", auth=(infra.user, infra.password),
                         headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}, timeout=10)
    digest = head.headers["Docker-Content-Digest"]
    assert digest in result.output  # the CLI reports the digest the registry stored
    local_id = docker_client.images.get(remote_tag).id
    by_digest = f"{infra.registry}/{name}@{digest}"
    pulled = docker_client.images.pull(by_digest, auth_config={"username": infra.user, "password": infra.password})
    try:
        assert pulled.id == local_id
    finally:
        docker_client.images.remove(by_digest, force=True)


def test_wrong_password_is_exit_6_one_line(remote_tag: str, infra: Infra) -> None:
    wrong = f"not-the-password-{RUN_ID}"
    result = run_cli("push", remote_tag, "--username", infra.user, "--password-stdin", stdin=wrong + "\n")
    assert result.returncode == 6, result.explain()
    errors = result.error_lines()
    assert len(errors) == 1, result.explain()
    assert infra.registry in errors[0] and f"docker login {infra.registry}" in errors[0]
    assert wrong not in result.output
