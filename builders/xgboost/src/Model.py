"""The pre-packaged XGBoost server as a Seldon-style model class (written by modelpack).

Serves the model file in model_uri (MODEL_URI; /mnt/models by default). To customise it, run
`modelpack init --from xgboost DIR`, edit DIR/Model.py (override load() or predict(), add
metrics()/tags()...), and build DIR like any Seldon source folder. The base class is in
modelpack_runtime/prepackaged/xgboost.py, which every modelpack image contains.
"""
from modelpack_runtime.prepackaged.xgboost import XGBoostServer


class Model(XGBoostServer):
    """`Model(model_uri=None, method="predict")`: PrimeHub's constructor contract.

    load() finds model.json, model.ubj or model.bst in model_uri and raises a one-line error for a
    missing file or a model of the wrong type; predict(X, feature_names) returns the model's output.
    """
