"""Dependencies come from setup.py (install_requires), not requirements.txt."""
import toolz

from scaler import scale


class Model:
    def predict(self, X, features_names=None, meta=None):
        return [scale(row, 10) for row in X]

    def tags(self):
        return {"toolz": toolz.__version__}
