"""Runs in a virtualenv with seldon-core==1.18.2: calls a microservice over gRPC with Seldon's own
SeldonClient (microservice mode) and prints {call: {"success", "msg", "response"}} as JSON.
Usage: seldon_client_calls.py HOST:PORT"""
import json
import sys

import numpy as np
from google.protobuf import json_format
from seldon_core.seldon_client import SeldonClient


def as_json(result):
    resp = result.response
    return {"success": result.success, "msg": result.msg,
            "response": None if resp is None else json_format.MessageToDict(resp)}


def main():
    sc = SeldonClient(transport="grpc", microservice_endpoint=sys.argv[1])
    x = np.array([[1.0, 2.0]])
    out = {}
    p = sc.microservice(method="predict", data=x, payload_type="tensor")
    out["predict-tensor"] = as_json(p)
    out["predict-ndarray"] = as_json(sc.microservice(method="predict", data=x, payload_type="ndarray"))
    out["predict-str"] = as_json(sc.microservice(method="predict", str_data="hello"))
    out["predict-bin"] = as_json(sc.microservice(method="predict", bin_data=b"\x00\xffraw"))
    out["predict-json"] = as_json(sc.microservice(method="predict", json_data={"q": "hi"}))
    out["transform-input"] = as_json(sc.microservice(method="transform-input", data=x))
    out["transform-output"] = as_json(sc.microservice(method="transform-output", data=x))
    out["route"] = as_json(sc.microservice(method="route", data=x))
    out["aggregate"] = as_json(sc.microservice(method="aggregate", datas=[x, x * 10]))
    out["send-feedback"] = as_json(sc.microservice_feedback(prediction_request=p.request,
                                                            prediction_response=p.response, reward=0.75))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
