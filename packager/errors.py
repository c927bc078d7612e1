"""One error hierarchy for the CLI. Every error has an exit code and a one-line message that names
the file or field, the value, and the fix. `packager.cli.main` catches ModelpackError once and prints
`error: <message>` on stderr, then exits with `exit_code`. Never put a secret in a message: use
`packager.redact.redact()` on anything that may hold one.

Exit codes (documented in README and `modelpack usage`):
  0  success
  1  unexpected internal error (a bug: please report it)
  2  usage error (bad flag or argument; typer's own code)
  3  invalid source folder (.s2i/environment, MODEL_NAME, dependency files, layout)
  4  Docker daemon unreachable or Docker API error
  5  image build failed (a Dockerfile step, e.g. pip install, failed)
  6  push failed (authentication, refused, network)
  7  dependency lock failed or is stale (`modelpack lock`, `--locked`)
"""
from __future__ import annotations


class ModelpackError(Exception):
    """Base class. `hint` is the suggested fix, appended to the message."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class UsageError(ModelpackError):
    exit_code = 2


class SourceError(ModelpackError):
    """The source folder is invalid (missing file, bad .s2i/environment line, unknown builder...)."""

    exit_code = 3


class DockerUnavailable(ModelpackError):
    """The Docker daemon cannot be reached, or the Engine API answered with an error."""

    exit_code = 4


class BuildFailed(ModelpackError):
    exit_code = 5


class PushFailed(ModelpackError):
    exit_code = 6


class LockError(ModelpackError):
    exit_code = 7
