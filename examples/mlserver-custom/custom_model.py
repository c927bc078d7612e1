"""An MLServer custom runtime, following MLServer's custom MLModel template: load() finds the model
file through get_model_uri (well-known names), predict() decodes the V2 request and encodes the
response with MLServer's own types and codecs."""
import json
from typing import List

import numpy as np
from mlserver import MLModel, types
from mlserver.codecs import NumpyCodec
from mlserver.errors import InferenceError
from mlserver.utils import get_model_uri

# files with these names are searched for and assigned to model_uri with an absolute path
WELLKNOWN_MODEL_FILENAMES = ["model.json", "model.dat"]


class CustomMLModel(MLModel):
    async def load(self) -> bool:
        model_uri = await get_model_uri(self._settings, wellknown_filenames=WELLKNOWN_MODEL_FILENAMES)
        self._load_model_from_file(model_uri)
        self.ready = True
        return self.ready

    async def predict(self, payload: types.InferenceRequest) -> types.InferenceResponse:
        payload = self._check_request(payload)
        return types.InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=self._predict_outputs(payload),
        )

    def _load_model_from_file(self, file_uri):
        with open(file_uri) as f:
            spec = json.load(f)
        self.weights = np.asarray(spec["weights"], dtype=np.float64)
        self.bias = float(spec["bias"])

    def _check_request(self, payload: types.InferenceRequest) -> types.InferenceRequest:
        if len(payload.inputs) != 1:
            raise InferenceError(f"expected one input, got {len(payload.inputs)}")
        return payload

    def _predict_outputs(self, payload: types.InferenceRequest) -> List[types.ResponseOutput]:
        X = NumpyCodec.decode_input(payload.inputs[0]).astype(np.float64)
        scores = X.reshape(len(X), -1) @ self.weights + self.bias
        return [NumpyCodec.encode_output(name="scores", payload=scores)]
