"""A KServe custom model, written exactly as KServe's "custom model" docs show: a kserve.Model
subclass that loads in __init__ and is started by kserve.ModelServer().start([model])."""
from typing import Dict

import kserve
import numpy as np


class LinearScoreModel(kserve.Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name
        self.weights = None
        self.load()

    def load(self):
        # a stand-in for reading weights from storage: five class scores from four features
        self.weights = np.arange(20, dtype=np.float64).reshape(4, 5) / 10.0
        self.ready = True

    def preprocess(self, request: Dict, headers: Dict[str, str] = None) -> Dict:
        return {"instances": np.asarray(request["instances"], dtype=np.float64)}

    def predict(self, request: Dict, headers: Dict[str, str] = None) -> Dict:
        scores = request["instances"] @ self.weights
        return {"predictions": scores.tolist()}


if __name__ == "__main__":
    model = LinearScoreModel("custom-model")
    kserve.ModelServer().start([model])
