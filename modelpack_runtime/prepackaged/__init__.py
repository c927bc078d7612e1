"""Pre-packaged model servers: Seldon-style classes that serve a model FILE with no user code.

Each follows PrimeHub's contract (`__init__(self, model_uri=None, ...)`, `load()`, `predict(X, names)`)
and is what `builders/<name>/src/Model.py` subclasses: `modelpack build --builder sklearn` serves
`SKLearnServer`, `modelpack init --from sklearn DIR` gives the user that subclass to edit.
Framework packages (scikit-learn, xgboost...) are imported only in `load()`, so this package imports
with the standard library and numpy alone.
"""
from __future__ import annotations

SERVERS = {
    "sklearn": "modelpack_runtime.prepackaged.sklearn.SKLearnServer",
    "xgboost": "modelpack_runtime.prepackaged.xgboost.XGBoostServer",
    "lightgbm": "modelpack_runtime.prepackaged.lightgbm.LightGBMServer",
    "onnx": "modelpack_runtime.prepackaged.onnx.ONNXServer",
    "mlflow": "modelpack_runtime.prepackaged.mlflow.MLflowServer",
}
