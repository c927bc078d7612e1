"""A linear model whose coefficients live in a weights file, not in the code.

The file is found through the `model_uri` argument: in the image it is /mnt/models (MODEL_URI, set
because .s2i/environment names the folder with MODELPACK_MODEL_DIR); `modelpack serve` points it at
the local folder. A `model_uri` parameter or `docker run -e MODEL_URI=...` (a path, or an http(s)
URL of an archive) would load other weights without a rebuild.
"""
import json
import os

import numpy as np


class Model:
    def __init__(self, model_uri=None):
        self.model_uri = model_uri

    def load(self):
        if not self.model_uri:
            raise RuntimeError("no model_uri: build with MODELPACK_MODEL_DIR or --model-dir, or set MODEL_URI")
        with open(os.path.join(self.model_uri, "weights.json")) as fh:
            weights = json.load(fh)
        self.coef = np.asarray(weights["coef"], dtype=float)
        self.intercept = float(weights["intercept"])

    def predict(self, X, feature_names=None, meta=None):
        return np.asarray(X, dtype=float) @ self.coef + self.intercept

    def tags(self):
        return {"model_uri": self.model_uri}
