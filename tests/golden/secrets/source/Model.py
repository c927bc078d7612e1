class Model:
    def predict(self, X, features_names=None, meta=None):
        return X
