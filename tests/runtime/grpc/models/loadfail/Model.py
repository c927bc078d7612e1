class Model:
    def load(self):
        raise OSError("weights.bin not found")

    def predict(self, X, names, meta=None):
        return X
