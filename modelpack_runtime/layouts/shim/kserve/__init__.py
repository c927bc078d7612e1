"""A small stand-in for the `kserve` package, used when a KServe custom model is hosted by
modelpack (docs/layouts.md). Every kserve release pins protobuf below the version modelpack's gRPC
stubs need, so the real package cannot share the image's virtualenv; user code only needs the
names below. This folder is put LAST on sys.path: a real kserve, if importable, wins.

Covered: kserve.Model (name, ready, load, preprocess, predict, postprocess, sync or async),
kserve.ModelServer(...).start(models) and kserve.model_server.parser (KServe's flags).
"""
from __future__ import annotations

from typing import Any

from . import model_server
from .model_server import ModelServer

MODELPACK_SHIM = True
__all__ = ["Model", "ModelServer", "model_server"]


class Model:
    """Base class of a KServe custom model: override load() and predict()."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready = False

    def load(self) -> bool:
        self.ready = True
        return self.ready

    def preprocess(self, payload: dict, headers: dict[str, str] | None = None) -> Any:
        return payload

    def predict(self, payload: Any, headers: dict[str, str] | None = None) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.predict is not implemented")

    def postprocess(self, result: Any, headers: dict[str, str] | None = None) -> Any:
        return result
