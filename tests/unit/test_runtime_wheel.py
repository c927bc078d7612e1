"""The runtime wheel: deterministic bytes, a valid RECORD, and it installs and runs."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from packager.constants import RUNTIME_DEPENDENCIES
from packager.runtime_wheel import build_runtime_wheel, wheel_name


def test_same_bytes_every_time(tmp_path: Path) -> None:
    a = build_runtime_wheel(tmp_path / "a")
    b = build_runtime_wheel(tmp_path / "b")
    assert a.name == b.name == wheel_name()
    assert a.read_bytes() == b.read_bytes()


def test_entries_sorted_with_fixed_times_and_valid_record(tmp_path: Path) -> None:
    wheel = build_runtime_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        package = [n for n in names if n.startswith("modelpack_runtime/")]
        assert package == sorted(package) and "modelpack_runtime/cli.py" in package
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        info = next(n for n in names if n.endswith(".dist-info/METADATA")).rsplit("/", 1)[0]
        assert names[-1] == f"{info}/RECORD"
        record = z.read(f"{info}/RECORD").decode().splitlines()
        assert len(record) == len(names)
        for line in record[:-1]:
            name, digest, size = line.rsplit(",", 2)
            data = z.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data)
        metadata = z.read(f"{info}/METADATA").decode()
        for dep in RUNTIME_DEPENDENCIES:
            assert f"Requires-Dist: {dep}\n" in metadata
        assert (
            "modelpack-microservice = modelpack_runtime.cli:main"
            in z.read(f"{info}/entry_points.txt").decode()
        )


def test_changes_with_content(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("x = 1\n")
    one = build_runtime_wheel(tmp_path / "1", package_dir=pkg, version="9.9").read_bytes()
    (pkg / "__init__.py").write_text("x = 2\n")
    two = build_runtime_wheel(tmp_path / "2", package_dir=pkg, version="9.9").read_bytes()
    assert one != two


@pytest.mark.slow
def test_installs_into_a_fresh_venv_and_runs(tmp_path: Path) -> None:
    wheel = build_runtime_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    done = subprocess.run(
        [str(venv / "bin" / "modelpack-microservice"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "--service-type" in done.stdout and "--persistence" in done.stdout
    # the runtime alone: neither the packager nor its dependencies came along
    probe = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import importlib.util as u; print([m for m in ('packager', 'typer', 'docker', 'jinja2')"
            " if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert probe.stdout.strip() == "[]"
