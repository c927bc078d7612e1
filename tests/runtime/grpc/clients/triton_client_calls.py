"""Runs in a virtualenv with tritonclient[grpc]: calls a V2 server with Triton's own gRPC client
and prints the results as JSON. Usage: triton_client_calls.py HOST:PORT MODEL"""
import json
import sys

import numpy as np
import tritonclient.grpc as tc
from tritonclient.utils import InferenceServerException


def main():
    target, model = sys.argv[1], sys.argv[2]
    client = tc.InferenceServerClient(url=target)
    out = {"live": client.is_server_live(), "ready": client.is_server_ready(),
           "model_ready": client.is_model_ready(model)}
    md = client.get_model_metadata(model, as_json=True)
    out["metadata_name"] = md["name"]
    out["server_metadata"] = client.get_server_metadata(as_json=True)

    x = np.array([[1.5, -2.0, 3.25]], dtype=np.float32)
    fp32 = tc.InferInput("x", list(x.shape), "FP32")
    fp32.set_data_from_numpy(x)
    r = client.infer(model, [fp32], request_id="t-1")
    y = r.as_numpy("output-0")
    out["fp32"] = {"dtype": str(y.dtype), "shape": list(y.shape), "values": y.ravel().tolist(),
                   "id": r.get_response().id}

    s = np.array([b"hello", b"", "wörld".encode()], dtype=np.object_)
    by = tc.InferInput("s", [3], "BYTES")
    by.set_data_from_numpy(s)
    r = client.infer(model, [by], outputs=[tc.InferRequestedOutput("out")])
    z = r.as_numpy("out")
    out["bytes"] = {"shape": list(z.shape), "values": [v.decode() for v in z.ravel().tolist()]}

    try:
        client.infer("nope", [fp32])
        out["unknown_model"] = "no error"
    except InferenceServerException as e:
        out["unknown_model"] = {"status": e.status(), "message": e.message()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
