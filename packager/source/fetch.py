"""Turn the SRC argument into a local folder. A local folder is used as it is (uncommitted files
included); a git URL (https://, ssh://, git@host:, git://, file://) is cloned with `git` into a
temporary folder that is removed when the process exits. `URL#ref` checks out a branch or tag."""

from __future__ import annotations

import atexit
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError
from ..redact import redact

_GIT_URL = re.compile(r"^(https?://|ssh://|git://|file://|git@[^:]+:)")


@dataclass(frozen=True)
class FetchedSource:
    root: Path  # the folder to read (after --context-dir)
    display: str  # SRC as given, credentials masked (messages)
    url: str | None  # the git URL without credentials (org.opencontainers.image.source)
    revision: str | None  # git commit when cloned or when SRC is a git work tree


def is_git_url(src: str) -> bool:
    return bool(_GIT_URL.match(src))


def _git(args: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError:
        raise SourceError(
            "git is not installed, but SRC is a git URL", "install git or pass a local folder"
        ) from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or ["no output"]
        detail = redact(next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1]))
        raise SourceError(
            f"git {args[0]} failed: {detail}", "check the URL, the ref and your git credentials"
        )
    return done.stdout.strip()


def _revision(folder: Path) -> str | None:
    if not (folder / ".git").exists() or shutil.which("git") is None:
        return None
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def _sub(root: Path, context_dir: str | None, display: str) -> Path:
    if not context_dir:
        return root
    target = (root / context_dir).resolve()
    try:
        target.relative_to(root.resolve())
    except ValueError:
        raise SourceError(
            f"--context-dir {context_dir}: leaves the source {display}", "use a path inside the repository"
        ) from None
    if not target.is_dir():
        raise SourceError(
            f"--context-dir {context_dir}: no such folder in {display}",
            "check the path relative to the repository root",
        )
    return target


def fetch_source(src: str, context_dir: str | None) -> FetchedSource:
    """Resolve SRC (+ --context-dir) to a local folder; raises SourceError."""
    # A URL that went through pathlib lost a slash ("https:/host/repo"): put it back.
    src = re.sub(r"^file:/(?!/)", "file:///", src)
    src = re.sub(r"^(https?|ssh|git):/(?!/)", r"\1://", src)
    display = redact(src)
    if is_git_url(src):
        url, _, ref = src.partition("#")
        tmp = Path(tempfile.mkdtemp(prefix="modelpack-src-"))
        atexit.register(shutil.rmtree, tmp, True)
        clone = tmp / "repo"
        args = ["clone", "--quiet"]
        if not url.startswith("file://"):
            args += ["--depth", "1"]
        if ref:
            args += ["--branch", ref]
        _git([*args, "--", url, str(clone)])
        clean_url = re.sub(r"(://)[^/@]+@", r"\1", url)
        return FetchedSource(_sub(clone, context_dir, display), display, clean_url, _revision(clone))
    root = Path(src).expanduser()
    if not root.exists():
        raise SourceError(f"SRC {display}: no such folder", "pass a model source folder or a git URL")
    if not root.is_dir():
        raise SourceError(f"SRC {display}: not a folder", "pass the folder holding Model.py")
    root = root.resolve()
    return FetchedSource(_sub(root, context_dir, display), display, None, _revision(root))
