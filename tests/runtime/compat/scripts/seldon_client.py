"""Drive a microservice with seldon-core's own SeldonClient (REST microservice mode); print JSON."""
import json
import sys

import numpy as np
from google.protobuf.json_format import MessageToDict
from seldon_core.seldon_client import SeldonClient

port = int(sys.argv[1])
sc = SeldonClient(microservice_endpoint=f"127.0.0.1:{port}", transport="rest")


def result(r):
    return {"success": r.success, "msg": r.msg,
            "response": MessageToDict(r.response) if r.response is not None else None}


out = {}
x = np.array([[1.0, 2.0, 3.0]])
for payload in ("ndarray", "tensor"):
    out[f"predict-{payload}"] = result(sc.microservice(method="predict", data=x, payload_type=payload))
out["predict-str"] = result(sc.microservice(method="predict", str_data="hello"))
out["predict-json"] = result(sc.microservice(method="predict", json_data={"q": [1, 2]}))
out["predict-bin"] = result(sc.microservice(method="predict", bin_data=b"\x00\x01binary"))
out["transform-input"] = result(sc.microservice(method="transform-input", data=x, payload_type="ndarray"))
out["transform-output"] = result(sc.microservice(method="transform-output", data=x, payload_type="ndarray"))
out["route"] = result(sc.microservice(method="route", data=x, payload_type="ndarray"))
agg = sc.microservice(method="aggregate", datas=[np.array([[1.0, 2.0]]), np.array([[3.0]])], payload_type="ndarray")
out["aggregate"] = {"success": agg.success, "msg": agg.msg,
                    "response": MessageToDict(agg.response) if agg.response is not None else None}
pred = sc.microservice(method="predict", data=x, payload_type="ndarray")
fb = sc.microservice_feedback(prediction_request=pred.request, prediction_response=pred.response, reward=1.0)
out["send-feedback"] = {"success": fb.success, "msg": fb.msg,
                        "response": MessageToDict(fb.response) if fb.response is not None else None}
print(json.dumps(out))
