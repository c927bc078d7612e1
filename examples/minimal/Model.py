"""The smallest model modelpack serves: doubles every number it is given."""
import numpy as np


class Model:
    def load(self):
        # runs once per worker process before the server reports ready
        self.factor = 2.0

    def predict(self, X, features_names=None, meta=None):
        return np.asarray(X, dtype=float) * self.factor
