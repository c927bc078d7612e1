"""Read a Python project's dependencies from its manifests without running them:
pyproject.toml [project].dependencies (tomllib), setup.py's literal `install_requires` (ast) and
setup.cfg [options] install_requires. Knowing them on the host lets the dependency layer be built
from the manifests alone, so editing Model.py never reinstalls them."""

from __future__ import annotations

import ast
import configparser
import sys
from dataclasses import dataclass
from pathlib import Path

from ..constants import PYPROJECT_TOML, SETUP_CFG, SETUP_PY
from ..errors import SourceError
from .requirements import check_requirement_strings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.9/3.10
    import tomli as tomllib

# What pip assumes for a setup.py project with no [build-system] table.
LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")


@dataclass(frozen=True)
class Project:
    """An installable project in the source folder (setup.py and/or pyproject.toml)."""

    manifest: str  # "pyproject.toml" or "setup.py": what defines it
    manifests: tuple[str, ...]  # the manifest files present (copied for the record)
    dependencies: tuple[str, ...] | None  # None: not statically known (dynamic / computed)
    build_requires: tuple[str, ...]  # installed into the venv so the final install needs no index


def _load_pyproject(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"{PYPROJECT_TOML}: invalid TOML ({exc})", "fix the file") from None


def _literal_list(node: ast.AST, assigned: dict[str, ast.AST]) -> list[str] | None:
    if isinstance(node, ast.Name) and node.id in assigned:
        node = assigned[node.id]
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return None
    if isinstance(value, str):
        value = [line for line in value.splitlines() if line.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def setup_py_requires(path: Path) -> list[str] | None:
    """install_requires of the setup() call, if it is a literal (or a name bound to one at top
    level); [] when setup() has no install_requires; None when it is computed."""
    try:
        tree = ast.parse(path.read_bytes(), filename=SETUP_PY)
    except SyntaxError as exc:
        raise SourceError(f"{SETUP_PY} line {exc.lineno}: syntax error: {exc.msg}", "fix the file") from None
    assigned = {
        t.id: n.value
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name != "setup":
                continue
            if any(kw.arg is None for kw in node.keywords):  # setup(**kwargs): unknowable
                return None
            for kw in node.keywords:
                if kw.arg == "install_requires":
                    return _literal_list(kw.value, assigned)
            return []
    return None


def setup_cfg_requires(path: Path) -> list[str]:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except configparser.Error as exc:
        raise SourceError(f"{SETUP_CFG}: cannot parse ({exc.__class__.__name__})", "fix the file") from None
    raw = parser.get("options", "install_requires", fallback="")
    return [line.strip() for line in raw.splitlines() if line.strip() and not line.strip().startswith("#")]


def detect_project(root: Path, present: set[str]) -> Project | None:
    """The project defined by the manifests among `present` (relative paths), or None."""
    has_setup = SETUP_PY in present
    data = _load_pyproject(root / PYPROJECT_TOML) if PYPROJECT_TOML in present else {}
    table = data.get("project")
    build = data.get("build-system", {})
    if not has_setup and not isinstance(table, dict):
        return None  # a pyproject.toml holding only tool settings (ruff, pytest...) is not a project
    manifests = tuple(m for m in (PYPROJECT_TOML, SETUP_PY, SETUP_CFG) if m in present)
    build_requires = tuple(build.get("requires", LEGACY_BUILD_REQUIRES)) if build else LEGACY_BUILD_REQUIRES
    backend = str(build.get("build-backend", "setuptools.build_meta"))
    if backend.startswith("setuptools") and not any(
        r.split("<")[0].split(">")[0].split("=")[0].strip() == "wheel" for r in build_requires
    ):
        # setuptools < 70.1 asks for `wheel` through get_requires_for_build_wheel; pip adds it
        # under build isolation, but the final install runs without isolation, so add it here.
        build_requires += ("wheel",)
    check_requirement_strings(list(build_requires), f"{PYPROJECT_TOML} [build-system].requires")
    deps: list[str] | None
    if isinstance(table, dict) and "dependencies" not in table.get("dynamic", []):
        deps = list(table.get("dependencies", []))
        where = f"{PYPROJECT_TOML} [project].dependencies"
        manifest = PYPROJECT_TOML
    else:
        deps = setup_py_requires(root / SETUP_PY) if has_setup else None
        if deps is not None and SETUP_CFG in present:
            deps += setup_cfg_requires(root / SETUP_CFG)
        where = f"{SETUP_PY} install_requires"
        manifest = SETUP_PY if has_setup else PYPROJECT_TOML
    if deps is not None:
        check_requirement_strings(deps, where)
    return Project(manifest, manifests, tuple(deps) if deps is not None else None, build_requires)
