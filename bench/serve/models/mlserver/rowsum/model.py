"""The benchmark model for MLServer's custom-runtime API (MLModel): row sums of a 2-D float tensor."""
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class RowSum(MLModel):
    async def load(self) -> bool:
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        x = NumpyCodec.decode_input(payload.inputs[0])
        sums = x.sum(axis=1)
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("sum", sums)])
