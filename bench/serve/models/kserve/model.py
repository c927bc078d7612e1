"""The benchmark model for KServe's custom-model API (kserve.Model): row sums of a 2-D float array,
answering both V1 (dict with "instances") and V2 (InferRequest)."""
import kserve
import numpy as np
from kserve import InferOutput, InferRequest, InferResponse


class RowSum(kserve.Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.load()

    def load(self) -> bool:
        self.ready = True
        return self.ready

    async def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            sums = payload.inputs[0].as_numpy().sum(axis=1)
            out = InferOutput(name="sum", shape=list(sums.shape), datatype="FP32")
            out.set_data_from_numpy(sums.astype(np.float32), binary_data=False)
            return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=[out])
        sums = np.asarray(payload["instances"], dtype=np.float64).sum(axis=1)
        return {"predictions": sums.tolist()}


if __name__ == "__main__":
    # kserve.model_server parses --http_port, --grpc_port, --workers... from sys.argv at import
    kserve.ModelServer().start([RowSum("rowsum")])
