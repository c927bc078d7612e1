"""Tiny models trained on generated data, saved the way each pre-packaged server expects them.

`train(kind, folder)` writes the model file(s) into `folder` and returns (X, expected): a few rows
and the model's own output for them (computed in this process with the framework itself), so a
served image can be checked against the real thing. Used by the runtime unit tests and the
integration tests (tests/integration/test_prepackaged.py).
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

N_FEATURES = 4


def data(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, N_FEATURES))
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 0).astype(int)
    return X, y


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression

    X, y = data()
    return LogisticRegression().fit(X, y)


def train(kind: str, folder: Path, method: str = "predict") -> tuple[np.ndarray, np.ndarray]:
    """kind: joblib, pickle, xgboost, lightgbm, onnx, mlflow."""
    folder.mkdir(parents=True, exist_ok=True)
    X, y = data()
    rows = X[:5]
    if kind in ("joblib", "pickle"):
        import joblib

        model = _logistic()
        if kind == "joblib":
            joblib.dump(model, folder / "model.joblib")
        else:
            (folder / "model.pkl").write_bytes(pickle.dumps(model))
        return rows, getattr(model, method)(rows)
    if kind == "xgboost":
        import xgboost as xgb

        booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), 5)
        booster.save_model(str(folder / "model.json"))
        return rows, booster.predict(xgb.DMatrix(rows.astype(np.float32)))
    if kind == "lightgbm":
        import lightgbm as lgb

        booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 4}, lgb.Dataset(X, label=y), 5)
        booster.save_model(str(folder / "model.txt"))
        return rows, booster.predict(rows)
    if kind == "onnx":
        return rows, _onnx_linear(_logistic(), folder / "model.onnx", rows)
    if kind == "mlflow":
        import mlflow.sklearn

        model = _logistic()
        mlflow.sklearn.save_model(model, str(folder / "mlmodel"), serialization_format="cloudpickle")
        for path in (folder / "mlmodel").iterdir():  # the MLmodel folder IS the model dir
            path.rename(folder / path.name)
        (folder / "mlmodel").rmdir()
        return rows, model.predict(rows)
    raise ValueError(kind)


def _onnx_linear(model: Any, path: Path, rows: np.ndarray) -> np.ndarray:
    """The logistic regression's decision function as an ONNX graph (MatMul + Add), built with the
    onnx helper API so no converter package is needed; returns onnxruntime's own output."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    W = numpy_helper.from_array(model.coef_.T.astype(np.float32), "W")
    B = numpy_helper.from_array(model.intercept_.astype(np.float32), "B")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["XW"]), helper.make_node("Add", ["XW", "B"], ["score"])],
        "logistic",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, N_FEATURES])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None, 1])],
        initializer=[W, B],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    proto.ir_version = 8  # readable by older onnxruntime releases too
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(["score"], {"X": rows.astype(np.float32)})[0]
    # sanity: the graph is the model's own decision function
    np.testing.assert_allclose(out[:, 0], model.decision_function(rows), rtol=1e-4, atol=1e-5)
    return out
