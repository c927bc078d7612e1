"""Parse `.s2i/environment`-style files: KEY=VALUE lines, `#` and `//` comment lines, blank lines,
values taken literally as s2i does unless the whole value is single- or double-quoted,
`export KEY=VALUE` tolerated. Errors name the file and line and quote the line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError, UsageError
from ..redact import redact

KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DOUBLE_ESCAPES = {'"': '"', "\\": "\\", "$": "$", "`": "`", "n": "\n"}


@dataclass(frozen=True)
class EnvEntry:
    """One KEY=VALUE, with where it came from (for messages and the committed-secret warning)."""

    key: str
    value: str
    origin: str  # ".s2i/environment line 3", "--env-file env.txt line 1", "-e"
    committed: bool  # True when read from a file inside the source folder


def _unquote(raw: str, where: str, line: str) -> str:
    raw = raw.strip()
    if not raw:
        return ""
    quote = raw[0]
    if quote not in "'\"":
        # Unquoted: taken literally, quotes inside included, as s2i does (so Seldon folders with
        # PREDICTIVE_UNIT_PARAMETERS=[{"name": ...}] work unchanged); an inline comment starts at ` #`.
        return re.split(r"\s+#", raw, maxsplit=1)[0].rstrip()
    out: list[str] = []
    i = 1
    while i < len(raw):
        ch = raw[i]
        if ch == quote:
            rest = raw[i + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise SourceError(
                    f"{where}: unexpected text after the closing quote in {line.strip()!r}",
                    "put the whole value inside the quotes",
                )
            return "".join(out)
        if quote == '"' and ch == "\\" and i + 1 < len(raw) and raw[i + 1] in _DOUBLE_ESCAPES:
            out.append(_DOUBLE_ESCAPES[raw[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    raise SourceError(
        f"{where}: missing closing {quote} in {line.strip()!r}",
        "values spanning several lines are not supported; close the quote on the same line",
    )


def parse_line(line: str, where: str) -> tuple[str, str] | None:
    """Parse one line; None for blank lines and comments. Raises SourceError naming `where`."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or stripped.startswith("//"):  # s2i allows both
        return None
    if stripped.startswith("export ") or stripped.startswith("export\t"):
        stripped = stripped[len("export") :].strip()
    if "=" not in stripped:
        raise SourceError(
            f'{where}: expected KEY=VALUE, got "{redact(stripped)}"', "write one KEY=VALUE per line"
        )
    key, _, raw_value = stripped.partition("=")
    key = key.strip()
    if not KEY_RE.match(key):
        raise SourceError(
            f'{where}: invalid key "{redact(key)}" in "{redact(stripped)}"',
            "keys are letters, digits and underscores, not starting with a digit",
        )
    return key, _unquote(raw_value, where, redact(line))


def parse_env_text(text: str, label: str, *, committed: bool) -> list[EnvEntry]:
    """Parse a whole file's text. `label` names it in messages (".s2i/environment")."""
    entries: list[EnvEntry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{label} line {number}"
        parsed = parse_line(line, where)
        if parsed is not None:
            entries.append(EnvEntry(parsed[0], parsed[1], where, committed))
    return entries


def read_env_file(path: Path, label: str, *, committed: bool) -> list[EnvEntry]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM (Windows editors)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})", "save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise SourceError(f"{label}: cannot read ({exc.strerror})", "check the path") from None
    return parse_env_text(text, label, committed=committed)


def parse_cli_pair(raw: str, flag: str) -> tuple[str, str]:
    """`-e KEY=VALUE` / `--label K=V` from the command line (no quote processing: the shell did it)."""
    key, sep, value = raw.partition("=")
    if not sep or (flag == "-e" and not KEY_RE.match(key)):
        raise UsageError(f'{flag} "{redact(raw)}": expected KEY=VALUE', f"write {flag} KEY=VALUE")
    if not key:
        raise UsageError(f'{flag} "{redact(raw)}": empty key', f"write {flag} KEY=VALUE")
    return key, value
