"""Every case of shared_cases.CASES over REST and over gRPC: both answers equal the expected one."""
from __future__ import annotations

import base64
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import json_format

from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2 as v2
from modelpack_runtime.grpc.gen import prediction_pb2 as pb
from modelpack_runtime.grpc.v2_proto import CONTENTS_FIELD

from .shared_cases import CASES, Case, Err

REST_PATH = {"predict": "/predict", "transform-input": "/transform-input", "route": "/route",
             "aggregate": "/aggregate", "send-feedback": "/send-feedback"}
GRPC_CALL = {"predict": ("Model", "Predict", pb.SeldonMessage), "transform-input": ("Generic", "TransformInput",
             pb.SeldonMessage), "route": ("Router", "Route", pb.SeldonMessage),
             "aggregate": ("Combiner", "Aggregate", pb.SeldonMessageList),
             "send-feedback": ("Model", "SendFeedback", pb.Feedback)}


def over_rest(server, case: Case) -> tuple[int, Any]:
    if case.protocol == "seldon":
        r = requests.post(server.url + REST_PATH[case.method], json=case.request, timeout=10)
        body = r.json()
        return r.status_code, (body["status"]["info"] if r.status_code != 200 else body)
    r = requests.post(f"{server.url}/v2/models/{case.model or 'Model'}/infer", json=case.request, timeout=10)
    body = r.json()
    return r.status_code, (body["error"] if r.status_code != 200 else body)


def _seldon_json(msg: Any) -> dict:
    return json_format.MessageToDict(msg)


def proto3_view(expected: Any) -> Any:
    """`expected` as a proto3 message can carry it: an empty repeated field (data.names == [])
    is not on the wire, so it is absent after the gRPC round trip."""
    if isinstance(expected, dict) and isinstance(expected.get("data"), dict) and expected["data"].get("names") == []:
        expected = dict(expected, data={k: v for k, v in expected["data"].items() if k != "names"})
    return expected


def _v2_request(case: Case) -> v2.ModelInferRequest:
    req = v2.ModelInferRequest(model_name=case.model or "Model", id=case.request.get("id", ""))
    for t in case.request["inputs"]:
        i = req.inputs.add(name=t["name"], datatype=t["datatype"], shape=t["shape"])
        data = t["data"]
        if t["datatype"] == "BYTES":
            data = [x.encode() for x in data]
        getattr(i.contents, CONTENTS_FIELD[t["datatype"]]).extend(data)
    return req


def _v2_json(resp: v2.ModelInferResponse) -> dict:
    out: dict = {"model_name": resp.model_name}
    if resp.id:
        out["id"] = resp.id
    outputs = []
    for o in resp.outputs:
        values = list(getattr(o.contents, CONTENTS_FIELD[o.datatype]))
        if o.datatype == "BYTES":
            values = [v.decode() for v in values]
        outputs.append({"name": o.name, "datatype": o.datatype, "shape": list(o.shape), "data": values})
    out["outputs"] = outputs
    return out


def over_grpc(server, case: Case) -> tuple[str, Any]:
    try:
        if case.protocol == "seldon":
            service, rpc, cls = GRPC_CALL[case.method]
            request = json_format.ParseDict(case.request, cls())
            return "OK", _seldon_json(getattr(server.seldon(service), rpc)(request, timeout=10))
        return "OK", _v2_json(server.v2().ModelInfer(_v2_request(case), timeout=10))
    except grpc.RpcError as e:
        return e.code().name, e.details()


def _plain(x: Any) -> Any:
    """REST V2 sends numbers as JSON; unify ints/floats/bools through numpy-free Python values."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


@pytest.mark.parametrize("case", CASES, ids=[f"{c.protocol}-{c.id}" for c in CASES])
def test_rest_and_grpc_give_the_expected_answer(echo, case: Case):
    http_status, rest = over_rest(echo, case)
    grpc_status, got = over_grpc(echo, case)
    if isinstance(case.expected, Err):
        assert (http_status, grpc_status) == (case.expected.http, case.expected.grpc), (rest, got)
        assert case.expected.words in rest
        assert got == rest, "gRPC details must carry the same message as the REST error body"
        return
    assert http_status == 200, rest
    assert grpc_status == "OK", got
    assert _plain(rest) == case.expected
    assert _plain(got) == (proto3_view(case.expected) if case.protocol == "seldon" else case.expected)


def test_bindata_case_is_really_binary():
    # guard the table itself: the binData case carries non-UTF-8 bytes
    (case,) = [c for c in CASES if c.id == "binData"]
    assert b"\xff" in base64.b64decode(case.request["binData"])
