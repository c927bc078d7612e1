"""packager/slim/slimvenv.py run by the python of a real (throw-away) virtualenv, on distributions
written into it: a runtime closure with real extension modules (httptools, copied from this
virtualenv, ships DWARF), a shared object that fails to import once stripped (restored), sources
and headers, pip / setuptools with their console scripts, and a user package that needs setuptools."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from packager.slim import slimvenv
from packager.slim.elfstrip import strip_debug

SLIM = Path(slimvenv.__file__).parent


def _hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def add_dist(site: Path, name: str, files: dict[str, bytes], requires: tuple[str, ...] = (),
             extras: tuple[str, ...] = (), installer: str = "pip") -> Path:
    """A distribution as pip leaves it: its files, METADATA (Requires-Dist), INSTALLER and RECORD."""
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "INSTALLER").write_text(installer + "\n")
    meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    meta += [f"Provides-Extra: {e}" for e in extras] + [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(meta) + "\n")
    rows = []
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        rows.append(f"{rel},{_hash(data)},{len(data)}")
    rows.append(f"{info.name}/METADATA,,")
    rows.append(f"{info.name}/INSTALLER,,")
    rows.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(rows) + "\n")
    return info


def record(info: Path) -> dict[str, str]:
    return {line.split(",")[0]: line for line in (info / "RECORD").read_text().splitlines()}


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = next(root.glob("lib/python*/site-packages"))
    return root, site


def _httptools_files() -> dict[str, bytes]:
    import httptools

    package = Path(httptools.__file__).parent
    return {f"httptools/{p.relative_to(package).as_posix()}": p.read_bytes()
            for p in sorted(package.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def test_finish_strips_checks_drops_and_removes(venv: tuple[Path, Path], tmp_path: Path) -> None:
    root, site = venv
    httptools = _httptools_files()
    parser_so = next(rel for rel in httptools if rel.startswith("httptools/parser/parser.") and rel.endswith(".so"))
    debug_so = httptools[parser_so]
    assert strip_debug(debug_so).data is not None, "this test needs a shared object with debug sections"
    ext = parser_so.rsplit("/", 1)[1].split(".", 1)[1]  # cpython-311-x86_64-linux-gnu.so
    add_dist(site, "modelpack-runtime", {"modelpack_runtime/__init__.py": b""},
             requires=("httptools", "fastlib", "sharedlib", "condalib", "never-installed>=1",
                       "winonly; sys_platform == 'win32'", "docs-only; extra == 'docs'"))
    add_dist(site, "httptools", {**httptools, "httptools/parser/parser.pyx": b"# cython\n" * 100})
    fastlib = add_dist(site, "fastlib", {
        "fastlib/__init__.py": b"",
        # a module whose init function does not match its name: it cannot be imported, before or
        # after stripping, so the check fails and the original bytes are put back
        f"fastlib/_broken.{ext}": debug_so,
        # not a module: checked by loading it with ctypes
        "fastlib.libs/libhelper.so.1": debug_so,
        "fastlib/src/fast.c": b"int x;\n" * 1000,
        "fastlib/include/fast.h": b"#define X 1\n" * 1000,
    })
    # a conda package: its files are conda's (conda-meta records their hashes), left as they are
    add_dist(site, "condalib", {"condalib/libc.so": debug_so, "condalib/include/c.h": b"#define C\n"},
             installer="conda")
    shared = add_dist(site, "sharedlib", {"sharedlib/__init__.py": b"", "sharedlib/include/s.h": b"#define S\n"})
    add_dist(site, "userlib", {"userlib/__init__.py": b""}, requires=("sharedlib", "setuptools>=40"))
    add_dist(site, "winonly", {"winonly/__init__.py": b""})
    # pip with its vendored packaging (copied from this virtualenv's pip): the slim step evaluates
    # requirement markers with it, as in a real build, before it removes pip
    import pip._vendor.packaging as vendored

    packaging_dir = Path(vendored.__file__).parent
    packaging_files = {f"pip/_vendor/packaging/{q.relative_to(packaging_dir).as_posix()}": q.read_bytes()
                       for q in packaging_dir.rglob("*.py")}
    pip = add_dist(site, "pip", {"pip/__init__.py": b"", "pip/_vendor/__init__.py": b"", **packaging_files,
                                 "../../../bin/pip": b"#!/bin/sh\n", "../../../bin/pip3": b"#!/bin/sh\n"})
    setuptools = add_dist(site, "setuptools", {"setuptools/__init__.py": b"", "distutils-precedence.pth": b"x\n"})
    (site / "pip" / "__pycache__").mkdir()
    (site / "pip" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"pyc")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("userlib==1.0 \\\n    --hash=sha256:00\n-r more.txt\n")
    (tmp_path / "more.txt").write_text("# nothing here\n")
    shutil.copytree(SLIM, tmp_path / "slim")

    done = subprocess.run([str(root / "bin" / "python"), str(tmp_path / "slim" / "slimvenv.py"), "finish",
                           "--requirements", str(requirements)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # stripped: httptools' parser (imports fine) and the helper library (loads with ctypes)
    assert (site / parser_so).stat().st_size < len(debug_so) // 2
    assert (site / "fastlib.libs/libhelper.so.1").stat().st_size < len(debug_so) // 2
    # restored: the module that does not import
    assert (site / f"fastlib/_broken.{ext}").read_bytes() == debug_so
    assert f"fastlib/_broken.{ext}: restored unstripped (ImportError" in out
    # httptools' two modules and the helper library; the runtime's closure is modelpack-runtime,
    # httptools, fastlib, sharedlib and condalib (winonly's marker is false here, docs-only is an extra)
    assert "stripped debug sections from 3 shared objects of the runtime's 5 distributions" in out
    assert (site / "condalib/libc.so").read_bytes() == debug_so and (site / "condalib/include/c.h").is_file()
    # RECORD follows the stripped file
    stripped = (site / parser_so).read_bytes()
    assert record(next(site.glob("httptools-*.dist-info")))[parser_so] == f"{parser_so},{_hash(stripped)},{len(stripped)}"
    assert record(fastlib)[f"fastlib/_broken.{ext}"].endswith(f"{_hash(debug_so)},{len(debug_so)}")
    # sources and headers: gone from runtime-only distributions, kept where a user package shares them
    assert not (site / "fastlib/src").exists() and not (site / "fastlib/include").exists()
    assert not (site / "httptools/parser/parser.pyx").exists()
    assert "fastlib/src/fast.c" not in record(fastlib)
    assert (site / "sharedlib/include/s.h").is_file() and "sharedlib/include/s.h" in record(shared)
    assert "kept those of sharedlib (your dependencies use them)" in out
    # pip goes with its scripts and bytecode; setuptools stays: userlib requires it
    assert not pip.exists() and not (site / "pip").exists()
    assert not (root / "bin" / "pip").exists() and not (root / "bin" / "pip3").exists()
    assert (root / "bin" / "python").exists()
    assert setuptools.is_dir() and (site / "distutils-precedence.pth").is_file()
    assert "removed pip" in out and "kept setuptools (required by userlib)" in out
    assert (site / "winonly/__init__.py").is_file()


def test_keep_and_named_requirements_keep_pip(tmp_path: Path) -> None:
    """Without pip's vendored packaging (a venv without pip) the fallback parser is used."""
    other = tmp_path / "v2"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True)
    site = next(other.glob("lib/python*/site-packages"))
    add_dist(site, "modelpack-runtime", {"modelpack_runtime/__init__.py": b""})
    add_dist(site, "pip", {"pip/__init__.py": b""})
    add_dist(site, "setuptools", {"setuptools/__init__.py": b""})
    add_dist(site, "wheel", {"wheel/__init__.py": b""})
    requirements = tmp_path / "r.txt"
    requirements.write_text("wheel\n")
    done = subprocess.run([str(other / "bin" / "python"), str(SLIM / "slimvenv.py"), "finish", "--keep", "pip",
                           "--requirements", str(requirements), "--keep-sources"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (site / "pip").is_dir() and (site / "wheel").is_dir() and not (site / "setuptools").exists()
    assert "kept C/C++ sources and headers (a project install follows)" in done.stdout
    assert "removed setuptools" in done.stdout
    assert "kept pip (--keep), wheel (named in your requirements)" in done.stdout


def test_no_runtime_is_an_error(tmp_path: Path) -> None:
    other = tmp_path / "v3"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(other)], check=True)
    done = subprocess.run([str(other / "bin" / "python"), str(SLIM / "slimvenv.py"), "strip"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "modelpack-slim: error: modelpack-runtime is not installed" in done.stderr


@pytest.mark.parametrize(("line", "expected"), [
    ("numpy>=1.21", ("numpy", frozenset(), "", True)),
    ("Uvicorn[Standard]>=0.23", ("uvicorn", frozenset({"standard"}), "", True)),
    ("uvloop>=0.17; sys_platform == 'win32'", ("uvloop", frozenset(), "", False)),
    ("sphinx; extra == 'docs'", ("sphinx", frozenset(), "docs", True)),
    ("pytest; extra == 'test' and python_version < '3'", ("pytest", frozenset(), "test", False)),
    ("-e ./pkg", None),
    ("# comment", None),
])
def test_parse_requirement_with_packaging(line: str, expected) -> None:
    from pip._vendor.packaging.requirements import Requirement

    req = slimvenv.parse_requirement(line, Requirement)
    assert (None if req is None else (req.name, req.extras, req.extra, req.applies)) == expected


def test_parse_requirement_without_packaging_is_conservative() -> None:
    req = slimvenv.parse_requirement("uvloop>=0.17; sys_platform == 'win32'")
    assert req is not None and req.applies  # cannot evaluate the marker: counted as needed
    gated = slimvenv.parse_requirement("sphinx ; extra == 'docs'")
    assert gated is not None and gated.extra == "docs"
    assert slimvenv.parse_requirement("Foo_Bar[X, y] (>=1)").extras == frozenset({"x", "y"})
