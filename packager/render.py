"""Render a BuildSpec into a complete Docker build context: the Dockerfile (from the builder's
jinja2 template), the runtime wheel, the entry script, local wheels, the dependency manifests with
the local files they reference, and the filtered source. Rendered inputs are files, never strings
pasted into RUN lines."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from . import constants as c
from .builders import data_dir
from .conda.auth import secret_values as conda_secret_values
from .conda.plan import conda_plan, write_conda_context
from .errors import UsageError
from .flavour import Flavour
from .runtime_wheel import runtime_wheel_into
from .slim import CTX_SLIM
from .slim import copy_scripts as copy_slim_scripts
from .source.ignore import IgnoreRules
from .spec import BuildSpec
from .weights import CTX_MODEL, MOUNT
from .weights import copy_into as copy_weights

DEPS_WORKDIR = f"{c.VENV}/modelpack-deps"  # inside the venv, so `-e ./lib` installs keep working
WHEELS_DIR = "/tmp/wheels"
MODELPACK_TMP = "/tmp/modelpack"


@dataclass(frozen=True)
class RenderedContext:
    directory: Path  # complete build context, Dockerfile at its root
    dockerfile: str  # "Dockerfile"
    build_args: dict[str, str]  # non-secret
    secret_build_args: dict[str, str]  # consumed ONLY in the deps stage; never printed, never in the image
    labels: dict[str, str]
    file_count: int
    size_bytes: int
    secret_values: tuple[str, ...] = ()  # more values no log line may show (the --conda-auth file's)


@dataclass(frozen=True)
class Layout:
    """Where things are in the context and how the install steps use them (template input)."""

    runtime_wheel: str  # context path of the runtime wheel
    ca_file: str | None  # context path of the CA bundle
    wheels: tuple[str, ...]  # wheel file names in wheels/
    requirement_args: tuple[str, ...]  # `-r FILE` arguments, relative to DEPS_WORKDIR
    install_wheels: bool  # no manifests: install every local wheel
    project_from_source: bool  # project deps not literal: install `.` from a copy
    secret_args: tuple[str, ...]  # every build-only ARG name
    pip_env: tuple[tuple[str, str], ...]  # inline env of the dependency pip RUN: (NAME, shell expr)
    # Index settings (and the CA) are declared before the runtime install, which needs the index
    # too; tokens only before the dependency install, so changing a token keeps the runtime layer.
    index_args: tuple[str, ...] = ()
    token_args: tuple[str, ...] = ()
    runtime_pip_env: tuple[tuple[str, str], ...] = ()
    require_hashes: bool = False  # installing from requirements.lock: --require-hashes --no-deps (issue 5)

    @property
    def runtime_wheel_name(self) -> str:
        return self.runtime_wheel.rsplit("/", 1)[1]

    @property
    def has_deps(self) -> bool:
        return bool(self.requirement_args or self.install_wheels)


def docker_quote(value: str) -> str:
    """A double-quoted Dockerfile word (ENV/LABEL) whose value is taken literally."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def plan_layout(spec: BuildSpec) -> Layout:
    deps = spec.deps
    reqs: list[str] = []
    if spec.install_lock:  # a current lock replaces the manifests: every pin, every hash
        reqs.append(spec.install_lock)
    else:
        if deps.requirements:
            reqs.append(deps.requirements)
        if deps.project is not None:
            reqs.append(c.PROJECT_REQUIREMENTS)
    names = [k for k, _ in spec.secret_env]
    pip_env: list[tuple[str, str]] = []
    if spec.ca_cert is not None:
        pip_env.append(("PIP_CERT", f"{MODELPACK_TMP}/ca.crt"))
    for name in names:
        target = c.PIP_ENV_ALIASES.get(name, name)
        if target != name and target in names:
            continue  # merged into the alias line below
        expr = f'"${name}"'
        alias_sources = [a for a, t in c.PIP_ENV_ALIASES.items() if t == name and a in names]
        if alias_sources:
            expr = '"' + " ".join(f"${n}" for n in [name, *alias_sources]) + '"'
        pip_env.append((target, expr))
    pip_env = sorted(set(pip_env), key=lambda kv: kv[0])
    index_args = tuple(sorted(n for n in names if n.upper() in c.BUILD_ONLY_KEYS))
    token_args = tuple(sorted(n for n in names if n not in index_args))
    runtime_env = [(k, v) for k, v in pip_env if k == "PIP_CERT" or k.upper() in c.BUILD_ONLY_KEYS]
    return Layout(
        f"{c.CTX_MODELPACK}/{_wheel_name()}",
        c.CTX_CA_FILE if spec.ca_cert else None,
        tuple(w.name for w in deps.wheels),
        tuple(reqs),
        bool(deps.wheels) and not reqs,
        deps.project is not None and deps.project.dependencies is None,
        tuple(sorted(names)),
        tuple(pip_env),
        index_args,
        token_args,
        tuple(runtime_env),
        bool(spec.install_lock),
    )


def _wheel_name() -> str:
    from .runtime_wheel import wheel_name

    return wheel_name()


def flavour_of(spec: BuildSpec, layout: Layout) -> Flavour:
    """The backend and installer of `spec` (--backend, --installer), for the install steps."""
    options = spec.options
    return Flavour(
        getattr(options, "backend", "engine"),
        getattr(options, "installer", "pip"),
        secrets_file=bool(layout.secret_args),
        ca_file=f"{MODELPACK_TMP}/ca.crt" if layout.ca_file else None,
    )


def slim_args(spec: BuildSpec, layout: Layout) -> str:
    """Arguments of the deps stage's `slimvenv.py finish` step (packager/slim)."""
    words = [f"--requirements {DEPS_WORKDIR}/{req}" for req in layout.requirement_args]
    words += [f"--keep {name}" for name, _ in spec.keep_installers]
    if spec.deps.project is not None:
        words.append("--keep-sources")  # the project install after the source copy may compile against them
    return "".join(f" {w}" for w in words)


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiling the template is most of rendering it (30 ms, a few % of a rebuild after a Model.py
    edit); jinja2 keeps the compiled code under a key of the template's source, so a cache is safe."""
    folder = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelpack" / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder)) if os.access(folder, os.W_OK) else None


def render_dockerfile(spec: BuildSpec, layout: Layout, weights_image: str | None = None) -> str:
    """The Dockerfile text. `weights_image`: copy the model files from that helper image (modelpack
    build); None: from the context's model/ folder (modelpack dockerfile, self-contained)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(spec.builder.dockerfile_dir)),
        bytecode_cache=_bytecode_cache(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dq"] = docker_quote
    template = env.get_template(spec.builder.dockerfile)
    return template.render(
        spec=spec,
        layout=layout,
        flavour=flavour_of(spec, layout),
        c=c,
        deps_workdir=DEPS_WORKDIR,
        wheels_dir=WHEELS_DIR,
        modelpack_tmp=MODELPACK_TMP,
        conda=conda_plan(spec),
        slim_dir=CTX_SLIM,
        slim_args=slim_args(spec, layout),
        weights_image=weights_image,
        weights_mount=MOUNT,
        weights_ctx=CTX_MODEL,
    )


def _group_like_user(mode: int) -> int:
    # OpenShift runs images with an arbitrary UID in group 0: give the group the owner's rights.
    return (mode & 0o777) | ((mode & 0o700) >> 3)


def _copy_file(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    os.chmod(dst, _group_like_user(src.stat().st_mode))


def _copy_tree(root: Path, rel: str, dest_root: Path) -> None:
    always = IgnoreRules([])
    src = root / rel
    if src.is_file():
        _copy_file(src, dest_root / rel)
        return
    for dirpath, dirnames, filenames in os.walk(src):
        base = Path(dirpath).relative_to(root).as_posix()
        dirnames[:] = [d for d in dirnames if not always.excluded(f"{base}/{d}", True)]
        for name in filenames:
            if not always.excluded(f"{base}/{name}", False):
                _copy_file(Path(dirpath) / name, dest_root / base / name)


def _write_text(path: Path, text: str) -> None:
    # fixed mode, whatever the umask: the context (and the golden files) stay the same everywhere
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o664)


def _prepare_outdir(outdir: Path) -> None:
    if outdir.exists() and any(outdir.iterdir()):
        if not ((outdir / "Dockerfile").is_file() and (outdir / c.CTX_MODELPACK).is_dir()):
            raise UsageError(f"{outdir}: folder is not empty", "pass a new or empty folder")
        shutil.rmtree(outdir)  # a context rendered before: replace it
    outdir.mkdir(parents=True, exist_ok=True)


def _write_deps(spec: BuildSpec, deps_dir: Path) -> None:
    root = spec.source.root
    deps = spec.deps
    if spec.install_lock:  # the lock pins the project's dependencies and build backend too
        _copy_file(root / spec.install_lock, deps_dir / spec.install_lock)
        return
    for rel in deps.local_paths:
        _copy_tree(root, rel, deps_dir)
    for rel, number in deps.self_references:
        path = deps_dir / rel
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        lines[number - 1] = "# installed after the source copy by modelpack: " + lines[number - 1]
        path.write_text("".join(lines), encoding="utf-8")
    project = deps.project
    if project is None:
        return
    lines = [f"# {project.manifest}: the project's dependencies and build requirements, read by modelpack\n"]
    if project.dependencies is None:
        for f in spec.files:  # computed dependencies: install the project from a full copy
            _copy_file(root / f.rel, deps_dir / f.rel)
        lines.append(".\n")
    else:
        lines += [f"{d}\n" for d in project.dependencies]
    lines += [f"{d}\n" for d in project.build_requires]
    _write_text(deps_dir / c.PROJECT_REQUIREMENTS, "".join(lines))


def render_context(spec: BuildSpec, outdir: Path, *, include_secrets: bool, weights_image: str | None = None,
                   dockerfile: str | None = None) -> RenderedContext:
    """Write the complete build context into `outdir` (new or empty, or a context rendered before).

    `weights_image`: the model files come from that helper image and stay out of the context
    (modelpack build); None: they are copied into the context (modelpack dockerfile).
    `dockerfile`: the Dockerfile text when the caller rendered it already (the same arguments)."""
    _prepare_outdir(outdir)
    layout = plan_layout(spec)
    runtime_wheel_into(outdir / c.CTX_MODELPACK)
    _copy_file(data_dir("templates") / "entrypoint.sh", outdir / c.CTX_ENTRYPOINT)
    copy_slim_scripts(outdir / CTX_SLIM)
    if spec.weights is not None and weights_image is None:  # self-contained: the weights ride along
        copy_weights(spec.weights, outdir / CTX_MODEL)
    if spec.ca_cert is not None:
        _copy_file(spec.ca_cert, outdir / c.CTX_CA_FILE)
    for wheel in spec.deps.wheels:
        _copy_file(wheel.path, outdir / c.CTX_WHEELS / wheel.name)
    if spec.deps.requirements or spec.deps.project:
        _write_deps(spec, outdir / c.CTX_DEPS)
        if spec.layout is not None and spec.layout.name == "kserve" and spec.deps.requirements:
            from .source.layout import drop_kserve_requirements  # issue 7: the runtime hosts kserve.Model

            drop_kserve_requirements(outdir / c.CTX_DEPS / spec.deps.requirements)
        if spec.deps.requirements and not spec.install_lock:
            from .source.layout import PROVIDED_BY_RUNTIME, drop_provided_requirements

            # Seldon folders often list seldon-core; the runtime provides its user-facing API
            drop_provided_requirements(outdir / c.CTX_DEPS / spec.deps.requirements, PROVIDED_BY_RUNTIME,
                                       "a seldon_core shim; seldon-core 1.x pins protobuf<4")
    build_args: dict[str, str] = {}
    conda = conda_plan(spec)
    if conda is not None:  # environment.yml: solved here, installed by the conda build stage
        build_args = write_conda_context(spec, conda, outdir, outdir / c.CTX_DEPS)
    (outdir / c.CTX_SRC).mkdir()
    source_wheels = c.SOURCE_WHEELS_DIR + "/"
    for f in spec.files:
        if spec.deps.wheels and f.rel.startswith(source_wheels):
            continue  # a package source, installed in the deps stage; not shipped twice
        _copy_file(spec.source.root / f.rel, outdir / c.CTX_SRC / f.rel)
    _write_text(outdir / "Dockerfile", dockerfile if dockerfile is not None else
                render_dockerfile(spec, layout, weights_image))
    count, size = 0, 0
    for path in outdir.rglob("*"):
        if path.is_file():
            count += 1
            size += path.stat().st_size
    return RenderedContext(
        outdir,
        "Dockerfile",
        build_args,
        dict(spec.secret_env) if include_secrets else {},
        dict(spec.labels),
        count,
        size,
        tuple(conda_secret_values(spec.conda_auth)) if spec.conda_auth is not None else (),
    )
