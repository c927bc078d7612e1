"""LightGBM: a Booster saved with save_model (model.txt, or model.bst holding the same text format)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import PrepackagedServer


class LightGBMServer(PrepackagedServer):
    framework = "LightGBM"
    file_names = ("model.txt", "model.bst")

    def load_file(self, path: str) -> Any:
        import lightgbm as lgb

        try:
            return lgb.Booster(model_file=path)
        except Exception as e:  # noqa: BLE001 - lightgbm.basic.LightGBMError for anything that is not a model
            raise self.unreadable(path, e) from None

    def call(self, X: Any, names: Any) -> Any:
        return self.model.predict(np.asarray(X, dtype=np.float64))
