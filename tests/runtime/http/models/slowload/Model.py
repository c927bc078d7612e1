import os
import time


class Model:
    def load(self):
        # the test removes this file to let load() finish
        while os.path.exists(os.environ["HOLD_LOAD_FILE"]):
            time.sleep(0.05)

    def predict(self, X, feature_names, meta=None):
        return X
