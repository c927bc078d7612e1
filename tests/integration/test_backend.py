"""The Docker backend on the real engine, without the CLI: build streaming, in-band errors, labels,
secret build args, deterministic context, push with good and bad credentials."""
from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from packager.backend import Progress, build, push
from packager.backend.context import write_context
from packager.errors import BuildFailed, PushFailed

from .conftest import RUN_ID, Infra

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Ctx:
    """Shaped like packager.render.RenderedContext (the backend reads only these fields)."""

    directory: Path
    dockerfile: str
    build_args: dict[str, str]
    secret_build_args: dict[str, str]
    labels: dict[str, str]
    file_count: int = 1
    size_bytes: int = 1
    secret_values: tuple[str, ...] = ()


def _ctx(tmp_path: Path, dockerfile: str, **kw: object) -> Ctx:
    (tmp_path / "hello.txt").write_text("hello\n")
    return Ctx(tmp_path, dockerfile, kw.get("build_args", {}), kw.get("secret_build_args", {}),  # type: ignore[arg-type]
               kw.get("labels", {}))  # type: ignore[arg-type]


@pytest.fixture
def tags(docker_client: docker.DockerClient):
    made: list[str] = []

    def tag(name: str) -> str:
        made.append(f"modelpack-it/backend-{name}:{RUN_ID}")
        return made[-1]

    yield tag
    for t in made:
        try:
            docker_client.images.remove(t, force=True, noprune=True)
        except docker.errors.ImageNotFound:
            pass


def test_build_tags_labels_and_masks_secret_build_args(tmp_path, infra: Infra, tags, docker_client) -> None:
    other = f"chanpw-{RUN_ID}"  # a value of a secret file (--conda-auth) that a step printed
    dockerfile = (f"FROM {infra.base_image}\nARG TOKEN_VALUE\nARG PLAIN\n"
                  "RUN echo \"token is $TOKEN_VALUE, plain is $PLAIN\" && test -n \"$TOKEN_VALUE\"\n"
                  f"RUN echo \"auth file says {other}\"\n"
                  "COPY hello.txt /hello.txt\n")
    out = io.StringIO()
    secret = f"s3cret-{RUN_ID}"
    ctx = _ctx(tmp_path, dockerfile, build_args={"PLAIN": "visible"}, secret_build_args={"TOKEN_VALUE": secret},
               labels={"io.modelpack.test": RUN_ID})
    ctx = Ctx(**{**ctx.__dict__, "secret_values": (other,)})
    first, second = tags("a"), tags("b")
    result = build(ctx, [first, second], progress=Progress("plain", stream=out))
    log = out.getvalue()
    assert "token is ****, plain is visible" in log  # the RUN step saw the secret; the log did not
    assert secret not in log
    assert "auth file says ****" in log and other not in log
    image = docker_client.images.get(first)
    assert image.id == result.image_id
    assert second in docker_client.images.get(second).tags
    assert image.labels["io.modelpack.test"] == RUN_ID
    assert result.size == image.attrs["Size"] > 0
    assert result.duration_s > 0


def test_failing_step_names_the_step(tmp_path, infra: Infra, tags) -> None:
    dockerfile = f"FROM {infra.base_image}\nRUN echo about to fail && false\n"
    with pytest.raises(BuildFailed) as info:
        build(_ctx(tmp_path, dockerfile), [tags("fail")], progress=Progress("quiet"))
    message = str(info.value)
    assert "step 2/2 (RUN echo about to fail && false)" in message
    assert "returned a non-zero code: 1" in message
    assert "\n" not in message
    assert info.value.exit_code == 5


def test_pip_failure_names_the_requirement(tmp_path, infra: Infra, tags) -> None:
    dockerfile = (f"FROM {infra.base_image}\n"
                  "RUN python3 -m venv /v && /v/bin/pip install --no-index modelpack-no-such-pkg==1.0\n")
    with pytest.raises(BuildFailed) as info:
        build(_ctx(tmp_path, dockerfile), [tags("pipfail")], progress=Progress("quiet"))
    message = str(info.value)
    assert "pip could not install requirement 'modelpack-no-such-pkg==1.0'" in message
    assert "ERROR: No matching distribution found for modelpack-no-such-pkg==1.0" in message
    assert info.value.exit_code == 5


def test_missing_base_image_is_a_build_failure(tmp_path, tags) -> None:
    dockerfile = "FROM modelpack-no-such-base-image:never\n"
    with pytest.raises(BuildFailed) as info:
        build(_ctx(tmp_path, dockerfile), [tags("nobase")], progress=Progress("quiet"))
    assert "cannot get the base image" in str(info.value)
    assert "--base-image" in str(info.value)


def test_context_tar_is_deterministic(tmp_path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.py").write_text("z")
    (tmp_path / "a.txt").write_text("a")
    first, second = io.BytesIO(), io.BytesIO()
    write_context(tmp_path, "FROM scratch\n", first)
    (tmp_path / "a.txt").touch()  # a new mtime must not change the bytes
    write_context(tmp_path, "FROM scratch\n", second)
    assert first.getvalue() == second.getvalue()
    members = tarfile.open(fileobj=io.BytesIO(first.getvalue())).getmembers()
    assert [m.name for m in members] == ["a.txt", "b", "b/z.py", "Dockerfile"]
    assert {(m.uid, m.gid, m.mtime, m.uname) for m in members} == {(0, 0, 0, "")}


def test_push_good_and_bad_credentials(tmp_path, infra: Infra, tags, docker_client) -> None:
    tag = f"{infra.registry}/modelpack-it/backend-push:{RUN_ID}"
    ctx = _ctx(tmp_path, f"FROM {infra.base_image}\nCOPY hello.txt /hello-{RUN_ID}.txt\n")
    build(ctx, [tags("push"), tag], progress=Progress("quiet"))
    try:
        out = io.StringIO()
        with pytest.raises(PushFailed) as info:
            push(tag, username=infra.user, password="wrong-" + RUN_ID, progress=Progress("plain", stream=out))
        message = str(info.value)
        assert f"registry {infra.registry} refused the push" in message
        assert f"docker login {infra.registry}" in message
        assert "wrong-" + RUN_ID not in message + out.getvalue()
        out = io.StringIO()
        result = push(tag, username=infra.user, password=infra.password, progress=Progress("plain", stream=out))
        assert result.digest.startswith("sha256:") and len(result.digest) == 71
        assert infra.password not in out.getvalue()
        # the registry serves exactly that manifest
        import requests
        name, version = tag.split("/", 1)[1].rsplit(":", 1)
        r = requests.head(f"http://{infra.registry}/v2/{name}/manifests/{version}", auth=(infra.user, infra.password),
                          headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}, timeout=10)
        assert r.headers["Docker-Content-Digest"] == result.digest
    finally:
        docker_client.images.remove(tag, force=True, noprune=True)


def test_labels_the_dockerfile_sets_are_not_added_twice(tmp_path, infra: Infra, tags, docker_client) -> None:
    dockerfile = f'FROM {infra.base_image}\nLABEL io.modelpack.a="1" \\\n      io.modelpack.b="two words"\n'
    out = io.StringIO()
    ctx = _ctx(tmp_path, dockerfile, labels={"io.modelpack.a": "1", "io.modelpack.b": "two words",
                                             "io.modelpack.c": RUN_ID})
    build(ctx, [tags("labels")], progress=Progress("plain", stream=out))
    labels = docker_client.images.get(f"modelpack-it/backend-labels:{RUN_ID}").labels
    assert labels["io.modelpack.a"] == "1" and labels["io.modelpack.b"] == "two words"
    assert labels["io.modelpack.c"] == RUN_ID
    steps = [line for line in out.getvalue().splitlines() if " : LABEL " in line]
    assert len(steps) == 2 and "io.modelpack.c" in steps[1], steps
