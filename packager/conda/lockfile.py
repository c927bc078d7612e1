"""conda-lock.yml (conda-lock's v1 format) for environment.yml, written from py-rattler's solve:
conda-lock itself shells out to conda/mamba/micromamba to solve, which cannot be installed here.
`metadata.content_hash` holds modelpack's digest of the inputs (environment.yml, the conda platform
and the virtual packages), so a stale lock is detected; conda-lock computes its own hash
differently, so `conda-lock lock` would re-solve such a file rather than trust it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from . import VIRTUAL_PACKAGES
from .envfile import CondaEnvironment
from .solve import CondaPackage

CONDA_LOCK_FILE = "conda-lock.yml"


def input_digest(root: Path, env: CondaEnvironment, subdir: str) -> str:
    h = hashlib.sha256((root / env.file).read_bytes())
    h.update(f"\n{subdir}\n{sorted(VIRTUAL_PACKAGES)}\n".encode())
    return h.hexdigest()


def write_conda_lock(root: Path, env: CondaEnvironment, subdir: str, packages: list[CondaPackage]) -> Path:
    digest = input_digest(root, env, subdir)
    doc = {
        "version": 1,
        "metadata": {
            "content_hash": {subdir: digest},
            "channels": [{"url": c, "used_env_vars": []} for c in env.channels],
            "platforms": [subdir],
            "sources": [env.file],
        },
        "package": [
            {
                "name": p.name,
                "version": p.version,
                "manager": "conda",
                "platform": subdir,
                "dependencies": dict(p.dependencies),
                "url": p.url,
                "hash": {"md5": p.md5, "sha256": p.sha256},
                "category": "main",
                "optional": False,
                "build": p.build,  # not in conda-lock's schema (it reads it from the URL); kept for clarity
            }
            for p in packages
        ],
    }
    header = (f"# modelpack-lock digest sha256:{digest}\n"
              f"# written by `modelpack lock` (py-rattler solve) in conda-lock's v1 format; do not edit\n")
    path = root / CONDA_LOCK_FILE
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def read_conda_lock(root: Path, env: CondaEnvironment, subdir: str) -> tuple[str, list[CondaPackage] | None]:
    """("missing"|"stale"|"current", packages when current)."""
    path = root / CONDA_LOCK_FILE
    if not path.is_file():
        return "missing", None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        recorded = doc["metadata"]["content_hash"].get(subdir)
        entries = [e for e in doc["package"] if e.get("platform") == subdir and e.get("manager") == "conda"]
        packages = [
            CondaPackage(e["name"], str(e["version"]), str(e.get("build") or _build_from_url(e["url"])),
                         e["url"], e["hash"]["sha256"], e["hash"].get("md5", ""),
                         tuple(sorted((e.get("dependencies") or {}).items())))
            for e in entries
        ]
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        return "stale", None
    if recorded != input_digest(root, env, subdir):
        return "stale", None
    return "current", packages


def lock_conda(spec, platform: str) -> tuple[Path, int]:  # spec: packager.spec.BuildSpec
    """`modelpack lock` for environment.yml: solve with py-rattler, write conda-lock.yml."""
    from .solve import conda_platform, solve_environment

    env = spec.deps.conda
    packages = solve_environment(env, platform, spec.conda_auth)
    return write_conda_lock(spec.source.root, env, conda_platform(platform), packages), len(packages)


def _build_from_url(url: str) -> str:
    name = url.rsplit("/", 1)[-1]
    for ext in (".tar.bz2", ".conda"):
        name = name.removesuffix(ext)
    return name.rsplit("-", 1)[-1]
