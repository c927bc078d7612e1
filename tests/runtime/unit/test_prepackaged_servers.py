"""Pre-packaged servers in-process, through the real DataPlane: each framework's tiny model served
and compared with the framework's own output; missing files and wrong model types fail clearly."""
from __future__ import annotations

import pickle
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from trained_models import train

from modelpack_runtime.dataplane import DataPlane
from modelpack_runtime.settings import Settings

SERVERS = {
    "joblib": "modelpack_runtime.prepackaged.sklearn.SKLearnServer",
    "pickle": "modelpack_runtime.prepackaged.sklearn.SKLearnServer",
    "xgboost": "modelpack_runtime.prepackaged.xgboost.XGBoostServer",
    "lightgbm": "modelpack_runtime.prepackaged.lightgbm.LightGBMServer",
    "onnx": "modelpack_runtime.prepackaged.onnx.ONNXServer",
    "mlflow": "modelpack_runtime.prepackaged.mlflow.MLflowServer",
}
FRAMEWORK_MODULE = {"joblib": "sklearn", "pickle": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm",
                    "onnx": "onnxruntime", "mlflow": "mlflow"}


@pytest.fixture(autouse=True)
def _restore_sys_path() -> Iterator[None]:
    # DataPlane.construct appends the workdir and the shim folder to sys.path; other tests check its order
    saved = list(sys.path)
    yield
    sys.path[:] = saved


def _dp(kind: str, model_uri: str | None, parameters: str = "[]") -> DataPlane:
    dp = DataPlane(Settings(interface_name=SERVERS[kind], model_uri=model_uri, parameters=parameters))
    dp.construct()
    dp.load()
    return dp


@pytest.mark.parametrize("kind", list(SERVERS))
def test_served_predictions_match_the_model(kind: str, tmp_path: Path) -> None:
    pytest.importorskip(FRAMEWORK_MODULE[kind])
    X, expected = train(kind, tmp_path / "m")
    dp = _dp(kind, str(tmp_path / "m"))
    assert dp.ready, dp.failure
    out = dp.seldon("predict", {"data": {"ndarray": X.tolist()}})
    got = np.asarray(out["data"]["ndarray"])
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-5, atol=1e-6)


def test_sklearn_method_parameter(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    X, expected = train("joblib", tmp_path / "m", method="predict_proba")
    params = '[{"name": "method", "value": "predict_proba", "type": "STRING"}]'
    dp = _dp("joblib", f"file://{tmp_path / 'm'}", params)
    got = np.asarray(dp.seldon("predict", {"data": {"ndarray": X.tolist()}})["data"]["ndarray"])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    bad = _dp("joblib", str(tmp_path / "m"), '[{"name": "method", "value": "explain", "type": "STRING"}]')
    assert not bad.ready and "parameter method='explain' is not supported by the scikit-learn server" in bad.failure


def test_missing_model_file_names_folder_and_expected_files(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("hi")
    dp = _dp("joblib", str(tmp_path))
    assert not dp.ready
    assert (
        f"model_uri {tmp_path}: no scikit-learn model file (looked for model.joblib, model.pkl, model.pickle;"
        " found readme.txt)" in dp.failure
    )
    dp = _dp("onnx", str(tmp_path / "absent"))
    assert f"model_uri {tmp_path / 'absent'}: no such folder; mount the model there" in dp.failure


def test_wrong_model_type(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    (tmp_path / "model.pkl").write_bytes(pickle.dumps("just a string"))
    dp = _dp("pickle", str(tmp_path))
    assert "model.pkl holds a builtins.str, expected a scikit-learn estimator with predict()" in dp.failure
    train("joblib", tmp_path / "sk")
    for kind, name in (("xgboost", "model.json"), ("lightgbm", "model.txt"), ("onnx", "model.onnx")):
        pytest.importorskip(FRAMEWORK_MODULE[kind])
        folder = tmp_path / kind
        folder.mkdir()
        (folder / name).write_bytes((tmp_path / "sk" / "model.joblib").read_bytes())  # a sklearn model, renamed
        dp = _dp(kind, str(folder))
        assert not dp.ready and f"{name} is not a" in dp.failure and "matching --builder" in dp.failure, dp.failure


def test_default_model_dir_is_mnt_models(monkeypatch) -> None:
    from modelpack_runtime.prepackaged.sklearn import SKLearnServer

    monkeypatch.delenv("MODEL_URI", raising=False)
    assert SKLearnServer().model_uri == "/mnt/models"
    monkeypatch.setenv("MODEL_URI", "/data/m")
    assert SKLearnServer().model_uri == "/data/m"
