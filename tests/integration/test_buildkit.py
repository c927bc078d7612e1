"""--backend buildkit on the real engine, on both BuildKit paths: `docker buildx build` (Debian
trixie's docker-buildx plugin, docker driver; scripts/test-infra installs it) and Debian's 20.10
CLI with DOCKER_BUILDKIT=1 (MODELPACK_BUILDKIT_CLIENT picks one). An example builds, runs and
answers; the secret scan passes (index URL with a password, trusted host, CA bundle reach the
install step through secret mounts only); a requirement change reruns only the requirements step
and uv's cache mount keeps the downloads; a failing pip step, an unavailable BuildKit (or buildx)
and `auto` give one clear line."""
from __future__ import annotations

import json
import re
import shutil
import stat
import tempfile
import uuid
from pathlib import Path

import docker
import pytest

from packager.backend.buildkit import PlainLog

from .conftest import EXAMPLES, Images, run_cli
from .privateindex import assert_image_clean, private_index

BK = ("--backend", "buildkit")
CLIENTS = ("buildx", "docker-build")
CHOSEN = {"buildx": "backend: buildkit (docker buildx ", "docker-build": "backend: buildkit (/usr/bin/docker build with "
          "DOCKER_BUILDKIT=1"}
DOCKER_DRIVER = 'building with "default" instance using docker driver'  # buildx's first log line


def client_env(client: str) -> dict[str, str]:
    return {"MODELPACK_BUILDKIT_CLIENT": client}


def check_client(result, client: str) -> None:
    """The build ran on the path asked for: the backend line and buildx's own log say which."""
    assert CHOSEN[client] in result.stderr, result.explain()
    assert (DOCKER_DRIVER in result.output) == (client == "buildx"), result.explain()


def executed(output: str) -> dict[str, bool]:
    """BuildKit plain log -> {RUN instruction: executed (True) or cache hit (False)}."""
    lines = [re.sub(r"^\[\w+\] ", "", line) for line in output.splitlines()]
    names: dict[str, str] = {}
    cached: set[str] = set()
    for line in lines:
        vertex = re.match(r"^#(\d+) \[[^\]]+\] (RUN .*)$", line)
        if vertex:
            names.setdefault(vertex.group(1), vertex.group(2))
        hit = re.match(r"^#(\d+) CACHED", line)
        if hit:
            cached.add(hit.group(1))
    return {instr: vid not in cached for vid, instr in names.items()}


@pytest.mark.docker
@pytest.mark.parametrize("client", CLIENTS)
def test_example_builds_runs_and_answers_on_buildkit(images: Images, run_container, tmp_path: Path,
                                                     client: str) -> None:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES / "buildkit", src)
    tag, result = images.build(src, f"bk-sklearn-{client}", *BK, "--installer", "uv", env=client_env(client))
    assert result.returncode == 0, result.explain()
    check_client(result, client)
    assert "--mount=type=cache,target=/root/.cache/uv" in result.output  # the cache mount, not --no-cache
    app = run_container(tag)
    r = app.post("/api/v1.0/predictions", {"data": {"ndarray": [[1.0, 1.0, 0.0, 0.0], [-1.0, -1.0, 0.0, 0.0]]}})
    assert r.status_code == 200, r.text
    (p0, p1), (q0, _q1) = r.json()["data"]["ndarray"]
    assert p1 > 0.99 and q0 > 0.99 and abs(p0 + p1 - 1) < 1e-9, r.text  # class 1 iff x0 + x1 > 0

    # a requirement change: only the requirements step runs again (the runtime install is cached)
    with open(src / "requirements.txt", "a") as fh:
        fh.write(f"six==1.16.0  # {uuid.uuid4().hex}: a new requirements.txt on every run\n")
    _, again = images.build(src, f"bk-sklearn-plus-{client}", *BK, "--installer", "uv", env=client_env(client))
    assert again.returncode == 0, again.explain()
    check_client(again, client)
    steps = executed(again.output)
    ran = [instr for instr, did in steps.items() if did]
    # the deps stage's slim step follows what is installed: it reruns too, and reinstalls nothing
    ran = [r for r in ran if "slimvenv.py finish" not in r]
    assert len(ran) == 1 and "-r requirements.txt" in ran[0], json.dumps(steps, indent=1)
    # uv's cache mount kept the first build's wheels: at most the new requirement is downloaded
    # ("Prepared" counts what uv had to fetch or build)
    assert "installer: uv" in again.stderr, again.explain()
    prepared = [int(n) for n in re.findall(r"#\d+ [\d.]+ Prepared (\d+) packages? in", again.output)]
    assert re.search(r"#\d+ [\d.]+ Installed \d+ packages in", again.output), again.explain()
    assert all(n <= 1 for n in prepared), f"uv fetched {prepared} packages again\n{again.explain()}"


@pytest.mark.docker
@pytest.mark.parametrize("installer, client", [("pip", "docker-build"), ("uv", "docker-build"),
                                               ("pip", "buildx"), ("uv", "buildx")])
def test_no_secret_in_image_or_output_on_buildkit(images: Images, run_container, tmp_path: Path,
                                                  docker_client: docker.DockerClient, installer: str,
                                                  client: str) -> None:
    with private_index(images.infra, tmp_path) as private:
        tag, result = images.build(EXAMPLES / "private-index", f"bk-private-{installer}-{client}",
                                   "--base-image", images.infra.base_image, *private.flags, *BK,
                                   "--installer", installer, base=False, env=client_env(client))
        seen = list(private.index.requests)
    assert result.returncode == 0, result.explain()
    check_client(result, client)
    assert ("/simple/mp-private-demo/", 200) in seen, seen
    assert "--mount=type=secret,id=pip_env" in result.output and "--mount=type=secret,id=ca" in result.output
    app = run_container(tag)
    assert app.post("/predict", {"data": {"ndarray": [[1, 2]]}}).json()["data"]["ndarray"] == [[7.0, 14.0]]
    needles = private.needles
    assert_image_clean(docker_client, tag, needles)
    for name in ("password", "index url"):
        assert needles[name].decode() not in result.output, f"{name} printed by the CLI"
    # the secret file lived in a private temp folder that is gone after the build (other builds on
    # the machine may have folders of their own: look for this build's password in them)
    leftovers = [p for p in Path(tempfile.gettempdir()).glob("modelpack-secrets-*/pip_env")
                 if private.password.encode() in p.read_bytes()]
    assert not leftovers, leftovers


@pytest.mark.docker
def test_failing_pip_step_on_buildkit_is_one_line(images: Images, tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(EXAMPLES / "requirements-params", src)
    (src / "requirements.txt").write_text("mp-h1-no-such-package==9.9\n")
    _, result = images.build(src, "bk-fail", *BK, "--installer", "pip")
    assert result.returncode == 5, result.explain()
    errors = result.error_lines()
    assert len(errors) == 1, result.explain()
    assert "mp-h1-no-such-package==9.9" in errors[0] and "-r requirements.txt" in errors[0], errors[0]


def fake_cli(folder: Path, help_text: str) -> Path:
    """A `docker` that has no buildx and whose `build --help` prints help_text."""
    path = folder / "docker"
    path.write_text(f"#!/bin/sh\nif [ \"$1\" = build ]; then echo '{help_text}'; exit 0; fi\nexit 1\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.docker
def test_buildkit_requested_where_unavailable(images: Images, tmp_path: Path) -> None:
    old = fake_cli(tmp_path, "Usage: docker build [OPTIONS] PATH")  # a pre-18.09 CLI: no --secret
    _, result = images.build(EXAMPLES / "minimal", "bk-none", *BK, env={"MODELPACK_DOCKER_CLI": str(old)})
    assert result.returncode == 4, result.explain()
    errors = result.error_lines()
    assert len(errors) == 1 and "--backend buildkit: BuildKit is not available" in errors[0], result.explain()
    assert str(old) in errors[0] and "--backend engine" in errors[0], errors[0]

    _, missing = images.build(EXAMPLES / "minimal", "bk-none", *BK,
                              env={"MODELPACK_DOCKER_CLI": str(tmp_path / "nope")})
    assert missing.returncode == 4 and len(missing.error_lines()) == 1, missing.explain()
    assert str(tmp_path / "nope") in missing.error_lines()[0]


@pytest.mark.docker
def test_auto_says_which_backend_and_why(images: Images, tmp_path: Path) -> None:
    old = fake_cli(tmp_path, "Usage: docker build [OPTIONS] PATH")
    _, result = images.build(EXAMPLES / "minimal", "bk-auto-engine", "--backend", "auto",
                               env={"MODELPACK_DOCKER_CLI": str(old)})
    assert result.returncode == 0, result.explain()
    assert "backend: engine (Docker Engine API; BuildKit not available:" in result.stderr, result.explain()
    assert "Step 1/" in result.output  # the Engine API's legacy builder log
    # scripts/test-infra installed the buildx plugin: auto prefers it, and says how to pick the other path
    _, chosen = images.build(EXAMPLES / "minimal", "bk-auto", "--backend", "auto")
    assert chosen.returncode == 0, chosen.explain()
    assert re.search(r"backend: buildkit \(docker buildx [^ ]+ via \S+docker, docker driver; "
                     r"MODELPACK_BUILDKIT_CLIENT=docker-build for DOCKER_BUILDKIT=1 docker build; "
                     r"--backend engine for the Engine API builder\)", chosen.stderr), chosen.explain()
    assert "with BuildKit (docker buildx;" in chosen.output and DOCKER_DRIVER in chosen.output, chosen.explain()
    # a Docker config without the plugin: auto falls back to DOCKER_BUILDKIT=1 and says why
    no_plugins = tmp_path / "docker-config"
    no_plugins.mkdir()
    _, classic = images.build(EXAMPLES / "minimal", "bk-auto-classic", "--backend", "auto",
                              env={"DOCKER_CONFIG": str(no_plugins)})
    assert classic.returncode == 0, classic.explain()
    assert "backend: buildkit (/usr/bin/docker build with DOCKER_BUILDKIT=1; no docker buildx: none of " \
           in classic.stderr and "has the buildx plugin" in classic.stderr, classic.explain()
    assert "with BuildKit (DOCKER_BUILDKIT=1 docker build;" in classic.output, classic.explain()
    assert DOCKER_DRIVER not in classic.output


@pytest.mark.docker
def test_buildx_requested_where_it_is_not_installed(images: Images, tmp_path: Path) -> None:
    no_plugins = tmp_path / "docker-config"
    no_plugins.mkdir()
    env = {"DOCKER_CONFIG": str(no_plugins), "MODELPACK_BUILDKIT_CLIENT": "buildx"}
    _, result = images.build(EXAMPLES / "minimal", "bk-no-buildx", *BK, env=env)
    assert result.returncode == 4, result.explain()
    assert len(result.error_lines()) == 1, result.explain()
    assert result.error_lines()[0].startswith("error: --backend buildkit: BuildKit is not available: "
                                              "MODELPACK_BUILDKIT_CLIENT=buildx: none of "), result.explain()
    assert "has the buildx plugin" in result.error_lines()[0], result.explain()
    bad = run_cli("build", str(EXAMPLES / "minimal"), "x", "--dry-run", *BK,
                  env={"MODELPACK_BUILDKIT_CLIENT": "kaniko"})
    assert bad.returncode == 2, bad.explain()
    assert bad.error_lines() == [('error: MODELPACK_BUILDKIT_CLIENT="kaniko": expected auto, buildx or docker-build; '
                                 "unset it to let modelpack pick (buildx where installed)")], bad.explain()


def test_plain_log_failure_names_step_and_pip_error() -> None:
    log = PlainLog()
    for line in [
        "#9 [stage-1 2/6] RUN useradd modelpack",
        "#9 sha256:" + "a" * 64,
        "#9 ERROR: not found",  # cancelled in parallel when #7 failed: not the step to name
        "#7 [deps 4/6] RUN pip install -r requirements.txt",
        "#7 sha256:" + "b" * 64,
        "#7 0.81 ERROR: Could not find a version that satisfies the requirement nopkg==1 (from versions: none)",
        "#7 0.82 ERROR: No matching distribution found for nopkg==1",
        "#7 ERROR: executor failed running [/bin/sh -c pip install -r requirements.txt]: exit code: 1",
        "#3 [internal] load metadata for docker.io/library/x:1",
        "#3 CACHED",
        "error: failed to solve: executor failed running: exit code: 1",
    ]:
        log.feed(line)
    error = log.failure(lambda s: s, 1)
    assert error.exit_code == 5
    assert "step [deps 4/6 RUN pip install -r requirements.txt]" in str(error)
    assert "'nopkg==1'" in str(error) and "\n" not in str(error) and "sha256" not in str(error)
    assert log.cached == 0  # [internal] vertices are not Dockerfile steps


def fake_buildx_cli(folder: Path, current: str, default: str) -> Path:
    """A `docker` whose buildx plugin's current builder uses the `current` driver and whose builder
    `default` uses the `default` driver."""
    path = folder / "docker"
    path.write_text(
        "#!/bin/sh\n"
        '[ "$1" = buildx ] || exit 1\n'
        'case "$2 $3" in\n'
        '  "version ") echo "github.com/docker/buildx 0.99.0 abc"; exit 0;;\n'
        f'  "inspect ") printf "Name:   mybuilder\\nDriver: {current}\\n"; exit 0;;\n'
        f'  "inspect default") printf "Name:   default\\nDriver: {default}\\n"; exit 0;;\n'
        "esac\nexit 1\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize("current, default, argv_tail", [
    ("docker", "docker", ["buildx", "build", "--load"]),
    ("docker-container", "docker", ["buildx", "build", "--load", "--builder", "default"]),
    ("docker-container", "kubernetes", None),
])
def test_buildx_is_used_only_with_a_docker_driver_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          current: str, default: str, argv_tail) -> None:
    from packager.backend.buildkit import find_cli

    cli_path = fake_buildx_cli(tmp_path, current, default)
    monkeypatch.setenv("MODELPACK_DOCKER_CLI", str(cli_path))
    monkeypatch.setenv("MODELPACK_BUILDKIT_CLIENT", "buildx")
    cli, reason = find_cli()
    if argv_tail is None:
        assert cli is None
        assert reason == (f"MODELPACK_BUILDKIT_CLIENT=buildx: {cli_path} buildx: the builder mybuilder uses the "
                          "docker-container driver and no docker-driver builder exists (`docker buildx use default`)")
    else:
        assert cli is not None and cli.argv == [str(cli_path), *argv_tail], cli
        assert cli.describe().startswith(f"docker buildx 0.99.0 via {cli_path}, docker driver")
