"""Check, without importing anything, that MODEL_NAME names a file and a class in the source:
`Model` -> Model.py with `class Model`; `pkg.mod.Cls` -> pkg/mod.py (or pkg/mod/__init__.py) with Cls."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ..errors import SourceError

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def _top_level_python(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*.py") if p.is_file())


def _bound_names(tree: ast.Module) -> tuple[set[str], list[str]]:
    """Names a module binds at top level (classes, imports, assignments) and its class names."""
    names: set[str] = set()
    classes: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names.add(node.name)
            classes.append(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names, classes


def module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def check_model_name(root: Path, model_name: str, included: set[str] | None = None) -> str:
    """Return the module file's path relative to `root`; raise SourceError naming what is missing.
    `included` is the set of relative paths that survive the ignore rules."""
    if not _DOTTED.match(model_name):
        raise SourceError(
            f"MODEL_NAME={model_name}: not a Python name",
            "use a class name (Model) or module.Class (pkg.mod.Model)",
        )
    if "." in model_name:
        module, cls = model_name.rsplit(".", 1)
    else:
        module, cls = model_name, model_name
    path = module_file(root, module)
    if path is None:
        expected = module.replace(".", "/") + ".py"
        found = ", ".join(_top_level_python(root)) or "no .py files"
        raise SourceError(
            f"MODEL_NAME={model_name}: no {expected} in {root} (found: {found})",
            "rename the file or set MODEL_NAME in .s2i/environment to match it",
        )
    rel = path.relative_to(root).as_posix()
    if included is not None and rel not in included:
        raise SourceError(
            f"MODEL_NAME={model_name}: {rel} is excluded by .dockerignore/.s2iignore",
            f"add !{rel} to the ignore file",
        )
    try:
        tree = ast.parse(path.read_bytes(), filename=rel)
    except SyntaxError as exc:
        raise SourceError(
            f"{rel} line {exc.lineno}: syntax error: {exc.msg}", "fix the file; it must import in the image"
        ) from None
    names, classes = _bound_names(tree)
    if cls not in names:
        listed = ", ".join(classes) or "none"
        raise SourceError(
            f"{rel} has no class {cls} (classes: {listed})",
            f"define class {cls} in {rel} or set MODEL_NAME to one of its classes",
        )
    return rel
