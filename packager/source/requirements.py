"""Read pip requirements files the way pip will, to find what they need from the source folder:
nested `-r`/`-c` files, `-e ./pkg`, `./libs/foo`, `file:` paths and local `--find-links` folders.
Every requirement line is checked now, so a typo fails before any Docker call."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.requirements import InvalidRequirement, Requirement

from ..errors import SourceError
from ..redact import redact

_NESTED = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}
_PATH_OPTIONS = {"-e", "--editable", "-f", "--find-links"}
_VALUE_OPTIONS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "--trusted-host",
    "--no-binary",
    "--only-binary",
    "--use-feature",
    "--config-settings",
    "--global-option",
    "--hash",
}
_FLAG_OPTIONS = {"--pre", "--prefer-binary", "--require-hashes", "--no-index"}
_URL_SCHEMES = re.compile(r"(git|hg|svn|bzr)\+|https?://|ftp://", re.I)
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_ARCHIVE = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz")


@dataclass
class RequirementsScan:
    """What a requirements file needs: every file/folder in the source it references (POSIX paths
    relative to the source root, including the nested requirement files) and warnings."""

    local_paths: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (file, line) of lines that install the source folder itself (`-e .`, `.`): the project is
    # installed after the source copy instead, so these lines are commented out in the context.
    self_references: list[tuple[str, int]] = field(default_factory=list)


def _committed_credential(text: str) -> bool:
    """A password or token written into a URL. `${VAR}` parts are fine: pip fills them in from the
    environment at install time, which is how a build-only secret should reach a requirement."""
    match = re.search(r"://([^/@\s]+)@", _ENV_VAR.sub("", text))
    if not match:
        return False
    user, colon, password = match.group(1).partition(":")
    return bool(password) or (not colon and user != "git")


def _first_line(exc: Exception) -> str:
    # packaging's messages draw a caret under the bad spot on extra lines; errors stay one line
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments; keep the first physical line number."""
    out: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1]
            continue
        buffer += line
        content = re.sub(r"(^|\s)#.*$", "", buffer).strip()
        if content:
            out.append((start, content))
        buffer = ""
    if buffer.strip():
        out.append((start, buffer.strip()))
    return out


def _inside(root: Path, target: Path) -> bool:
    try:
        target.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


class _Scanner:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.scan = RequirementsScan()
        self.seen: set[str] = set()

    def add_local(
        self, raw: str, base: Path, where: str, line: str, where_line: tuple[str, int] | None = None
    ) -> Path:
        path = Path(raw) if Path(raw).is_absolute() else base / raw
        if not _inside(self.root, path):
            raise SourceError(
                f'{where}: "{line}" points outside the source folder ({raw})',
                "move the file into the source folder and use a relative path",
            )
        if not path.exists():
            raise SourceError(
                f'{where}: "{line}" references {raw}, which does not exist in the source',
                "fix the path (relative paths are relative to the source root)",
            )
        rel = path.resolve().relative_to(self.root.resolve()).as_posix()
        if rel == "." and where_line is not None:
            self.scan.self_references.append(where_line)
            return path
        if rel not in self.scan.local_paths:
            self.scan.local_paths.append(rel)
        return path

    def file(self, rel: str, where_from: str | None = None) -> None:
        if rel in self.seen:
            return
        self.seen.add(rel)
        path = self.root / rel
        if rel not in self.scan.local_paths:
            self.scan.local_paths.append(rel)
        try:
            text = path.read_text(encoding="utf-8-sig")  # tolerate a BOM (Windows editors)
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"{where_from or rel}: cannot read {rel} ({exc})", "check the file") from None
        for number, line in _logical_lines(text):
            self.line(rel, number, line)

    def line(self, rel: str, number: int, line: str) -> None:
        where = f"{rel} line {number}"
        shown = redact(line)
        base = (self.root / rel).parent
        if line.startswith("-"):
            try:
                words = shlex.split(line)
            except ValueError as exc:
                raise SourceError(f'{where}: cannot parse "{shown}" ({exc})', "fix the quoting") from None
            opt, _, value = words[0].partition("=")
            if not value and len(words) > 1:
                value = words[1]
            if opt in _NESTED:
                nested = self.add_local(value, base, where, shown)
                self.file(nested.resolve().relative_to(self.root.resolve()).as_posix(), where)
            elif opt in _PATH_OPTIONS:
                if not value:
                    raise SourceError(f'{where}: "{shown}" needs a value', f"write {opt} PATH_OR_URL")
                self.target(value, where, shown, (rel, number))
            elif opt in _VALUE_OPTIONS or opt in _FLAG_OPTIONS:
                if _committed_credential(value):
                    self.scan.warnings.append(
                        f"{where}: an index URL with credentials is committed to the "
                        "source; pass it with -e EXTRA_INDEX_URL=... instead"
                    )
            else:
                raise SourceError(
                    f'{where}: unknown pip option "{shown}"',
                    "remove it or use an option pip accepts in requirements files",
                )
            return
        # Per-requirement options (`--hash=...`) follow the requirement.
        requirement = re.split(r"\s+--?[a-z]", line, maxsplit=1)[0].strip()
        self.target(requirement, where, shown, (rel, number))

    def target(self, text: str, where: str, shown: str, loc: tuple[str, int]) -> None:
        """A requirement, URL or local path."""
        if _committed_credential(text):
            self.scan.warnings.append(
                f"{where}: a URL with credentials is committed to the source; use "
                "${TOKEN}-style variables passed with -e instead"
            )
        text = _ENV_VAR.sub("X", text)  # pip expands ${VAR} at install time
        if text.lower().startswith("file:"):
            parsed = urlparse(text)
            raw = unquote(parsed.path if parsed.netloc in ("", "localhost") else parsed.netloc + parsed.path)
            self.add_local(raw.split("#")[0], self.root, where, shown, loc)
            return
        if _URL_SCHEMES.match(text):
            return
        if re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*@", text):
            self._pep508(text, where, shown, loc)  # name @ URL (a direct reference)
            return
        if text.startswith((".", "/")) or text.endswith(_ARCHIVE) or (self.root / text).is_dir():
            self.add_local(text.split("#")[0], self.root, where, shown, loc)
            return
        self._pep508(text, where, shown, loc)

    def _pep508(self, text: str, where: str, shown: str, loc: tuple[str, int]) -> None:
        try:
            req = Requirement(text)
        except InvalidRequirement as exc:
            raise SourceError(
                f'{where}: cannot parse requirement "{shown}" ({_first_line(exc)})',
                "use a pip requirement such as name==1.0, a URL or a ./local/path",
            ) from None
        if req.url and req.url.lower().startswith("file:"):
            self.target(req.url, where, shown, loc)


def scan_requirements(root: Path, rel: str) -> RequirementsScan:
    """Scan the requirements file `rel` (and everything it includes) of the source at `root`."""
    scanner = _Scanner(root)
    scanner.file(rel)
    return scanner.scan


def check_requirement_strings(reqs: list[str], where: str) -> None:
    """Validate PEP 508 strings taken from a project manifest."""
    for text in reqs:
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            raise SourceError(
                f'{where}: cannot parse dependency "{redact(text)}" ({_first_line(exc)})',
                "use a PEP 508 requirement such as name>=1.0",
            ) from None
