"""scikit-learn: a fitted estimator (or Pipeline) saved with joblib (model.joblib) or pickle
(model.pkl / model.pickle). Parameter `method`: predict, predict_proba or decision_function."""
from __future__ import annotations

import pickle
from typing import Any

from .base import PrepackagedServer


class SKLearnServer(PrepackagedServer):
    framework = "scikit-learn"
    file_names = ("model.joblib", "model.pkl", "model.pickle")
    methods = ("predict", "predict_proba", "decision_function", "transform", "predict_log_proba")

    def load_file(self, path: str) -> Any:
        try:
            if path.endswith(".joblib"):
                import joblib

                obj = joblib.load(path)
            else:
                with open(path, "rb") as f:
                    obj = pickle.load(f)
        except ImportError:
            raise
        except Exception as e:  # noqa: BLE001 - unpickling raises anything (EOFError, UnpicklingError, ValueError...)
            raise self.unreadable(path, e) from None
        if not callable(getattr(obj, self.method, None)):
            raise self.wrong_type(path, obj, f"a scikit-learn estimator with {self.method}()")
        return obj

    def call(self, X: Any, names: Any) -> Any:
        return getattr(self.model, self.method)(X)
