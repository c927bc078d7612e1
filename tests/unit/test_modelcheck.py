"""Static MODEL_NAME check: file and class found with ast, never imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from packager.errors import SourceError
from packager.source.modelcheck import check_model_name


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_simple_model(tmp_path: Path) -> None:
    write(tmp_path, "Model.py", "raise SystemExit('must not be imported')\nclass Model:\n    pass\n")
    assert check_model_name(tmp_path, "Model") == "Model.py"


def test_dotted_module_and_package(tmp_path: Path) -> None:
    write(tmp_path, "pkg/mod.py", "class Cls: pass\n")
    write(tmp_path, "pkg2/sub/__init__.py", "from .impl import Served as Cls\n")
    assert check_model_name(tmp_path, "pkg.mod.Cls") == "pkg/mod.py"
    assert check_model_name(tmp_path, "pkg2.sub.Cls") == "pkg2/sub/__init__.py"


def test_missing_file_lists_what_exists(tmp_path: Path) -> None:
    write(tmp_path, "Model.py", "class Model: pass\n")
    with pytest.raises(SourceError) as info:
        check_model_name(tmp_path, "MyModel")
    assert str(info.value).startswith(f"MODEL_NAME=MyModel: no MyModel.py in {tmp_path} (found: Model.py)")


def test_missing_class_lists_classes(tmp_path: Path) -> None:
    write(tmp_path, "MyModel.py", "class Foo: pass\nclass Bar: pass\n")
    with pytest.raises(SourceError, match=r"^MyModel.py has no class MyModel \(classes: Foo, Bar\)"):
        check_model_name(tmp_path, "MyModel")


def test_syntax_error_names_line(tmp_path: Path) -> None:
    write(tmp_path, "Model.py", "class Model:\n    def f(:\n")
    with pytest.raises(SourceError, match=r"^Model.py line 2: syntax error"):
        check_model_name(tmp_path, "Model")


def test_excluded_by_ignore_rules(tmp_path: Path) -> None:
    write(tmp_path, "Model.py", "class Model: pass\n")
    with pytest.raises(SourceError, match="excluded by .dockerignore"):
        check_model_name(tmp_path, "Model", included=set())


def test_not_a_python_name(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="MODEL_NAME=my-model: not a Python name"):
        check_model_name(tmp_path, "my-model")
