"""A combiner: averages the answers of several models element by element."""
import numpy as np


class Combiner:
    def aggregate(self, Xs, features_names=None):
        return np.mean([np.asarray(x, dtype=float) for x in Xs], axis=0)
