"""MLflow: a pyfunc model folder (an MLmodel file beside its artefacts), loaded with
mlflow.pyfunc.load_model. With feature names in the request the input is a pandas DataFrame
with those columns, else the array itself."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from .base import PrepackagedServer


class MLflowServer(PrepackagedServer):
    framework = "MLflow pyfunc"
    file_names = ("MLmodel",)

    def load_file(self, path: str) -> Any:
        import mlflow.pyfunc

        folder = os.path.dirname(path) if os.path.basename(path) == "MLmodel" else path
        try:
            return mlflow.pyfunc.load_model(folder)
        except Exception as e:  # noqa: BLE001 - MlflowException, ImportError of a flavor, YAML errors...
            text = (str(e).strip().splitlines() or [""])[0][:200]
            raise type(self.unreadable(path, e))(
                f"{folder}: MLmodel cannot be loaded as a pyfunc model ({type(e).__name__}: {text});"
                " save it with mlflow.<flavor>.save_model and install the flavor's packages"
            ) from None

    def call(self, X: Any, names: Any) -> Any:
        data = X
        arr = np.asarray(X)
        if names and arr.ndim == 2 and len(names) == arr.shape[1]:
            # column names, when they fit (a V2 request names its one input, not the columns)
            import pandas as pd

            data = pd.DataFrame(arr, columns=list(names))
        result = self.model.predict(data)
        return result.to_numpy() if hasattr(result, "to_numpy") else np.asarray(result)
