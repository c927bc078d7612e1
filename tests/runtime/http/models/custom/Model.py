"""Custom metrics of all three kinds, two tag sets for one key."""
import numpy as np


class Model:
    def __init__(self):
        self.n = 0

    def predict(self, X, feature_names, meta=None):
        self.n += 1
        return np.asarray(X)

    def metrics(self):
        return [
            {"type": "COUNTER", "key": "mycounter", "value": 1},
            {"type": "COUNTER", "key": "tagged", "value": 1, "tags": {"color": "red"}},
            {"type": "COUNTER", "key": "tagged", "value": 2, "tags": {"shape": "square", "color": "blue"}},
            {"type": "GAUGE", "key": "mygauge", "value": 42},
            {"type": "TIMER", "key": "mytimer", "value": 20.5},
        ]
