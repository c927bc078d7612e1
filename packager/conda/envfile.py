"""Read environment.yml: name, channels, conda dependencies and the `pip:` list. Every shape
error names the file and the field; the `pip:` lines are checked with pip's own parser."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import SourceError
from ..source.requirements import check_requirement_strings
from .auth import check_channels


@dataclass(frozen=True)
class CondaEnvironment:
    file: str  # relative path in the source
    channels: tuple[str, ...]
    specs: tuple[str, ...]  # conda match specs, as written
    pip: tuple[str, ...]  # the `- pip:` list


def read_environment(root: Path, rel: str) -> CondaEnvironment:
    try:
        data = yaml.safe_load((root / rel).read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", exc)
        raise SourceError(f"{rel}{where}: invalid YAML ({problem})", "fix the file") from None
    if not isinstance(data, dict):
        raise SourceError(f"{rel}: expected a mapping with channels: and dependencies:",
                          "see docs/locking-and-conda.md")
    channels = data.get("channels") or []
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise SourceError(f"{rel}: channels: must be a non-empty list of channel names or URLs",
                          "add e.g. `channels: [conda-forge]`")
    check_channels(rel, tuple(channels))
    deps = data.get("dependencies")
    if not isinstance(deps, list) or not deps:
        raise SourceError(f"{rel}: dependencies: must be a non-empty list", "list python and your packages")
    specs: list[str] = []
    pip: list[str] = []
    for item in deps:
        if isinstance(item, str):
            specs.append(item.strip())
        elif isinstance(item, dict) and set(item) == {"pip"} and isinstance(item["pip"], list):
            pip += [str(p).strip() for p in item["pip"]]
        else:
            raise SourceError(f"{rel}: dependencies: unexpected entry {item!r}",
                              "use conda match specs (numpy>=1.24) and one `- pip:` list")
    if not any(s.split()[0].split("=")[0].split("<")[0].split(">")[0] == "python" for s in specs):
        raise SourceError(f"{rel}: dependencies: no python",
                          "add `- python=3.11` (the runtime runs in this env)")
    if pip:
        check_requirement_strings(pip, f"{rel} pip:")
    return CondaEnvironment(rel, tuple(str(c) for c in channels), tuple(specs), tuple(pip))
