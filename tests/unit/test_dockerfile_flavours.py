"""`modelpack dockerfile --backend engine|buildkit --installer uv|pip`: the same Dockerfile `build`
would build with those flags, and the printed command to build it elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from packager.cli import app
from packager.render import plan_layout, render_dockerfile
from packager.spec import BuildOptions, load_spec

runner = CliRunner()
ENV = "MODEL_NAME=Model\nEXTRA_INDEX_URL=https://u:pw-5511@idx.example/simple\n"


def source(root: Path) -> Path:
    (root / ".s2i").mkdir(parents=True)
    (root / ".s2i" / "environment").write_text(ENV)
    (root / "Model.py").write_text("class Model:\n    def predict(self, X, names=None):\n        return X\n")
    (root / "requirements.txt").write_text("six==1.16.0\n")
    return root


def render(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["dockerfile", str(source(tmp_path / "src")), str(out), "--ca-cert", str(ca),
                                 *flags], env=env)
    assert result.exit_code == 0, result.stderr
    assert "pw-5511" not in result.stdout + result.stderr
    return (out / "Dockerfile").read_text(), result.stdout


@pytest.mark.parametrize(("backend", "installer"), [("engine", "pip"), ("engine", "uv"), ("buildkit", "pip"),
                                                   ("buildkit", "uv")])
def test_each_flavour_is_what_build_renders(tmp_path: Path, backend: str, installer: str) -> None:
    dockerfile, stdout = render(tmp_path, "--backend", backend, "--installer", installer)
    spec = load_spec(BuildOptions(src=tmp_path / "src", ca_cert=tmp_path / "ca.pem", backend=backend,
                                  installer=installer, env=()))
    assert dockerfile == render_dockerfile(spec, plan_layout(spec))
    assert f"backend {backend}, installer {installer})" in stdout
    mounts = "RUN --mount=type=cache" in dockerfile
    assert mounts == (backend == "buildkit")
    assert ("/opt/uv/bin/uv pip install" in dockerfile) == (installer == "uv")
    if backend == "buildkit":
        assert "--mount=type=secret,id=pip_env,required=true" in dockerfile
        assert "ARG EXTRA_INDEX_URL" not in dockerfile and "COPY modelpack/ca.crt" not in dockerfile
        assert f"--mount=type=cache,target=/root/.cache/{installer}" in dockerfile
        ca = tmp_path / "out" / "modelpack" / "ca.crt"
        assert stdout.splitlines()[1] == (
            "build with: DOCKER_BUILDKIT=1 docker build --secret id=pip_env,src=FILE "
            f"--build-arg MODELPACK_SECRETS_DIGEST=DIGEST --secret id=ca,src={ca} {tmp_path / 'out'}")
        assert "FILE holds one NAME='value' line for each of EXTRA_INDEX_URL" in stdout
    else:
        assert "ARG EXTRA_INDEX_URL" in dockerfile and "COPY modelpack/ca.crt /tmp/modelpack/ca.crt" in dockerfile
        assert "--build-arg EXTRA_INDEX_URL" in stdout


def test_defaults_are_the_portable_flavour_and_builds_installer(tmp_path: Path) -> None:
    dockerfile, stdout = render(tmp_path)
    assert "--mount=" not in dockerfile  # plain Dockerfile: docker, kaniko, buildah
    assert "/opt/uv/bin/uv pip install" in dockerfile  # uv, as for build
    assert "backend engine, installer uv)" in stdout


def test_environment_variables_choose_like_build(tmp_path: Path) -> None:
    dockerfile, stdout = render(tmp_path, env={"MODELPACK_BACKEND": "buildkit", "MODELPACK_INSTALLER": "pip"})
    assert "--mount=type=cache,target=/root/.cache/pip" in dockerfile and "/opt/uv" not in dockerfile
    assert "backend buildkit, installer pip)" in stdout


@pytest.mark.parametrize(("flags", "line"), [
    (["--backend", "kaniko"], 'error: --backend "kaniko": expected engine, buildkit or auto'),
    (["--installer", "poetry"], 'error: --installer "poetry": expected uv or pip'),
])
def test_bad_values_are_usage_errors(tmp_path: Path, flags: list[str], line: str) -> None:
    result = runner.invoke(app, ["dockerfile", str(source(tmp_path / "src")), str(tmp_path / "out"), *flags])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [line]
    assert not (tmp_path / "out").exists()
