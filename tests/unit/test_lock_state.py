"""The lock header and staleness decision, without pip-compile or Docker: a lock whose header
matches the manifests is installed with --require-hashes; any change names the changed input."""
from __future__ import annotations

from pathlib import Path

import pytest

from packager.errors import LockError
from packager.lock import LOCK_FILE
from packager.lock.digest import changed_input, lock_inputs, read_header
from packager.lock.state import default_platform, lock_state
from packager.pipeline import plan
from packager.spec import BuildOptions, load_spec

LOCK_BODY = "six==1.16.0 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via -r requirements.txt\n"


def _source(tmp_path: Path, requirements: str = "six\n") -> Path:
    (tmp_path / ".s2i").mkdir()
    (tmp_path / ".s2i/environment").write_text("MODEL_NAME=Model\n")
    (tmp_path / "Model.py").write_text("class Model:\n    def predict(self, X, names=None, meta=None):\n        return X\n")
    (tmp_path / "requirements.txt").write_text(requirements)
    return tmp_path


def _write_current_lock(src: Path, python: str = "3.11") -> None:
    platform = default_platform(None)  # what the build checks against on this machine
    spec = load_spec(BuildOptions(src=src))
    inputs = lock_inputs(src, spec.deps, python, platform)
    (src / LOCK_FILE).write_text(inputs.header() + LOCK_BODY)


def test_header_round_trip_and_changed_file(tmp_path: Path) -> None:
    src = _source(tmp_path)
    spec = load_spec(BuildOptions(src=src))
    inputs = lock_inputs(src, spec.deps, "3.11", "linux/amd64")
    assert read_header(inputs.header() + LOCK_BODY) == inputs
    assert read_header(LOCK_BODY) is None
    (src / "requirements.txt").write_text("six==1.16.0\n")
    after = lock_inputs(src, spec.deps, "3.11", "linux/amd64")
    assert after.digest != inputs.digest
    assert changed_input(inputs, after) == "requirements.txt (changed)"
    assert changed_input(inputs, lock_inputs(src, spec.deps, "3.12", "linux/amd64")).startswith(
        "the image's Python (3.11 -> 3.12)")


def test_current_lock_is_installed_with_hashes(tmp_path: Path) -> None:
    src = _source(tmp_path)
    _write_current_lock(src)
    the_plan = plan(BuildOptions(src=src, locked=True))
    assert the_plan.spec.install_lock == LOCK_FILE
    assert "--require-hashes --no-deps -r requirements.lock" in the_plan.dockerfile
    assert "-r requirements.txt" not in the_plan.dockerfile


def test_stale_lock_with_locked_is_exit_7_naming_the_file(tmp_path: Path) -> None:
    src = _source(tmp_path)
    _write_current_lock(src)
    (src / "requirements.txt").write_text("six\nnumpy\n")
    with pytest.raises(LockError) as info:
        load_spec(BuildOptions(src=src, locked=True))
    assert info.value.exit_code == 7
    assert str(info.value) == (
        "--locked: requirements.lock is stale: requirements.txt (changed) since requirements.lock was "
        "written; run `modelpack lock SRC`")


def test_stale_lock_without_locked_warns_and_installs_the_manifests(tmp_path: Path) -> None:
    src = _source(tmp_path)
    _write_current_lock(src, python="3.10")  # locked for another Python: stale for the 3.11 image
    the_plan = plan(BuildOptions(src=src))
    assert the_plan.spec.install_lock is None
    assert "-r requirements.txt" in the_plan.dockerfile and "--require-hashes" not in the_plan.dockerfile
    assert any("requirements.lock is stale (the image's Python (3.10 -> 3.11)" in w for w in the_plan.spec.warnings)


def test_missing_lock(tmp_path: Path) -> None:
    src = _source(tmp_path)
    assert lock_state(src, load_spec(BuildOptions(src=src)).deps, "3.11", "linux/amd64").status == "missing"
    with pytest.raises(LockError, match=r"^--locked: no requirements.lock in .*; run `modelpack lock SRC`"):
        load_spec(BuildOptions(src=src, locked=True))


def test_hand_written_lock_without_header_is_stale(tmp_path: Path) -> None:
    src = _source(tmp_path)
    (src / LOCK_FILE).write_text(LOCK_BODY)
    with pytest.raises(LockError, match="has no modelpack-lock header"):
        load_spec(BuildOptions(src=src, locked=True))


def test_nothing_to_lock_passes_locked(tmp_path: Path) -> None:
    src = _source(tmp_path)
    (src / "requirements.txt").unlink()
    assert load_spec(BuildOptions(src=src, locked=True)).install_lock is None
