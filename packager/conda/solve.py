"""Solve environment.yml with py-rattler on the build host, for the image's platform and virtual
packages. The exact result (name, version, build, URL, sha256 of every package) goes into the build
context; the build stage installs exactly that, so the host decides and the image reproduces it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import LockError, UsageError
from ..redact import redact
from . import CONDA_PLATFORM, VIRTUAL_PACKAGES
from .auth import AUTH_FILE_ENV
from .envfile import CondaEnvironment


@dataclass(frozen=True)
class CondaPackage:
    name: str
    version: str
    build: str
    url: str
    sha256: str
    md5: str = ""
    dependencies: tuple[tuple[str, str], ...] = ()  # name -> the rest of the match spec (conda-lock style)

    @property
    def exact_spec(self) -> str:
        return f"{self.name} =={self.version} {self.build}"


def conda_platform(platform: str) -> str:
    try:
        return CONDA_PLATFORM[platform]
    except KeyError:
        raise UsageError(f"--platform {platform}: no conda platform for it",
                         f"use one of {', '.join(CONDA_PLATFORM)}") from None


def rattler_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("py-rattler")
    except PackageNotFoundError:
        raise LockError("environment.yml needs py-rattler next to modelpack",
                        "pip install py-rattler") from None


def solve_environment(env: CondaEnvironment, platform: str, auth: Path | None = None) -> list[CondaPackage]:
    """The packages of `env` for `platform` (linux/amd64...). An unsolvable file -> one-line LockError.
    `auth`: a rattler auth file with the private channels' credentials (packager.conda.auth).
    The solve runs in a child process (packager.conda.solve_worker says why)."""
    rattler_version()
    subdir = conda_platform(platform)
    request = {"channels": list(env.channels), "specs": list(env.specs), "subdir": subdir,
               "virtual": [list(v) for v in VIRTUAL_PACKAGES]}
    child_env = {k: v for k, v in os.environ.items() if k != AUTH_FILE_ENV}
    if auth is not None:
        child_env[AUTH_FILE_ENV] = str(auth)
    proc = subprocess.run([sys.executable, "-m", "packager.conda.solve_worker"], input=json.dumps(request),
                          capture_output=True, text=True, check=False, env=child_env)
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        tail = " ".join(proc.stderr.split())[-300:]
        raise LockError(f"{env.file}: the py-rattler solver stopped (exit {proc.returncode}): {redact(tail)}",
                        "run the command again; report it if it persists") from None
    if "error" in answer:
        text = " ".join(line.strip() for line in answer["message"].splitlines() if line.strip())
        text = text.replace("Cannot solve the request because of: ", "")
        kind = "cannot be solved" if answer["error"] == "SolverError" else "channel error"
        fix = "fix the package name or version, or the channel"
        if re.search(r"\b(401|403)\b", text) or answer["error"] == "AuthenticationStorageError":
            fix = ("give the channel's credentials in a rattler auth file keyed by its host name: "
                   f"--conda-auth FILE (or {AUTH_FILE_ENV})" if auth is None else
                   f"check the entry for the channel's host name in --conda-auth {auth}")
        raise LockError(f"{env.file}: {kind} for {subdir}: {redact(text)}", fix)
    return sorted(
        (CondaPackage(r["name"], r["version"], r["build"], r["url"], r["sha256"], r["md5"],
                      tuple(sorted(_dependency(d) for d in r["depends"]))) for r in answer["packages"]),
        key=lambda p: p.name,
    )


def _dependency(spec: str) -> tuple[str, str]:
    name, _, rest = spec.strip().partition(" ")
    return name, rest.strip() or "*"


def env_json(env: CondaEnvironment, packages: list[CondaPackage], prefix: str, platform: str) -> str:
    """What the build stage's create script reads (packager/conda/create_env.py)."""
    return json.dumps({
        "prefix": prefix,
        "platform": conda_platform(platform),
        "channels": list(env.channels),
        "packages": [
            {"name": p.name, "version": p.version, "build": p.build, "url": p.url, "sha256": p.sha256}
            for p in packages
        ],
        "virtual_packages": [list(v) for v in VIRTUAL_PACKAGES],
    }, indent=2, sort_keys=True) + "\n"
