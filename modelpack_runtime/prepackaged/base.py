"""The shared part of every pre-packaged server: where the model is, which file holds it, and
one-line errors that name the folder, the file, what was found and the fix."""
from __future__ import annotations

import os
from typing import Any

DEFAULT_MODEL_DIR = "/mnt/models"  # PrimeHub mounts the model here; --model-dir bakes it here too


class ModelFileError(Exception):
    """The model file is missing, unreadable or of the wrong type (raised by load())."""


class PrepackagedServer:
    """Base class. Subclasses set `framework`, `file_names` and `methods`, and implement
    `load_file(path)` (-> the model object) and `call(X, names)`.

    `model_uri`: the folder (or file) holding the model; default MODEL_URI, else /mnt/models. The
    runtime passes it already resolved to a local path (downloads happen in modelpack_runtime.model_uri).
    `method`: which model method answers predict (e.g. predict_proba).
    """

    framework = "model"
    file_names: tuple[str, ...] = ()
    methods: tuple[str, ...] = ("predict",)

    def __init__(self, model_uri: str | None = None, method: str = "predict", **_: Any) -> None:
        if method not in self.methods:
            raise ValueError(
                f"parameter method={method!r} is not supported by the {self.framework} server;"
                f" use one of {', '.join(self.methods)}"
            )
        self.model_uri = model_uri or os.environ.get("MODEL_URI") or DEFAULT_MODEL_DIR
        self.method = method
        self.model: Any = None
        self.model_file: str | None = None

    def find_model_file(self) -> str:
        """The first of `file_names` in model_uri (or model_uri itself when it is a file)."""
        where = self.model_uri
        if os.path.isfile(where):
            return where
        if not os.path.isdir(where):
            raise ModelFileError(
                f"model_uri {where}: no such folder; mount the model there, set MODEL_URI, or build with --model-dir"
            )
        for name in self.file_names:
            path = os.path.join(where, name)
            if os.path.exists(path):
                return path
        found = sorted(os.listdir(where))[:10]
        raise ModelFileError(
            f"model_uri {where}: no {self.framework} model file (looked for {', '.join(self.file_names)};"
            f" found {', '.join(found) if found else 'nothing'}); save the model under one of those names"
        )

    def load(self) -> None:
        path = self.find_model_file()
        self.model_file = path
        self.model = self.load_file(path)

    def load_file(self, path: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def wrong_type(self, path: str, obj: Any, expected: str) -> ModelFileError:
        return ModelFileError(
            f"{os.path.basename(path)} holds a {type(obj).__module__}.{type(obj).__name__}, expected {expected};"
            f" save a {self.framework} model or build with the matching --builder"
        )

    def unreadable(self, path: str, exc: BaseException) -> ModelFileError:
        text = (str(exc).strip().splitlines() or [""])[0][:200]
        return ModelFileError(
            f"{os.path.basename(path)} is not a {self.framework} model ({type(exc).__name__}: {text});"
            f" save it with the {self.framework} API or build with the matching --builder"
        )

    def predict(self, X: Any, names: Any = None, meta: Any = None) -> Any:
        return self.call(X, names)

    def call(self, X: Any, names: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def init_metadata(self) -> dict:
        return {"platform": self.framework, "versions": [os.path.basename(self.model_file or "")]}
