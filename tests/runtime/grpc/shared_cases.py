"""One table of cases, each a request in the REST JSON shape and the answer both transports must give.

test_shared_cases.py sends every case over REST and over gRPC (the JSON converted to the proto with
protobuf's json_format, the reply converted back) and asserts both equal `expected`. An error
case expects (HTTP status, gRPC status name, message), and the REST error text must equal the gRPC
details. The model is models/echo (identity predict, doubling transform-input, route -> 1,
summing aggregate, feedback -> [reward]).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional


class Err(NamedTuple):
    http: int
    grpc: str
    words: str  # a fragment the message must contain


class Case(NamedTuple):
    id: str
    protocol: str  # "seldon" | "v2"
    method: str    # Seldon: predict | transform-input | route | aggregate | send-feedback; V2: infer
    request: Any
    expected: Any  # the response dict, or an Err
    model: Optional[str] = None  # V2 model name (default: the served one)


T12 = {"shape": [1, 2], "values": [1.5, 2.5]}

SELDON = [
    Case("tensor", "seldon", "predict", {"data": {"names": ["a", "b"], "tensor": T12}, "meta": {"puid": "p"}},
         {"data": {"names": ["t:0", "t:1"], "tensor": T12}, "meta": {"puid": "p"}}),
    Case("ndarray", "seldon", "predict", {"data": {"ndarray": [[1.0, 2.0], [3.0, 4.0]]}},
         {"data": {"names": ["t:0", "t:1"], "ndarray": [[1.0, 2.0], [3.0, 4.0]]}, "meta": {}}),
    Case("ndarray-1d", "seldon", "predict", {"data": {"ndarray": [1.0, 2.0]}},
         {"data": {"names": [], "ndarray": [1.0, 2.0]}, "meta": {}}),
    Case("ndarray-strings", "seldon", "predict", {"data": {"ndarray": [["a", "b"]]}},
         {"data": {"names": ["t:0", "t:1"], "ndarray": [["a", "b"]]}, "meta": {}}),
    Case("strData", "seldon", "predict", {"strData": "hello"}, {"strData": "hello", "meta": {}}),
    Case("jsonData", "seldon", "predict", {"jsonData": {"q": "hi", "n": [1.0, 2.0], "ok": True}},
         {"jsonData": {"q": "hi", "n": [1.0, 2.0], "ok": True}, "meta": {}}),
    Case("binData", "seldon", "predict", {"binData": "aGkA/w=="}, {"binData": "aGkA/w==", "meta": {}}),
    Case("tags", "seldon", "predict", {"strData": "x", "meta": {"tags": {"a": "b"}}},
         {"strData": "x", "meta": {"tags": {"a": "b"}}}),
    Case("transform-input", "seldon", "transform-input", {"data": {"tensor": T12}},
         {"data": {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [3.0, 5.0]}}, "meta": {}}),
    Case("route-ndarray", "seldon", "route", {"data": {"ndarray": [[1.0, 2.0]]}},
         {"data": {"names": ["t:0"], "ndarray": [[1]]}, "meta": {}}),
    Case("route-tensor", "seldon", "route", {"data": {"tensor": T12}},
         {"data": {"names": ["t:0"], "tensor": {"shape": [1, 1], "values": [1]}}, "meta": {}}),
    Case("aggregate", "seldon", "aggregate",
         {"seldonMessages": [{"data": {"tensor": T12}}, {"data": {"tensor": {"shape": [1, 2], "values": [10, 20]}}}]},
         {"data": {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [11.5, 22.5]}}, "meta": {}}),
    Case("feedback", "seldon", "send-feedback",
         {"request": {"data": {"ndarray": [[1.0, 2.0]]}}, "reward": 0.5},
         {"data": {"ndarray": [0.5]}, "meta": {}}),  # Seldon drops empty fields from feedback answers
    Case("no-payload", "seldon", "predict", {"meta": {"puid": "x"}},
         Err(400, "INVALID_ARGUMENT", "Invalid request data type")),
    Case("tensor-shape", "seldon", "predict", {"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3]}}},
         Err(400, "INVALID_ARGUMENT", "3 values do not fit shape [2, 2]")),
    Case("user-exception", "seldon", "predict", {"strData": "boom"},
         Err(500, "INTERNAL", "boom from user code")),
]


def v2_input(name: str, datatype: str, shape: list, data: list) -> dict:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


V2 = [
    Case("fp32", "v2", "infer", {"inputs": [v2_input("x", "FP32", [1, 3], [1.5, 2.0, -3.0])]},
         {"model_name": "Model", "outputs": [v2_input("output-0", "FP32", [1, 3], [1.5, 2.0, -3.0])]}),
    Case("int64", "v2", "infer", {"id": "i-1", "inputs": [v2_input("x", "INT64", [2], [1, -2])]},
         {"model_name": "Model", "id": "i-1", "outputs": [v2_input("output-0", "INT64", [2], [1, -2])]}),
    Case("bool", "v2", "infer", {"inputs": [v2_input("x", "BOOL", [2], [True, False])]},
         {"model_name": "Model", "outputs": [v2_input("output-0", "BOOL", [2], [True, False])]}),
    Case("bytes", "v2", "infer", {"inputs": [v2_input("x", "BYTES", [2], ["ab", "c"])]},
         {"model_name": "Model", "outputs": [v2_input("output-0", "BYTES", [2], ["ab", "c"])]}),
    Case("unknown-model", "v2", "infer", {"inputs": [v2_input("x", "FP32", [1], [1.0])]},
         Err(404, "NOT_FOUND", "nope"), model="nope"),
    Case("v2-shape", "v2", "infer", {"inputs": [v2_input("x", "FP32", [2, 2], [1.0, 2.0])]},
         Err(400, "INVALID_ARGUMENT", "shape [2, 2] needs 4 elements")),
]

CASES = SELDON + V2
