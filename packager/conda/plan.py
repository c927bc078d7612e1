"""What the template needs to render the conda build stage, and the files render puts in the
context for it (the host's solve, the create script, the `pip:` list)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from . import (
    CTX_AUTH_FILE,
    CTX_CREATE_SCRIPT,
    CTX_ENV_JSON,
    DEFAULT_ENV_NAME,
    ENV_NAME_KEY,
    ENVS_ROOT,
    PIP_REQUIREMENTS,
)


@dataclass(frozen=True)
class CondaPlan:
    name: str  # CONDA_ENV_NAME, default "microservice"
    prefix: str  # /opt/conda/envs/<name>
    rattler_version: str  # py-rattler pinned in the build stage: the host's version
    pip_requirements: str | None  # deps/ file with environment.yml's pip: list
    auth_file: str | None = None  # context path of the --conda-auth file (a build-only secret)
    env_json: str = CTX_ENV_JSON
    create_script: str = CTX_CREATE_SCRIPT

    def steps(self, flavour, layout):  # (Flavour, render.Layout) -> CondaSteps: the stage's RUN lines
        from .stage import CondaSteps

        return CondaSteps(self, flavour, layout)


def conda_plan(spec) -> CondaPlan | None:  # spec: packager.spec.BuildSpec (import cycle)
    env = spec.deps.conda
    if env is None:
        return None
    from .solve import rattler_version

    name = dict(spec.runtime_env).get(ENV_NAME_KEY, DEFAULT_ENV_NAME)
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
        raise SourceError(f'{ENV_NAME_KEY} "{name}": not a valid environment name',
                          "use letters, digits, _ . -")
    return CondaPlan(name, f"{ENVS_ROOT}/{name}", rattler_version(), PIP_REQUIREMENTS if env.pip else None,
                     CTX_AUTH_FILE if spec.conda_auth is not None else None)


def write_conda_context(spec, plan: CondaPlan, outdir: Path, deps_dir: Path) -> dict[str, str]:
    """Solve on the host and write the build stage's inputs; returns build args (the channel URLs,
    so a channel on the build host's loopback gets a host-network build)."""
    from ..lock.state import default_platform
    from .lockfile import CONDA_LOCK_FILE, read_conda_lock
    from .solve import conda_platform, env_json, solve_environment

    env = spec.deps.conda
    platform = default_platform(spec.options.platform if spec.options else None)
    packages = None
    if spec.install_lock == CONDA_LOCK_FILE:  # current conda-lock.yml (checked by spec): no solve
        _, packages = read_conda_lock(spec.source.root, env, conda_platform(platform))
    if packages is None:
        packages = solve_environment(env, platform, spec.conda_auth)
    (outdir / plan.env_json).write_text(env_json(env, packages, plan.prefix, platform), encoding="utf-8")
    shutil.copyfile(Path(__file__).with_name("create_env.py"), outdir / plan.create_script)
    if plan.auth_file:  # BuildKit mounts it as a secret; the Engine API copies it into this stage only
        target = outdir / plan.auth_file
        target.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            fh.write(spec.conda_auth.read_bytes())
    if plan.pip_requirements:
        deps_dir.mkdir(parents=True, exist_ok=True)
        (deps_dir / plan.pip_requirements).write_text("".join(f"{r}\n" for r in env.pip), encoding="utf-8")
    return {"MODELPACK_CONDA_CHANNELS": " ".join(env.channels)}
