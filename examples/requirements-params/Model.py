"""A model configured by typed PREDICTIVE_UNIT_PARAMETERS and using a dependency from requirements.txt."""
import numpy as np
import six


class Model:
    def __init__(self, scale: float = 1.0, offset: int = 0, label: str = "", clip: bool = False):
        # the runtime converts each parameter to its declared type (FLOAT, INT, STRING, BOOL)
        assert isinstance(scale, float) and isinstance(offset, int) and isinstance(clip, bool), \
            (type(scale), type(offset), type(clip))
        self.scale, self.offset, self.label, self.clip = scale, offset, label, clip

    def predict(self, X, features_names=None, meta=None):
        out = np.asarray(X, dtype=float) * self.scale + self.offset
        if self.clip:
            out = np.clip(out, 0.0, 10.0)
        return out

    def tags(self):
        return {"label": six.ensure_str(self.label), "six": six.__version__}
