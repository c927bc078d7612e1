"""The slimming steps as rendered (packager/slim): the scripts in the context, the `strip` in the
runtime step, the `finish` step's arguments, and what keeps pip / setuptools / wheel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from packager.render import render_context
from packager.slim import FILES
from packager.spec import BuildOptions, load_spec

SLIM = Path(__file__).resolve().parents[2] / "packager" / "slim"


def source(tmp_path: Path, env: str = "MODEL_NAME=Model\n", model: str = "", files: dict | None = None) -> Path:
    root = tmp_path / "src"
    (root / ".s2i").mkdir(parents=True)
    (root / ".s2i" / "environment").write_text(env)
    (root / "Model.py").write_text(model + "class Model:\n    def predict(self, X, names=None):\n        return X\n")
    for rel, text in (files or {}).items():
        (root / rel).write_text(text)
    return root


def dockerfile(tmp_path: Path, root: Path, **options) -> str:
    spec = load_spec(BuildOptions(src=root, tags=("me/x:1",), **options))
    ctx = render_context(spec, tmp_path / "ctx", include_secrets=False)
    return (ctx.directory / "Dockerfile").read_text()


def finish_line(text: str) -> str:
    return next(line for line in text.splitlines() if "slimvenv.py finish" in line)


def test_scripts_ride_in_the_context_and_both_steps_run(tmp_path: Path) -> None:
    root = source(tmp_path, files={"requirements.txt": "six\n"})
    text = dockerfile(tmp_path, root)
    for name in FILES:
        assert (tmp_path / "ctx" / "modelpack" / "slim" / name).read_bytes() == (SLIM / name).read_bytes()
    assert "COPY modelpack/modelpack_runtime-" in text and " modelpack/slim/ /tmp/modelpack/\n" in text
    assert "\\\n    && /opt/venv/bin/python /tmp/modelpack/slimvenv.py strip\n" in text
    assert finish_line(text) == ("RUN /opt/venv/bin/python /tmp/modelpack/slimvenv.py finish "
                                 "--requirements /opt/venv/modelpack-deps/requirements.txt")
    # after the last install, in the deps stage: the final stage copies the slimmed virtualenv
    assert text.index("-r requirements.txt") < text.index(finish_line(text)) < text.index("COPY --from=deps")


def test_no_dependencies_still_slims(tmp_path: Path) -> None:
    assert finish_line(dockerfile(tmp_path, source(tmp_path))) == (
        "RUN /opt/venv/bin/python /tmp/modelpack/slimvenv.py finish")


def test_keep_pip_setting(tmp_path: Path) -> None:
    root = source(tmp_path, "MODEL_NAME=Model\nMODELPACK_KEEP_PIP=1\n")
    text = dockerfile(tmp_path, root)
    assert finish_line(text).endswith("finish --keep pip --keep setuptools --keep wheel")
    assert "#    Kept by this build: pip (MODELPACK_KEEP_PIP=1)." in text
    assert "MODELPACK_KEEP_PIP" not in text.split("# Final stage")[1]  # a build setting, not an ENV of the image


def test_keep_pip_must_be_a_boolean(tmp_path: Path) -> None:
    root = source(tmp_path, "MODEL_NAME=Model\nMODELPACK_KEEP_PIP=sometimes\n")
    exe = Path(sys.executable).with_name("modelpack")
    done = subprocess.run([str(exe), "build", str(root), "me/x:1", "--dry-run"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        'error: .s2i/environment line 2: MODELPACK_KEEP_PIP: "sometimes" is not a boolean; use 1 or 0']


@pytest.mark.parametrize(("code", "keep"), [
    ("import pkg_resources\n", "--keep setuptools"),
    ("from setuptools import find_packages\n", "--keep setuptools"),
    ("def f():\n    import pip\n", "--keep pip"),
])
def test_your_code_importing_an_installer_keeps_it(tmp_path: Path, code: str, keep: str) -> None:
    text = dockerfile(tmp_path, source(tmp_path, model=code))
    assert finish_line(text).endswith(keep)
    assert "imports" in text.split("Kept by this build: ", 1)[1].splitlines()[0]


def test_a_mention_is_not_an_import(tmp_path: Path) -> None:
    text = dockerfile(tmp_path, source(tmp_path, model='"""uses pip and setuptools at build time"""\n'))
    assert "--keep" not in finish_line(text)
