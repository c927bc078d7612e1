"""Builders: a folder holding `builder.yaml` (name, description, default base image, pythons),
a Dockerfile template and a usage text. Looked up in this order: `--builder PATH` (a folder),
`--builder NAME` (a built-in), then the default builder `python`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .constants import BUILDER_FILE, DEFAULT_BUILDER
from .errors import SourceError

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """`builders` or `templates`: package data in an installed wheel, the repo folder in a checkout."""
    installed = _PACKAGE / "_data" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


@dataclass(frozen=True)
class Builder:
    name: str
    directory: Path
    description: str
    base_image: str  # may contain {python}
    default_python: str
    pythons: tuple[str, ...]
    dockerfile: str  # template file name inside `directory`
    usage: str  # usage file name inside `directory`
    source: str | None = None  # pre-packaged builders: the model source folder shipped in `directory`
    template_dir: Path | None = None  # `template_from: NAME`: use that sibling builder's template
    system_packages: tuple[str, ...] = ()  # Debian packages apt-installed in the final stage

    @property
    def dockerfile_dir(self) -> Path:
        return self.template_dir or self.directory

    @property
    def source_dir(self) -> Path | None:
        return self.directory / self.source if self.source else None

    def base_image_for(self, python: str) -> str:
        return self.base_image.replace("{python}", python)

    def usage_text(self) -> str:
        return (self.directory / self.usage).read_text(encoding="utf-8")


def _load(directory: Path) -> Builder:
    path = directory / BUILDER_FILE
    try:
        # libyaml's loader when PyYAML has it: ten times faster, and every build reads these files
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as exc:
        raise SourceError(
            f"{path}: cannot read builder ({exc.__class__.__name__})", "fix builder.yaml"
        ) from None
    if not isinstance(raw, dict):
        raise SourceError(f"{path}: expected a mapping", "see builders/python/builder.yaml")
    missing = [k for k in ("name", "description", "base_image", "default_python", "pythons") if k not in raw]
    if missing:
        raise SourceError(f"{path}: missing {', '.join(missing)}", "see builders/python/builder.yaml")
    builder = Builder(
        str(raw["name"]),
        directory,
        str(raw["description"]).strip(),
        str(raw["base_image"]),
        str(raw["default_python"]),
        tuple(str(p) for p in raw["pythons"]),
        str(raw.get("dockerfile", "Dockerfile.j2")),
        str(raw.get("usage", "usage.md")),
        str(raw["source"]) if raw.get("source") else None,
        directory.parent / str(raw["template_from"]) if raw.get("template_from") else None,
        tuple(str(p) for p in raw.get("system_packages", ())),
    )
    for name, where in ((builder.dockerfile, builder.dockerfile_dir), (builder.usage, directory)):
        if not (where / name).is_file():
            raise SourceError(f"{path}: {name} is missing beside it", "add the file")
    if builder.source_dir is not None and not builder.source_dir.is_dir():
        raise SourceError(f"{path}: source folder {builder.source} is missing", "add it or drop `source:`")
    return builder


def builtin_builders() -> list[Builder]:
    root = data_dir("builders")
    return [_load(d) for d in sorted(root.iterdir()) if (d / BUILDER_FILE).is_file()]


def find_builder(name_or_path: str | None) -> Builder:
    """Resolve --builder. Raises SourceError listing the built-in names for an unknown one."""
    wanted = name_or_path or DEFAULT_BUILDER
    as_path = Path(wanted).expanduser()
    if ("/" in wanted or wanted.startswith(".")) and as_path.is_dir():
        if not (as_path / BUILDER_FILE).is_file():
            raise SourceError(
                f"--builder {wanted}: no {BUILDER_FILE} in that folder",
                "point at a folder like builders/python",
            )
        return _load(as_path.resolve())
    known = builtin_builders()
    for builder in known:
        if builder.name == wanted:
            return builder
    names = ", ".join(b.name for b in known)
    raise SourceError(
        f"--builder {wanted}: unknown builder (available: {names})",
        "run `modelpack builders` to list them, or pass a builder folder",
    )
