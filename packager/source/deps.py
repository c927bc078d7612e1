"""Find every dependency source of a model folder and put them in install order:
local wheels (find-links, before the index) -> requirements.txt -> the project (setup.py /
pyproject.toml). Unlike Seldon's builder, which installs only the first one found, all present
sources are installed. `kind` leaves room for conda (environment.yml) in a later release."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..constants import ENVIRONMENT_YML, REQUIREMENTS_TXT, SOURCE_WHEELS_DIR
from ..errors import SourceError

if TYPE_CHECKING:
    from ..conda.envfile import CondaEnvironment
from .project import Project, detect_project
from .requirements import scan_requirements


@dataclass(frozen=True)
class Wheel:
    name: str  # file name, unique in the context's wheels/ folder
    path: Path  # absolute path on the build host


@dataclass(frozen=True)
class Dependencies:
    """What the dependency layer installs. Only kind "pip" exists today; a "conda" kind would carry
    an environment file and render its own install step."""

    kind: str
    requirements: str | None  # top-level requirements file (relative path)
    local_paths: tuple[str, ...]  # files/dirs the requirement files need (incl. nested)
    self_references: tuple[tuple[str, int], ...]  # `-e .` lines, commented out in the context copy
    project: Project | None
    wheels: tuple[Wheel, ...]
    warnings: tuple[str, ...]
    conda: CondaEnvironment | None = None  # kind "conda": environment.yml (packager.conda)

    @property
    def empty(self) -> bool:
        return not (self.requirements or self.project or self.wheels or self.conda)


def _wheels_in(folder: Path, label: str, strict: bool = True) -> list[Wheel]:
    if not folder.is_dir():
        raise SourceError(f"{label} {folder}: not a directory", "pass a folder holding .whl files")
    wheels = [
        Wheel(p.name, p.resolve()) for p in sorted(folder.iterdir()) if p.suffix == ".whl" and p.is_file()
    ]
    if not wheels and strict:
        raise SourceError(f"{label} {folder}: no .whl files in it", "put the wheels there or drop the option")
    return wheels


def detect_dependencies(root: Path, present: set[str], wheels_dir: Path | None) -> Dependencies:
    """`present` holds the relative paths included in the context (after the ignore rules)."""
    for name in ENVIRONMENT_YML:
        if name in present:
            return _conda_dependencies(root, name, present, wheels_dir)
    warnings: list[str] = []
    local: list[str] = []
    self_refs: list[tuple[str, int]] = []
    requirements = REQUIREMENTS_TXT if REQUIREMENTS_TXT in present else None
    if requirements:
        scan = scan_requirements(root, requirements)
        local = scan.local_paths
        self_refs = scan.self_references
        warnings += scan.warnings
    project = detect_project(root, present)
    if self_refs and project is None:
        where = f"{self_refs[0][0]} line {self_refs[0][1]}"
        raise SourceError(
            f"{where}: installs the source folder itself, but it has no setup.py or pyproject.toml [project]",
            "remove the line or add a project manifest",
        )
    if project is not None and project.dependencies is None:
        warnings.append(
            f"{project.manifest}: dependencies are computed, not literal; they are installed "
            "from a copy of the whole source, so every source edit reinstalls them (list them "
            "in pyproject.toml [project].dependencies to cache them)"
        )
    wheels: dict[str, Wheel] = {}
    if SOURCE_WHEELS_DIR in {p.split("/", 1)[0] for p in present if "/" in p}:
        for w in _wheels_in(root / SOURCE_WHEELS_DIR, "source folder", strict=False):
            wheels[w.name] = w
    if wheels_dir is not None:
        for w in _wheels_in(wheels_dir, "--wheels"):
            wheels[w.name] = w  # --wheels wins over a same-named wheel in the source
    return Dependencies(
        "pip",
        requirements,
        tuple(local),
        tuple(self_refs),
        project,
        tuple(sorted(wheels.values(), key=lambda w: w.name)),
        tuple(warnings),
    )


def _conda_dependencies(root: Path, name: str, present: set[str], wheels_dir: Path | None) -> Dependencies:
    """environment.yml: conda packages and its `pip:` list; pip manifests beside it would be a
    second, conflicting description of the same environment."""
    from ..conda.envfile import read_environment

    others = [f for f in (REQUIREMENTS_TXT, "setup.py", "pyproject.toml") if f in present]
    if others or wheels_dir is not None:
        what = others[0] if others else "--wheels"
        raise SourceError(
            f"{name} and {what}: one environment, two descriptions",
            f"list the pip packages under {name}'s `- pip:` entry, or add {name} to .s2iignore",
        )
    return Dependencies("conda", None, (), (), None, (), (), read_environment(root, name))
