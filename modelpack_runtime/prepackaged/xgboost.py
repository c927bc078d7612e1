"""XGBoost: a Booster saved with save_model (model.json, model.ubj or the legacy binary model.bst).
predict returns what Booster.predict returns (probabilities for a binary:logistic model)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import PrepackagedServer


class XGBoostServer(PrepackagedServer):
    framework = "XGBoost"
    file_names = ("model.json", "model.ubj", "model.bst")

    def load_file(self, path: str) -> Any:
        import xgboost as xgb

        try:
            return xgb.Booster(model_file=path)
        except Exception as e:  # noqa: BLE001 - xgboost.core.XGBoostError for anything that is not a model
            raise self.unreadable(path, e) from None

    def call(self, X: Any, names: Any) -> Any:
        import xgboost as xgb

        data = np.asarray(X, dtype=np.float32)
        return self.model.predict(xgb.DMatrix(data, feature_names=self._names(names, data)))

    def _names(self, names: Any, data: np.ndarray) -> list[str] | None:
        # a Booster trained on named columns checks the names; pass them only when they fit
        wanted = self.model.feature_names
        if wanted and names and list(names) == list(wanted):
            return list(names)
        return wanted if wanted and len(wanted) == data.shape[-1] else None
