"""Slim the image's virtualenv: run inside the deps stage by the python being slimmed (stdlib only,
Python 3.9+; no modelpack import; ``elfstrip.py`` sits beside this file).

    python slimvenv.py strip
        after the runtime install: strip the debug sections of the ELF files of modelpack's runtime
        dependency closure (modelpack-runtime and everything it requires, markers evaluated).
    python slimvenv.py finish [--requirements FILE]... [--keep NAME]... [--keep-sources]
        after your dependencies: strip again (files your install replaced), drop the C/C++
        sources, headers and Cython files the runtime closure's wheels ship, and remove pip,
        setuptools and wheel, unless something needs them.

Every stripped file is checked in a fresh interpreter (an extension module is imported, any other
shared library is loaded with ctypes); a file that fails is put back as it was. Sources and
headers are dropped only from distributions that nothing but the runtime uses: not from one your
dependencies require or your requirement files name (e.g. numpy's headers when you install
scikit-learn), and not at all with --keep-sources (a project install follows, which may compile
against them). pip, setuptools and wheel stay when --keep names them (MODELPACK_KEEP_PIP=1, a
project install), when your requirement files name them, or when an installed distribution
declares a requirement on them. RECORD files are kept true to what is left on disk.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.machinery
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:  # imported as packager.slim.slimvenv (tests) ...
    from .elfstrip import is_elf, strip_debug
except ImportError:  # ... or run as a script beside elfstrip.py (the image build): sys.path[0] is its folder
    from elfstrip import is_elf, strip_debug  # type: ignore[no-redef]

RUNTIME = "modelpack-runtime"
INSTALLERS = ("pip", "setuptools", "wheel")
SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx", ".h++", ".pyx", ".pxd", ".pxi")
_SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")
PREFIX = "modelpack-slim:"

_CHECK = r"""
import ctypes, importlib, json, sys
out = {}
for kind, target in json.load(sys.stdin):
    try:
        importlib.import_module(target) if kind == "module" else ctypes.CDLL(target)
        out[target] = ""
    except BaseException as exc:
        out[target] = (type(exc).__name__ + ": " + str(exc))[:300]
print("MODELPACK-CHECK " + json.dumps(out))
"""


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def say(text: str) -> None:
    print(f"{PREFIX} {text}", flush=True)


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# --- requirements and the dependency closure ----------------------------------------------------------

def _packaging():
    """packaging's Requirement class (pip vendors it; pip is still here while we run), or None."""
    try:
        from pip._vendor.packaging.requirements import Requirement
    except ImportError:
        try:
            from packaging.requirements import Requirement  # type: ignore[no-redef]
        except ImportError:
            return None
    return Requirement


@dataclass(frozen=True)
class Req:
    name: str
    extras: frozenset[str]
    extra: str  # "" for a base requirement, else the extra that gates it
    applies: bool  # the marker holds here (for its extra)


def parse_requirement(line: str, requirement_class=None) -> Req | None:
    """One Requires-Dist value (or requirement-file line) -> Req, or None when it is not one."""
    text = line.split("#", 1)[0].strip()
    if not text or text.startswith("-"):
        return None
    if requirement_class is not None:
        try:
            req = requirement_class(text)
        except Exception:  # noqa: BLE001 - not a plain requirement (URL, path, option): not ours to judge
            return None
        extra = ""
        marker = str(req.marker) if req.marker else ""
        found = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)
        if found:
            extra = normalize(found.group(1))
        applies = True
        if req.marker:
            try:
                applies = bool(req.marker.evaluate({"extra": extra}))
            except Exception:  # noqa: BLE001 - an unknown marker variable: assume it applies
                applies = True
        return Req(normalize(req.name), frozenset(normalize(e) for e in req.extras), extra, applies)
    # without packaging: the name and extras; a marker naming an extra gates it, any other applies
    match = _NAME.match(text)
    if not match:
        return None
    marker = text.split(";", 1)[1] if ";" in text else ""
    found = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)
    extras = frozenset(normalize(e.strip()) for e in (match.group(2) or "[]")[1:-1].split(",") if e.strip())
    return Req(normalize(match.group(1)), extras, normalize(found.group(1)) if found else "", True)


@dataclass
class Dist:
    name: str
    dist: object  # importlib.metadata.Distribution
    requires: list[Req] = field(default_factory=list)

    def needs(self, extras: frozenset[str]) -> list[Req]:
        return [r for r in self.requires if r.applies and (not r.extra or r.extra in extras)]


def installed(requirement_class=None) -> dict[str, Dist]:
    import importlib.metadata as md

    out: dict[str, Dist] = {}
    for dist in md.distributions():
        name = normalize((dist.metadata or {}).get("Name") or "")
        if not name or name in out:
            continue  # the first on sys.path wins, as for imports
        reqs = [parse_requirement(r, requirement_class) for r in (dist.requires or [])]
        out[name] = Dist(name, dist, [r for r in reqs if r is not None])
    return out


def active_extras(dist: Dist, dists: dict[str, Dist]) -> frozenset[str]:
    """Extras of an installed top-level distribution that were probably asked for: pip records no
    extras, so an extra counts when every requirement it adds is installed."""
    extras: dict[str, list[Req]] = {}
    for req in dist.requires:
        if req.extra and req.applies:
            extras.setdefault(req.extra, []).append(req)
    return frozenset(e for e, reqs in extras.items()
                     if all(r.name in dists or r.name in INSTALLERS for r in reqs))


def closure(roots: list[tuple[str, frozenset[str]]], dists: dict[str, Dist]) -> set[str]:
    """Names of the installed distributions `roots` need, roots included (when installed)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo = list(roots)
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen or name not in dists:
            continue
        seen.add((name, extras))
        names.add(name)
        todo += [(r.name, r.extras) for r in dists[name].needs(extras)]
    return names


def requirement_roots(files: list[str], requirement_class=None) -> list[tuple[str, frozenset[str]]]:
    """The names (and extras) your requirement files list, following -r / -c includes."""
    roots: list[tuple[str, frozenset[str]]] = []
    seen: set[str] = set()
    todo = list(files)
    while todo:
        path = os.path.abspath(todo.pop())
        if path in seen or not os.path.isfile(path):
            continue
        seen.add(path)
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = re.sub(r"\\\r?\n", " ", fh.read())  # continuation lines (requirements.lock)
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            words = line.split()
            if len(words) >= 2 and words[0] in ("-r", "--requirement", "-c", "--constraint"):
                todo.append(os.path.join(os.path.dirname(path), words[1]))
                continue
            line = re.split(r"\s+-{1,2}[A-Za-z]", line)[0]  # without options such as --hash=...
            req = parse_requirement(line, requirement_class)
            if req is not None:
                roots.append((req.name, req.extras))
    return roots


# --- files of a distribution ---------------------------------------------------------------------------

def _absolute(path: object) -> Path:
    # normpath, not resolve(): a RECORD entry that is a symlink is removed as the link, never its target
    return Path(os.path.normpath(os.path.abspath(str(path))))


def site_dir(dist: Dist) -> Path:
    return _absolute(dist.dist.locate_file(""))  # type: ignore[attr-defined]


def dist_files(dist: Dist) -> list[tuple[str, Path]]:
    """(RECORD path, absolute path) of every file the distribution installed inside this prefix."""
    prefix = _absolute(sys.prefix)
    out = []
    for rel in dist.dist.files or []:  # type: ignore[attr-defined]
        path = _absolute(dist.dist.locate_file(rel))  # type: ignore[attr-defined]
        if prefix in path.parents:
            out.append((str(rel), path))
    return out


def _record_path(dist: Dist) -> Path | None:
    for rel, path in dist_files(dist):
        if rel.endswith(".dist-info/RECORD"):
            return path
    return None


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def update_record(dist: Dist, changed: dict[str, bytes | None]) -> None:
    """Rewrite RECORD rows of changed files (new hash and size) and drop rows of removed ones (None)."""
    record = _record_path(dist)
    if record is None or not changed:
        return
    rows = []
    for line in record.read_text(encoding="utf-8").splitlines():
        path = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
        if path in changed:
            data = changed[path]
            if data is None:
                continue
            line = f"{path},{record_hash(data)},{len(data)}"
        rows.append(line)
    record.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _remove(path: Path, removed_dirs: set[Path]) -> int:
    """Delete one file (and the bytecode of a .py file); returns the bytes freed."""
    freed = 0
    if path.is_file() or path.is_symlink():
        freed += path.lstat().st_size
        path.unlink()
    if path.suffix == ".py":
        cache = path.parent / "__pycache__"
        if cache.is_dir():
            for pyc in cache.glob(path.stem + ".*.pyc"):
                freed += pyc.stat().st_size
                pyc.unlink()
            removed_dirs.add(cache)
    removed_dirs.add(path.parent)
    return freed


def _prune_dirs(dirs: set[Path], stop: set[Path]) -> None:
    for folder in sorted(dirs, key=lambda p: -len(p.parts)):
        while folder not in stop and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


# --- stripping -----------------------------------------------------------------------------------------

def check_loads(targets: list[tuple[str, str]]) -> dict[str, str]:
    """target -> '' when it imports / loads in a fresh interpreter, else the error. A crash of the
    shared check (e.g. a segfault) is narrowed down by checking each target on its own."""
    if not targets:
        return {}

    def run(batch: list[tuple[str, str]]) -> dict[str, str] | None:
        proc = subprocess.run([sys.executable, "-I", "-c", _CHECK], input=json.dumps(batch), text=True,
                              capture_output=True, cwd="/", check=False, timeout=600)
        for line in proc.stdout.splitlines():
            if line.startswith("MODELPACK-CHECK "):
                return json.loads(line.split(" ", 1)[1])
        return None

    result = run(targets)
    if result is not None:
        return result
    out: dict[str, str] = {}
    for target in targets:
        single = run([target])
        out[target[1]] = (single or {}).get(target[1], "the interpreter crashed while loading it")
    return out


def _load_target(rel: str, path: Path) -> tuple[str, str]:
    """How to check a file: import it when it is an extension module on sys.path, else load it with ctypes."""
    if not rel.startswith(".."):
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            if rel.endswith(suffix):
                module = rel[: -len(suffix)].replace("/", ".")
                if all(part.isidentifier() for part in module.split(".")):
                    return ("module", module)
    return ("cdll", str(path))


@dataclass
class _Stripped:
    dist: str
    rel: str
    path: Path
    original: bytes
    data: bytes
    target: tuple[str, str]


def installed_by_pip(dist: Dist) -> bool:
    """pip or uv installed it. A conda package's files are conda's (conda-meta records their
    hashes), so they are left as they are."""
    installer = (dist.dist.read_text("INSTALLER") or "").strip().lower()  # type: ignore[attr-defined]
    return installer in ("pip", "uv", "")


def strip_closure(dists: dict[str, Dist], names: set[str]) -> tuple[int, int, list[str]]:
    """Strip the ELF files of `names` that pip or uv installed, check each one loads, put back
    any that does not. Returns (files stripped, bytes saved, notes)."""
    done: list[_Stripped] = []
    notes: list[str] = []
    for name in sorted(n for n in names if installed_by_pip(dists[n])):
        for rel, path in dist_files(dists[name]):
            if not _SHARED_LIBRARY.search(path.name) or not path.is_file():
                continue
            with open(path, "rb") as fh:
                if not is_elf(fh.read(4)):
                    continue
            original = path.read_bytes()
            result = strip_debug(original)
            if result.data is None:
                if result.reason not in ("no debug sections", "no section header table"):
                    notes.append(f"{rel}: left as it is ({result.reason})")
                continue
            tmp = path.with_name(path.name + ".modelpack-slim")
            tmp.write_bytes(result.data)
            os.chmod(tmp, path.stat().st_mode & 0o7777)
            os.replace(tmp, path)
            done.append(_Stripped(name, rel, path, original, result.data, _load_target(rel, path)))
    verdicts = check_loads([s.target for s in done])
    kept: list[_Stripped] = []
    for item in done:
        error = verdicts.get(item.target[1], "not checked")
        if error:
            item.path.write_bytes(item.original)  # as it was: RECORD still holds its hash
            notes.append(f"{item.rel}: restored unstripped ({error})")
        else:
            kept.append(item)
    for name in {s.dist for s in kept}:
        update_record(dists[name], {s.rel: s.data for s in kept if s.dist == name})
    return len(kept), sum(len(s.original) - len(s.data) for s in kept), notes


def drop_sources(dists: dict[str, Dist], names: set[str]) -> tuple[int, int]:
    count = freed = 0
    for name in sorted(n for n in names if installed_by_pip(dists[n])):
        dist = dists[name]
        removed: dict[str, bytes | None] = {}
        dirs: set[Path] = set()
        for rel, path in dist_files(dist):
            if path.suffix.lower() in SOURCE_SUFFIXES and path.is_file():
                freed += _remove(path, dirs)
                removed[rel] = None
                count += 1
        update_record(dist, removed)
        _prune_dirs(dirs, {site_dir(dist)})
    return count, freed


def remove_distribution(dist: Dist) -> int:
    """Uninstall by RECORD (pip may be the one removed, so it cannot be asked to)."""
    site = site_dir(dist)
    dirs: set[Path] = set()
    freed = 0
    info_dir = None
    for rel, path in dist_files(dist):
        if rel.endswith(".dist-info/RECORD"):
            info_dir = path.parent
        freed += _remove(path, dirs)
    if info_dir is not None and info_dir.is_dir():
        for leftover in info_dir.rglob("*"):
            if leftover.is_file():
                freed += leftover.stat().st_size
                leftover.unlink()
        dirs.add(info_dir)
    _prune_dirs(dirs, {site, _absolute(sys.prefix), _absolute(sys.prefix) / "bin"})
    return freed


# --- commands ------------------------------------------------------------------------------------------

def runtime_closure(dists: dict[str, Dist]) -> set[str]:
    if RUNTIME not in dists:
        raise SystemExit(f"{PREFIX} error: {RUNTIME} is not installed in {sys.prefix}")
    return closure([(RUNTIME, frozenset())], dists) - set(INSTALLERS)


def cmd_strip(dists: dict[str, Dist], again: bool = False) -> set[str]:
    names = runtime_closure(dists)
    count, saved, notes = strip_closure(dists, names)
    for note in notes:
        say(note)
    if count or not again:
        say(f"stripped debug sections from {count} shared objects of the runtime's {len(names)} "
            f"distributions (-{mb(saved)})")
    return names


def needed_installers(dists: dict[str, Dist], roots: list[tuple[str, frozenset[str]]], keep: set[str]) -> dict[str, str]:
    """pip / setuptools / wheel -> why it stays."""
    why: dict[str, str] = {n: "--keep" for n in keep if n in INSTALLERS}
    for name, _ in roots:
        if name in INSTALLERS:
            why.setdefault(name, "named in your requirements")
    for dist in dists.values():
        if dist.name in INSTALLERS:
            continue
        for req in dist.needs(active_extras(dist, dists)):
            if req.name in INSTALLERS:
                why.setdefault(req.name, f"required by {dist.name}")
    return why


def cmd_finish(dists: dict[str, Dist], requirements: list[str], keep: set[str], keep_sources: bool,
               requirement_class) -> None:
    names = cmd_strip(dists, again=True)
    roots = requirement_roots(requirements, requirement_class)
    others = [(d.name, active_extras(d, dists)) for d in dists.values()
              if d.name not in names and d.name not in INSTALLERS]
    shared = closure(others + roots, dists) & names
    if keep_sources:
        say("kept C/C++ sources and headers (a project install follows)")
    else:
        count, freed = drop_sources(dists, names - shared)
        extra = f"; kept those of {', '.join(sorted(shared))} (your dependencies use them)" if shared else ""
        say(f"dropped {count} C/C++ source, header and Cython files of the runtime's distributions "
            f"(-{mb(freed)}){extra}")
    why = needed_installers(dists, roots, keep)
    removed = []
    freed = 0
    for name in INSTALLERS:
        if name in dists and name not in why:
            freed += remove_distribution(dists[name])
            removed.append(name)
    kept = [f"{n} ({why[n]})" for n in INSTALLERS if n in dists and n in why]
    say(f"removed {', '.join(removed) or 'nothing'} (-{mb(freed)})" + (f"; kept {', '.join(kept)}" if kept else "")
        + ("; MODELPACK_KEEP_PIP=1 keeps them" if removed else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slimvenv.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("strip")
    finish = sub.add_parser("finish")
    finish.add_argument("--requirements", action="append", default=[])
    finish.add_argument("--keep", action="append", default=[], choices=INSTALLERS)
    finish.add_argument("--keep-sources", action="store_true")
    args = parser.parse_args(argv)
    requirement_class = _packaging()
    dists = installed(requirement_class)
    if args.command == "strip":
        cmd_strip(dists)
    else:
        cmd_finish(dists, args.requirements, set(args.keep), args.keep_sources, requirement_class)
    return 0


if __name__ == "__main__":
    sys.exit(main())
