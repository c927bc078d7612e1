"""Reading the Engine API's build stream: step tracking, the image id, and failures.

The legacy builder streams JSON chunks: ``{"stream": "Step 3/9 : RUN ..."}`` for log text,
``{"status": ..., "id": ..., "progress": ...}`` while pulling the base image,
``{"aux": {"ID": "sha256:..."}}`` for the result, and ``{"error": ..., "errorDetail": ...}``
when a step fails (the HTTP status is still 200). ``BuildLog`` folds those chunks into
state, and ``failure()`` turns an error chunk into a one-line BuildFailed that names the
failing step and, for pip, the requirement and pip's own error lines.
"""
from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from packager.errors import BuildFailed, DockerUnavailable, ModelpackError

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # the daemon colours a step's stderr red
_STEP = re.compile(r"^Step (?P<n>\d+)/(?P<total>\d+) : (?P<instruction>.*)$")
_SUCCESS = re.compile(r"^Successfully built (?P<id>[0-9a-f]{12,64})\s*$")
_PIP_NO_VERSION = re.compile(r"Could not find a version that satisfies the requirement (?P<req>\S+)")
_PIP_NO_DIST = re.compile(r"No matching distribution found for (?P<req>\S+)")
_PIP_CONFLICT = re.compile(r"Cannot install (?P<req>.+?) because these package versions have conflicting")
_PIP_ERROR = re.compile(r"^(ERROR: .+|\s*The conflict is caused by:.*|\s+\S+ \S+ depends on .+)$")
_PULL_DENIED = re.compile(r"(pull access denied|manifest unknown|not found: manifest|repository does not exist)",
                          re.IGNORECASE)
_NETWORK = re.compile(r"(Temporary failure in name resolution|Failed to establish a new connection|"
                      r"Network is unreachable|CERTIFICATE_VERIFY_FAILED)")


@dataclass
class Step:
    number: int
    total: int
    instruction: str
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=400))

    def label(self, limit: int = 90) -> str:
        text = " ".join(self.instruction.split())
        if len(text) > limit:
            text = text[: limit - 3] + "..."
        return f"step {self.number}/{self.total} ({text})"


def _identity(text: str) -> str:
    return text


@dataclass
class BuildLog:
    """Accumulated state of one build stream."""

    redact: Callable[[str], str] = field(default=_identity)  # masks secrets in messages
    step: Step | None = None
    image_id: str | None = None
    cached_steps: int = 0
    steps_run: int = 0
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    _partial: str = ""

    def feed(self, chunk: dict[str, Any]) -> list[str]:
        """Take one decoded chunk; returns the log lines it carried (for progress output).

        Raises BuildFailed / DockerUnavailable for an in-band error chunk.
        """
        if "error" in chunk or "errorDetail" in chunk:
            self.flush()
            raise self.failure(chunk)
        aux = chunk.get("aux")
        if isinstance(aux, dict) and isinstance(aux.get("ID"), str):
            self.image_id = aux["ID"]
        out: list[str] = []
        text = chunk.get("stream")
        if isinstance(text, str):
            # chunks do not follow line boundaries: keep an unfinished line for the next chunk
            pieces = (self._partial + text).replace("\r\n", "\n").split("\n")
            self._partial = pieces.pop()
            for line in pieces:
                line = _ANSI.sub("", line)
                out.append(line)
                self._line(line)
        return out

    def flush(self) -> list[str]:
        """The unfinished last line, if any (call at the end of the stream)."""
        if not self._partial:
            return []
        line, self._partial = _ANSI.sub("", self._partial), ""
        if not line.strip():
            return []
        self._line(line)
        return [line]

    def _line(self, line: str) -> None:
        self.lines.append(line)
        match = _STEP.match(line.strip())
        if match:
            self.step = Step(int(match["n"]), int(match["total"]), match["instruction"])
            return
        if line.strip() == "---> Using cache":
            self.cached_steps += 1
        elif line.strip().startswith("---> Running in"):
            self.steps_run += 1
        success = _SUCCESS.match(line.strip())
        if success and not self.image_id:
            self.image_id = success["id"]
        if self.step is not None:
            self.step.lines.append(line)

    def failure(self, chunk: dict[str, Any]) -> ModelpackError:
        """The one-line error for an in-band error chunk."""
        detail = chunk.get("errorDetail") or {}
        message = str(chunk.get("error") or detail.get("message") or "unknown build error")
        message = self.redact(" ".join(message.split()))
        where = self.redact(self.step.label()) if self.step else "before the first step"
        step_lines = [self.redact(line) for line in (self.step.lines if self.step else [])]

        if self.step and self.step.instruction.upper().startswith("FROM") or _PULL_DENIED.search(message):
            return BuildFailed(
                f"build {where} failed: cannot get the base image: {message}",
                hint="check the base image name (--base-image), or `docker pull` it / load it locally first",
            )
        pip = pip_failure(step_lines) or uv_failure(step_lines)
        if pip and "(conflicting dependencies)" in pip:
            return BuildFailed(
                f"build {where} failed: {pip}",
                hint="loosen the version pins so that one version of the shared dependency satisfies all of them",
            )
        if pip:
            return BuildFailed(
                f"build {where} failed: {pip}",
                hint="fix or remove that requirement in the source's dependency file, or point "
                     "PIP_INDEX_URL / EXTRA_INDEX_URL at an index that has it",
            )
        network = next((line.strip() for line in step_lines if _NETWORK.search(line)), None)
        if network:
            return BuildFailed(
                f"build {where} failed: {message}; network error: {network[:200]}",
                hint="check the build's network access (proxy, --ca-cert for a TLS-inspecting proxy, --network)",
            )
        if "Cannot locate specified Dockerfile" in message or "dockerfile parse error" in message.lower():
            return DockerUnavailable(f"the daemon rejected the rendered Dockerfile: {message}",
                                     hint="this is a modelpack bug: please report it with `modelpack dockerfile`")
        last = [line.strip() for line in step_lines if line.strip() and not line.strip().startswith("--->")]
        context = f"; last output: {last[-1][:200]}" if last else ""
        return BuildFailed(f"build {where} failed: {message}{context}",
                           hint="see the build output above (run with --progress plain for all of it)")


def pip_failure(lines: list[str]) -> str | None:
    """Summarise pip's failure from a step's output, or None when pip did not fail."""
    requirement = conflict = None
    for line in lines:
        if requirement is None:
            match = _PIP_NO_DIST.search(line) or _PIP_NO_VERSION.search(line)
            requirement = match["req"].strip() if match else None
        if conflict is None:
            match = _PIP_CONFLICT.search(line)
            conflict = match["req"].strip() if match else None
    errors = [" ".join(line.split()) for line in lines if _PIP_ERROR.match(line.rstrip())]
    if requirement is None and not errors:
        return None
    # pip's own words, de-duplicated, in order
    seen: list[str] = []
    for line in errors:
        if line not in seen:
            seen.append(line)
    joined = " | ".join(seen)[:600]
    if requirement:
        return f"pip could not install requirement {requirement!r}: {joined}"
    if conflict:
        return f"pip cannot install {conflict} together (conflicting dependencies): {joined}"
    return f"pip failed: {joined}"


# uv prints "error: ..." then "  cause: ..." lines without a terminal, "× ..." / "╰─▶ ..." with one
_UV_LINE = re.compile(r"^\s*(?:error: |× |╰─▶ |[Cc]ause(?:d by)?: )(?P<text>.+)$")
_UV_MISSING = re.compile(r"Because (?P<req>[^\s,]+)(?: was not found in the package registry| has no "
                         r"(?:versions|version)| was not found)")
_UV_CONFLICT = re.compile(r"(?:requirements are unsatisfiable|conflicting dependencies)")


def uv_failure(lines: list[str]) -> str | None:
    """Summarise uv's failure (``--installer uv``) from a step's output, or None when uv did not fail."""
    errors: list[str] = []
    requirement = None
    for line in lines:
        match = _UV_LINE.match(line)
        if match:
            text = " ".join(match["text"].split())
            if text not in errors:
                errors.append(text)
            found = _UV_MISSING.search(text)
            requirement = requirement or (found["req"] if found else None)
    if not errors:
        return None
    joined = " | ".join(errors)[:600]
    if requirement:
        return f"uv could not install requirement {requirement!r}: {joined}"
    if any(_UV_CONFLICT.search(e) for e in errors):
        return f"uv cannot install the requirements together (conflicting dependencies): {joined}"
    return f"uv failed: {joined}"
