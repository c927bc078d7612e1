"""Model weights in their own layer (packager.weights), without Docker: the model folder's checks
(one error line, exit 3), MODELPACK_MODEL_DIR, the content digest and its stat cache, and what
`build --dry-run` and `modelpack dockerfile` write."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from packager import weights
from packager.errors import SourceError
from packager.spec import BuildOptions, load_spec

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("modelpack")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def source(tmp_path: Path, env: str = "MODEL_NAME=Model\n") -> Path:
    root = tmp_path / "src"
    (root / ".s2i").mkdir(parents=True)
    (root / ".s2i" / "environment").write_text(env)
    (root / "Model.py").write_text("class Model:\n    def predict(self, X, names=None):\n        return X\n")
    return root


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_bad_model_dir_is_one_line_and_exit_3(tmp_path: Path, kind: str) -> None:
    root = source(tmp_path)
    target = tmp_path / "model"
    if kind == "file":
        target.write_bytes(b"joblib")
    elif kind == "empty":
        target.mkdir()
    expected = {
        "missing": f"error: --model-dir {target}: no such folder; pass the folder holding the model files",
        "file": f"error: --model-dir {target}: not a folder; put the model file into a folder and pass the folder",
        "empty": f"error: --model-dir {target}: the folder is empty; save the model files into it",
    }[kind]
    for command in (["build", str(root), "me/x:1", "--dry-run"], ["dockerfile", str(root), str(tmp_path / "out")]):
        result = cli(*command, "--model-dir", str(target))
        assert result.returncode == 3, result.stderr
        assert result.stderr.splitlines() == [expected]
        assert result.stdout == ""


@pytest.mark.parametrize(("value", "message"), [
    ("/abs/model", "not a folder inside the source; give a path relative to the source folder"),
    ("../model", "not a folder inside the source; give a path relative to the source folder"),
    ("nope", "no such folder; pass the folder holding the model files"),
    (".", "is the source folder itself; move the model files into a sub-folder"),
])
def test_bad_model_dir_key(tmp_path: Path, value: str, message: str) -> None:
    root = source(tmp_path, f"MODEL_NAME=Model\nMODELPACK_MODEL_DIR={value}\n")
    result = cli("build", str(root), "me/x:1", "--dry-run")
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"error: .s2i/environment line 2: MODELPACK_MODEL_DIR={value}: {message}"]


def test_model_dir_cannot_be_the_source_itself(tmp_path: Path) -> None:
    root = source(tmp_path)
    result = cli("build", str(root), "me/x:1", "--dry-run", "--model-dir", str(root))
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"error: --model-dir {root}: is the source folder itself; move the model files into a sub-folder"]


def test_model_dir_key_takes_the_folder_out_of_the_source(tmp_path: Path) -> None:
    root = source(tmp_path, "MODEL_NAME=Model\nMODELPACK_MODEL_DIR=model\nMODELPACK_KEEP_PIP=0\n")
    (root / "model").mkdir()
    (root / "model" / "weights.json").write_text('{"w": 1}')
    spec = load_spec(BuildOptions(src=root, tags=("me/x:1",)))
    assert spec.weights is not None and spec.weights.folder == (root / "model").resolve()
    assert [f.rel for f in spec.files] == ["Model.py"]  # not in the source copy, nor in its digest
    assert ("io.modelpack.weights-digest", f"sha256:{spec.weights.digest}") in spec.labels
    assert all(k not in dict(spec.runtime_env) for k in ("MODELPACK_MODEL_DIR", "MODELPACK_KEEP_PIP"))
    # the source digest ignores the weights: a new weights file changes only the weights digest
    digest, weights_digest = spec.source_digest, spec.weights.digest
    (root / "model" / "weights.json").write_text('{"w": 2}')
    again = load_spec(BuildOptions(src=root, tags=("me/x:1",)))
    assert again.source_digest == digest and again.weights.digest != weights_digest
    # --model-dir wins over the key
    other = tmp_path / "other"
    other.mkdir()
    (other / "m.bin").write_bytes(b"\0" * 10)
    chosen = load_spec(BuildOptions(src=root, tags=("me/x:1",), model_dir=other))
    assert chosen.weights.folder == other.resolve() and chosen.weights.origin == f"--model-dir {other}"


def test_digest_covers_paths_modes_and_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.bin").write_bytes(b"a" * 100)
    (folder / "sub" / "b.json").write_text("{}")
    first = weights.scan(folder, "x")
    assert [f.rel for f in first.files] == ["a.bin", "sub/b.json"] and first.dirs == ("sub",)
    assert first.size == 102 and first.image == f"modelpack-weights:{first.digest}"
    assert weights.scan(folder, "x").digest == first.digest  # stable
    (folder / "a.bin").chmod(0o700)
    assert weights.scan(folder, "x").digest != first.digest  # the mode in the image changed (rwxrwxr-x)
    (folder / "a.bin").chmod(0o644)
    assert weights.scan(folder, "x").digest == first.digest
    os.rename(folder / "sub" / "b.json", folder / "sub" / "c.json")
    assert weights.scan(folder, "x").digest != first.digest  # a path changed


def test_unchanged_files_are_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.bin").write_bytes(bytes([i]) * 1000)
    reads: list[Path] = []
    real = weights._file_digest
    monkeypatch.setattr(weights, "_file_digest", lambda p: reads.append(p) or real(p))
    first = weights.scan(folder, "x")
    assert len(reads) == 3
    reads.clear()
    assert weights.scan(folder, "x").digest == first.digest and reads == []  # from the stat index
    (folder / "1.bin").write_bytes(b"\7" * 1000)  # same size, new content and mtime
    changed = weights.scan(folder, "x")
    assert reads == [folder / "1.bin"] and changed.digest != first.digest


def test_build_copies_from_the_helper_image_and_dockerfile_is_self_contained(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples" / "weights", tmp_path / "w")
    dry = cli("build", str(tmp_path / "w"), "me/w:1", "--dry-run", "--backend", "engine")
    assert dry.returncode == 0, dry.stderr
    digest = load_spec(BuildOptions(src=tmp_path / "w", tags=("me/w:1",))).weights.digest
    lines = dry.stdout.splitlines()
    copy = lines.index(f"COPY --from=modelpack-weights:{digest} --chown=8888:0 /mnt/models/ /mnt/models/")
    assert lines.index("COPY --from=deps /opt/venv /opt/venv") < copy < lines.index("COPY --chown=8888:0 src/ ./")
    assert "    MODEL_URI=/mnt/models" in lines and lines.index("    MODEL_URI=/mnt/models") > copy
    out = tmp_path / "ctx"
    written = cli("dockerfile", str(tmp_path / "w"), str(out))
    assert written.returncode == 0, written.stderr
    dockerfile = (out / "Dockerfile").read_text()
    assert "COPY --chown=8888:0 model/ /mnt/models/\n" in dockerfile and "modelpack-weights" not in dockerfile
    assert (out / "model" / "weights.json").read_text() == (tmp_path / "w" / "model" / "weights.json").read_text()
    assert not (out / "src" / "model").exists() and (out / "src" / "Model.py").is_file()
    assert oct((out / "model" / "weights.json").stat().st_mode & 0o777) == "0o664"


def test_serve_points_model_uri_at_the_local_folder(tmp_path: Path) -> None:
    """`modelpack serve` applies MODELPACK_MODEL_DIR as the image would: MODEL_URI is the folder."""
    from packager.pipeline import serve_local

    seen: dict[str, str] = {}

    class Stop(Exception):
        pass

    from modelpack_runtime import server

    def fake_serve(root, settings, reload=False):
        seen["MODEL_URI"] = os.environ.get("MODEL_URI", "")
        raise Stop

    shutil.copytree(REPO / "examples" / "weights", tmp_path / "w")
    old = server.serve_source
    server.serve_source = fake_serve
    cwd = os.getcwd()
    try:
        os.environ.pop("MODEL_URI", None)
        with pytest.raises(Stop):
            serve_local(tmp_path / "w", (), None, [], False, lambda _: None)
    finally:
        server.serve_source = old
        os.chdir(cwd)
        os.environ.pop("MODEL_URI", None)
        os.environ.pop("MODEL_NAME", None)
        os.environ.pop("SERVICE_TYPE", None)
    assert seen["MODEL_URI"] == str((tmp_path / "w" / "model").resolve())


def test_check_folder_errors_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such folder"):
        weights.check_folder(tmp_path / "nope", "--model-dir nope")
