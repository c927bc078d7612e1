"""Layout detection, --layout, --model-dir and `init --from` (issue 7), without Docker: the real CLI
with --dry-run prints the Dockerfile it would build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from packager.errors import SourceError
from packager.source.layout import detect_layout, kserve_model_name

KSERVE_PY = """import kserve
from typing import Dict

class AlexNetModel(kserve.Model):
    def predict(self, request: Dict) -> Dict:
        return {"predictions": request["instances"]}

if __name__ == "__main__":
    kserve.ModelServer().start([AlexNetModel("custom-model")])
"""


def make(root: Path, files: dict[str, str]) -> tuple[Path, set[str]]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root, set(files)


def cli(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("modelpack")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("files", "name", "reason"),
    [
        ({".s2i/environment": "MODEL_NAME=Model\n", "Model.py": ""}, "seldon", ".s2i/environment exists"),
        ({"Model.py": "class Model: pass\n"}, "seldon", "Model.py exists"),
        ({"model.py": KSERVE_PY}, "kserve", "model.py imports kserve and starts a ModelServer"),
        (
            {"model.py": KSERVE_PY, "Procfile": "web: python model.py\n"},
            "kserve",
            "model.py imports kserve and starts a ModelServer; its Procfile is not needed",
        ),
        (
            {"model-settings.json": "{}", "models.py": "", "requirements.txt": "mlserver>=1.7\n"},
            "mlserver",
            "model-settings.json exists",
        ),
        ({"Procfile": "web: python -m model_remote\n", "app.py": ""}, "procfile", "Procfile runs `python -m model_remote`"),
    ],
)
def test_detected_layouts(tmp_path: Path, files: dict, name: str, reason: str) -> None:
    layout = detect_layout(*make(tmp_path, files))
    assert (layout.name, layout.reason) == (name, reason)
    assert layout.describe() == f"layout: {name} (because {reason})"


def test_procfile_command_and_kserve_module(tmp_path: Path) -> None:
    layout = detect_layout(*make(tmp_path, {"Procfile": "release: x\nweb:  python app.py --port $PORT \n"}))
    assert layout.command == "python app.py --port $PORT" and layout.run_command == "exec " + layout.command
    kserve = detect_layout(*make(tmp_path / "k", {"serve_it.py": KSERVE_PY}))
    assert kserve.module == "serve_it" and kserve.run_command == "exec python -m modelpack_runtime.layouts.kserve"
    compound = detect_layout(*make(tmp_path / "c", {"Procfile": "web: ./prep.sh && python app.py\n"}))
    assert compound.run_command == "./prep.sh && python app.py"  # a shell list cannot be exec'd as a whole


def test_ambiguous_folder_lists_what_was_found(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        detect_layout(*make(tmp_path, {"Model.py": "", "Procfile": "web: python app.py\n"}))
    msg = str(info.value)
    assert msg.startswith("ambiguous source (found seldon: Model.py exists; procfile: Procfile runs `python app.py`)")
    assert "mlserver needs model-settings.json" in msg and msg.endswith("pass --layout NAME to choose")
    assert "\n" not in msg and info.value.exit_code == 3


def test_unknown_folder_names_model_files_and_needs(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        detect_layout(*make(tmp_path, {"model.joblib": "x", "notes.md": ""}))
    msg = str(info.value)
    assert msg.startswith("unknown source layout (found nothing a layout needs; model files: model.joblib)")
    assert "prepackaged needs --builder sklearn|xgboost|lightgbm|onnx|mlflow" in msg
    assert msg.endswith(f"to serve model.joblib run `modelpack build --builder sklearn --model-dir {tmp_path} IMAGE`")


def test_override(tmp_path: Path) -> None:
    root, present = make(tmp_path, {"Model.py": "", "Procfile": "web: python app.py\n"})
    assert detect_layout(root, present, override="procfile").command == "python app.py"
    assert detect_layout(root, present, override="seldon").name == "seldon"
    with pytest.raises(SourceError, match='^--layout "conda": unknown layout; use one of seldon, prepackaged'):
        detect_layout(root, present, override="conda")
    with pytest.raises(SourceError, match="^--layout kserve: no top-level .py imports kserve"):
        detect_layout(root, present, override="kserve")
    root2, present2 = make(tmp_path / "p", {"Procfile": "worker: python w.py\n"})
    with pytest.raises(SourceError, match="^Procfile: no `web:` line; add one such as `web: python -m model_remote`"):
        detect_layout(root2, present2)


def test_prepackaged_build_bakes_the_model_dir_before_the_source(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.joblib").write_bytes(b"x")
    result = cli("build", "--builder", "sklearn", "--model-dir", str(model), "me/sk:1", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "layout: prepackaged (because the builder ships its own model server source)" in result.stderr
    df = result.stdout
    # modelpack build copies the model files from a helper image named by their digest (packager.weights)
    copy_model = df.index("COPY --from=modelpack-weights:")
    assert "--chown=8888:0 /mnt/models/ /mnt/models/" in df[copy_model:].splitlines()[0]
    assert df.index("    MODEL_URI=/mnt/models") > copy_model
    assert df.index("COPY --chown=8888:0 src/ ./") > copy_model  # the model layer is not rebuilt by code edits
    bare = cli("build", "--builder", "sklearn", "me/sk:1", "--dry-run")
    assert bare.returncode == 0 and "/mnt/models" not in bare.stdout and "MODEL_URI" not in bare.stdout


def test_build_errors(tmp_path: Path) -> None:
    one = cli("build", "me/img:1", "--dry-run")  # the default builder ships no source
    assert one.returncode == 2
    assert one.stderr.startswith("error: missing IMAGE (got only 'me/img:1'); builder python ships no source")
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("build", "--builder", "sklearn", "--model-dir", str(empty), "me/sk:1", "--dry-run")
    assert r.returncode == 3 and f"error: --model-dir {empty}: the folder is empty" in r.stderr
    r = cli("build", str(tmp_path), "me/x:1", "--dry-run", "--layout", "wheel")
    assert r.returncode == 3 and 'error: --layout "wheel": unknown layout' in r.stderr


def test_init_from_writes_an_editable_seldon_folder(tmp_path: Path) -> None:
    dest = tmp_path / "mysrv"
    result = cli("init", "--from", "sklearn", str(dest))
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == [
        ".s2i/environment", "Model.py", "requirements.txt"]
    assert "class Model(SKLearnServer)" in (dest / "Model.py").read_text()
    (dest / "Model.py").write_text((dest / "Model.py").read_text() + "\n    def tags(self):\n        return {}\n")
    built = cli("build", str(dest), "me/mysrv:1", "--dry-run")
    assert built.returncode == 0, built.stderr
    assert "layout: seldon (because .s2i/environment exists)" in built.stderr
    again = cli("init", "--from", "sklearn", str(dest))
    assert again.returncode == 3 and "already exists and is not an empty folder" in again.stderr
    nope = cli("init", "--from", "python", str(tmp_path / "x"))
    assert nope.returncode == 3 and "--from python: that builder ships no model source" in nope.stderr


def test_procfile_dockerfile_runs_the_web_command(tmp_path: Path) -> None:
    make(tmp_path, {"Procfile": "web: python -m model_remote\n", "model_remote.py": "", "requirements.txt": ""})
    result = cli("build", str(tmp_path), "me/proc:1", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert 'ENV MODELPACK_COMMAND="exec python -m model_remote" PORT=8080' in result.stdout


def test_mlserver_runs_mlserver_start_and_needs_it_listed(tmp_path: Path) -> None:
    root, present = make(tmp_path, {"model-settings.json": "{}", "requirements.txt": "MLServer==1.7.0\n"})
    assert detect_layout(root, present).run_command == 'exec mlserver start "${MLSERVER_MODELS_DIR:-.}"'
    (root / "requirements.txt").write_text("numpy\n")
    with pytest.raises(SourceError, match="^layout mlserver: requirements.txt does not list mlserver"):
        detect_layout(root, present)


def test_model_name_read_from_the_script(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(KSERVE_PY)
    assert kserve_model_name(tmp_path / "a.py") == "custom-model"
    (tmp_path / "b.py").write_text(
        "import kserve\nclass M(kserve.Model):\n    def __init__(self):\n        self.name = 'custom-model'\n"
        "        super().__init__(self.name)\n"
    )
    assert kserve_model_name(tmp_path / "b.py") == "custom-model"
