"""Conda environments (issue 5): environment.yml -> an image whose runtime runs inside a conda
environment, built without conda. py-rattler (Rust, on PyPI) solves on the build host, so an
unsolvable file is one line before any Docker call, and installs inside a build stage, so the
final image only copies the finished environment (no tarball to unpack at container start).

Modules: `envfile` reads environment.yml, `solve` solves it with py-rattler on the host,
`create_env.py` is the script the build stage runs (stdlib + py-rattler only)."""

from __future__ import annotations

ENVS_ROOT = "/opt/conda/envs"
DEFAULT_ENV_NAME = "microservice"
ENV_NAME_KEY = "CONDA_ENV_NAME"
CONDA_PLATFORM = {"linux/amd64": "linux-64", "linux/arm64": "linux-aarch64"}
# Virtual packages of the image for the solve: Linux, and the glibc of Debian bookworm / the
# python:3.x-slim images (2.36). Packages that need a newer glibc are rejected at solve time.
VIRTUAL_PACKAGES = (("__linux", "6.1"), ("__glibc", "2.36"), ("__unix", "0"))
CTX_ENV_JSON = "modelpack/conda-env.json"
CTX_CREATE_SCRIPT = "modelpack/conda_create.py"
CTX_AUTH_FILE = "modelpack/conda-auth.json"  # --conda-auth: a secret mount on BuildKit (packager.conda.auth)
STAGE_AUTH_FILE = "/tmp/modelpack/conda-auth.json"  # where the conda stage reads it (RATTLER_AUTH_FILE)
SECRET_AUTH_ID = "conda_auth"
PIP_REQUIREMENTS = "conda-pip-requirements.txt"  # environment.yml's pip: list, in deps/
