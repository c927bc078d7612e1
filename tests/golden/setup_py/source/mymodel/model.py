class MyModel:
    def transform_input(self, X, features_names=None, meta=None):
        return X
