"""`modelpack lock` for pip manifests: pip-compile (pip-tools) with hashes, run in a copy of the
exact files the image's dependency step installs (render's deps/ folder), with the same index, token
and CA settings as the build. The result is requirements.lock beside the sources, in pip-compile's
format, with a modelpack header recording its inputs.

pip-compile evaluates environment markers against the interpreter that runs it, so it runs where
the image's Python is: on this machine when the host's interpreter is the image's (X.Y,
implementation, platform), else in a container of the base image (packager.lock.target says which,
packager.lock.incontainer runs it). Hashes are right for the image either way: pip-tools records
the hashes of every file of each pinned release, all platforms included."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import constants as c
from ..errors import LockError
from ..redact import redact, register_secret
from ..spec import BuildSpec
from . import LOCK_FILE
from .digest import LockInputs, lock_inputs

if TYPE_CHECKING:
    from .incontainer import Backend

# pip settings that would make the lock differ from the build (host-only indexes, find-links,
# a pip.conf): removed, then set again from the source's build-only keys exactly as the build does.
_HOST_PIP_KEYS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST",
                  "PIP_NO_INDEX", "PIP_REQUIRE_HASHES", "PIP_CONSTRAINT", "PIP_REQUIREMENT")


@dataclass(frozen=True)
class LockResult:
    path: Path
    pins: int  # pinned packages
    inputs: LockInputs
    on_host: bool = True  # pip-compile ran on this machine (else in a container of the base image)


def _index_env(spec: BuildSpec) -> dict[str, str]:
    """pip's index settings and the tokens, mapped exactly as the build's dependency step maps them
    (EXTRA_INDEX_URL -> PIP_EXTRA_INDEX_URL, merged with PIP_EXTRA_INDEX_URL when both are set)."""
    names = dict(spec.secret_env)
    env = dict(names)  # ${NAME} in a requirement file
    for name, _value in spec.secret_env:
        target = c.PIP_ENV_ALIASES.get(name, name)
        if target != name and target in names:
            continue  # merged into the alias line below
        sources = [name] + [a for a, t in c.PIP_ENV_ALIASES.items() if t == name and a in names]
        env[target] = " ".join(names[n] for n in sources)
    return env


def _host_env(spec: BuildSpec) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _HOST_PIP_KEYS}
    env["PIP_CONFIG_FILE"] = os.devnull  # no host pip.conf: the image's pip has none either
    env["CUSTOM_COMPILE_COMMAND"] = "modelpack lock SRC"
    if spec.ca_cert is not None:
        env["PIP_CERT"] = str(spec.ca_cert)
    return {**env, **_index_env(spec)}


def _failure(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("WARNING")]
    picked = [ln for ln in lines if any(w in ln.lower() for w in ("error", "could not", "no matching"))]
    return redact(" ".join((picked or lines)[-3:]) or "no output")


def lock_pip(spec: BuildSpec, platform: str, *, backend: Backend = "engine", progress: Any = None) -> LockResult:
    """Write SRC/requirements.lock for `spec` (loaded with the lock's options). Raises LockError.
    `backend` builds the lock-tool image when pip-compile has to run in a container."""
    from ..render import _write_deps, plan_layout  # the exact files the image's pip step reads
    from .target import resolve_target

    if importlib.util.find_spec("piptools") is None:
        raise LockError("pip-tools is not installed next to modelpack", "pip install pip-tools")
    spec = dataclasses.replace(spec, install_lock=None)
    layout = plan_layout(spec)
    if not layout.requirement_args:
        raise LockError(
            f"{spec.source.root}: nothing to lock "
            f"(no {c.REQUIREMENTS_TXT}, {c.SETUP_PY} or {c.PYPROJECT_TOML})",
            "add the dependencies to requirements.txt first",
        )
    for _name, value in spec.secret_env:  # trusted hosts too: no message or log line shows them
        register_secret(value)
    options = spec.options
    target = resolve_target(spec.base_image, bool(options and options.base_image), spec.python,
                            bool(options and options.python), platform)
    progress = progress or _Silent()
    progress.phase("lock", target.describe())
    root = spec.source.root
    path = root / LOCK_FILE
    with tempfile.TemporaryDirectory(prefix="modelpack-lock-") as tmp:
        work = Path(tmp)
        _write_deps(spec, work)
        args = ["--quiet", "--generate-hashes", "--allow-unsafe", "--strip-extras", "--no-emit-index-url",
                "--no-emit-trusted-host", "--no-emit-find-links", "--output-file", LOCK_FILE]
        if spec.deps.wheels:
            (work / "_wheels").mkdir()
            for w in spec.deps.wheels:
                shutil.copyfile(w.path, work / "_wheels" / w.name)
            args += ["--find-links", "_wheels"]
        if path.is_file():  # the previous pins are preferences: re-locking changes only what must
            shutil.copyfile(path, work / LOCK_FILE)
        args += list(layout.requirement_args)
        if target.on_host:
            proc = subprocess.run([sys.executable, "-m", "piptools", "compile", *args], cwd=work,
                                  env=_host_env(spec), capture_output=True, text=True, check=False)
            returncode, stderr = proc.returncode, proc.stderr
            text = (work / LOCK_FILE).read_text(encoding="utf-8") if returncode == 0 else None
        else:
            from .incontainer import compile_in_container

            done = compile_in_container(spec, target, work, args, _index_env(spec), LOCK_FILE, backend, progress)
            returncode, stderr, text = done.returncode, done.stderr, done.lock_text
    where = "" if target.on_host else f" (in a container of {target.base_image}, Python {target.python})"
    if returncode != 0 or text is None:
        raise LockError(f"pip-compile failed{where}: {_failure(stderr)}",
                        "fix the requirement it names, then run modelpack lock SRC again")
    if spec.deps.project is not None:  # name the user's manifest, not modelpack's extracted copy of it
        text = text.replace(f"-r {c.PROJECT_REQUIREMENTS}", spec.deps.project.manifest)
    for number, line in enumerate(text.splitlines(), 1):
        if "file://" in line or line.startswith("-e "):
            shown = redact(line.strip()).replace("file:///modelpack-lock/", "./").replace(f"file://{work}/", "./")
            raise LockError(
                f"{LOCK_FILE} line {number}: {shown} is a local folder, not a package file: pip's hash "
                "checking (--require-hashes) cannot pin a folder or an editable install",
                "build it into a wheel in wheels/ (or --wheels), which is locked with its sha256",
            )
    inputs = lock_inputs(root, spec.deps, target.python, platform, base_image=spec.base_image)
    path.write_text(inputs.header() + text, encoding="utf-8")
    pins = sum(1 for line in text.splitlines() if line and not line[0].isspace() and "==" in line)
    return LockResult(path, pins, inputs, target.on_host)


class _Silent:
    """A progress sink for library callers that pass none."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None
