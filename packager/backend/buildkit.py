"""The BuildKit backend: ``docker buildx build`` where buildx is installed, else ``docker build``
with ``DOCKER_BUILDKIT=1``.

The Engine API's build endpoint in the daemons we support (20.10) speaks the legacy builder
only, so BuildKit is reached through the docker CLI: ``docker buildx`` with a builder of the
``docker`` driver (the daemon's own BuildKit builds, the image lands in the daemon), or a client
with its own BuildKit client such as Debian's docker.io 20.10 with ``DOCKER_BUILDKIT=1``.
``MODELPACK_BUILDKIT_CLIENT=buildx|docker-build`` picks one explicitly. No ``# syntax=`` line is
written: the daemon's built-in Dockerfile frontend already has ``RUN --mount`` and no registry
is needed to fetch a frontend.

Build-only values reach the install steps as secret mounts (``--secret id=pip_env`` and
``id=ca``), written to a private (0700) temporary folder that is deleted after the build, so no
layer holds them, not even in the build cache. The plain progress output is parsed for the
failing step and pip's / uv's own error lines (exit 5), like the engine backend does.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import os
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packager.backend.buildlog import pip_failure, uv_failure
from packager.backend.client import connect, mapped_errors
from packager.backend.engine import BuildResult, _labels_to_add, _needs_host_network, _split_tag
from packager.backend.progress import Progress
from packager.conda import CTX_AUTH_FILE, SECRET_AUTH_ID
from packager.constants import CTX_CA_FILE
from packager.errors import BuildFailed, DockerUnavailable, UsageError
from packager.flavour import SECRET_CA_ID, SECRET_ENV_ID, SECRETS_DIGEST_ARG

if TYPE_CHECKING:
    from packager.render import RenderedContext

CLI_ENV = "MODELPACK_DOCKER_CLI"  # a docker CLI to use instead of the search below
CLIENT_ENV = "MODELPACK_BUILDKIT_CLIENT"  # auto | buildx | docker-build: which BuildKit path
CLIENTS = ("auto", "buildx", "docker-build")
DEBIAN_CLI = "/usr/bin/docker"
MIN_API = (1, 39)  # Docker 18.09: BuildKit with RUN --mount and --secret

_VERTEX = re.compile(r"^#(?P<id>\d+) \[(?P<name>[^\]]+)\] (?P<instr>.*)$")
_OUTPUT = re.compile(r"^#(?P<id>\d+) (?:\d+\.\d+ )?(?P<text>.*)$")
_ERROR = re.compile(r"^#(?P<id>\d+) ERROR: (?P<text>.*)$")
_CACHED = re.compile(r"^#(?P<id>\d+) CACHED\s*$")
_COMMAND_FAILED = re.compile(r"(executor failed running|did not complete successfully|exit code: \d+)")
_MOUNT_OPT = re.compile(r"--mount=\S+\s*")
_SOURCE_SECRETS = f"set -a && . /run/secrets/{SECRET_ENV_ID} && set +a && "
_DIGEST_LINE = re.compile(r"^sha256:[0-9a-f]{64}\s*$")
_PULL_DENIED = re.compile(r"(pull access denied|manifest unknown|not found|repository does not exist|"
                          r"failed to resolve source metadata)", re.IGNORECASE)
_INSPECT_FIELD = re.compile(r"^(?P<key>Name|Driver):\s*(?P<value>\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class BuildkitCli:
    """A docker CLI that builds with BuildKit: ``argv`` starts the build command.

    Two paths: ``docker buildx build`` (the buildx plugin, with a builder of the ``docker``
    driver, so the BuildKit inside the daemon builds and the image lands in the daemon as with
    ``docker build``), or ``DOCKER_BUILDKIT=1 docker build`` of a client that still has its own
    BuildKit client (Debian's docker.io 20.10; clients from 23.0 on hand ``docker build`` to buildx).
    """

    path: str
    buildx: bool
    version: str = ""  # buildx's version
    builder: str | None = None  # --builder NAME: the current builder is not a docker-driver one
    note: str = ""  # why this path, for the `backend:` line

    @property
    def argv(self) -> list[str]:
        if not self.buildx:
            return [self.path, "build"]
        # --load: the image goes into the daemon's image store (what the docker driver does anyway)
        return [self.path, "buildx", "build", "--load", *(["--builder", self.builder] if self.builder else [])]

    def describe(self) -> str:
        if self.buildx:
            builder = f", builder {self.builder}" if self.builder else ""
            text = f"docker buildx {self.version} via {self.path}, docker driver{builder}"
        else:
            text = f"{self.path} build with DOCKER_BUILDKIT=1"
        return f"{text}; {self.note}" if self.note else text


def _runs(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False,
                              env={**os.environ, **(env or {})})
    except (OSError, subprocess.TimeoutExpired):
        return None


def _candidates() -> list[str]:
    explicit = os.environ.get(CLI_ENV)
    if explicit:
        return [explicit]
    found = [p for p in (shutil.which("docker"), DEBIAN_CLI) if p]
    return list(dict.fromkeys(os.path.realpath(p) for p in found if os.path.isfile(p)))


def _requested_client() -> str:
    client = os.environ.get(CLIENT_ENV, "").strip() or "auto"
    if client not in CLIENTS:
        raise UsageError(f'{CLIENT_ENV}="{client}": expected auto, buildx or docker-build',
                         hint="unset it to let modelpack pick (buildx where installed)")
    return client


def _buildx_builder(path: str) -> tuple[str | None, str]:
    """("" or a --builder name, "") when ``path buildx`` has a docker-driver builder, else (None, why)."""
    current = _runs([path, "buildx", "inspect"])
    if current is None or current.returncode != 0:
        detail = " ".join((current.stderr if current else "timed out").split())[:160]
        return None, f"`{path} buildx inspect` failed: {detail}"
    fields = {m["key"]: m["value"] for m in _INSPECT_FIELD.finditer(current.stdout)}
    if fields.get("Driver") == "docker":
        return "", ""
    default = _runs([path, "buildx", "inspect", "default"])
    if default is not None and default.returncode == 0 and \
            {m["key"]: m["value"] for m in _INSPECT_FIELD.finditer(default.stdout)}.get("Driver") == "docker":
        return "default", ""
    return None, (f"{path} buildx: the builder {fields.get('Name', '?')} uses the {fields.get('Driver', '?')} "
                  "driver and no docker-driver builder exists (`docker buildx use default`)")


def _find_buildx(candidates: list[str]) -> tuple[BuildkitCli | None, str]:
    reasons: list[str] = []
    for path in candidates:
        done = _runs([path, "buildx", "version"])
        if done is None or done.returncode != 0:
            continue
        builder, why = _buildx_builder(path)
        if builder is None:
            reasons.append(why)
            continue
        words = done.stdout.split()
        return BuildkitCli(path, True, words[1] if len(words) > 1 else "?", builder or None), ""
    return None, "; ".join(reasons) or f"none of {', '.join(candidates)} has the buildx plugin"


def _find_docker_build(candidates: list[str]) -> tuple[BuildkitCli | None, str]:
    for path in candidates:
        done = _runs([path, "build", "--help"], {"DOCKER_BUILDKIT": "1"})
        if done is None or done.returncode != 0 or "--secret" not in done.stdout:
            continue
        if "buildx build" in done.stdout:  # a client >= 23.0 hands `docker build` to buildx
            continue
        return BuildkitCli(path, False), ""
    return None, (f"none of {', '.join(candidates)} has a BuildKit `docker build --secret` of its own "
                  f"(set {CLI_ENV} to a docker CLI >= 18.09 and < 23.0)")


def find_cli() -> tuple[BuildkitCli | None, str]:
    """A docker CLI that can build with BuildKit and secret mounts, or None and what is missing.

    ``MODELPACK_BUILDKIT_CLIENT`` picks the path: ``buildx``, ``docker-build``, or ``auto``
    (buildx where it is installed: it is the maintained BuildKit client, and the only one docker
    clients from 23.0 on have; else ``DOCKER_BUILDKIT=1 docker build``)."""
    client = _requested_client()
    explicit = os.environ.get(CLI_ENV)
    if explicit and not (os.path.isfile(explicit) and os.access(explicit, os.X_OK)):
        return None, f"{CLI_ENV}={explicit}: no such executable file"
    candidates = _candidates()
    if not candidates:
        return None, "no docker CLI found (looked for `docker` on PATH and /usr/bin/docker)"
    no_buildx = ""
    if client in ("auto", "buildx"):
        cli, no_buildx = _find_buildx(candidates)
        if cli is not None:
            note = (f"{CLIENT_ENV}=buildx" if client == "buildx" else
                    f"{CLIENT_ENV}=docker-build for DOCKER_BUILDKIT=1 docker build")
            return dataclasses.replace(cli, note=note), ""
        if client == "buildx":
            return None, f"{CLIENT_ENV}=buildx: {no_buildx}"
    cli, no_classic = _find_docker_build(candidates)
    if cli is None:
        if client == "docker-build":
            return None, f"{CLIENT_ENV}=docker-build: {no_classic}"
        return None, (f"none of {', '.join(candidates)} has `buildx` or a BuildKit `docker build --secret` "
                      f"(set {CLI_ENV} to a docker CLI >= 18.09)")
    note = f"{CLIENT_ENV}=docker-build" if client == "docker-build" else f"no docker buildx: {no_buildx}"
    return dataclasses.replace(cli, note=note), ""


def _daemon_api() -> tuple[int, int]:
    api = connect()
    try:
        with mapped_errors("version"):
            version = str(api.version().get("ApiVersion", "0.0"))
    finally:
        api.close()
    major, _, minor = version.partition(".")
    return int(major or 0), int(minor or 0)


@functools.lru_cache(maxsize=1)  # asked by --backend auto, then by build(): probe once per process
def availability() -> tuple[BuildkitCli | None, str]:
    """(cli, "") when BuildKit can build here, else (None, the reason)."""
    cli, reason = find_cli()
    if cli is None:
        return None, reason
    api = _daemon_api()  # DockerUnavailable (exit 4) when the daemon cannot be reached at all
    if api < MIN_API:
        return None, (f"the Docker daemon speaks API {api[0]}.{api[1]}; BuildKit secret and cache mounts "
                      f"need {MIN_API[0]}.{MIN_API[1]} (Docker 18.09) or newer")
    return cli, ""


def select_backend(requested: str) -> tuple[str, str]:
    """``engine | buildkit | auto`` -> (``engine | buildkit``, a line saying which and why)."""
    if requested not in ("engine", "buildkit", "auto"):
        raise UsageError(f'--backend "{requested}": expected engine, buildkit or auto')
    if requested == "engine":
        return "engine", "backend: engine (Docker Engine API)"
    try:
        cli, reason = availability()
    except DockerUnavailable as exc:
        if requested == "buildkit":
            raise
        cli, reason = None, f"daemon check failed: {exc.message}"  # the engine build reports it again
    if requested == "buildkit":
        if cli is None:
            raise DockerUnavailable(f"--backend buildkit: BuildKit is not available: {reason}",
                                    hint="install docker.io >= 20.10 or docker-buildx, or use --backend engine")
        return "buildkit", f"backend: buildkit ({cli.describe()})"
    if cli is None:
        return "engine", f"backend: engine (Docker Engine API; BuildKit not available: {reason})"
    return "buildkit", f"backend: buildkit ({cli.describe()}; --backend engine for the Engine API builder)"


@dataclass
class _Vertex:
    name: str
    instruction: str
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=400))
    error: str = ""

    def label(self, limit: int = 90) -> str:
        # the mounts are modelpack's plumbing; the command is what the user needs to see
        instruction = _MOUNT_OPT.sub("", self.instruction).replace(_SOURCE_SECRETS, "")
        text = " ".join(f"{self.name} {instruction}".split())
        return f"step [{text[: limit - 3] + '...' if len(text) > limit else text}]"


@dataclass
class PlainLog:
    """State of a ``--progress=plain`` BuildKit log, fed line by line."""

    vertices: dict[str, _Vertex] = field(default_factory=dict)
    cached: int = 0
    failed: str | None = None  # vertex id of the first ERROR
    final_error: str = ""

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        if line.startswith(("error: ", "ERROR: failed to solve")):
            self.final_error = self.final_error or line.split(": ", 1)[1]
            return
        match = _VERTEX.match(line)
        if match:
            self.vertices.setdefault(match["id"], _Vertex(match["name"], match["instr"]))
            return
        match = _CACHED.match(line)
        if match:
            vertex = self.vertices.get(match["id"])
            if vertex is not None and not vertex.name.startswith("internal"):
                self.cached += 1
            return
        match = _ERROR.match(line)
        if match:
            self.vertices.setdefault(match["id"], _Vertex("?", "")).error = match["text"]
            # stages run in parallel: when one step fails, BuildKit cancels the others, which then
            # report errors too; the step whose command failed is the one to name
            failed_here = bool(_COMMAND_FAILED.search(match["text"]))
            current = self.vertices.get(self.failed or "")
            if self.failed is None or (failed_here and not _COMMAND_FAILED.search(current.error if current else "")):
                self.failed = match["id"]
            return
        match = _OUTPUT.match(line)
        if match and match["id"] in self.vertices and not _DIGEST_LINE.match(match["text"]):
            self.vertices[match["id"]].lines.append(match["text"])

    def failure(self, redact, returncode: int) -> BuildFailed | DockerUnavailable:
        vertex = self.vertices.get(self.failed or "")
        message = redact(" ".join((vertex.error if vertex else "") .split()) or self.final_error
                         or f"docker build exited with {returncode}")
        if vertex is None:
            if "dockerfile parse error" in message.lower() or "unknown flag" in message.lower():
                return DockerUnavailable(f"the BuildKit build was refused: {message}",
                                         hint="this is a modelpack bug: please report it with `modelpack dockerfile`")
            return BuildFailed(f"BuildKit build failed: {message}",
                               hint="see the build output above (run with --progress plain for all of it)")
        where = redact(vertex.label())
        lines = [redact(x) for x in vertex.lines]
        if "load metadata" in vertex.instruction or vertex.instruction.startswith("FROM") or \
                (vertex.name.startswith("internal") and _PULL_DENIED.search(message)):
            return BuildFailed(f"build {where} failed: cannot get the base image: {message}",
                               hint="check the base image name (--base-image), or `docker pull` it / load it locally first")
        installer = pip_failure(lines) or uv_failure(lines)
        if installer:
            conflict = "(conflicting dependencies)" in installer
            return BuildFailed(f"build {where} failed: {installer}",
                               hint="loosen the version pins so that one version of the shared dependency satisfies "
                                    "all of them" if conflict else
                                    "fix or remove that requirement in the source's dependency file, or point "
                                    "PIP_INDEX_URL / EXTRA_INDEX_URL at an index that has it")
        last = [x.strip() for x in lines if x.strip()]
        context = f"; last output: {last[-1][:200]}" if last else ""
        return BuildFailed(f"build {where} failed: {message}{context}",
                           hint="see the build output above (run with --progress plain for all of it)")


def _secrets_digest(values: dict[str, str]) -> str:
    """HMAC-SHA256 of the build-only values under a random per-user key (~/.cache/modelpack, 0600):
    a cache key that changes with them but tells nothing about them."""
    key_file = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelpack" / "buildkit-digest.key"
    if not key_file.is_file():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    message = "\n".join(f"{k}={v}" for k, v in sorted(values.items())).encode()
    return hmac.new(key_file.read_bytes(), message, hashlib.sha256).hexdigest()


def _write_secrets(folder: Path, ctx: RenderedContext) -> list[str]:
    """Secret files (0600) in ``folder`` and the ``--secret`` arguments that mount them."""
    args: list[str] = []
    if ctx.secret_build_args:
        env_file = folder / SECRET_ENV_ID
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for name, value in sorted(ctx.secret_build_args.items()):
                fh.write(f"{name}={shlex.quote(value)}\n")
        args += ["--secret", f"id={SECRET_ENV_ID},src={env_file}",
                 "--build-arg", f"{SECRETS_DIGEST_ARG}={_secrets_digest(ctx.secret_build_args)}"]
    ca = Path(ctx.directory) / CTX_CA_FILE
    if ca.is_file():
        args += ["--secret", f"id={SECRET_CA_ID},src={ca}"]
    auth = Path(ctx.directory) / CTX_AUTH_FILE
    if auth.is_file():  # --conda-auth: mounted into the conda stage's environment step only
        args += ["--secret", f"id={SECRET_AUTH_ID},src={auth}"]
    return args


def build(ctx: RenderedContext, tags: list[str], *, no_cache: bool = False, pull: bool = False,
          platform: str | None = None, progress: Progress | None = None,
          network: str | None = None) -> BuildResult:
    """Build ``ctx`` with BuildKit and tag the result with every name in ``tags``."""
    progress = progress or Progress("auto")
    cli, reason = availability()
    if cli is None:
        raise DockerUnavailable(f"--backend buildkit: BuildKit is not available: {reason}",
                                hint="install docker.io >= 20.10 or docker-buildx, or use --backend engine")
    if not tags:
        raise UsageError("no image tag given", hint="pass the image name, e.g. `modelpack build ./src myimage`")
    for tag in tags:
        _split_tag(tag)
    progress.add_secrets([*ctx.secret_build_args.values(), *ctx.secret_values])
    # ctx.build_args (non-secret, e.g. a conda channel URL) count too, as in the engine backend
    if network is None and _needs_host_network({**ctx.build_args, **ctx.secret_build_args}):
        network = "host"
        progress.line("a build argument points at the build host's loopback (127.0.0.1/localhost): "
                      "building with --network host so the install step can reach it")
    private = Path(tempfile.mkdtemp(prefix="modelpack-secrets-"))  # 0700
    log = PlainLog()
    started = time.monotonic()
    try:
        argv = [*cli.argv, "--progress=plain", "-f", str(Path(ctx.directory) / ctx.dockerfile),
                "--iidfile", str(private / "iid")]
        for tag in tags:
            argv += ["-t", tag]
        for key, value in _labels_to_add(ctx).items():
            argv += ["--label", f"{key}={value}"]
        argv += _write_secrets(private, ctx)
        for key, value in sorted(ctx.build_args.items()):  # non-secret build args (conda channels)
            argv += ["--build-arg", f"{key}={value}"]
        if no_cache:
            argv.append("--no-cache")
        if pull:
            argv.append("--pull")
        if platform:
            argv += ["--platform", platform]
        if network:
            argv += ["--network", network]
        argv.append(str(ctx.directory))
        via = "docker buildx" if cli.buildx else "DOCKER_BUILDKIT=1 docker build"
        progress.phase("build", f"building {tags[0]} with BuildKit ({via}; {ctx.file_count} files, "
                                f"{ctx.size_bytes} bytes of context)")
        env = {**os.environ, "DOCKER_BUILDKIT": "1", "BUILDKIT_PROGRESS": "plain"}
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.feed(line)
            progress.line(line)
        returncode = proc.wait()
        if returncode != 0:
            error = log.failure(progress.redact, returncode)
            vertex = log.vertices.get(log.failed or "")
            progress.context(list(vertex.lines)[-15:] if vertex else progress.tail(15))
            raise error
        iid = (private / "iid").read_text().strip() if (private / "iid").is_file() else ""
        if not iid:
            raise BuildFailed("docker build ended without an image id or an error",
                              hint="see the build output above and the daemon's log")
    finally:
        shutil.rmtree(private, ignore_errors=True)
    api = connect()
    try:
        with mapped_errors("inspect"):
            size = int(api.inspect_image(iid).get("Size", 0))
    finally:
        api.close()
    duration = time.monotonic() - started
    result = BuildResult(iid, list(tags), size, duration, log.cached)
    progress.done(f"built {', '.join(tags)} with BuildKit ({iid[:19]}, {size / 1e6:.1f} MB, "
                  f"{duration:.1f}s, {log.cached} cached steps)")
    return result
