"""An input/output transformer: centres features on the way in, rounds predictions on the way out."""
import numpy as np


class Transformer:
    def transform_input(self, X, features_names=None, meta=None):
        X = np.asarray(X, dtype=float)
        return X - X.mean(axis=-1, keepdims=True)

    def transform_output(self, X, features_names=None, meta=None):
        return np.round(np.asarray(X, dtype=float), 1)
