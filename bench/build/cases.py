"""The build benchmark's inputs and probes: the scikit-learn source, the s2i-style baseline,
one build of either kind, which RUN steps a build executed, and an image's size breakdown."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKER = "/usr/bin/docker"  # Debian's 20.10 CLI: the legacy builder and BuildKit (DOCKER_BUILDKIT)
USER_REQUIREMENTS = "numpy==2.1.3\nscikit-learn==1.5.2\njoblib==1.4.2\n"
EXTRA_REQUIREMENT = "six==1.16.0\n"
# the user's packages: the requirements and everything they pull in
USER_DISTS = ("numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "six")

MODEL_PY = '''\
"""A scikit-learn classifier: trained once at load() on fixed data, stored and reloaded with joblib."""
import os
import tempfile

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression


class Model:
    def load(self):
        rng = np.random.default_rng(0)
        X = rng.normal(size=(200, 4))
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
        path = os.path.join(tempfile.gettempdir(), "model.joblib")
        joblib.dump(LogisticRegression().fit(X, y), path)
        self.clf = joblib.load(path)

    def predict(self, X, feature_names=None, meta=None):
        return self.clf.predict_proba(np.asarray(X, dtype=float))
'''

# s2i's assemble (contract C.4): the builder image already holds Python and the microservice;
# assemble copies the source and runs one pip install, in the same layer, on every build.
BASELINE_DOCKERFILE = """\
FROM {base}
# the builder image: a virtualenv with the model microservice (seldon-core in Seldon's image)
COPY ca.crt /etc/ssl/modelpack-bench-ca.crt
RUN python3 -m venv /opt/venv
COPY {wheel} /tmp/
RUN PIP_CERT=/etc/ssl/modelpack-bench-ca.crt /opt/venv/bin/pip install --no-cache-dir /tmp/{wheel}
ENV PATH=/opt/venv/bin:$PATH MODEL_NAME=Model SERVICE_TYPE=MODEL PERSISTENCE=0
WORKDIR /microservice
# assemble: `cp -Rf /tmp/src/. ./` then `pip install --no-cache-dir -r requirements.txt`, one layer
COPY src/ /tmp/src/
RUN cp -Rf /tmp/src/. ./ && PIP_CERT=/etc/ssl/modelpack-bench-ca.crt pip install --no-cache-dir -r requirements.txt
USER 8888
ENTRYPOINT ["modelpack-microservice", "Model", "--service-type", "MODEL"]
"""


def write_source(root: Path) -> None:
    """The scikit-learn model source (src/) as a data scientist writes it."""
    (root / ".s2i").mkdir(parents=True, exist_ok=True)
    (root / ".s2i" / "environment").write_text("MODEL_NAME=Model\nSERVICE_TYPE=MODEL\n")
    (root / "Model.py").write_text(MODEL_PY)
    (root / "requirements.txt").write_text(USER_REQUIREMENTS)


def write_baseline_context(ctx: Path, src: Path, base: str, ca_cert: str) -> None:
    """The baseline's context: its Dockerfile, the CA bundle, the runtime wheel, and src/ (a link
    would not be followed by docker: the source is copied before each build by ``sync_source``)."""
    sys_path = str(REPO)
    import sys

    if sys_path not in sys.path:
        sys.path.insert(0, sys_path)
    from packager.runtime_wheel import build_runtime_wheel

    ctx.mkdir(parents=True, exist_ok=True)
    wheel = build_runtime_wheel(ctx)
    (ctx / "ca.crt").write_bytes(Path(ca_cert).read_bytes())
    (ctx / "Dockerfile").write_text(BASELINE_DOCKERFILE.format(base=base, wheel=wheel.name))
    sync_source(src, ctx / "src")


def sync_source(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path in src.rglob("*"):
        if path.is_file():
            target = dest / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or target.read_bytes() != path.read_bytes():
                target.write_bytes(path.read_bytes())


@dataclass
class BuildRun:
    seconds: float
    output: str
    ok: bool

    def executed_runs(self) -> list[str]:
        """The RUN steps that executed (not cache hits), for both the legacy and BuildKit logs."""
        return executed_runs(self.output)


def run_build(argv: list[str], env: dict[str, str] | None = None) -> BuildRun:
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "CI": "true", **(env or {})},
                          check=False, timeout=3600)
    seconds = time.monotonic() - started
    return BuildRun(seconds, proc.stdout + proc.stderr, proc.returncode == 0)


_LEGACY_STEP = re.compile(r"Step \d+/\d+ : (RUN .*)$")
_BK_VERTEX = re.compile(r"#(\d+) \[[^\]]+\] (RUN .*)$")
_BK_CACHED = re.compile(r"#(\d+) CACHED\s*$")


def executed_runs(output: str) -> list[str]:
    lines = [re.sub(r"^\[build\] ", "", line) for line in output.splitlines()]
    ran: list[str] = []
    vertices: dict[str, str] = {}
    cached: set[str] = set()
    pending: str | None = None
    for line in lines:
        legacy = _LEGACY_STEP.search(line)
        if legacy:
            pending = legacy.group(1)
            continue
        if pending is not None:
            if "---> Using cache" in line:
                pending = None
            elif "---> Running in" in line:
                ran.append(pending)
                pending = None
        vertex = _BK_VERTEX.search(line)
        if vertex:
            vertices.setdefault(vertex.group(1), vertex.group(2))
        hit = _BK_CACHED.search(line)
        if hit:
            cached.add(hit.group(1))
    ran += [instr for vid, instr in vertices.items() if vid not in cached]
    return [_short(r) for r in ran]


SHORT = {"modelpack_runtime": "runtime install", "uv==": "uv install", "-r requirements": "requirements install",
         "slimvenv.py finish": "slim", "python3 -m venv": "venv", "useradd": "user", "--no-index .": "project install"}
# steps that follow what is installed and reinstall nothing (the deps stage's slimming)
NOT_A_REINSTALL = {"slim"}


def _short(run: str) -> str:
    for word, name in SHORT.items():
        if word in run:
            return name
    return " ".join(run.split())[:60]


def image_size(image: str) -> int:
    out = subprocess.run([DOCKER, "image", "inspect", "--format", "{{.Size}}", image], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.strip())


_SIZES = r"""
import importlib.metadata as md, json, os, sys
user = set(sys.argv[1].split(","))
out = {"user": 0, "other": {}}
for dist in md.distributions():
    name = dist.metadata["Name"].lower().replace("_", "-")
    paths = set()
    for f in dist.files or []:
        p = str(dist.locate_file(f))
        paths.add(p)
        if p.endswith(".py"):  # bytecode: pip lists it in RECORD, uv --compile-bytecode does not
            d, base = os.path.split(p)
            cache = os.path.join(d, "__pycache__")
            if os.path.isdir(cache):
                stem = base[:-3] + "."
                paths.update(os.path.join(cache, n) for n in os.listdir(cache) if n.startswith(stem))
    total = 0
    for p in paths:
        try:
            total += os.lstat(p).st_size
        except OSError:
            pass
    if name in user:
        out["user"] += total
    else:
        out["other"][name] = out["other"].get(name, 0) + total
print(json.dumps(out))
"""


def size_breakdown(image: str, base: str) -> dict[str, object]:
    """Image size, base size, the user's packages, and what is left: modelpack's overhead."""
    proc = subprocess.run([DOCKER, "run", "--rm", "--entrypoint", "/opt/venv/bin/python", image, "-c", _SIZES,
                           ",".join(USER_DISTS)], capture_output=True, text=True, check=True, timeout=120)
    sizes = json.loads(proc.stdout)
    total, base_size = image_size(image), image_size(base)
    return {
        "image": total,
        "base": base_size,
        "user_packages": sizes["user"],
        "overhead": total - base_size - sizes["user"],
        "other_dists": dict(sorted(sizes["other"].items(), key=lambda kv: -kv[1])[:12]),
    }
