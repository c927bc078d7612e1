"""Sleeps for the number of seconds in the first cell: for timeouts and graceful shutdown."""
import time

import numpy as np


class Model:
    def predict(self, X, feature_names, meta=None):
        time.sleep(float(np.asarray(X).flat[0]))
        return np.asarray(X)
