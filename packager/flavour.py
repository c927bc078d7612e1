"""How the deps stage's install steps are written for a backend and an installer (template input).

- backend ``engine`` (Engine API, legacy builder): build-only values are ``ARG``s, the CA bundle
  is copied into the deps stage, and nothing is cached between builds (``--no-cache-dir``).
- backend ``buildkit``: build-only values come from a secret mount (``pip_env``, a shell file of
  ``NAME='value'`` lines that the step sources), the CA bundle from a secret mount at the path
  ``PIP_CERT`` names, and the pip / uv caches are cache mounts, so a changed requirement
  downloads only what changed and no layer (not even an intermediate one) holds a secret.
- installer ``pip``: the virtualenv's own pip.
- installer ``uv``: a pinned uv installed with pip into ``UV_HOME`` (deps stage only, never copied
  into the final image), run as ``uv pip install --python /opt/venv/bin/python``. pip's settings
  are mapped onto uv's (``INSTALLER_ENV``) so that indexes, trusted hosts and the CA bundle mean
  the same thing for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import constants as c

BACKENDS = ("engine", "buildkit")
INSTALLERS = ("uv", "pip")
UV_VERSION = "0.13.9"  # pinned: the same uv, so the same resolution, for every build
UV_HOME = "/opt/uv"  # deps stage only
SECRET_ENV_ID = "pip_env"  # BuildKit secret ids (docker build --secret id=...,src=...)
SECRET_CA_ID = "ca"
SECRETS_DIGEST_ARG = "MODELPACK_SECRETS_DIGEST"  # BuildKit: keyed digest of the build-only values
PIP_CACHE = "/root/.cache/pip"
UV_CACHE = "/root/.cache/uv"
# pip's variables -> uv's. uv's default index strategy stops at the first index that has a
# package; pip takes the best version over every index, so the uv steps ask for pip's behaviour.
INSTALLER_ENV = {
    "PIP_CERT": "SSL_CERT_FILE",
    "PIP_INDEX_URL": "UV_INDEX_URL",
    "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST": "UV_INSECURE_HOST",
}


@dataclass(frozen=True)
class Flavour:
    """The backend and installer a Dockerfile is rendered for."""

    backend: str = "engine"
    installer: str = "pip"
    secrets_file: bool = False  # there are build-only values (a pip_env secret to mount)
    ca_file: str | None = None  # where PIP_CERT points (the CA secret's target), or None

    @property
    def secret_mounts(self) -> bool:
        return self.backend == "buildkit"

    @property
    def uv(self) -> bool:
        return self.installer == "uv"

    def prefix(self) -> str:
        """What goes between ``RUN `` and the install's inline environment."""
        if not self.secret_mounts:
            return ""
        mounts = [f"--mount=type=cache,target={UV_CACHE if self.uv else PIP_CACHE}"]
        if self.uv:
            mounts.append(f"--mount=type=cache,target={PIP_CACHE}")  # uv's own wheel, installed by pip
        if self.secrets_file:
            mounts.append(f"--mount=type=secret,id={SECRET_ENV_ID},required=true")
        if self.ca_file:
            mounts.append(f"--mount=type=secret,id={SECRET_CA_ID},target={self.ca_file},required=true")
        text = " ".join(mounts) + " \\\n    "
        if self.secrets_file:
            # `set -a`: every NAME in the file is exported, so pip and uv expand ${NAME} in requirement files
            text += f"set -a && . /run/secrets/{SECRET_ENV_ID} && set +a && "
        return text

    def env(self, pip_env: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
        """The install step's inline environment (pip's names; mapped to uv's for uv)."""
        if not self.uv:
            return list(pip_env)
        out = [(INSTALLER_ENV.get(name, name), expr) for name, expr in pip_env]
        if any(name == "UV_EXTRA_INDEX_URL" for name, _ in out):
            out.append(("UV_INDEX_STRATEGY", "unsafe-best-match"))
        return out

    def install(self) -> str:
        """The install command, up to its arguments."""
        if self.uv:
            cache = "" if self.secret_mounts else " --no-cache"
            return f"{UV_HOME}/bin/uv pip install --python {c.VENV}/bin/python --compile-bytecode{cache}"
        return "pip install" if self.secret_mounts else "pip install --no-cache-dir"

    def uv_setup(self, pip_env: tuple[tuple[str, str], ...]) -> str:
        """The RUN line that installs uv itself (with pip, into UV_HOME), or '' for pip."""
        if not self.uv:
            return ""
        env = "".join(f"{name}={expr} " for name, expr in pip_env)
        cache = "" if self.secret_mounts else " --no-cache-dir"
        mounts = Flavour(self.backend, "pip", self.secrets_file, self.ca_file).prefix()
        return f"RUN {mounts}{env}pip install{cache} --target {UV_HOME} uv=={UV_VERSION}"

    def deps_stage_env(self) -> str:
        """Extra ENV of the deps stage, or ''."""
        # the cache mount is another file system: uv's default hard links would fall back noisily
        return "ENV UV_LINK_MODE=copy UV_NO_PROGRESS=1" if self.uv else ""

    @property
    def digest_arg(self) -> str:
        return SECRETS_DIGEST_ARG

    @property
    def uv_version(self) -> str:
        return UV_VERSION

    @property
    def uv_home(self) -> str:
        return UV_HOME


# `--installer` default: the faster one as measured by bench/run-build (docs/buildkit-and-uv.md).
INSTALLER_DEFAULT = "uv"
