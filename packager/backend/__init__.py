"""Build backends: the only package in modelpack that imports ``docker``.

``engine.build(ctx, tags, ...)`` and ``engine.push(tag, ...)`` are the whole interface the
pipeline uses; ``progress.Progress`` shows their output.
"""
from __future__ import annotations

from packager.backend import lazyssh

lazyssh.install()  # before anything imports docker

from packager.backend.engine import BuildResult, PushResult, build, push
from packager.backend.progress import Progress

__all__ = ["BuildResult", "Progress", "PushResult", "build", "push"]
