"""From the CLI's options and the source folder to a frozen, validated BuildSpec, in stages:
parse (.s2i/environment, --env-file, -e), validate (collecting every error), complete (defaults,
builder, base image, labels). The renderer trusts a BuildSpec and checks nothing again."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .builders import Builder, find_builder
from .constants import (
    BUILD_SETTINGS,
    DEFAULT_PERSISTENCE,
    DEFAULT_SERVICE_TYPE,
    HEALTHCHECK_KEY,
    KEEP_PIP_KEY,
    LABEL_PREFIX,
    MODEL_NAME,
    OCI_PREFIX,
    PERSISTENCE,
    RESERVED_KEYS,
    S2I_ENVIRONMENT,
    SERVICE_TYPE,
    SERVICE_TYPES,
)
from .errors import LockError, ModelpackError, SourceError, UsageError
from .redact import redact, register_secret
from .source.deps import Dependencies, detect_dependencies
from .source.envfile import EnvEntry, read_env_file
from .source.fetch import FetchedSource, fetch_source
from .source.ignore import IgnoreRules
from .source.layout import SourceLayout, detect_layout, is_builder_source, layout_entry
from .source.modelcheck import check_model_name
from .source.secrets import is_build_only, is_sensitive
from .source.tree import SourceFile, check_size, source_digest, walk_source
from .weights import MODEL_DIR_KEY, Weights

_TRUE = ("1", "true", "t", "yes", "y", "on")
_FALSE = ("0", "false", "f", "no", "n", "off", "")
# [registry[:port]/]path[:tag] (lower-case path components, as docker requires)
_IMAGE_REF = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"
)


@dataclass(frozen=True)
class BuildOptions:
    """Everything the CLI parsed for `build` / `dockerfile`. Construct with keywords."""

    src: Path | str  # a folder, or a git URL (keep URLs as str)
    context_dir: str | None = None
    tags: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # -e KEY=VALUE, in order (wins over the files)
    env_file: Path | None = None
    builder: str | None = None
    python: str | None = None
    base_image: str | None = None
    wheels: Path | None = None
    ca_cert: Path | None = None
    labels: tuple[tuple[str, str], ...] = ()
    no_cache: bool = False
    pull: bool = False
    platform: str | None = None
    progress: str = "auto"  # auto | plain | quiet
    output: str = "text"  # text | json
    push: bool = False
    healthcheck: bool = False  # also MODELPACK_HEALTHCHECK=1
    model_dir: Path | None = None  # --model-dir: model files in a layer of their own at /mnt/models (issues 5, 7)
    layout: str | None = None  # --layout: override the detected source layout (issue 7)
    locked: bool = False  # --locked: fail unless requirements.lock is current (issue 5)
    backend: str = "engine"  # engine | buildkit: the resolved --backend (packager.backend.select)
    installer: str = "pip"  # uv | pip: --installer (packager.flavour)
    conda_auth: Path | None = None  # --conda-auth / RATTLER_AUTH_FILE: private conda channels (packager.conda.auth)


@dataclass(frozen=True)
class BuildSpec:
    """The completed, validated description of one image build."""

    source: FetchedSource
    files: tuple[SourceFile, ...]
    source_digest: str
    model_name: str
    model_file: str  # the module file MODEL_NAME resolves to
    service_type: str
    persistence: str
    runtime_env: tuple[tuple[str, str], ...]  # ENV of the image, MODEL_NAME first
    secret_env: tuple[tuple[str, str], ...]  # build-only: dependency install step only
    deps: Dependencies
    builder: Builder
    python: str
    base_image: str
    healthcheck: bool
    ca_cert: Path | None
    labels: tuple[tuple[str, str], ...]  # OCI + io.modelpack.* + --label (last wins)
    tags: tuple[str, ...]
    warnings: tuple[str, ...]
    version: str = __version__
    options: BuildOptions | None = field(default=None, compare=False)
    weights: Weights | None = None  # --model-dir or MODELPACK_MODEL_DIR, checked and digested (issue 5)
    layout: SourceLayout | None = None  # the detected source layout (packager.source.layout)
    install_lock: str | None = None  # requirements.lock when current: installed instead (issue 5)
    # pip / setuptools / wheel the deps stage must not remove, each with why (MODELPACK_KEEP_PIP=1,
    # a project install, your code imports it); the slim step also keeps what your dependencies need
    keep_installers: tuple[tuple[str, str], ...] = ()
    # the checked rattler auth file for environment.yml's private channels: a build-only secret
    conda_auth: Path | None = None

    @property
    def source_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def model_dir(self) -> Path | None:
        return self.weights.folder if self.weights else None


def parse_bool(value: str, where: str) -> bool:
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise SourceError(f'{where}: "{value}" is not a boolean', "use 1 or 0")


def collect_env(root: Path, options: BuildOptions) -> list[EnvEntry]:
    """Stage 1 (parse): .s2i/environment, then --env-file, then -e; later entries win."""
    entries: list[EnvEntry] = []
    s2i = root / S2I_ENVIRONMENT
    if s2i.is_file():
        entries += read_env_file(s2i, S2I_ENVIRONMENT, committed=True)
    if options.env_file is not None:
        if not options.env_file.is_file():
            raise UsageError(f"--env-file {options.env_file}: no such file", "check the path")
        entries += read_env_file(options.env_file, f"--env-file {options.env_file.name}", committed=False)
    entries += [EnvEntry(k, v, "-e", False) for k, v in options.env]
    return entries


def _merge(entries: list[EnvEntry]) -> dict[str, EnvEntry]:
    merged: dict[str, EnvEntry] = {}
    for entry in entries:
        merged.pop(entry.key, None)  # keep first-appearance order of the winning value's file
        merged[entry.key] = entry
    return merged


def _complete_python(builder: Builder, options: BuildOptions, errors: list[str]) -> tuple[str, str]:
    python = options.python or builder.default_python
    if not re.fullmatch(r"\d+\.\d+", python):
        errors.append(f'--python "{python}": expected X.Y such as 3.11')
    elif options.base_image is None and python not in builder.pythons:
        errors.append(
            f"--python {python}: builder {builder.name} supports {', '.join(builder.pythons)}; "
            "pick one or pass --base-image"
        )
    return python, options.base_image or builder.base_image_for(python)


def load_spec(options: BuildOptions) -> BuildSpec:
    """Parse, validate (collecting every error into one SourceError) and complete a BuildSpec."""
    for tag in options.tags:
        if not _IMAGE_REF.match(tag):
            raise UsageError(
                f'image name "{tag}": not a valid reference',
                "use [registry/]name[:tag] in lower case, e.g. myorg/mymodel:1.0",
            )
    fetched = fetch_source(str(options.src), options.context_dir)
    root = fetched.root
    rules = IgnoreRules.from_source(root)
    files = walk_source(root, rules)
    present = {f.rel for f in files}
    # The environment files are not copied into the image: their values become ENV (runtime keys)
    # or build args (build-only keys), and a committed credential must not ride along in /microservice.
    env_files = {S2I_ENVIRONMENT}
    if options.env_file is not None:
        try:
            env_files.add(options.env_file.resolve().relative_to(root).as_posix())
        except ValueError:
            pass
    files = tuple(f for f in files if f.rel not in env_files)
    env = _merge(collect_env(root, options))
    for entry in env.values():
        if is_sensitive(entry.key, entry.value):
            register_secret(entry.value)  # from here on every message masks it

    errors: list[str] = []
    warnings: list[str] = []

    def attempt(fn, *args):  # collect SourceErrors instead of stopping at the first
        try:
            return fn(*args)
        except ModelpackError as exc:
            errors.append(str(exc))
            return None

    weights = attempt(_load_weights, options.model_dir, root, env.get(MODEL_DIR_KEY))
    weights_rel = inside_source(weights, root)
    if weights_rel:  # the weights have their own layer: not part of the source copy (nor its digest)
        files = tuple(f for f in files if not f.rel.startswith(weights_rel + "/"))
        present = {p for p in present if not p.startswith(weights_rel + "/")}
    model_entry = env.get(MODEL_NAME)
    model_file = None
    layout = attempt(
        lambda: detect_layout(
            root,
            present,
            override=options.layout,
            builder_source=is_builder_source(options.src, options.builder),
            model_name_set=model_entry is not None and not model_entry.committed,
        )
    )
    if layout is None:
        pass  # the layout error says what is missing; MODEL_NAME would only repeat it
    elif layout.name in ("kserve", "mlserver", "procfile"):
        model_entry, model_file = layout_entry(layout, env.get(MODEL_NAME))  # no MODEL_NAME needed
    elif model_entry is None or not model_entry.value:
        errors.append(
            f"MODEL_NAME is not set; add MODEL_NAME=Model to {S2I_ENVIRONMENT} or pass -e MODEL_NAME=Model"
        )
    else:
        model_file = attempt(check_model_name, root, model_entry.value, present)
    service_type = env[SERVICE_TYPE].value if SERVICE_TYPE in env else DEFAULT_SERVICE_TYPE
    if service_type not in SERVICE_TYPES:
        where = env[SERVICE_TYPE].origin
        errors.append(f'{where}: SERVICE_TYPE "{service_type}" is not one of {", ".join(SERVICE_TYPES)}')
    persistence = env[PERSISTENCE].value if PERSISTENCE in env else DEFAULT_PERSISTENCE
    if persistence not in ("0", "1"):
        errors.append(f'{env[PERSISTENCE].origin}: PERSISTENCE "{persistence}" must be 0 or 1')
    healthcheck = options.healthcheck
    keep_pip = False
    if KEEP_PIP_KEY in env:
        keep_pip = bool(attempt(parse_bool, env[KEEP_PIP_KEY].value, f"{env[KEEP_PIP_KEY].origin}: {KEEP_PIP_KEY}"))
    if HEALTHCHECK_KEY in env:
        healthcheck = healthcheck or bool(
            attempt(
                parse_bool, env[HEALTHCHECK_KEY].value, f"{env[HEALTHCHECK_KEY].origin}: {HEALTHCHECK_KEY}"
            )
        )
    runtime_env: list[tuple[str, str]] = []
    secret_env: list[tuple[str, str]] = []
    for key, entry in env.items():
        if key in RESERVED_KEYS:
            errors.append(f"{entry.origin}: {key} cannot be set; the image needs its own {key}")
        elif "\n" in entry.value or "\r" in entry.value:
            errors.append(f"{entry.origin}: {key} holds a line break; put multi-line values in a file")
        elif is_build_only(key, entry.value):
            secret_env.append((key, entry.value))
            if entry.committed and is_sensitive(key, entry.value):
                warnings.append(
                    f"{entry.origin}: {key} holds a credential committed to the source; it is "
                    f"used only while installing dependencies, but pass it with -e {key}=... instead"
                )
        elif key not in (MODEL_NAME, SERVICE_TYPE, PERSISTENCE, *BUILD_SETTINGS):
            runtime_env.append((key, entry.value))
    deps = attempt(detect_dependencies, root, present, options.wheels)
    builder = attempt(find_builder, options.builder)
    python, base_image = _complete_python(builder, options, errors) if builder else ("", "")
    ca_cert = None
    if options.ca_cert is not None:
        ca_cert = options.ca_cert.expanduser().resolve()
        if not ca_cert.is_file():
            errors.append(
                f"--ca-cert {options.ca_cert}: no such file; pass a PEM bundle such as "
                "/etc/ssl/certs/ca-certificates.crt"
            )
    conda_auth = None
    if options.conda_auth is not None and deps is not None and deps.conda is not None:  # else unused
        from .conda.auth import check_auth_file

        conda_auth = attempt(check_auth_file, options.conda_auth)
    size_warning = attempt(check_size, files, sum(w.path.stat().st_size for w in deps.wheels) if deps else 0)
    if errors:
        count = f"{len(errors)} problems: " if len(errors) > 1 else ""
        raise SourceError(redact(count + " | ".join(errors)))
    assert deps is not None and builder is not None and model_entry is not None and model_file is not None
    warnings = list(deps.warnings) + warnings + ([size_warning] if size_warning else [])
    if deps.requirements:
        from .source.layout import provided_requirements

        for line in provided_requirements(root / deps.requirements):
            warnings.append(
                f"{deps.requirements}: {line!r} is not installed: modelpack's runtime provides the "
                "seldon_core API models use (seldon_core.user_model), and seldon-core 1.x pins protobuf<4, "
                "which cannot be installed beside the runtime's gRPC; remove the line to silence this"
            )
    install_lock = _lock_decision(root, deps, python, options, warnings)
    digest = source_digest(root, files)
    model_name = model_entry.value
    labels = [(f"{OCI_PREFIX}title", model_name), (f"{OCI_PREFIX}base.name", base_image)]
    if fetched.url:
        labels.append((f"{OCI_PREFIX}source", fetched.url))
    if fetched.revision:
        labels.append((f"{OCI_PREFIX}revision", fetched.revision))
    labels += [
        (f"{LABEL_PREFIX}version", __version__),
        (f"{LABEL_PREFIX}builder", builder.name),
        (f"{LABEL_PREFIX}model-name", model_name),
        (f"{LABEL_PREFIX}service-type", service_type),
        (f"{LABEL_PREFIX}source-digest", digest),
    ]
    if weights is not None:
        labels.append((f"{LABEL_PREFIX}weights-digest", f"sha256:{weights.digest}"))
    labels += list(options.labels)
    env_out = [
        (MODEL_NAME, model_name),
        (SERVICE_TYPE, service_type),
        (PERSISTENCE, persistence),
    ] + runtime_env
    return BuildSpec(
        fetched,
        files,
        digest,
        model_name,
        model_file,
        service_type,
        persistence,
        tuple(env_out),
        tuple(secret_env),
        deps,
        builder,
        python,
        base_image,
        healthcheck,
        ca_cert,
        tuple(labels),
        tuple(options.tags),
        tuple(redact(w) for w in warnings),
        __version__,
        options,
        weights=weights,
        layout=layout,
        install_lock=install_lock,
        keep_installers=_keep_installers(root, files, deps, keep_pip),
        conda_auth=conda_auth,
    )


def _load_weights(model_dir: Path | None, root: Path, entry: EnvEntry | None) -> Weights | None:
    from .weights import load

    return load(model_dir, root, entry.value if entry else None, entry.origin if entry else "")


def inside_source(weights: Weights | None, root: Path) -> str | None:
    from .weights import inside

    return inside(weights, root)


_IMPORTS_INSTALLER = re.compile(
    rb"^[ \t]*(?:import|from)[ \t]+(pkg_resources|setuptools|pip|wheel)\b", re.MULTILINE)


def _keep_installers(root: Path, files: tuple[SourceFile, ...], deps: Dependencies,
                     keep_pip: bool) -> tuple[tuple[str, str], ...]:
    """Which of pip, setuptools and wheel the image keeps whatever its dependencies say, and why."""
    keep: dict[str, str] = {}
    if keep_pip:
        keep = {name: f"{KEEP_PIP_KEY}=1" for name in ("pip", "setuptools", "wheel")}
    if deps.project is not None:
        keep.setdefault("pip", "the project is installed with pip after the source copy")
    for f in files:
        if not f.rel.endswith(".py") or f.size > 1 << 20:
            continue
        for match in _IMPORTS_INSTALLER.finditer((root / f.rel).read_bytes()):
            module = match.group(1).decode()
            name = "setuptools" if module == "pkg_resources" else module
            where = f.rel if f.rel.isprintable() else repr(f.rel)  # it goes into a Dockerfile comment
            keep.setdefault(name, f"{where} imports {module}")
    return tuple(sorted(keep.items()))


def _lock_decision(root: Path, deps: Dependencies, python: str, options: BuildOptions,
                   warnings: list[str]) -> str | None:
    """requirements.lock when it is current; --locked turns a stale or missing lock into a LockError.
    Without --locked a stale lock is not used (it would install what the manifests no longer say),
    and the warning says so: never a silent change of what gets installed."""
    from .lock.state import default_platform, lock_state

    state = lock_state(root, deps, python, default_platform(options.platform), base_image=options.base_image,
                       python_given=options.python is not None)  # a custom base image: its own Python
    name = state.file  # requirements.lock, or conda-lock.yml for environment.yml
    if state.status == "current":
        return name
    if state.status == "stale":
        if options.locked:
            raise LockError(f"--locked: {name} is stale: {state.reason}", "run `modelpack lock SRC`")
        warnings.append(f"{name} is stale ({state.reason}); installing from the manifests, "
                        "unlocked; run `modelpack lock SRC` to refresh it")
    elif options.locked and state.status == "missing":  # "none": no pip dependencies, nothing to lock
        raise LockError(f"--locked: no {name} in {root}", "run `modelpack lock SRC` and commit the lock")
    return None
