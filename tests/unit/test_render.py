"""Renderer details the golden cases do not cover: quoting, alias merging, fallbacks, modes."""

from __future__ import annotations

import os
from pathlib import Path

from packager.render import docker_quote, plan_layout, render_context
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


def test_docker_quote() -> None:
    assert docker_quote('a "b" $HOME \\x') == '"a \\"b\\" \\$HOME \\\\x"'


def test_extra_index_aliases_merge(tmp_path: Path) -> None:
    spec = load_spec(
        BuildOptions(
            src=source(tmp_path),
            env=(("EXTRA_INDEX_URL", "https://a/simple"), ("PIP_EXTRA_INDEX_URL", "https://b/simple")),
        )
    )
    assert dict(plan_layout(spec).pip_env) == {
        "PIP_EXTRA_INDEX_URL": '"$PIP_EXTRA_INDEX_URL $EXTRA_INDEX_URL"'
    }


def test_computed_project_dependencies_install_from_a_full_copy(tmp_path: Path) -> None:
    src = source(
        tmp_path / "src",
        **{
            "setup.py": "from setuptools import setup\nsetup(install_requires=open('r').read().split())\n",
            "r": "six\n",
            "pkg/mod.py": "X = 1\n",
        },
    )
    spec = load_spec(BuildOptions(src=src))
    assert any("computed" in w for w in spec.warnings)
    ctx = render_context(spec, tmp_path / "ctx", include_secrets=False)
    deps = ctx.directory / "deps"
    assert (deps / "modelpack-project-requirements.txt").read_text().splitlines()[1:] == [
        ".",
        "setuptools>=40.8.0",
        "wheel",
    ]
    assert (deps / "pkg" / "mod.py").is_file() and (deps / "setup.py").is_file()


def test_only_wheels_installs_every_wheel(tmp_path: Path) -> None:
    src = source(tmp_path / "src", **{"wheels/a-1-py3-none-any.whl": "x"})
    ctx = render_context(load_spec(BuildOptions(src=src)), tmp_path / "ctx", include_secrets=False)
    text = (ctx.directory / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --find-links /tmp/wheels /tmp/wheels/a-1-py3-none-any.whl\n" in text
    assert "WORKDIR /opt/venv/modelpack-deps" not in text


def test_group_gets_owner_rights_and_exec_bit_survives(tmp_path: Path) -> None:
    src = source(tmp_path / "src", **{"before-run": "#!/bin/sh\n"})
    os.chmod(src / "before-run", 0o700)
    ctx = render_context(load_spec(BuildOptions(src=src)), tmp_path / "ctx", include_secrets=False)
    assert (ctx.directory / "src" / "before-run").stat().st_mode & 0o777 == 0o770
    assert not (ctx.directory / "src" / ".s2i").exists()


def test_labels_and_user_labels(tmp_path: Path) -> None:
    spec = load_spec(
        BuildOptions(src=source(tmp_path), labels=(("io.modelpack.builder", "mine"), ("team", "a b")))
    )
    ctx = render_context(spec, tmp_path / "ctx", include_secrets=False)
    assert ctx.labels["team"] == "a b" and ctx.labels["io.modelpack.builder"] == "mine"
    assert 'team="a b"' in (ctx.directory / "Dockerfile").read_text()


def test_seldon_core_requirement_is_left_to_the_runtime_shim(tmp_path: Path) -> None:
    # Seldon s2i folders often list seldon-core; its protobuf<4 pin cannot install beside the runtime
    src = source(tmp_path / "src", **{"requirements.txt": "numpy\nseldon-core==1.18.2  # the wrapper\n"})
    spec = load_spec(BuildOptions(src=src))
    assert any("'seldon-core==1.18.2' is not installed" in w for w in spec.warnings), spec.warnings
    render_context(spec, tmp_path / "ctx", include_secrets=False)
    lines = (tmp_path / "ctx" / "deps" / "requirements.txt").read_text().splitlines()
    assert lines[0] == "numpy"
    assert lines[1].startswith("# provided by modelpack's runtime") and lines[1].endswith("seldon-core==1.18.2  # the wrapper")
    assert (src / "requirements.txt").read_text().splitlines()[1] == "seldon-core==1.18.2  # the wrapper"  # user's file kept
