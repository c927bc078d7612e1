"""Plan, then execute. `plan()` is pure: it reads the source and returns what will be built
(the spec, the Dockerfile text, the tags, the secret build-arg names). `execute()` renders the
context into a temporary folder and hands it to the Docker backend (packager.backend.engine),
which is imported only there so that planning never needs docker."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .render import Layout, plan_layout, render_context, render_dockerfile
from .source.tree import human
from .spec import BuildOptions, BuildSpec, load_spec


@dataclass(frozen=True)
class Plan:
    options: BuildOptions
    spec: BuildSpec
    layout: Layout
    dockerfile: str  # the Dockerfile text that will be built
    tags: tuple[str, ...]
    secret_arg_names: tuple[str, ...]  # values are never part of a plan's printable form

    def summary(self) -> str:
        s = self.spec
        return (
            f"{s.source.display}: MODEL_NAME={s.model_name} ({s.model_file}), SERVICE_TYPE={s.service_type}, "
            f"{len(s.files)} files, {human(s.source_bytes)}; builder {s.builder.name}, base {s.base_image}"
        )


@dataclass(frozen=True)
class Outcome:
    image_id: str
    tags: list[str]
    size: int
    duration_s: float
    digest: str | None = None  # of the first pushed tag
    pushed: dict[str, str] = field(default_factory=dict)  # tag -> digest

    def as_json(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "tags": self.tags,
            "size": self.size,
            "digest": self.digest,
            "duration": round(self.duration_s, 3),
            "pushed": self.pushed,
        }


def plan(options: BuildOptions) -> Plan:
    """Read and validate the source; render the Dockerfile text in memory. Raises SourceError."""
    spec = load_spec(options)
    layout = plan_layout(spec)
    weights_image = spec.weights.image if spec.weights else None  # a helper image (packager.weights)
    dockerfile = render_dockerfile(spec, layout, weights_image)
    return Plan(options, spec, layout, dockerfile, spec.tags, layout.secret_args)


def execute(plan: Plan, progress: Any = None) -> Outcome:
    """Render the context (secrets included), build it, and push every tag when asked."""
    from .backend import engine
    from .backend.progress import Progress

    builder: Any = engine
    if plan.options.backend == "buildkit":
        from .backend import buildkit as builder  # --backend buildkit (or auto that chose it)
    progress = progress or Progress(plan.options.progress)
    for warning in plan.spec.warnings:
        progress.warn(warning)
    weights_image = None
    if plan.spec.weights is not None:  # built once per content; the context below omits the files
        from .backend import weights

        weights_image = weights.ensure(plan.spec.weights, progress)
    workdir = Path(tempfile.mkdtemp(prefix="modelpack-ctx-"))
    try:
        ctx = render_context(plan.spec, workdir / "context", include_secrets=True, weights_image=weights_image,
                             dockerfile=plan.dockerfile)
        progress.line(f"build context: {ctx.file_count} files, {human(ctx.size_bytes)}")
        result = builder.build(
            ctx,
            list(plan.tags),
            no_cache=plan.options.no_cache,
            pull=plan.options.pull,
            platform=plan.options.platform,
            progress=progress,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    pushed: dict[str, str] = {}
    if plan.options.push:
        for tag in plan.tags:
            pushed[tag] = engine.push(tag, progress=progress).digest
    digest = pushed.get(plan.tags[0]) if pushed else None
    return Outcome(result.image_id, list(result.tags), result.size, result.duration_s, digest, pushed)


def serve_local(
    src: Path,
    env_pairs: tuple[tuple[str, str], ...],
    env_file: Path | None,
    flags: list[str],
    reload: bool,
    warn: Callable[[str], None],
) -> int:
    """`modelpack serve`: run the model microservice on SRC in this process, with the environment
    the image would have: .s2i/environment, then --env-file, then -e, over the current environment.
    Build-only keys (index URLs, tokens) are left out, as in the image."""
    import os

    from modelpack_runtime import cli as runtime_cli
    from modelpack_runtime import server

    from .constants import DEFAULT_PERSISTENCE, DEFAULT_SERVICE_TYPE, MODEL_NAME, PERSISTENCE, SERVICE_TYPE
    from .errors import SourceError
    from .source.fetch import fetch_source
    from .source.modelcheck import check_model_name
    from .source.secrets import is_build_only
    from .spec import collect_env

    root = fetch_source(str(src), None).root
    options = BuildOptions(src=root, env=env_pairs, env_file=env_file)
    merged: dict[str, str] = {}
    for entry in collect_env(root, options):
        if is_build_only(entry.key, entry.value):
            continue
        merged[entry.key] = entry.value
    model_name = merged.get(MODEL_NAME)
    if not model_name:
        raise SourceError(
            "MODEL_NAME is not set", "add MODEL_NAME=Model to .s2i/environment or pass -e MODEL_NAME=Model"
        )
    check_model_name(root, model_name)
    from .weights import MODEL_DIR_KEY

    model_dir = merged.pop(MODEL_DIR_KEY, None)  # a build setting: in the image, MODEL_URI=/mnt/models
    if model_dir and "MODEL_URI" not in merged and "MODEL_URI" not in os.environ:
        merged["MODEL_URI"] = str((root / model_dir).resolve())  # here: the folder itself
    os.environ.update(merged)  # user code reads its env as it would in the image
    argv = [
        model_name,
        "--service-type",
        merged.get(SERVICE_TYPE, DEFAULT_SERVICE_TYPE),
        "--persistence",
        merged.get(PERSISTENCE, DEFAULT_PERSISTENCE),
        *flags,
    ]
    try:
        settings = runtime_cli.settings_from_args(argv, dict(os.environ), warn=warn)
    except runtime_cli.CliError as exc:
        raise SourceError(str(exc)) from None
    runtime_cli.configure_logging(settings.log_level)
    os.chdir(root)
    return int(server.serve_source(str(root), settings, reload=reload) or 0)
