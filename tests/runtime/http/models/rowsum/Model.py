"""Row sum: the benchmark model. Raises on demand so the tests see a user exception."""
import os

import numpy as np


class Model:
    def __init__(self, offset="0"):
        self.offset = float(offset)

    def load(self):
        self.pid = os.getpid()

    def predict(self, X, feature_names, meta=None):
        if isinstance(X, (str, bytes)):  # strData / binData come back unchanged
            return X
        X = np.asarray(X)
        if X.dtype.kind in "US":
            if X.size and str(X.flat[0]) == "boom":
                raise ValueError("user code raised on purpose")
            return X
        return X.sum(axis=-1, keepdims=True) + self.offset

    def transform_input(self, X, names, meta=None):
        return np.asarray(X) * 2

    def transform_output(self, X, names, meta=None):
        return np.asarray(X) + 1

    def route(self, X, names):
        return 1

    def aggregate(self, Xs, names_list):
        return [np.asarray(x).sum() for x in Xs]

    def send_feedback(self, X, names, reward, truth, routing=None):
        return None

    def tags(self):
        return {"worker": str(self.pid)}
