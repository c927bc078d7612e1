"""Bad inputs through the real CLI: each gives exactly one `error:` line that names the file or
value, and the documented exit code (3 source, 4 daemon, 5 build)."""
from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Images, run_cli

pytestmark = pytest.mark.docker


def make_src(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


GOOD_MODEL = "class Model:\n    def predict(self, X, names=None, meta=None):\n        return X\n"
ENV = ".s2i/environment"


def build(images: Images, src: Path, *extra: str):
    return run_cli("build", str(src), "modelpack-it/bad-input:never", "--base-image", images.infra.base_image,
                   "--ca-cert", images.infra.ca_cert, "--progress", "plain", *extra)


def one_error(result) -> str:
    errors = result.error_lines()
    assert len(errors) == 1, result.explain()
    return errors[0]


def test_missing_model_file(images: Images, tmp_path: Path) -> None:
    src = make_src(tmp_path, {ENV: "MODEL_NAME=Model\n"})
    result = build(images, src)
    assert result.returncode == 3, result.explain()
    assert "Model.py" in one_error(result)


def test_missing_class(images: Images, tmp_path: Path) -> None:
    src = make_src(tmp_path, {ENV: "MODEL_NAME=Model\n", "Model.py": "class Other:\n    pass\n"})
    result = build(images, src)
    assert result.returncode == 3, result.explain()
    line = one_error(result)
    assert "Model.py" in line and "Model" in line.replace("Model.py", "")


def test_bad_environment_line(images: Images, tmp_path: Path) -> None:
    src = make_src(tmp_path, {ENV: "MODEL_NAME=Model\nTHIS IS NOT AN ASSIGNMENT\n", "Model.py": GOOD_MODEL})
    result = build(images, src)
    assert result.returncode == 3, result.explain()
    line = one_error(result)
    assert ".s2i/environment" in line and "line 2" in line and "THIS IS NOT AN ASSIGNMENT" in line


def test_unknown_builder(images: Images, tmp_path: Path) -> None:
    src = make_src(tmp_path, {ENV: "MODEL_NAME=Model\n", "Model.py": GOOD_MODEL})
    result = build(images, src, "--builder", "no-such-builder")
    assert result.returncode == 3, result.explain()
    assert "no-such-builder" in one_error(result)


def test_broken_requirement_is_exit_5_naming_it(images: Images, tmp_path: Path) -> None:
    src = make_src(tmp_path, {ENV: "MODEL_NAME=Model\n", "Model.py": GOOD_MODEL,
                              "requirements.txt": "modelpack-no-such-package-xyz==1.0\n"})
    result = build(images, src)
    assert result.returncode == 5, result.explain()
    line = one_error(result)
    assert "modelpack-no-such-package-xyz==1.0" in line
    assert "No matching distribution found" in line


def test_dependency_conflict_is_exit_5_naming_the_conflict(images: Images, tmp_path: Path) -> None:
    from .wheels import make_wheel

    src = make_src(tmp_path / "src", {ENV: "MODEL_NAME=Model\n", "Model.py": GOOD_MODEL,
                                      "requirements.txt": "mpconf-left==1.0\nmpconf-right==2.0\n"})
    wheels = src / "wheels"
    make_wheel(wheels, "mpconf-left", "1.0", {"mpconf_left/__init__.py": ""}, requires=("mpconf-base<2",))
    make_wheel(wheels, "mpconf-right", "2.0", {"mpconf_right/__init__.py": ""}, requires=("mpconf-base>=2",))
    make_wheel(wheels, "mpconf-base", "1.0", {"mpconf_base/__init__.py": ""})
    make_wheel(wheels, "mpconf-base", "2.0", {"mpconf_base/__init__.py": ""})
    result = build(images, src)
    assert result.returncode == 5, result.explain()
    line = one_error(result)
    # pip names the requirement lines, then the packages behind the conflict
    assert "requirements.txt (line 1) and -r requirements.txt (line 2) together (conflicting dependencies)" in line
    assert "mpconf-left 1.0 depends on mpconf-base<2 | mpconf-right 2.0 depends on mpconf-base>=2" in line
    assert "loosen the version pins" in line
