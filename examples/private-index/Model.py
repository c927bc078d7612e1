"""A model whose dependency lives on a private package index that needs a password."""
import mp_private_demo


class Model:
    def predict(self, X, features_names=None, meta=None):
        return [[mp_private_demo.SECRET_SAUCE * float(v) for v in row] for row in X]
