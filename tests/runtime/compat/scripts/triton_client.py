"""Drive a microservice with Triton's tritonclient.http (Open Inference V2); print JSON."""
import json
import sys

import numpy as np
import tritonclient.http as httpclient

port = int(sys.argv[1])
c = httpclient.InferenceServerClient(url=f"127.0.0.1:{port}")
out = {"live": c.is_server_live(), "ready": c.is_server_ready(), "model_ready": c.is_model_ready("Model"),
       "unknown_ready": c.is_model_ready("NoSuchModel"), "server_metadata": c.get_server_metadata(),
       "model_metadata": c.get_model_metadata("Model")}

for binary in (False, True):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]], dtype=np.float32)
    inp = httpclient.InferInput("x", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    res = c.infer("Model", [inp], outputs=[httpclient.InferRequestedOutput("output-0", binary_data=binary)])
    arr = res.as_numpy("output-0")
    out[f"fp32-binary-{binary}"] = {"dtype": str(arr.dtype), "shape": list(arr.shape), "values": arr.tolist(),
                                    "response": res.get_response()}

    s = np.array([["ab", "cd"]], dtype=np.object_)
    inp = httpclient.InferInput("s", [1, 2], "BYTES")
    inp.set_data_from_numpy(s, binary_data=binary)
    res = c.infer("Model", [inp], outputs=[httpclient.InferRequestedOutput("output-0", binary_data=binary)])
    arr = res.as_numpy("output-0")
    out[f"bytes-binary-{binary}"] = {"shape": list(arr.shape),
                                     "values": [v.decode() if isinstance(v, bytes) else v for v in arr.ravel()]}
try:
    c.infer("NoSuchModel", [inp])
    out["unknown_infer"] = None
except Exception as e:  # tritonclient raises InferenceServerException
    out["unknown_infer"] = {"type": type(e).__name__, "status": e.status(), "message": e.message()}
print(json.dumps(out))
