"""Dependency detection: requirements files with local references, projects, wheels, conda."""

from __future__ import annotations

from pathlib import Path

import pytest

from packager.errors import SourceError
from packager.source.deps import detect_dependencies
from packager.source.project import detect_project, setup_py_requires
from packager.source.requirements import scan_requirements


def tree(root: Path, files: dict[str, str]) -> set[str]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return set(files)


def test_local_references_are_found(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "requirements.txt": "numpy==1.*  # pinned\n-r reqs/base.txt\n./libs/foo\n-e ./pkg\n"
            "bar @ file:./wheels/bar-1.0-py3-none-any.whl\n--find-links ./links\n"
            "requests \\\n  >=2\n-c constraints.txt\n",
            "reqs/base.txt": "-r ../reqs/more.txt\nsix\n",
            "reqs/more.txt": "idna\n",
            "constraints.txt": "idna<4\n",
            "libs/foo/setup.py": "",
            "pkg/pyproject.toml": "",
            "wheels/bar-1.0-py3-none-any.whl": "",
            "links/x.whl": "",
        },
    )
    scan = scan_requirements(tmp_path, "requirements.txt")
    assert scan.local_paths == [
        "requirements.txt",
        "reqs/base.txt",
        "reqs/more.txt",
        "libs/foo",
        "pkg",
        "wheels/bar-1.0-py3-none-any.whl",
        "links",
        "constraints.txt",
    ]
    assert scan.self_references == []


def test_self_reference_is_recorded(tmp_path: Path) -> None:
    tree(tmp_path, {"requirements.txt": "six\n-e .\n"})
    assert scan_requirements(tmp_path, "requirements.txt").self_references == [("requirements.txt", 2)]


@pytest.mark.parametrize(
    "line, message",
    [
        ("numpy>=>1", 'requirements.txt line 2: cannot parse requirement "numpy>=>1"'),
        ("./missing", 'requirements.txt line 2: "./missing" references ./missing, which does not exist'),
        ("../outside", 'requirements.txt line 2: "../outside" points outside the source folder'),
        ("-r nope.txt", "requirements.txt line 2"),
        ("--bogus-option x", 'requirements.txt line 2: unknown pip option "--bogus-option x"'),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "sub").mkdir()
    tree(tmp_path / "sub", {"requirements.txt": f"six\n{line}\n"})
    with pytest.raises(SourceError) as info:
        scan_requirements(tmp_path / "sub", "requirements.txt")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_urls_vcs_and_env_vars_are_accepted(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {
            "requirements.txt": "git+https://github.com/org/repo.git@v1#egg=repo\n"
            "lib @ https://${TOKEN}@host/lib-1.0.tar.gz\n"
            "pkg[extra]>=1; python_version >= '3.8'\n--extra-index-url https://h/simple\n"
        },
    )
    scan = scan_requirements(tmp_path, "requirements.txt")
    assert scan.local_paths == ["requirements.txt"] and scan.warnings == []


def test_committed_index_credentials_warn(tmp_path: Path) -> None:
    tree(tmp_path, {"requirements.txt": "--extra-index-url https://u:pw@h/simple\nsix\n"})
    warnings = scan_requirements(tmp_path, "requirements.txt").warnings
    assert len(warnings) == 1 and "requirements.txt line 1" in warnings[0] and "pw" not in warnings[0]


def test_pyproject_project(tmp_path: Path) -> None:
    present = tree(
        tmp_path,
        {
            "pyproject.toml": '[build-system]\nrequires=["hatchling"]\nbuild-backend="hatchling.build"\n'
            '[project]\nname="x"\nversion="1"\ndependencies=["numpy>=1"]\n'
        },
    )
    project = detect_project(tmp_path, present)
    assert project is not None and project.manifest == "pyproject.toml"
    assert project.dependencies == ("numpy>=1",) and project.build_requires == ("hatchling",)


def test_tool_only_pyproject_is_not_a_project(tmp_path: Path) -> None:
    present = tree(tmp_path, {"pyproject.toml": "[tool.ruff]\nline-length = 100\n"})
    assert detect_project(tmp_path, present) is None


def test_dynamic_dependencies_are_unknown(tmp_path: Path) -> None:
    present = tree(
        tmp_path, {"pyproject.toml": '[project]\nname="x"\nversion="1"\ndynamic=["dependencies"]\n'}
    )
    project = detect_project(tmp_path, present)
    assert project is not None and project.dependencies is None


def test_setup_py_literal_name_and_setup_cfg(tmp_path: Path) -> None:
    present = tree(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nREQ = ['a>=1', 'b']\n"
            "setup(name='x', install_requires=REQ)\n",
            "setup.cfg": "[options]\ninstall_requires =\n    c==2\n",
        },
    )
    project = detect_project(tmp_path, present)
    assert project is not None and project.dependencies == ("a>=1", "b", "c==2")
    assert project.build_requires == ("setuptools>=40.8.0", "wheel")


def test_setup_py_computed_requires(tmp_path: Path) -> None:
    tree(
        tmp_path,
        {"setup.py": "import setuptools\nsetuptools.setup(install_requires=open('r').read().split())\n"},
    )
    assert setup_py_requires(tmp_path / "setup.py") is None
    tree(tmp_path, {"setup.py": "from setuptools import setup\nsetup(name='x')\n"})
    assert setup_py_requires(tmp_path / "setup.py") == []


def test_bad_project_dependency(tmp_path: Path) -> None:
    present = tree(
        tmp_path,
        {"pyproject.toml": '[project]\nname="x"\nversion="1"\ndependencies=["git+https://h/r.git"]\n'},
    )
    with pytest.raises(
        SourceError, match=r"^pyproject.toml \[project\].dependencies: cannot parse dependency"
    ):
        detect_project(tmp_path, present)


def test_all_sources_and_wheels(tmp_path: Path) -> None:
    src = tmp_path / "src"
    present = tree(
        src,
        {
            "requirements.txt": "six\n",
            "setup.py": "from setuptools import setup\nsetup()\n",
            "wheels/a-1-py3-none-any.whl": "x",
            "wheels/b-1-py3-none-any.whl": "src",
        },
    )
    tree(tmp_path / "extra", {"b-1-py3-none-any.whl": "extra", "c-1-py3-none-any.whl": "y"})
    deps = detect_dependencies(src, present, tmp_path / "extra")
    assert deps.kind == "pip" and deps.requirements == "requirements.txt" and deps.project is not None
    assert [w.name for w in deps.wheels] == [
        "a-1-py3-none-any.whl",
        "b-1-py3-none-any.whl",
        "c-1-py3-none-any.whl",
    ]
    assert next(w for w in deps.wheels if w.name.startswith("b")).path.read_text() == "extra"


def test_environment_yml_without_channels_is_refused(tmp_path: Path) -> None:
    # conda environments are supported since issue 5 (tests/unit/test_lock_conda.py); a bad one is one line
    present = tree(tmp_path, {"environment.yml": "name: x\n"})
    with pytest.raises(SourceError, match="^environment.yml: channels: must be a non-empty list"):
        detect_dependencies(tmp_path, present, None)


def test_wheels_option_must_hold_wheels(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no .whl files"):
        detect_dependencies(tmp_path, set(), tmp_path / "empty")


def test_self_reference_without_project_is_an_error(tmp_path: Path) -> None:
    present = tree(tmp_path, {"requirements.txt": "-e .\n"})
    with pytest.raises(SourceError, match="requirements.txt line 1: installs the source folder itself"):
        detect_dependencies(tmp_path, present, None)
