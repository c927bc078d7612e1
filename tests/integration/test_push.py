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


def docker_config(tmp_path, infra: Infra, *, helper: bool) -> dict[str, str]:
    """A DOCKER_CONFIG folder holding the registry's credentials, as `docker login` would write them
    (an `auths` entry), or behind a credential helper (`credHelpers`, a script on PATH)."""
    import base64
    import json
    import os

    config_dir = tmp_path / "docker-config"
    config_dir.mkdir()
    if helper:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        script = bin_dir / "docker-credential-modelpack-test"
        answer = json.dumps({"ServerURL": infra.registry, "Username": infra.user, "Secret": infra.password})
        script.write_text(f"#!/bin/sh\nread server\nif [ \"$1\" = get ]; then echo '{answer}'; fi\n")
        script.chmod(0o755)
        config = {"credHelpers": {infra.registry: "modelpack-test"}}
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    else:
        token = base64.b64encode(f"{infra.user}:{infra.password}".encode()).decode()
        config = {"auths": {infra.registry: {"auth": token}}}
        env = {}
    (config_dir / "config.json").write_text(json.dumps(config))
    return {"DOCKER_CONFIG": str(config_dir), **env}


@pytest.mark.parametrize("helper", [False, True], ids=["auths", "credHelpers"])
def test_push_with_docker_config_credentials(remote_tag: str, infra: Infra, tmp_path, helper: bool) -> None:
    result = run_cli("push", remote_tag, env=docker_config(tmp_path, infra, helper=helper))
    assert result.returncode == 0, result.explain()
    assert "sha256:" in result.output
    assert infra.password not in result.output


def test_push_without_credentials_is_refused(remote_tag: str, infra: Infra, tmp_path) -> None:
    empty = tmp_path / "empty-config"
    empty.mkdir()
    result = run_cli("push", remote_tag, env={"DOCKER_CONFIG": str(empty)})
    assert result.returncode == 6, result.explain()
    assert f"docker login {infra.registry}" in result.error_lines()[0]


def test_build_with_push_uses_the_docker_config(images: Images, infra: Infra, tmp_path) -> None:
    from .conftest import EXAMPLES

    remote = f"{infra.registry}/modelpack-it/build-push:{RUN_ID}"
    images.tags.append(remote)
    result = run_cli("build", str(EXAMPLES / "minimal"), remote, "--base-image", infra.base_image, "--ca-cert",
                     infra.ca_cert, "--progress", "plain", "--push", env=docker_config(tmp_path, infra, helper=False))
    assert result.returncode == 0, result.explain()
    name, version = remote.split("/", 1)[1].rsplit(":", 1)
    head = requests.head(f"http://{infra.registry}/v2/{name}/manifests/{version}", auth=(infra.user, infra.password),
                         headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}, timeout=10)
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] in result.output


def test_push_of_a_missing_local_image(infra: Infra) -> None:
    missing = f"{infra.registry}/modelpack-it/never-built:{RUN_ID}"
    result = run_cli("push", missing, "--username", infra.user, "--password-stdin", stdin=infra.password)
    assert result.returncode == 6, result.explain()
    errors = result.error_lines()
    assert len(errors) == 1 and f"no local image {missing} to push" in errors[0], result.explain()
    assert "modelpack build SRC" in errors[0]
