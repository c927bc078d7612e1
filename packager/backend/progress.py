"""Progress output for long Docker operations (build, push).

Three modes:

- ``tty``: a live pane of the last few output lines, redrawn in place, collapsed into one
  summary line when a phase ends. Chosen by ``auto`` when the stream is a terminal and ``CI``
  is not set.
- ``plain``: every line printed once, prefixed with the phase (``[build] Step 3/9 : ...``).
  Chosen by ``auto`` in CI or when the stream is not a terminal.
- ``quiet``: nothing but errors.

Every line passes through ``packager.redact.redact`` (with the secret values registered here)
before it is written, so a build arg or a password never reaches the terminal or a CI log.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

MODES = ("auto", "plain", "quiet")
_PANE_LINES = 6
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^/\s:@]+:)(?P<pw>[^@\s/]+)(?P<at>@)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


MASK = "****"


def _fallback_redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL passwords (``scheme://user:****@host``) and every given secret value."""
    for value in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(value, MASK)
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('at')}", text)


def _shared() -> Any:
    try:
        from packager import redact as shared  # the CLI's redactor (packager/redact.py)
    except ImportError:
        return None
    return shared


def register_secrets(values: Iterable[str]) -> None:
    """Tell the CLI's shared redactor about secret values, so its own messages mask them too."""
    shared = _shared()
    if shared is not None and hasattr(shared, "register_secret"):
        for value in values:
            shared.register_secret(value)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact with the CLI's shared redactor when it exists, and always with the local rules too.

    The local pass runs after the shared one so that a secret is masked even when the shared
    redactor skips it (it ignores values shorter than 4 characters).
    """
    shared = _shared()
    if shared is not None:
        text = shared.redact(text)
    return _fallback_redact(text, secrets)


def resolve_mode(mode: str, stream: TextIO, env: dict[str, str] | None = None) -> str:
    """Map ``auto|plain|quiet`` onto the concrete ``tty|plain|quiet``."""
    if mode not in MODES:
        raise ValueError(f"progress mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode != "auto":
        return mode
    environ: Mapping[str, str] = os.environ if env is None else env
    in_ci = environ.get("CI", "").lower() not in ("", "0", "false", "no")
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    return "tty" if is_tty and not in_ci and environ.get("TERM") != "dumb" else "plain"


class Progress:
    """Reports a Docker operation's output to a person or a CI log.

    Call ``phase()`` when a new stage starts, ``line()`` for each output line, ``status()`` for
    transient per-item state (layer push percentages), ``done()`` for a summary, and
    ``error()`` for failures. ``tail()`` returns the last (redacted) lines for error context.
    """

    def __init__(self, mode: str = "auto", *, secrets: Iterable[str] = (), stream: TextIO | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.mode = resolve_mode(mode, self.stream, env)
        self._secrets: list[str] = []
        self.add_secrets(secrets)
        self._phase = ""
        self._pane: deque[str] = deque(maxlen=_PANE_LINES)
        self._drawn = 0
        self._tail: deque[str] = deque(maxlen=40)
        self._last_status: dict[str, str] = {}

    def add_secrets(self, values: Iterable[str]) -> None:
        """Register more values that must never be printed (here and in the CLI's redactor)."""
        values = [v for v in values if v]
        self._secrets.extend(values)
        register_secrets(values)

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def phase(self, name: str, title: str = "") -> None:
        """Start a new phase (``build``, ``push``); ends the previous pane."""
        self._clear_pane()
        self._pane.clear()
        self._last_status.clear()
        self._phase = name
        if title:
            self._emit(self.redact(title))

    def line(self, text: str) -> None:
        """One line of operation output (a build step's log line)."""
        for raw in text.splitlines():
            clean = self.redact(_ANSI.sub("", raw)).rstrip()
            if not clean.strip():
                continue
            self._tail.append(clean)
            if self.mode == "plain":
                self._write(f"[{self._phase}] {clean}\n" if self._phase else clean + "\n")
            elif self.mode == "tty":
                self._pane.append(clean)
                self._redraw()

    def status(self, key: str, text: str, detail: str = "") -> None:
        """Transient state of one item (a layer). Plain mode prints ``text`` only when it changes;
        tty mode also shows ``detail`` (a progress bar), which changes on every chunk."""
        clean = self.redact(text)
        shown = f"{clean} {self.redact(detail)}".rstrip() if self.mode == "tty" else clean
        if self._last_status.get(key) == shown:
            return
        self._last_status[key] = shown
        if self.mode == "plain":
            self._write(f"[{self._phase}] {key}: {clean}\n")
        elif self.mode == "tty":
            entry = f"{key}: {shown}"
            # a layer's new state replaces its old line in the pane rather than scrolling it away
            for i, old in enumerate(self._pane):
                if old.startswith(f"{key}: "):
                    self._pane[i] = entry
                    break
            else:
                self._pane.append(entry)
            self._redraw()

    def done(self, text: str) -> None:
        """Summary line of a finished phase (shown in tty and plain)."""
        self._clear_pane()
        self._pane.clear()
        self._emit(self.redact(text))

    def warn(self, text: str) -> None:
        self._clear_pane()
        if self.mode != "quiet":
            self._write(f"warning: {self.redact(text)}\n")
        self._redraw()

    def error(self, text: str) -> None:
        """Errors are shown in every mode, quiet included."""
        self._clear_pane()
        self._write(f"error: {self.redact(text)}\n")

    def context(self, lines: list[str]) -> None:
        """Before an error in tty mode: replace the live pane with these lines (a failing step's
        output), which plain mode has already printed and quiet mode never shows."""
        if self.mode != "tty":
            return
        self._clear_pane()
        self._pane.clear()
        for line in lines:
            clean = self.redact(_ANSI.sub("", line)).rstrip()
            if clean.strip():
                self._write(f"  | {clean}\n")

    def tail(self, n: int = 20) -> list[str]:
        return list(self._tail)[-n:]

    def close(self) -> None:
        self._clear_pane()

    # -- drawing ---------------------------------------------------------------------------
    def _emit(self, text: str) -> None:
        if self.mode == "quiet":
            return
        prefix = f"[{self._phase}] " if self.mode == "plain" and self._phase else ""
        self._write(f"{prefix}{text}\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _redraw(self) -> None:
        if self.mode != "tty" or not self._pane:
            return
        width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}F")  # back to the pane's first line
        for entry in self._pane:
            out.append("\x1b[2K  " + entry[: width - 2] + "\n")
        self._drawn = len(self._pane)
        self._write("".join(out))

    def _clear_pane(self) -> None:
        if self.mode != "tty" or not self._drawn:
            return
        self._write(f"\x1b[{self._drawn}F\x1b[0J")
        self._drawn = 0
