"""environment.yml reading and the conda Dockerfile, without Docker or a channel: every shape
error is one line naming the file and the field; the rendered Dockerfile builds the environment
in its own stage and the final image copies only the environment."""
from __future__ import annotations

from pathlib import Path

import pytest

from packager.errors import SourceError
from packager.pipeline import plan
from packager.spec import BuildOptions


def run_steps(dockerfile: str) -> list[str]:
    """The RUN instructions of a Dockerfile text, each joined into one line (continuations included)."""
    steps: list[str] = []
    lines = iter(dockerfile.splitlines())
    for line in lines:
        if line.startswith("RUN "):
            step = line
            while step.endswith("\\"):
                step = step[:-1] + next(lines, "")
            steps.append(step[4:])
    return steps


GOOD = "channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - numpy\n  - pip:\n    - six==1.16.0\n"


def _source(tmp_path: Path, env_yml: str, s2i: str = "MODEL_NAME=Model\n", **extra: str) -> Path:
    (tmp_path / ".s2i").mkdir(parents=True)
    (tmp_path / ".s2i/environment").write_text(s2i)
    (tmp_path / "Model.py").write_text("class Model:\n    def predict(self, X, n=None, m=None):\n        return X\n")
    (tmp_path / "environment.yml").write_text(env_yml)
    for name, text in extra.items():
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("text, message", [
    ("channels: [conda-forge]\n", "environment.yml: dependencies: must be a non-empty list"),
    ("dependencies: [python]\n", "environment.yml: channels: must be a non-empty list"),
    ("channels: [c]\ndependencies: [numpy]\n", "environment.yml: dependencies: no python"),
    ("channels: [c]\ndependencies: [python, {pip: ['numpy>=>1']}]\n",
     'environment.yml pip:: cannot parse dependency "numpy>=>1"'),
    ("channels: [c]\ndependencies: [python, {conda: [x]}]\n", "environment.yml: dependencies: unexpected entry"),
    ("channels: [c\n", "environment.yml line 2: invalid YAML"),
])
def test_bad_environment_yml_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SourceError) as info:
        plan(BuildOptions(src=_source(tmp_path, text)))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_environment_yml_beside_requirements_txt_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="environment.yml and requirements.txt: one environment, two descriptions"):
        plan(BuildOptions(src=_source(tmp_path, GOOD, **{"requirements.txt": "six\n"})))


def test_conda_dockerfile(tmp_path: Path) -> None:
    dockerfile = plan(BuildOptions(src=_source(tmp_path, GOOD, "MODEL_NAME=Model\nCONDA_ENV_NAME=serving\n"))).dockerfile
    prefix = "/opt/conda/envs/serving"
    assert "FROM python:3.11-slim AS conda" in dockerfile
    assert " AS deps" not in dockerfile  # no pip virtualenv stage: the environment holds everything
    assert "/opt/rattler/bin/python /tmp/modelpack/conda_create.py /tmp/modelpack/conda-env.json" in dockerfile
    assert f"{prefix}/bin/python -m pip install --no-cache-dir -r /tmp/modelpack/deps/conda-pip-requirements.txt" in dockerfile
    final = dockerfile.split("# Final stage", 1)[1]
    assert f"COPY --from=conda {prefix} {prefix}" in final
    assert f"ENV PATH={prefix}/bin:$PATH CONDA_PREFIX={prefix} CONDA_DEFAULT_ENV=serving" in final
    assert "rattler" not in final and "COPY --from=deps" not in final


def test_bad_env_name(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match='CONDA_ENV_NAME "a b": not a valid environment name'):
        plan(BuildOptions(src=_source(tmp_path, GOOD, "MODEL_NAME=Model\nCONDA_ENV_NAME=a b\n")))


def test_conda_lock_round_trip_and_staleness(tmp_path: Path) -> None:
    from packager.conda.lockfile import read_conda_lock, write_conda_lock
    from packager.conda.solve import CondaPackage
    from packager.spec import load_spec

    src = _source(tmp_path, GOOD)
    env = load_spec(BuildOptions(src=src)).deps.conda
    packages = [CondaPackage("numpy", "2.0.0", "py311_0", "https://example.invalid/linux-64/numpy-2.0.0-py311_0.conda",
                             "ab" * 32, "cd" * 16, (("python", ">=3.11"),))]
    write_conda_lock(src, env, "linux-64", packages)
    assert read_conda_lock(src, env, "linux-64") == ("current", packages)
    assert read_conda_lock(src, env, "linux-aarch64") == ("stale", None)
    assert load_spec(BuildOptions(src=src, locked=True)).install_lock == "conda-lock.yml"  # used by the build
    (src / "environment.yml").write_text(GOOD + "# edited\n")
    assert read_conda_lock(src, env, "linux-64") == ("stale", None)


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_conda_stage_on_buildkit_uses_secret_and_cache_mounts(tmp_path: Path, installer: str) -> None:
    src = _source(tmp_path, GOOD)
    options = BuildOptions(src=src, backend="buildkit", installer=installer,
                           env=(("EXTRA_INDEX_URL", "https://u:pw@idx.example/simple"), ("IDX_TOKEN", "t0k")),
                           ca_cert=Path(__file__))
    stage = plan(options).dockerfile.split("# Final stage", 1)[0]
    assert "ARG EXTRA_INDEX_URL" not in stage and "ARG IDX_TOKEN" not in stage and "COPY modelpack/ca.crt" not in stage
    assert "ARG MODELPACK_SECRETS_DIGEST" in stage  # a changed secret still reruns the installs
    runs = run_steps(stage)
    cache = "/root/.cache/uv" if installer == "uv" else "/root/.cache/pip"
    create = [r for r in runs if "conda_create.py" in r]
    assert len(create) == 1 and create[0].startswith("--mount=type=cache,target=/root/.cache/rattler ")
    assert create[0].rstrip().endswith("/root/.cache/rattler/cache/pkgs")  # py-rattler's package cache
    for marker in ("modelpack_runtime-", "conda-pip-requirements.txt"):
        [step] = [r for r in runs if marker in r]
        assert f"--mount=type=cache,target={cache}" in step and "--mount=type=secret,id=pip_env,required=true" in step
        assert "--mount=type=secret,id=ca,target=/tmp/modelpack/ca.crt" in step
        assert ("/opt/uv/bin/uv pip install --python /opt/conda/envs/microservice/bin/python" in step) == (installer == "uv")
    assert "pw" not in stage and "t0k" not in stage


# --- private channels: credentials never in a channel URL, a rattler auth file as a build-only secret ---

AUTH = '{"conda.example.com": {"BasicHTTP": {"username": "reader", "password": "chan-pw-1234"}}}'


@pytest.mark.parametrize("channel, masked", [
    ("https://reader:chan-pw-1234@conda.example.com/private", "https://****@conda.example.com/private"),
    ("https://tok-5678@conda.example.com/private", "https://****@conda.example.com/private"),
    ("https://conda.anaconda.org/t/tok-5678/private", "https://conda.anaconda.org/t/****/private"),
    ("https://conda.anaconda.org/t/tok-5678/", "https://conda.anaconda.org/t/****"),
])
def test_a_credential_in_a_channel_url_is_refused_masked(tmp_path: Path, channel: str, masked: str) -> None:
    text = f"channels:\n  - conda-forge\n  - {channel}\ndependencies: [python=3.11]\n"
    with pytest.raises(SourceError) as info:
        plan(BuildOptions(src=_source(tmp_path, text)))
    message = str(info.value)
    assert message.startswith(f"environment.yml: channels: {masked} holds a credential"), message
    assert "--conda-auth FILE" in message and "\n" not in message
    assert "chan-pw-1234" not in message and "tok-5678" not in message


@pytest.mark.parametrize("channel", ["conda-forge", "https://conda.example.com/private", "file:///srv/channel",
                                     "https://conda.example.com/tools/t/"])
def test_channels_without_credentials_pass(channel: str) -> None:
    from packager.conda.auth import channel_credential

    assert channel_credential(channel) is None


@pytest.mark.parametrize("content, message", [
    (None, "--conda-auth {path}: no such file; pass a rattler auth file"),
    ("{not json", "--conda-auth {path}: not valid JSON (JSONDecodeError at 1:2)"),
    ("[]", "--conda-auth {path}: expected a JSON object of host names"),
    ('{"https://conda.example.com": {"BearerToken": "tok-5678"}}',
     "--conda-auth {path}: key 'https://conda.example.com' is not a host name"),
    ('{"conda.example.com:8443": {"BearerToken": "tok-5678"}}',
     "--conda-auth {path}: key 'conda.example.com:8443' is not a host name"),
    ('{"conda.example.com": {"Basic": {"username": "u", "password": "tok-5678"}}}',
     "--conda-auth {path}: conda.example.com: expected one credential: BasicHTTP, BearerToken, CondaToken"),
])
def test_bad_auth_file_is_one_line_without_its_values(tmp_path: Path, content: str | None, message: str) -> None:
    auth = tmp_path / "auth.json"
    if content is not None:
        auth.write_text(content)
    with pytest.raises(SourceError) as info:
        plan(BuildOptions(src=_source(tmp_path / "src", GOOD), conda_auth=auth))
    text = str(info.value)
    assert text.startswith(message.format(path=auth)), text
    assert "tok-5678" not in text and "\n" not in text


def test_auth_file_is_ignored_without_environment_yml(tmp_path: Path) -> None:
    # RATTLER_AUTH_FILE may be set for every build on a machine: a pip folder does not use it
    src = _source(tmp_path, GOOD)
    (src / "environment.yml").unlink()
    spec = plan(BuildOptions(src=src, conda_auth=tmp_path / "missing.json")).spec
    assert spec.conda_auth is None


@pytest.mark.parametrize("backend", ["engine", "buildkit"])
def test_auth_file_reaches_the_environment_step_only(tmp_path: Path, backend: str) -> None:
    from packager.render import render_context

    auth = tmp_path / "auth.json"
    auth.write_text(AUTH)
    the_plan = plan(BuildOptions(src=_source(tmp_path / "src", GOOD), conda_auth=auth, backend=backend))
    stage, final = the_plan.dockerfile.split("# Final stage", 1)
    assert "conda-auth" not in final and "RATTLER_AUTH_FILE" not in final
    [create] = [r for r in run_steps(stage) if "conda_create.py" in r]
    assert "RATTLER_AUTH_FILE=/tmp/modelpack/conda-auth.json " in create
    others = [r for r in run_steps(stage) if "conda_create.py" not in r]
    assert others and not any("conda-auth" in r or "RATTLER_AUTH_FILE" in r for r in others)
    copy = "COPY modelpack/conda-auth.json /tmp/modelpack/conda-auth.json"
    mount = "--mount=type=secret,id=conda_auth,target=/tmp/modelpack/conda-auth.json,required=true"
    if backend == "buildkit":
        assert mount in create and copy not in stage
    else:
        assert copy in stage and mount not in stage
    # the context holds the file (0600) for the secret mount or the COPY; the logs mask its values
    with pytest.MonkeyPatch.context() as mp:  # no channel here: the stage's inputs are what is tested
        mp.setattr("packager.conda.solve.solve_environment", lambda env, platform, auth=None: [])
        ctx = render_context(the_plan.spec, tmp_path / "ctx", include_secrets=True)
    written = tmp_path / "ctx" / "modelpack" / "conda-auth.json"
    assert written.read_text() == AUTH and (written.stat().st_mode & 0o777) == 0o600
    assert "chan-pw-1234" in ctx.secret_values and "reader" in ctx.secret_values
