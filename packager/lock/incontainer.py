"""pip-compile inside a container of the base image, for a lock whose Python or platform is not the
host's (packager.lock.target decides).

The lock-tool image is the base image plus a virtualenv (/opt/modelpack-lock) with the host's
pip-tools and pip versions, so the lock is written by the same tools as on the host fast path.
It is built once through modelpack's own backends (`--backend`, as a build would) and tagged
`modelpack-lock-tool:<key>`, the key a digest of the base image id, the two versions and this
recipe; `MODELPACK_LOCK_TOOL_IMAGE` names another repository. Installing pip-tools needs the
package index, so the build gets the index settings and the CA bundle exactly as a build's deps
stage does: BuildKit secret mounts, or Engine API build args declared only in a first stage whose
virtualenv the tool image copies (that stage's cache stays on the build host, as a build's deps
stage does). Neither reaches the tool image's layers, config or history.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from .. import constants as c
from ..errors import BuildFailed, LockError
from ..flavour import Flavour
from .imagecache import ImagePython
from .target import LockTarget

if TYPE_CHECKING:
    from ..backend.locktool import Compiled
    from ..spec import BuildSpec

TOOL_HOME = "/opt/modelpack-lock"  # the tool image's virtualenv
TOOL_REPO_ENV = "MODELPACK_LOCK_TOOL_IMAGE"
TOOL_REPO = "modelpack-lock-tool"
RECIPE = "1"  # bump when the tool Dockerfile changes, so cached tool images are rebuilt
CA_FILE = ".modelpack-ca.crt"
Backend = Union[str, Callable[[], str]]  # in the container's work folder, where PIP_CERT points


def tool_versions() -> dict[str, str]:
    return {"pip-tools": version("pip-tools"), "pip": version("pip")}


def tool_tag(info: ImagePython, versions: dict[str, str]) -> str:
    key = hashlib.sha256(f"{info.image_id}\n{sorted(versions.items())}\nrecipe {RECIPE}\n".encode()).hexdigest()
    return f"{os.environ.get(TOOL_REPO_ENV) or TOOL_REPO}:{key[:16]}"


def tool_dockerfile(base_image: str, flavour: Flavour, runtime_env: tuple[tuple[str, str], ...],
                    index_args: tuple[str, ...], versions: dict[str, str],
                    labels: dict[str, str] | None = None) -> str:
    """Two stages: pip-tools is installed where the index settings are (stage `tool`); the image
    is the base image plus that virtualenv, and its labels (one LABEL line: the legacy builder
    would run a container for each label it has to add itself)."""
    from ..render import docker_quote

    env = "".join(f"{name}={expr} " for name, expr in runtime_env)
    lines = [f"# modelpack lock tool: pip-tools {versions['pip-tools']} and pip {versions['pip']} on {base_image}",
             f"FROM {base_image} AS tool"]
    if flavour.secret_mounts:
        if flavour.secrets_file:
            lines.append(f"ARG {flavour.digest_arg}")
        no_cache = ""
    else:
        lines += [f"ARG {name}" for name in index_args]
        if flavour.ca_file:
            lines.append(f"COPY {c.CTX_CA_FILE} {flavour.ca_file}")
        no_cache = " --no-cache-dir"
    lines += [f"RUN {flavour.prefix()}python3 -m venv {TOOL_HOME} \\",
              (f"    && {env}{TOOL_HOME}/bin/pip install{no_cache} pip=={versions['pip']} "
              f"pip-tools=={versions['pip-tools']}"),
              f"FROM {base_image}",
              f"COPY --from=tool {TOOL_HOME} {TOOL_HOME}"]
    if labels:
        lines.append("LABEL " + " ".join(f"{key}={docker_quote(value)}" for key, value in sorted(labels.items())))
    return "\n".join(lines) + "\n"


def ensure_tool_image(spec: BuildSpec, target: LockTarget, info: ImagePython, backend: Backend,
                      progress: Any) -> str:
    """The tag of a lock-tool image for `info` (the base image), built when missing with
    `backend` (engine | buildkit, or a function that picks one: asked only when building)."""
    from ..backend.locktool import has_image
    from ..render import RenderedContext, plan_layout

    versions = tool_versions()
    tag = tool_tag(info, versions)
    if has_image(tag):
        progress.phase("lock", f"lock tool image {tag} (pip-tools {versions['pip-tools']}, cached)")
        return tag
    backend = backend() if callable(backend) else backend
    layout = plan_layout(spec)
    secrets = {name: value for name, value in spec.secret_env if name in layout.index_args}
    ca_target = "/tmp/modelpack/ca.crt" if spec.ca_cert else None
    flavour = Flavour(backend, "pip", secrets_file=bool(secrets), ca_file=ca_target)
    runtime_env = tuple((k, v) for k, v in layout.runtime_pip_env if k != "PIP_CERT" or ca_target)
    labels = {"io.modelpack.lock-tool.base-image": target.base_image,
              "io.modelpack.lock-tool.base-id": info.image_id,
              "io.modelpack.lock-tool.pip-tools": versions["pip-tools"],
              "io.modelpack.lock-tool.pip": versions["pip"]}
    with tempfile.TemporaryDirectory(prefix="modelpack-locktool-") as tmp:
        folder = Path(tmp)
        text = tool_dockerfile(target.base_image, flavour, runtime_env, layout.index_args, versions, labels)
        (folder / "Dockerfile").write_text(text, encoding="utf-8")
        files = 1
        if spec.ca_cert is not None:
            (folder / c.CTX_CA_FILE).parent.mkdir(parents=True)
            shutil.copyfile(spec.ca_cert, folder / c.CTX_CA_FILE)
            files += 1
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        ctx = RenderedContext(folder, "Dockerfile", {}, secrets, labels, files, size)
        if backend == "buildkit":
            from ..backend import buildkit as builder
        else:
            from ..backend import engine as builder
        try:
            builder.build(ctx, [tag], progress=progress)
        except BuildFailed as exc:
            raise LockError(f"could not build the lock tool image (pip-tools {versions['pip-tools']} on "
                            f"{target.base_image}): {exc.message}",
                            "check the package index settings (the tool is installed from the same index "
                            "as your packages)") from None
    return tag


def compile_in_container(spec: BuildSpec, target: LockTarget, work: Path, compile_args: list[str],
                         env: dict[str, str], output: str, backend: Backend, progress: Any) -> Compiled:
    """Run pip-compile with `compile_args` in a container of the lock-tool image on a copy of
    `work`; `env` is pip's environment (index settings, tokens) with PIP_CERT unset: the CA bundle
    is copied in and PIP_CERT pointed at it here. Returns packager.backend.locktool.Compiled."""
    from ..backend.engine import _needs_host_network
    from ..backend.locktool import WORKDIR, image_python, run_pip_compile
    from .state import host_platform

    info = target.image or image_python(target.base_image, target.platform)
    if info.version != target.python:
        raise LockError(f"base image {target.base_image} runs Python {info.full}, not {target.python}",
                        "pass --base-image with an image of that Python, or the matching --python")
    tool = ensure_tool_image(spec, target, info, backend, progress)
    env = dict(env)
    if spec.ca_cert is not None:
        shutil.copyfile(spec.ca_cert, work / CA_FILE)
        env["PIP_CERT"] = f"{WORKDIR}/{CA_FILE}"
    env.update({"PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "CUSTOM_COMPILE_COMMAND": "modelpack lock SRC"})
    network = "host" if _needs_host_network(env) else None
    platform = target.platform if target.platform != host_platform() else None
    progress.phase("lock", f"pip-compile in a container of {tool} ({target.base_image}, Python {info.full})")
    argv = [f"{TOOL_HOME}/bin/python", "-m", "piptools", "compile", *compile_args]
    return run_pip_compile(tool, work, argv, env, output, network=network, platform=platform)
