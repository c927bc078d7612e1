"""One class for every client: sums rows, echoes text, routes, aggregates, counts feedback."""
import numpy as np


class Model:
    def __init__(self):
        self.feedback = 0

    def predict(self, X, feature_names, meta=None):
        if isinstance(X, (str, bytes, dict)):
            return X
        X = np.asarray(X)
        if X.dtype.kind in "OUS":  # BYTES tensors: upper-case every element
            return np.vectorize(lambda s: (s.decode() if isinstance(s, bytes) else str(s)).upper(),
                                otypes=[object])(X)
        return X.sum(axis=-1, keepdims=True)

    def transform_input(self, X, names, meta=None):
        return np.asarray(X) * 10

    def transform_output(self, X, names, meta=None):
        return np.asarray(X) - 1

    def route(self, X, names):
        return 2

    def aggregate(self, Xs, names_list):
        return np.concatenate([np.asarray(x).reshape(1, -1) for x in Xs], axis=1)

    def send_feedback(self, X, names, reward, truth, routing=None):
        self.feedback += 1
        return None
