"""The Docker Engine API backend: build a rendered context into an image, push a tag.

Only modules in ``packager.backend`` import ``docker``. Both operations stream the Engine
API's JSON chunks through the low-level client, show them through ``Progress`` and turn SDK
exceptions (``client.mapped_errors``) and in-band error chunks (``buildlog``, ``pushlog``)
into modelpack errors with exit codes 4 (daemon), 5 (build) and 6 (push).
"""
from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docker.utils import parse_repository_tag

from packager.backend.buildlog import BuildLog
from packager.backend.client import connect, mapped_errors
from packager.backend.context import context_tempfile, dockerfile_name, is_inline_dockerfile
from packager.backend.progress import Progress
from packager.backend.pushlog import push_with_retries
from packager.errors import BuildFailed, UsageError

if TYPE_CHECKING:
    from packager.render import RenderedContext


@dataclass(frozen=True)
class BuildResult:
    image_id: str       # "sha256:..."
    tags: list[str]
    size: int           # bytes, as `docker image inspect` reports
    duration_s: float
    cached_steps: int = 0   # how many Dockerfile steps were layer-cache hits


@dataclass(frozen=True)
class PushResult:
    digest: str         # "sha256:..." manifest digest the registry answered with
    tag: str


def _split_tag(tag: str) -> tuple[str, str]:
    repository, version = parse_repository_tag(tag)
    if not repository:
        raise UsageError(f"image tag {tag!r} is empty or malformed", hint="use NAME[:TAG], e.g. myorg/mymodel:1.0")
    return repository, version or "latest"


def build(ctx: RenderedContext, tags: list[str], *, no_cache: bool = False, pull: bool = False,
          platform: str | None = None, progress: Progress | None = None,
          network: str | None = None) -> BuildResult:
    """Build ``ctx`` on the daemon and tag the result with every name in ``tags``.

    ``secret_build_args`` are passed to the daemon like ``build_args`` but registered with
    ``progress`` as secrets, so no log line or error message shows them. ``network`` is the
    build containers' network mode (``host`` lets RUN steps reach services on the build
    host's loopback, e.g. a private index on 127.0.0.1).
    """
    progress = progress or Progress("auto")
    if network is None and _needs_host_network({**ctx.build_args, **ctx.secret_build_args}):
        network = "host"
        progress.line("a build argument points at the build host's loopback (127.0.0.1/localhost): "
                      "building with --network host so the install step can reach it")
    secrets = list(ctx.secret_build_args.values())
    progress.add_secrets([*secrets, *ctx.secret_values])
    if not tags:
        raise UsageError("no image tag given", hint="pass the image name, e.g. `modelpack build ./src myimage`")
    names = [_split_tag(t) for t in tags]
    log = BuildLog(redact=progress.redact)
    started = time.monotonic()
    api = connect()
    fileobj, count = context_tempfile(ctx.directory, ctx.dockerfile)
    sent = fileobj.seek(0, 2)
    fileobj.seek(0)
    # the bytes on the wire, not the rendered folder: proves what a rebuild re-sends (model weights never)
    progress.phase("build", f"building {tags[0]} (sending {sent} bytes of context: {count} files)")
    try:
        with mapped_errors("build"):
            buildargs = {**ctx.build_args, **ctx.secret_build_args}
            stream = api.build(
                fileobj=fileobj, custom_context=True, dockerfile=dockerfile_name(ctx.dockerfile),
                tag=f"{names[0][0]}:{names[0][1]}", buildargs=buildargs, labels=_labels_to_add(ctx),
                nocache=no_cache, pull=pull, platform=platform, rm=True, forcerm=True,
                network_mode=network, decode=True,
            )
            try:
                for chunk in stream:
                    _show_build_chunk(chunk, log, progress)
            except BuildFailed:
                # the live pane showed only a few lines: leave the failing step's tail on screen
                output = [line for line in (log.step.lines if log.step else [])
                          if not line.strip().startswith(("--->", "Removing intermediate container"))]
                progress.context(output[-15:])
                raise
            for line in log.flush():
                progress.line(line)
            if not log.image_id:
                raise BuildFailed("the Docker daemon ended the build without an image id or an error",
                                  hint="see the build output above and the daemon's log")
            for repository, version in names[1:]:
                api.tag(log.image_id, repository, version, force=True)
            size = int(api.inspect_image(log.image_id).get("Size", 0))
    finally:
        fileobj.close()
        api.close()
    duration = time.monotonic() - started
    result = BuildResult(log.image_id, list(tags), size, duration, log.cached_steps)
    progress.done(f"built {', '.join(tags)} ({result.image_id[:19]}, {size / 1e6:.1f} MB, "
                  f"{duration:.1f}s, {log.cached_steps} cached steps)")
    return result


def _labels_to_add(ctx: RenderedContext) -> dict[str, str]:
    """Labels the Dockerfile does not set itself. The Engine API appends each one as an extra
    LABEL step, so labels the template already wrote are not sent twice."""
    text = ctx.dockerfile
    if not is_inline_dockerfile(text):
        path = Path(ctx.directory) / text
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
    declared: set[str] = set()
    for instruction in text.replace("\\\n", " ").splitlines():
        words = instruction.split(None, 1)
        if len(words) == 2 and words[0].upper() == "LABEL":
            try:
                declared.update(w.split("=", 1)[0] for w in shlex.split(words[1]) if "=" in w)
            except ValueError:  # unbalanced quotes: send every label, as before
                return dict(ctx.labels)
    return {key: value for key, value in ctx.labels.items() if key not in declared}


_LOOPBACK_URL = re.compile(r"://(?:[^/@\s]*@)?(?:127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?(?:/|$)",
                           re.IGNORECASE)


def _needs_host_network(build_args: dict[str, str]) -> bool:
    """True when an index URL (or any URL) in the build args names the build host's loopback:
    from the default bridge network a build container's 127.0.0.1 is itself, not the host."""
    return any(_LOOPBACK_URL.search(value or "") for value in build_args.values())


def _show_build_chunk(chunk: Any, log: BuildLog, progress: Progress) -> None:
    if not isinstance(chunk, dict):
        return
    for line in log.feed(chunk):
        progress.line(line)
    status = chunk.get("status")
    if isinstance(status, str):  # base image pull progress
        progress.status(str(chunk.get("id") or "pull"), status, str(chunk.get("progress") or ""))


def push(tag: str, *, username: str | None = None, password: str | None = None,
         progress: Progress | None = None) -> PushResult:
    """Push ``tag`` to its registry and return the manifest digest.

    Credentials: ``username`` + ``password`` when given, otherwise whatever the Docker config
    (``~/.docker/config.json`` auths, credsStore, credHelpers; DOCKER_CONFIG) holds for the
    registry. Transient failures are retried up to 3 times with back-off.
    """
    progress = progress or Progress("auto")
    if password:
        progress.add_secrets([password])
    if (username is None) != (password is None):
        raise UsageError("--username and --password-stdin go together",
                         hint="give both, or neither to use the Docker config's credentials")
    repository, version = _split_tag(tag)
    api = connect()
    try:
        digest = push_with_retries(api, repository, version, username=username, password=password,
                                   progress=progress)
    finally:
        api.close()
    progress.done(f"pushed {repository}:{version} ({digest})")
    return PushResult(digest=digest, tag=f"{repository}:{version}")
