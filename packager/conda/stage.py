"""The RUN lines of the `conda` build stage for a backend and an installer (template input).

The same split as the pip `deps` stage (packager.flavour):

- Engine API: build-only values (index URLs, trusted hosts, tokens) are `ARG`s of this stage and
  the CA bundle is copied into it; nothing is cached between builds. The final image copies only
  the environment, so neither reaches the image.
- BuildKit: the build-only values are the `pip_env` secret (a shell file the steps source) and the
  CA bundle the `ca` secret, mounted only into the steps that download; no layer of any stage
  holds them. The `--conda-auth` file of private channels is the `conda_auth` secret of the
  environment step (copied into this stage on the Engine API). py-rattler's package cache and the
  pip / uv caches are cache mounts, so a changed environment.yml downloads only the packages that
  changed.
- `--installer uv`: uv (the deps stage's pinned version, installed with pip into /opt/uv, which
  stays in this stage) installs py-rattler, modelpack's runtime and environment.yml's `pip:` list
  into the environment's own python, with pip's index, trusted-host and CA settings mapped onto
  uv's exactly as in the deps stage. `--installer pip`: the environment's pip (bootstrapped with
  ensurepip when the environment has none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..flavour import SECRET_CA_ID, UV_HOME, UV_VERSION, Flavour
from . import SECRET_AUTH_ID, STAGE_AUTH_FILE
from .auth import AUTH_FILE_ENV

if TYPE_CHECKING:
    from ..render import Layout
    from .plan import CondaPlan

RATTLER_HOME = "/opt/rattler"  # py-rattler's virtualenv: this stage only
RATTLER_CACHE_MOUNT = "/root/.cache/rattler"  # BuildKit cache mount of py-rattler's package cache
RATTLER_CACHE_TMP = "/tmp/modelpack/conda-pkgs"  # Engine API: inside the stage, deleted after the install


@dataclass(frozen=True)
class CondaSteps:
    """Renders the conda stage's install commands. `layout` gives the inline environment (pip's
    names), `flavour` the backend, the installer and the secret / cache mounts."""

    plan: CondaPlan
    flavour: Flavour
    layout: Layout

    def _env(self, pip_env: tuple[tuple[str, str], ...], installer: Flavour) -> str:
        return "".join(f"{name}={expr} " for name, expr in installer.env(pip_env))

    def _pip_flavour(self) -> Flavour:
        f = self.flavour
        return Flavour(f.backend, "pip", f.secrets_file, f.ca_file)

    def rattler(self) -> str:
        """py-rattler into its own virtualenv (and, for uv, uv itself first)."""
        pip = self._pip_flavour()
        no_cache = "" if self.flavour.secret_mounts else " --no-cache-dir"
        env = self._env(self.layout.runtime_pip_env, pip)
        venv = f"python3 -m venv {RATTLER_HOME}"
        if not self.flavour.uv:
            return (f"RUN {pip.prefix()}{venv} \\\n    && {env}{RATTLER_HOME}/bin/pip install{no_cache} "
                    f"py-rattler=={self.plan.rattler_version}")
        uv_env = self._env(self.layout.runtime_pip_env, self.flavour)
        return (f"RUN {pip.prefix()}{venv} \\\n    && {env}{RATTLER_HOME}/bin/pip install{no_cache} "
                f"--target {UV_HOME} uv=={UV_VERSION}\n"
                f"RUN {self.flavour.prefix()}{uv_env}{self._uv(f'{RATTLER_HOME}/bin/python')} "
                f"py-rattler=={self.plan.rattler_version}")

    def create(self, env_json: str, script: str) -> str:
        """The environment from the host's solve; py-rattler's package cache is a cache mount on
        BuildKit (and deleted with the stage's temporary files on the Engine API)."""
        ca = self.flavour.ca_file
        env = f"SSL_CERT_FILE={ca} " if ca else ""
        if self.plan.auth_file:  # private channels: rattler's middleware reads the auth file
            env += f"{AUTH_FILE_ENV}={STAGE_AUTH_FILE} "
        if self.flavour.secret_mounts:
            mounts = [f"--mount=type=cache,target={RATTLER_CACHE_MOUNT}"]
            if ca:
                mounts.append(f"--mount=type=secret,id={SECRET_CA_ID},target={ca},required=true")
            if self.plan.auth_file:
                mounts.append(f"--mount=type=secret,id={SECRET_AUTH_ID},target={STAGE_AUTH_FILE},required=true")
            return (f"RUN {' '.join(mounts)} \\\n    {env}{RATTLER_HOME}/bin/python {script} {env_json} "
                    f"{RATTLER_CACHE_MOUNT}/cache/pkgs")
        return (f"RUN {env}{RATTLER_HOME}/bin/python {script} {env_json} {RATTLER_CACHE_TMP} "
                f"\\\n    && rm -rf {RATTLER_CACHE_TMP}")

    def install(self, pip_env: tuple[tuple[str, str], ...], args: str, first: bool = True) -> str:
        """`RUN` installing `args` into the environment's python (the runtime wheel, the pip: list);
        with pip, the `first` install bootstraps pip into an environment that has none."""
        python = f"{self.plan.prefix}/bin/python"
        env = self._env(pip_env, self.flavour)
        if self.flavour.uv:
            return f"RUN {self.flavour.prefix()}{env}{self._uv(python)} --compile-bytecode {args}"
        no_cache = "" if self.flavour.secret_mounts else " --no-cache-dir"
        bootstrap = f"({python} -m pip --version >/dev/null 2>&1 || {python} -m ensurepip) \\\n    && " if first else ""
        return f"RUN {self.flavour.prefix()}{bootstrap}{env}{python} -m pip install{no_cache} {args}"

    def _uv(self, python: str) -> str:
        no_cache = "" if self.flavour.secret_mounts else " --no-cache"
        return f"{UV_HOME}/bin/uv pip install --python {python}{no_cache}"
