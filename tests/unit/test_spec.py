"""load_spec: precedence of env sources, every error collected, completion, git sources, size."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from packager.errors import SourceError, UsageError
from packager.source.tree import SourceFile, check_size
from packager.spec import BuildOptions, load_spec

MODEL = "class Model:\n    def predict(self, X, names=None, meta=None):\n        return X\n"


def source(root: Path, env: str = "MODEL_NAME=Model\n", **files: str) -> Path:
    (root / ".s2i").mkdir(parents=True, exist_ok=True)
    (root / ".s2i" / "environment").write_text(env)
    (root / "Model.py").write_text(MODEL)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_defaults_and_runtime_env(tmp_path: Path) -> None:
    spec = load_spec(BuildOptions(src=source(tmp_path, "MODEL_NAME=Model\nGUNICORN_WORKERS=2\n")))
    assert spec.service_type == "MODEL" and spec.persistence == "0"
    assert spec.runtime_env == (
        ("MODEL_NAME", "Model"),
        ("SERVICE_TYPE", "MODEL"),
        ("PERSISTENCE", "0"),
        ("GUNICORN_WORKERS", "2"),
    )
    assert spec.base_image == "python:3.11-slim" and spec.python == "3.11"
    assert spec.deps.empty and spec.secret_env == ()
    assert [f.rel for f in spec.files] == ["Model.py"]  # .s2i/environment is not copied
    labels = dict(spec.labels)
    assert labels["io.modelpack.model-name"] == "Model" and labels["io.modelpack.builder"] == "python"
    assert labels["io.modelpack.source-digest"].startswith("sha256:")


def test_precedence_file_then_env_file_then_flags(tmp_path: Path) -> None:
    src = source(tmp_path / "src", "MODEL_NAME=Model\nA=file\nB=file\nC=file\n")
    env_file = tmp_path / "extra.env"
    env_file.write_text("B=envfile\nC=envfile\n")
    spec = load_spec(
        BuildOptions(src=src, env_file=env_file, env=(("C", "flag"), ("SERVICE_TYPE", "ROUTER")))
    )
    env = dict(spec.runtime_env)
    assert (env["A"], env["B"], env["C"], spec.service_type) == ("file", "envfile", "flag", "ROUTER")


def test_secrets_are_build_only_and_committed_ones_warn(tmp_path: Path) -> None:
    src = source(
        tmp_path, "MODEL_NAME=Model\nEXTRA_INDEX_URL=https://u:pw-123456@h/simple\nPIP_TRUSTED_HOST=h\n"
    )
    spec = load_spec(BuildOptions(src=src, env=(("HF_TOKEN", "hf_abcdef"),)))
    assert dict(spec.secret_env) == {
        "EXTRA_INDEX_URL": "https://u:pw-123456@h/simple",
        "PIP_TRUSTED_HOST": "h",
        "HF_TOKEN": "hf_abcdef",
    }
    assert "HF_TOKEN" not in dict(spec.runtime_env)
    assert len(spec.warnings) == 1
    assert spec.warnings[0].startswith(".s2i/environment line 2: EXTRA_INDEX_URL holds a credential")
    assert "pw-123456" not in spec.warnings[0]


def test_every_error_is_collected(tmp_path: Path) -> None:
    src = source(
        tmp_path,
        "MODEL_NAME=MyModel\nSERVICE_TYPE=ROUTERX\nPERSISTENCE=2\nPATH=/x\n",
        **{"environment.yml": "name: x\n"},
    )
    with pytest.raises(SourceError) as info:
        load_spec(BuildOptions(src=src, builder="nope", python="2.7"))
    text = str(info.value)
    assert text.startswith("6 problems: ")
    for part in (
        "MODEL_NAME=MyModel: no MyModel.py",
        'SERVICE_TYPE "ROUTERX" is not one of',
        'PERSISTENCE "2" must be 0 or 1',
        "PATH cannot be set",
        "environment.yml: channels:",
        "--builder nope: unknown builder",
    ):
        assert part in text
    assert "\n" not in text


def test_missing_model_name(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="^MODEL_NAME is not set"):
        load_spec(BuildOptions(src=source(tmp_path, "SERVICE_TYPE=MODEL\n")))


def test_python_and_base_image(tmp_path: Path) -> None:
    src = source(tmp_path)
    assert load_spec(BuildOptions(src=src, python="3.12")).base_image == "python:3.12-slim"
    spec = load_spec(BuildOptions(src=src, base_image="modelpack-test-base:bookworm"))
    assert spec.base_image == "modelpack-test-base:bookworm"
    with pytest.raises(SourceError, match="--python 3.8: builder python supports"):
        load_spec(BuildOptions(src=src, python="3.8"))


def test_bad_image_name(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match='image name "My/Model": not a valid reference'):
        load_spec(BuildOptions(src=source(tmp_path), tags=("My/Model",)))
    spec = load_spec(BuildOptions(src=source(tmp_path), tags=("localhost:5000/org/m:1.0", "m")))
    assert spec.tags == ("localhost:5000/org/m:1.0", "m")


def test_missing_ca_cert_and_env_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="--ca-cert .*no such file"):
        load_spec(BuildOptions(src=source(tmp_path), ca_cert=tmp_path / "nope.pem"))
    with pytest.raises(UsageError, match="--env-file .*no such file"):
        load_spec(BuildOptions(src=source(tmp_path), env_file=tmp_path / "nope.env"))


def test_healthcheck_key(tmp_path: Path) -> None:
    assert load_spec(
        BuildOptions(src=source(tmp_path, "MODEL_NAME=Model\nMODELPACK_HEALTHCHECK=1\n"))
    ).healthcheck
    assert not load_spec(BuildOptions(src=source(tmp_path, "MODEL_NAME=Model\n"))).healthcheck
    assert load_spec(BuildOptions(src=source(tmp_path), healthcheck=True)).healthcheck
    with pytest.raises(SourceError, match='MODELPACK_HEALTHCHECK.*"maybe" is not a boolean'):
        load_spec(BuildOptions(src=source(tmp_path, "MODEL_NAME=Model\nMODELPACK_HEALTHCHECK=maybe\n")))


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder"):
        load_spec(BuildOptions(src=tmp_path / "nope"))


def test_size_limits() -> None:
    files = tuple(SourceFile(f"f{i}.bin", 100 * i, 0o644) for i in range(1, 8))
    with pytest.raises(SourceError) as info:
        check_size(files, limit=1000, warn_at=500)
    text = str(info.value)
    assert "above the" in text and text.index("f7.bin") < text.index("f6.bin") and ".dockerignore" in text
    assert "f1.bin" not in text  # only the biggest five are listed
    assert "consider excluding" in check_size(files[:3], limit=1000, warn_at=500)
    assert check_size(files[:1], limit=1000, warn_at=500) is None


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@e",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@e",
            "HOME": str(cwd),
            "PATH": "/usr/bin:/bin",
        },
    )


def test_git_url_with_context_dir(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    source(repo / "models" / "m1")
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "x", cwd=repo)
    (repo / "models" / "m1" / "uncommitted.txt").write_text("not in the clone")
    spec = load_spec(BuildOptions(src=f"file://{repo}", context_dir="models/m1"))
    assert [f.rel for f in spec.files] == ["Model.py"]
    labels = dict(spec.labels)
    assert labels["org.opencontainers.image.source"] == f"file://{repo}"
    assert len(labels["org.opencontainers.image.revision"]) == 40
    # a local folder, by contrast, includes uncommitted files
    local = load_spec(BuildOptions(src=repo, context_dir="models/m1"))
    assert [f.rel for f in local.files] == ["Model.py", "uncommitted.txt"]
    with pytest.raises(SourceError, match="--context-dir nope: no such folder"):
        load_spec(
            BuildOptions(src=Path(f"file://{repo}"), context_dir="nope")
        )  # a Path-mangled URL works too
    with pytest.raises(SourceError, match="git clone failed"):
        load_spec(BuildOptions(src=f"file://{tmp_path}/missing-repo"))


def test_bom_and_crlf_env_file_and_env_file_inside_source_not_copied(tmp_path: Path) -> None:
    src = source(tmp_path)
    (src / ".s2i" / "environment").write_bytes("\ufeffMODEL_NAME=Model\r\nA=1\r\n".encode())
    (src / "local.env").write_text("B=2\n")
    spec = load_spec(BuildOptions(src=src, env_file=src / "local.env"))
    assert dict(spec.runtime_env)["A"] == "1" and dict(spec.runtime_env)["B"] == "2"
    assert [f.rel for f in spec.files] == ["Model.py"]
