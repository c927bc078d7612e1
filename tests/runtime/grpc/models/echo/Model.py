"""A model for the gRPC tests: every Seldon hook, identity where it can, and a few trigger values."""
import os
import time

import numpy as np


class Model:
    def load(self):
        # one line per load() call, so a test can count them across processes
        log = os.environ.get("LOAD_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{os.getpid()}\n")

    def predict(self, X, names, meta=None):
        if isinstance(X, str) and X == "boom":
            raise ValueError("boom from user code")
        if isinstance(X, str) and X.startswith("sleep "):
            time.sleep(float(X.split()[1]))
            return "slept"
        if isinstance(X, dict) and X.get("pid"):
            return {"pid": os.getpid()}
        return X

    def transform_input(self, X, names, meta=None):
        return np.asarray(X) * 2

    def transform_output(self, X, names, meta=None):
        return np.asarray(X) + 1

    def route(self, X, names):
        return 1

    def aggregate(self, Xs, names_list):
        return np.sum([np.asarray(x) for x in Xs], axis=0)

    def send_feedback(self, X, names, reward, truth, routing=None):
        return [reward]
