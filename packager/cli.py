"""The `modelpack` command: a thin typer adapter. Each command parses flags into one options
object, calls one pipeline function and prints the result. `main()` catches ModelpackError once."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, List, Optional

import typer
from typer.core import TyperGroup

try:  # typer >= 0.2x ships its own copy of click; older typer uses click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions

from . import __version__
from .builders import builtin_builders, find_builder
from .constants import DEBUG_ENV
from .errors import ModelpackError, UsageError
from .flavour import INSTALLER_DEFAULT, INSTALLERS
from .redact import redact
from .source.envfile import parse_cli_pair

EXIT_CODES = """\b
Exit codes:
  0  success
  1  unexpected internal error (a bug: please report it)
  2  usage error (bad flag or argument)
  3  invalid source folder (.s2i/environment, MODEL_NAME, dependency files, builder)
  4  Docker daemon unreachable or Docker API error
  5  image build failed (a Dockerfile step failed)
  6  push failed (authentication, refused, network)
  7  dependency lock failed or is stale"""


def _one_line(text: str) -> str:
    # messages quoting tool output (git, pip, OSError) may hold line breaks; the contract is one line
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


class _Group(TyperGroup):
    """Runs click non-standalone so that errors reach `main()`'s single handler."""

    def main(
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name or "modelpack",
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except (typer.Abort, KeyboardInterrupt):
            typer.echo("error: aborted", err=True)
            sys.exit(130)
        except click_exceptions.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ModelpackError as exc:
            typer.echo(f"error: {_one_line(redact(str(exc)))}", err=True)
            sys.exit(exc.exit_code)
        except SystemExit:
            raise
        except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into a line
            if os.environ.get(DEBUG_ENV) == "1":
                traceback.print_exc()
            line = _one_line(redact(str(exc)))
            typer.echo(
                f"error: internal error: {type(exc).__name__}: {line} (this is a bug; please report it; "
                f"set {DEBUG_ENV}=1 for the traceback)",
                err=True,
            )
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


app = typer.Typer(
    cls=_Group,
    name="modelpack",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    epilog=EXIT_CODES,
    help=f"modelpack {__version__}: build a Python model class into a model-microservice image "
    "(Seldon REST, KServe V1, Open Inference V2, gRPC).",
)

# -- shared options -------------------------------------------------------------------------------
EnvOpt = typer.Option(
    None,
    "-e",
    "--env",
    metavar="KEY=VALUE",
    help="set a .s2i/environment key (repeatable; wins over the file)",
)
EnvFileOpt = typer.Option(None, "--env-file", help="a KEY=VALUE file applied after .s2i/environment")
ContextDirOpt = typer.Option(None, "--context-dir", help="sub-folder of SRC (or of the git repo) to build")
BuilderOpt = typer.Option(None, "--builder", help="builder name (see `modelpack builders`) or folder")
PythonOpt = typer.Option(None, "--python", metavar="X.Y", help="Python version of the default base image")
BaseImageOpt = typer.Option(
    None, "--base-image", help="base image (default: the builder's, e.g. python:3.11-slim)"
)
WheelsOpt = typer.Option(None, "--wheels", help="folder of local wheels, used before the index")
CaCertOpt = typer.Option(
    None, "--ca-cert", help="CA bundle for pip during the build (stays in the deps stage)"
)
CondaAuthOpt = typer.Option(
    None, "--conda-auth", envvar="RATTLER_AUTH_FILE", metavar="FILE",
    help="rattler auth file (JSON, host -> credential) for environment.yml's private channels; a build-only secret",
)
LabelOpt = typer.Option(None, "--label", metavar="K=V", help="extra image label (repeatable)")
HealthOpt = typer.Option(
    False, "--healthcheck", help="add a Docker HEALTHCHECK (also MODELPACK_HEALTHCHECK=1)"
)
ModelDirOpt = typer.Option(
    None, "--model-dir", help="model files baked into /mnt/models (MODEL_URI), a layer before the source"
)
LayoutOpt = typer.Option(
    None, "--layout", help="seldon | prepackaged | kserve | mlserver | procfile (default: detected)"
)


def _pairs(raw: Optional[List[str]], flag: str) -> tuple[tuple[str, str], ...]:
    return tuple(parse_cli_pair(item, flag) for item in raw or [])


def _options(
    src: str,
    tags: tuple[str, ...],
    env: Optional[List[str]],
    env_file: Optional[Path],
    context_dir: Optional[str],
    builder: Optional[str],
    python: Optional[str],
    base_image: Optional[str],
    wheels: Optional[Path],
    ca_cert: Optional[Path],
    label: Optional[List[str]],
    healthcheck: bool,
    **rest: Any,
) -> Any:
    from .source.fetch import is_git_url
    from .spec import BuildOptions

    return BuildOptions(
        src=src if is_git_url(src) else Path(src),
        context_dir=context_dir,
        tags=tags,
        env=_pairs(env, "-e"),
        env_file=env_file,
        builder=builder,
        python=python,
        base_image=base_image,
        wheels=wheels,
        ca_cert=ca_cert,
        labels=_pairs(label, "--label"),
        healthcheck=healthcheck,
        **rest,
    )


def _warn(text: str) -> None:
    typer.echo(f"warning: {redact(text)}", err=True)


@app.command(epilog=EXIT_CODES)
def build(
    src: str = typer.Argument(
        ..., help="model source folder, or git URL (URL#ref); omit it with a pre-packaged --builder"
    ),
    image: Optional[str] = typer.Argument(None, help="image name, e.g. myorg/mymodel:1.0"),
    tag: Optional[List[str]] = typer.Option(None, "-t", "--tag", help="extra tag (repeatable)"),
    env: Optional[List[str]] = EnvOpt,
    env_file: Optional[Path] = EnvFileOpt,
    context_dir: Optional[str] = ContextDirOpt,
    builder: Optional[str] = BuilderOpt,
    python: Optional[str] = PythonOpt,
    base_image: Optional[str] = BaseImageOpt,
    wheels: Optional[Path] = WheelsOpt,
    ca_cert: Optional[Path] = CaCertOpt,
    label: Optional[List[str]] = LabelOpt,
    healthcheck: bool = HealthOpt,
    no_cache: bool = typer.Option(False, "--no-cache", help="do not use the layer cache"),
    pull: bool = typer.Option(False, "--pull", help="always pull a newer base image"),
    platform: Optional[str] = typer.Option(None, "--platform", help="target platform, e.g. linux/amd64"),
    progress: str = typer.Option("auto", "--progress", help="auto | plain | quiet"),
    output: str = typer.Option(
        "text", "--output", help="text | json (image id, tags, size, digest, duration)"
    ),
    push: bool = typer.Option(False, "--push", help="push every tag after the build"),
    dry_run: bool = typer.Option(False, "--dry-run", help="check the source, print the Dockerfile"),
    model_dir: Optional[Path] = ModelDirOpt,
    layout: Optional[str] = LayoutOpt,
    locked: bool = typer.Option(
        False, "--locked", help="fail (exit 7) unless requirements.lock is current (`modelpack lock`)"
    ),
    backend: str = typer.Option(
        "auto", "--backend", envvar="MODELPACK_BACKEND",
        help="engine | buildkit | auto (BuildKit when available, else the Engine API)",
    ),
    installer: str = typer.Option(
        INSTALLER_DEFAULT, "--installer", envvar="MODELPACK_INSTALLER",
        help="uv | pip: installs the dependencies (uv: measured faster, docs/buildkit-and-uv.md)",
    ),
    conda_auth: Optional[Path] = CondaAuthOpt,
) -> None:
    """Build SRC into the image IMAGE."""
    from .pipeline import execute, plan
    from .source.layout import source_for

    src, image = source_for(src, image, builder)
    if progress not in ("auto", "plain", "quiet"):
        raise UsageError(f'--progress "{progress}": expected auto, plain or quiet')
    if output not in ("text", "json"):
        raise UsageError(f'--output "{output}": expected text or json')
    if installer not in INSTALLERS:
        raise UsageError(f'--installer "{installer}": expected {" or ".join(INSTALLERS)}')
    if backend not in ("engine", "buildkit", "auto"):
        raise UsageError(f'--backend "{backend}": expected engine, buildkit or auto')
    backend_line = ""
    if backend != "engine":  # auto probes the docker CLI and the daemon; engine needs no probe
        from .backend.buildkit import select_backend

        backend, backend_line = select_backend(backend)
    if backend_line:  # --backend auto|buildkit: one line says what was chosen and why
        backend_line += f"; installer: {installer}"
    options = _options(
        src,
        (image, *(tag or [])),
        env,
        env_file,
        context_dir,
        builder,
        python,
        base_image,
        wheels,
        ca_cert,
        label,
        healthcheck,
        no_cache=no_cache,
        pull=pull,
        platform=platform,
        progress=progress,
        output=output,
        push=push,
        model_dir=model_dir,
        layout=layout,
        locked=locked,
        backend=backend,
        installer=installer,
        conda_auth=conda_auth,
    )
    the_plan = plan(options)
    if progress != "quiet":
        typer.echo(the_plan.summary(), err=True)
        if the_plan.spec.layout is not None:
            typer.echo(the_plan.spec.layout.describe(), err=True)
        if backend_line and not dry_run:
            typer.echo(backend_line, err=True)
    if dry_run:
        for warning in the_plan.spec.warnings:
            _warn(warning)
        typer.echo(the_plan.dockerfile, nl=False)
        return
    outcome = execute(the_plan)
    if output == "json":
        typer.echo(json.dumps(outcome.as_json()))
    else:
        typer.echo(outcome.image_id)


@app.command(epilog=EXIT_CODES)
def dockerfile(
    src: str = typer.Argument(..., help="model source folder, or git URL"),
    outdir: Path = typer.Argument(..., help="new or empty folder for the build context"),
    env: Optional[List[str]] = EnvOpt,
    env_file: Optional[Path] = EnvFileOpt,
    context_dir: Optional[str] = ContextDirOpt,
    builder: Optional[str] = BuilderOpt,
    python: Optional[str] = PythonOpt,
    base_image: Optional[str] = BaseImageOpt,
    wheels: Optional[Path] = WheelsOpt,
    ca_cert: Optional[Path] = CaCertOpt,
    label: Optional[List[str]] = LabelOpt,
    healthcheck: bool = HealthOpt,
    model_dir: Optional[Path] = ModelDirOpt,
    layout: Optional[str] = LayoutOpt,
    backend: str = typer.Option(
        "engine", "--backend", envvar="MODELPACK_BACKEND",
        help="engine (plain Dockerfile: docker, kaniko, buildah) | buildkit (secret and cache mounts) | auto",
    ),
    installer: str = typer.Option(
        INSTALLER_DEFAULT, "--installer", envvar="MODELPACK_INSTALLER", help="uv | pip, as for build",
    ),
    conda_auth: Optional[Path] = CondaAuthOpt,
) -> None:
    """Render the build context (Dockerfile + files) into OUTDIR without building it. The Dockerfile
    is written for --backend (default engine: no RUN --mount, any builder) and --installer."""
    from .render import render_context
    from .spec import load_spec

    backend = _checked_backend_installer(backend, installer)
    options = _options(
        src, (), env, env_file, context_dir, builder, python, base_image, wheels, ca_cert, label, healthcheck,
        model_dir=model_dir, layout=layout, backend=backend, installer=installer, conda_auth=conda_auth,
    )
    spec = load_spec(options)
    for warning in spec.warnings:
        _warn(warning)
    ctx = render_context(spec, outdir, include_secrets=False)  # self-contained: the model files included
    typer.echo(f"wrote {ctx.directory / ctx.dockerfile} ({ctx.file_count} files, {ctx.size_bytes} bytes; "
               f"backend {backend}, installer {installer})")
    names = [k for k, _ in spec.secret_env]
    if backend == "buildkit":
        from .flavour import SECRET_CA_ID, SECRET_ENV_ID, SECRETS_DIGEST_ARG

        secrets = ""
        if names:
            secrets += (f" --secret id={SECRET_ENV_ID},src=FILE --build-arg {SECRETS_DIGEST_ARG}=DIGEST")
        if spec.ca_cert is not None:
            from .constants import CTX_CA_FILE

            secrets += f" --secret id={SECRET_CA_ID},src={ctx.directory / CTX_CA_FILE}"
        if spec.conda_auth is not None:
            from .conda import CTX_AUTH_FILE, SECRET_AUTH_ID

            secrets += f" --secret id={SECRET_AUTH_ID},src={ctx.directory / CTX_AUTH_FILE}"
        typer.echo(f"build with: DOCKER_BUILDKIT=1 docker build{secrets} {ctx.directory}")
        if names:
            typer.echo(f"build-only values are not written: FILE holds one NAME='value' line for each of "
                       f"{', '.join(names)}; DIGEST is any value that changes when they do")
    elif names:
        args = " ".join(f"--build-arg {n}" for n in names)
        typer.echo(f"build-only values are not written; build with: docker build {args} {ctx.directory}")


def _checked_backend_installer(backend: str, installer: str) -> str:
    """--backend and --installer as `build` checks them; auto resolves like `build` (probing docker)."""
    if installer not in INSTALLERS:
        raise UsageError(f'--installer "{installer}": expected {" or ".join(INSTALLERS)}')
    if backend not in ("engine", "buildkit", "auto"):
        raise UsageError(f'--backend "{backend}": expected engine, buildkit or auto')
    if backend == "auto":
        from .backend.buildkit import select_backend

        backend, line = select_backend(backend)
        typer.echo(line, err=True)
    return backend


@app.command(epilog=EXIT_CODES)
def lock(
    src: str = typer.Argument(..., help="model source folder"),
    env: Optional[List[str]] = EnvOpt,
    env_file: Optional[Path] = EnvFileOpt,
    context_dir: Optional[str] = ContextDirOpt,
    builder: Optional[str] = BuilderOpt,
    python: Optional[str] = PythonOpt,
    base_image: Optional[str] = BaseImageOpt,
    wheels: Optional[Path] = WheelsOpt,
    ca_cert: Optional[Path] = CaCertOpt,
    platform: Optional[str] = typer.Option(
        None, "--platform", help="the image's platform (default: this machine's, e.g. linux/amd64)"
    ),
    backend: str = typer.Option(
        "auto", "--backend", envvar="MODELPACK_BACKEND",
        help="engine | buildkit | auto: builds the lock-tool image when pip-compile runs in a container",
    ),
    conda_auth: Optional[Path] = CondaAuthOpt,
) -> None:
    """Pin every pip dependency of SRC for the image's Python and platform into SRC/requirements.lock
    (pip-compile --generate-hashes); `modelpack build` then installs from it. pip-compile runs on this
    machine when its Python is the image's, else in a container of the base image."""
    from .backend.progress import Progress
    from .lock.piplock import lock_pip
    from .lock.state import default_platform
    from .spec import load_spec

    if backend not in ("engine", "buildkit", "auto"):
        raise UsageError(f'--backend "{backend}": expected engine, buildkit or auto')
    options = _options(
        src, (), env, env_file, context_dir, builder, python, base_image, wheels, ca_cert, None, False,
        platform=platform, conda_auth=conda_auth,
    )
    spec = load_spec(options)
    if spec.deps.conda is not None:  # environment.yml -> conda-lock.yml (py-rattler solve)
        from .conda.lockfile import lock_conda

        path, count = lock_conda(spec, default_platform(platform))
        typer.echo(f"wrote {path} ({count} conda packages with sha256, {default_platform(platform)})")
        return
    progress = Progress("auto")

    def chosen_backend() -> str:  # asked only when the lock-tool image has to be built
        if backend == "engine":
            return "engine"
        from .backend.buildkit import select_backend

        name, line = select_backend(backend)
        progress.phase("lock", line)
        return name

    result = lock_pip(spec, default_platform(platform), backend=chosen_backend, progress=progress)
    where = "on this machine" if result.on_host else f"in a container of {spec.base_image}"
    typer.echo(
        f"wrote {result.path} ({result.pins} pinned packages with hashes, python {result.inputs.python}, "
        f"{result.inputs.platform}, resolved {where})"
    )


@app.command(epilog=EXIT_CODES)
def push(
    image: str = typer.Argument(..., help="a local image tag"),
    username: Optional[str] = typer.Option(None, "--username", help="registry user"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    output: str = typer.Option("text", "--output", help="text | json"),
) -> None:
    """Push IMAGE to its registry (credentials: --username/--password-stdin or the Docker config)."""
    from .backend import engine

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: nothing on standard input", "pipe the password in")
    result = engine.push(image, username=username, password=password)
    typer.echo(
        json.dumps({"tag": result.tag, "digest": result.digest}) if output == "json" else result.digest
    )


@app.command(epilog=EXIT_CODES)
def usage(builder: Optional[str] = typer.Argument(None, help="builder name (default: python)")) -> None:
    """Print how to write a source folder for BUILDER and how to call the image (like `s2i usage`)."""
    chosen = find_builder(builder)
    typer.echo(chosen.usage_text().rstrip("\n"))
    typer.echo("\nBuilders: " + ", ".join(b.name for b in builtin_builders()) + " (`modelpack builders`)")
    typer.echo("\n" + EXIT_CODES.replace("\b\n", ""))


@app.command(epilog=EXIT_CODES)
def init(
    dest: Path = typer.Argument(..., help="new or empty folder to write the source into"),
    from_builder: str = typer.Option(..., "--from", help="pre-packaged builder: sklearn, xgboost, ..."),
) -> None:
    """Write a pre-packaged server's source into DEST as a Seldon-style folder to edit and build."""
    from .source.layout import init_from

    written = init_from(from_builder, dest)
    typer.echo(f"wrote {len(written)} files into {dest}: {', '.join(written)}")
    typer.echo(f"edit {dest}/Model.py, then: modelpack build {dest} IMAGE --model-dir MODEL_FOLDER")


@app.command(epilog=EXIT_CODES)
def builders() -> None:
    """List the built-in builders."""
    for b in builtin_builders():
        typer.echo(
            f"{b.name}\t{b.base_image_for(b.default_python)}\tpythons {', '.join(b.pythons)}\t{b.description}"
        )


@app.command(epilog=EXIT_CODES)
def serve(
    src: str = typer.Argument(".", help="model source folder"),
    env: Optional[List[str]] = EnvOpt,
    env_file: Optional[Path] = EnvFileOpt,
    reload: bool = typer.Option(False, "--reload", help="restart when a .py file changes"),
    http_port: Optional[int] = typer.Option(None, "--http-port", help="default 9000"),
    grpc_port: Optional[int] = typer.Option(None, "--grpc-port", help="default 5000"),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="default 6000"),
) -> None:
    """Serve SRC locally, with its .s2i/environment applied as the image would (no Docker)."""
    from .pipeline import serve_local

    flags: list[str] = []
    for flag, value in (
        ("--http-port", http_port),
        ("--grpc-port", grpc_port),
        ("--metrics-port", metrics_port),
    ):
        if value is not None:
            flags += [flag, str(value)]
    raise SystemExit(serve_local(Path(src), _pairs(env, "-e"), env_file, flags, reload, _warn))


def main(argv: Optional[List[str]] = None) -> None:
    """Console script entry point."""
    typer.main.get_command(app).main(args=argv, prog_name="modelpack")
