"""Which kind of model source a folder is, and why: Seldon s2i, a pre-packaged server, a KServe
custom model, an MLServer custom runtime, or a buildpack-style Procfile app.

`detect_layout()` looks only at file names and at a few small files (Procfile, top-level *.py),
never runs anything, and returns the layout with the evidence in plain words; `modelpack build`
prints it as `layout: NAME (because ...)`. `--layout NAME` overrides the choice. An ambiguous or
unrecognised folder is a SourceError listing what was found and what each layout needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..constants import MODEL_NAME, S2I_ENVIRONMENT
from ..errors import SourceError
from .envfile import EnvEntry

LAYOUTS = ("seldon", "prepackaged", "kserve", "mlserver", "procfile")
NEEDS = {
    "seldon": "Model.py (or .s2i/environment with MODEL_NAME) holding the model class",
    "prepackaged": "--builder sklearn|xgboost|lightgbm|onnx|mlflow with no SRC (and --model-dir DIR)",
    "kserve": "a top-level .py that subclasses kserve.Model and calls kserve.ModelServer().start",
    "mlserver": "model-settings.json beside a module with an mlserver.MLModel subclass",
    "procfile": "a Procfile with a `web: COMMAND` line",
}
MODEL_SETTINGS = "model-settings.json"
PROCFILE = "Procfile"
MODEL_FILES = ("model.joblib", "model.pkl", "model.pickle", "model.bst", "model.json", "model.ubj",
               "model.txt", "model.onnx", "MLmodel")
# a model file's usual builder (model.json and model.bst are ambiguous: the first builder that reads them)
BUILDER_FOR_FILE = {"model.joblib": "sklearn", "model.pkl": "sklearn", "model.pickle": "sklearn",
                    "model.json": "xgboost", "model.ubj": "xgboost", "model.bst": "xgboost",
                    "model.txt": "lightgbm", "model.onnx": "onnx", "MLmodel": "mlflow"}
_KSERVE_IMPORT = re.compile(r"^\s*(import\s+kserve\b|from\s+kserve\b)", re.MULTILINE)
_KSERVE_START = re.compile(r"ModelServer\s*\(")
_MAX_SCAN = 512 * 1024  # bytes of a .py file read for the kserve check


@dataclass(frozen=True)
class SourceLayout:
    name: str  # one of LAYOUTS
    reason: str  # the evidence, for "layout: NAME (because REASON)"
    command: str | None = None  # procfile: the `web:` command
    module: str | None = None  # kserve: the module (file stem) that starts the ModelServer
    model_name: str | None = None  # kserve: the model's name (V1/V2 routes), read from the script

    @property
    def run_command(self) -> str:
        """What the image runs instead of modelpack-microservice (procfile, kserve)."""
        command = {"kserve": KSERVE_COMMAND, "mlserver": MLSERVER_COMMAND}.get(self.name, self.command or "")
        if command and not any(ch in command for ch in ";&|\n") and not command.startswith("exec "):
            # dash runs `sh -c CMD` in a child: exec makes the app PID 1, so it gets SIGTERM itself
            command = "exec " + command
        return command

    def describe(self) -> str:
        return f"layout: {self.name} (because {self.reason})"


def procfile_web(root: Path) -> str | None:
    """The `web:` command of root/Procfile, or None."""
    path = root / PROCFILE
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, command = line.partition(":")
        if sep and key.strip() == "web" and command.strip():
            return command.strip()
    return None


def kserve_module(root: Path, present: set[str]) -> str | None:
    """The first top-level .py importing kserve and starting a ModelServer (sorted by name)."""
    for rel in sorted(p for p in present if p.endswith(".py") and "/" not in p):
        try:
            with open(root / rel, encoding="utf-8", errors="replace") as f:
                text = f.read(_MAX_SCAN)
        except OSError:
            continue
        if _KSERVE_IMPORT.search(text) and _KSERVE_START.search(text):
            return rel[: -len(".py")]
    return None


def _evidence(root: Path, present: set[str], model_name_set: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    if S2I_ENVIRONMENT in present:
        found["seldon"] = f"{S2I_ENVIRONMENT} exists"
    elif model_name_set:
        found["seldon"] = "MODEL_NAME is set"
    elif "Model.py" in present:
        found["seldon"] = "Model.py exists"
    if MODEL_SETTINGS in present:
        found["mlserver"] = f"{MODEL_SETTINGS} exists"
    module = kserve_module(root, present)
    if module:
        found["kserve"] = f"{module}.py imports kserve and starts a ModelServer"
    if PROCFILE in present:
        web = procfile_web(root)
        found["procfile"] = f"Procfile runs `{web}`" if web else "Procfile exists (no web: line)"
    return found


def detect_layout(
    root: Path,
    present: set[str],
    *,
    override: str | None = None,
    builder_source: bool = False,
    model_name_set: bool = False,
) -> SourceLayout:
    """Choose the layout of `root` (relative file names in `present`). `builder_source`: the source
    is a pre-packaged builder's own; `model_name_set`: MODEL_NAME came from -e / --env-file."""
    if override is not None and override not in LAYOUTS:
        raise SourceError(f'--layout "{override}": unknown layout', f"use one of {', '.join(LAYOUTS)}")
    found = _evidence(root, present, model_name_set)
    if builder_source:
        return SourceLayout("prepackaged", "the builder ships its own model server source")
    if override is not None:
        return _checked(root, present, override, found.get(override, "--layout says so"))
    explicit = found.get("seldon", "").startswith((S2I_ENVIRONMENT, "MODEL_NAME"))
    if explicit:
        return SourceLayout("seldon", found["seldon"])
    if "kserve" in found and set(found) <= {"kserve", "procfile"}:
        # the seed's KServe folders carry a Procfile for buildpacks: the KServe class is what we host
        extra = "; its Procfile is not needed" if "procfile" in found else ""
        return _checked(root, present, "kserve", found["kserve"] + extra)
    if len(found) == 1:
        name, why = next(iter(found.items()))
        return _checked(root, present, name, why)
    listing = "; ".join(f"{n}: {w}" for n, w in found.items()) if found else "nothing a layout needs"
    models = sorted(p for p in present if p.rsplit("/", 1)[-1] in MODEL_FILES)
    hint = "pass --layout NAME to choose"
    if models:
        listing += f"; model files: {', '.join(models[:5])}"
        builder = BUILDER_FOR_FILE.get(models[0].rsplit("/", 1)[-1])
        if builder and not found:
            hint = f"to serve {models[0]} run `modelpack build --builder {builder} --model-dir {root} IMAGE`"
    needs = "; ".join(f"{n} needs {w}" for n, w in NEEDS.items())
    kind = "ambiguous source" if found else "unknown source layout"
    raise SourceError(f"{kind} (found {listing}); {needs}", hint)


def _checked(root: Path, present: set[str], name: str, why: str) -> SourceLayout:
    if name == "procfile":
        web = procfile_web(root)
        if web is None:
            raise SourceError(
                f"{PROCFILE}: no `web:` line", "add one such as `web: python -m model_remote`"
            )
        return SourceLayout(name, why, command=web)
    if name == "kserve":
        module = kserve_module(root, present)
        if module is None:
            raise SourceError(
                "--layout kserve: no top-level .py imports kserve and calls kserve.ModelServer()",
                "add the model server script (see docs/layouts.md)",
            )
        return SourceLayout(name, why, module=module, model_name=kserve_model_name(root / f"{module}.py"))
    if name == "mlserver":
        if MODEL_SETTINGS not in present:
            raise SourceError(f"--layout mlserver: no {MODEL_SETTINGS} in the source", "add it (see docs/layouts.md)")
        reqs = root / "requirements.txt"
        text = reqs.read_text(encoding="utf-8", errors="replace") if reqs.is_file() else ""
        if not re.search(r"^\s*mlserver\b", text, re.MULTILINE | re.IGNORECASE):
            raise SourceError(
                "layout mlserver: requirements.txt does not list mlserver, which the image runs (`mlserver start`)",
                "add a line such as mlserver>=1.7,<2",
            )
    return SourceLayout(name, why)


# --- pre-packaged builders: the source ships with the builder; the model comes in --model-dir ----------
def source_for(src: str, image: str | None, builder_name: str | None) -> tuple[str, str]:
    """`modelpack build [SRC] IMAGE`: with one argument and a pre-packaged --builder, the argument
    is the image and the source is the builder's own."""
    if image is not None:
        return src, image
    from ..builders import find_builder
    from ..errors import UsageError

    builder = find_builder(builder_name)
    if builder.source_dir is None:
        raise UsageError(
            f"missing IMAGE (got only {src!r}); builder {builder.name} ships no source",
            "run `modelpack build SRC IMAGE`, or pick a pre-packaged builder such as --builder sklearn",
        )
    return str(builder.source_dir), src


def is_builder_source(src: Path | str, builder_name: str | None) -> bool:
    from ..builders import find_builder

    if not isinstance(src, Path) or not builder_name:
        return False
    try:
        shipped = find_builder(builder_name).source_dir
    except SourceError:
        return False
    return shipped is not None and shipped.resolve() == src.expanduser().resolve()


def init_from(builder_name: str, dest: Path) -> list[str]:
    """`modelpack init --from BUILDER DEST`: copy the builder's model source into DEST (new or
    empty) so it can be edited and built as a Seldon-style folder. Returns the files written."""
    import shutil

    from ..builders import find_builder

    builder = find_builder(builder_name)
    if builder.source_dir is None:
        raise SourceError(
            f"--from {builder.name}: that builder ships no model source",
            "use a pre-packaged builder: sklearn, xgboost, lightgbm, onnx or mlflow",
        )
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise SourceError(f"{dest}: already exists and is not an empty folder", "pass a new folder")
    shutil.copytree(builder.source_dir, dest, dirs_exist_ok=True)
    return sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())


# --- layouts that need no MODEL_NAME: what the image runs instead --------------------------------------
KSERVE_HOST = "modelpack_runtime.layouts.kserve.KServeHost"
# parses KServe's ModelServer flags (--http_port, --workers...) and PORT, then execs modelpack-microservice
KSERVE_COMMAND = "python -m modelpack_runtime.layouts.kserve"
# MLServer serves its MLModel itself and reads every MLSERVER_* variable (docs/layouts.md)
MLSERVER_COMMAND = 'mlserver start "${MLSERVER_MODELS_DIR:-.}"'


def layout_entry(layout: SourceLayout, current: EnvEntry | None) -> tuple[EnvEntry, str]:
    """(the MODEL_NAME entry the image gets, the file that defines the model) for the kserve,
    mlserver and procfile layouts."""
    if layout.name == "kserve":
        return EnvEntry(MODEL_NAME, KSERVE_HOST, "layout kserve", False), f"{layout.module}.py"
    if layout.name == "mlserver":
        return EnvEntry(MODEL_NAME, "mlserver", "layout mlserver", False), MODEL_SETTINGS
    name = current.value if current is not None and current.value else "app"
    return EnvEntry(MODEL_NAME, name, "layout procfile", False), PROCFILE


def kserve_model_name(path: Path) -> str | None:
    """The literal name a KServe script gives its model: `MyModel("custom-model")`,
    `MyModel(name="x")`, or `self.name = "x"` in a kserve.Model subclass. None when computed."""
    import ast

    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except SyntaxError:
        return None
    classes = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any((isinstance(b, ast.Attribute) and b.attr == "Model") or (isinstance(b, ast.Name) and b.id == "Model")
                for b in node.bases)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in classes:
            args = [a for a in node.args[:1]] + [k.value for k in node.keywords if k.arg == "name"]
            for arg in args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    return arg.value
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name in classes:
            for sub in ast.walk(node):
                if (isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Constant)
                        and isinstance(sub.value.value, str)
                        and any(isinstance(t, ast.Attribute) and t.attr == "name" for t in sub.targets)):
                    return sub.value.value
    return None


def drop_kserve_requirements(requirements: Path) -> list[str]:
    """Comment out `kserve` lines of the copied requirements file (the build context's, not the
    user's): every kserve release pins protobuf below what modelpack's gRPC stubs need, and the
    runtime provides the `kserve` names the script uses. Returns the lines commented out."""
    return drop_provided_requirements(requirements, {"kserve"}, "kserve layout, docs/layouts.md")


PROVIDED_BY_RUNTIME = {"seldon-core"}  # the runtime ships a seldon_core shim (user_model, flask_utils)


def provided_requirements(requirements: Path) -> list[str]:
    """The lines of a requirements file that name a package the runtime provides (seldon-core)."""
    return _provided_lines(requirements, PROVIDED_BY_RUNTIME)


def _provided_lines(requirements: Path, names: set[str]) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    found: list[str] = []
    if not requirements.is_file():
        return found
    for line in requirements.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        try:
            name = Requirement(text).name.lower().replace("_", "-") if text and not text.startswith("-") else ""
        except InvalidRequirement:
            name = ""
        if name in names:
            found.append(text)
    return found


def drop_provided_requirements(requirements: Path, names: set[str], why: str) -> list[str]:
    """Comment out the lines naming `names` in the build context's copy of a requirements file
    (never the user's): the runtime provides those packages, and their pins (protobuf<4 for
    seldon-core 1.x, protobuf<7 for kserve) cannot be installed beside its gRPC stubs."""
    from packaging.requirements import InvalidRequirement, Requirement

    if not requirements.is_file():
        return []
    dropped: list[str] = []
    out: list[str] = []
    for line in requirements.read_text(encoding="utf-8").splitlines(keepends=True):
        text = line.split("#", 1)[0].strip()
        try:
            name = Requirement(text).name.lower().replace("_", "-") if text and not text.startswith("-") else ""
        except InvalidRequirement:
            name = ""
        if name in names:
            dropped.append(text)
            line = f"# provided by modelpack's runtime ({why}): " + line
        out.append(line)
    requirements.write_text("".join(out), encoding="utf-8")
    return dropped
