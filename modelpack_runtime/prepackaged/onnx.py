"""ONNX through onnxruntime (CPU): model.onnx with one input; predict returns the first output
(parameter `output` picks another by name). The request is cast to the input's element type."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import PrepackagedServer

_ONNX_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float16)": np.float16,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


class ONNXServer(PrepackagedServer):
    framework = "ONNX"
    file_names = ("model.onnx",)

    def __init__(self, model_uri: str | None = None, method: str = "predict", output: str | None = None,
                 **kw: Any) -> None:
        super().__init__(model_uri, method, **kw)
        self.output = output

    def load_file(self, path: str) -> Any:
        import onnxruntime as ort

        try:
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - onnxruntime's InvalidProtobuf / Fail for anything that is not a model
            raise self.unreadable(path, e) from None
        outputs = [o.name for o in session.get_outputs()]
        if self.output is not None and self.output not in outputs:
            raise ValueError(
                f"parameter output={self.output!r}: model.onnx has outputs {', '.join(outputs)}; pick one of them"
            )
        return session

    def call(self, X: Any, names: Any) -> Any:
        first = self.model.get_inputs()[0]
        data = np.asarray(X, dtype=_ONNX_TYPES.get(first.type, np.float32))
        wanted = [self.output] if self.output else [self.model.get_outputs()[0].name]
        return self.model.run(wanted, {first.name: data})[0]
