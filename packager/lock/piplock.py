"""`modelpack lock` for pip manifests: pip-compile (pip-tools) with hashes, run in a copy of the
exact files the image's dependency step installs (render's deps/ folder), with the same index, token
and CA settings as the build. The result is requirements.lock beside the sources, in pip-compile's
format, with a modelpack header recording its inputs.

Why resolve with the host's interpreter: pip-compile evaluates environment markers
(`python_version`, `sys_platform`, `platform_machine`) against the interpreter running it, and
`--pip-args "--python-version ... --platform ..."` does not change that (tried: a
`python_version < "3.11"` dependency is dropped for a 3.10 target). So a correct lock needs an
interpreter of the image's Python on the image's platform; we use the CLI's own and refuse, with
the fix, when it does not match. Hashes are right for the image: pip-tools records the hashes of
every file of each pinned release, all platforms included."""

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

from .. import constants as c
from ..errors import LockError
from ..redact import redact
from ..spec import BuildSpec
from . import LOCK_FILE
from .digest import LockInputs, lock_inputs
from .state import host_platform

# pip settings that would make the lock differ from the build (host-only indexes, find-links,
# a pip.conf): removed, then set again from the source's build-only keys exactly as the build does.
_HOST_PIP_KEYS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST",
                  "PIP_NO_INDEX", "PIP_REQUIRE_HASHES", "PIP_CONSTRAINT", "PIP_REQUIREMENT")


@dataclass(frozen=True)
class LockResult:
    path: Path
    pins: int  # pinned packages
    inputs: LockInputs


def _check_target(python: str, platform: str) -> None:
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if python != here:
        raise LockError(
            f"--python {python}: modelpack lock resolves with the Python running modelpack ({here}), "
            "because pip-compile evaluates markers against its own interpreter",
            f"run modelpack lock from a Python {python} environment (e.g. pipx run --python "
            f"python{python} --spec modelpack modelpack lock SRC)",
        )
    if platform != host_platform():
        raise LockError(
            f"--platform {platform}: modelpack lock resolves on this machine "
            f"({host_platform() or sys.platform})",
            f"run modelpack lock on a {platform} machine (or in a {platform} container)",
        )


def _pip_env(spec: BuildSpec) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _HOST_PIP_KEYS}
    env["PIP_CONFIG_FILE"] = os.devnull  # no host pip.conf: the image's pip has none either
    env["CUSTOM_COMPILE_COMMAND"] = "modelpack lock SRC"
    if spec.ca_cert is not None:
        env["PIP_CERT"] = str(spec.ca_cert)
    names = dict(spec.secret_env)
    for name, value in spec.secret_env:  # same mapping as the build's dependency step
        target = c.PIP_ENV_ALIASES.get(name, name)
        if target != name and target in names:
            continue
        sources = [name] + [a for a, t in c.PIP_ENV_ALIASES.items() if t == name and a in names]
        env[target] = " ".join(names[n] for n in sources)
        env[name] = value  # ${NAME} in a requirement file
    return env


def _failure(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("WARNING")]
    picked = [ln for ln in lines if any(w in ln.lower() for w in ("error", "could not", "no matching"))]
    return redact(" ".join((picked or lines)[-3:]) or "no output")


def lock_pip(spec: BuildSpec, platform: str) -> LockResult:
    """Write SRC/requirements.lock for `spec` (loaded with the lock's options). Raises LockError."""
    from ..render import _write_deps, plan_layout  # the exact files the image's pip step reads

    _check_target(spec.python, platform)
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
    root = spec.source.root
    target = root / LOCK_FILE
    with tempfile.TemporaryDirectory(prefix="modelpack-lock-") as tmp:
        work = Path(tmp)
        _write_deps(spec, work)
        args = [sys.executable, "-m", "piptools", "compile", "--quiet", "--generate-hashes", "--allow-unsafe",
                "--strip-extras", "--no-emit-index-url", "--no-emit-trusted-host", "--no-emit-find-links",
                "--output-file", LOCK_FILE]
        if spec.deps.wheels:
            (work / "_wheels").mkdir()
            for w in spec.deps.wheels:
                shutil.copyfile(w.path, work / "_wheels" / w.name)
            args += ["--find-links", "_wheels"]
        if target.is_file():  # the previous pins are preferences: re-locking changes only what must
            shutil.copyfile(target, work / LOCK_FILE)
        proc = subprocess.run([*args, *layout.requirement_args], cwd=work, env=_pip_env(spec),
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise LockError(f"pip-compile failed: {_failure(proc.stderr)}",
                            "fix the requirement it names, then run modelpack lock SRC again")
        text = (work / LOCK_FILE).read_text(encoding="utf-8")
    if spec.deps.project is not None:  # name the user's manifest, not modelpack's extracted copy of it
        text = text.replace(f"-r {c.PROJECT_REQUIREMENTS}", spec.deps.project.manifest)
    for number, line in enumerate(text.splitlines(), 1):
        if "file://" in line or line.startswith("-e "):
            raise LockError(
                f"{LOCK_FILE} line {number}: {redact(line.strip())} is a path on this machine, not a package",
                "publish the local package as a wheel (wheels/ folder) so it can be locked by hash",
            )
    inputs = lock_inputs(root, spec.deps, spec.python, platform)
    target.write_text(inputs.header() + text, encoding="utf-8")
    pins = sum(1 for line in text.splitlines() if line and not line[0].isspace() and "==" in line)
    return LockResult(target, pins, inputs)
