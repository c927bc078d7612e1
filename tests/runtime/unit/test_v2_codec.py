"""Open Inference V2 REST codec: every datatype in JSON and binary form, the binary extension
both ways, and the errors clients get for bad shapes, types and ranges."""
from __future__ import annotations

import json
import struct

import numpy as np
import orjson
import pytest

from modelpack_runtime import v2_codec as v2
from modelpack_runtime.errors import MicroserviceError

NUMERIC = {
    "UINT8": [0, 255], "UINT16": [0, 65535], "UINT32": [0, 2**32 - 1], "UINT64": [0, 2**64 - 1],
    "INT8": [-128, 127], "INT16": [-32768, 32767], "INT32": [-2**31, 2**31 - 1], "INT64": [-2**63, 2**63 - 1],
    "FP16": [0.5, -2.0], "FP32": [1.5, -0.25], "FP64": [1e300, -1e-300],
}


def body(*inputs: dict, **extra: object) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **extra})


@pytest.mark.parametrize("datatype, values", list(NUMERIC.items()) + [("BOOL", [True, False]), ("BYTES", ["a", "é"])])
@pytest.mark.parametrize("nested", [False, True])
def test_json_every_datatype(datatype: str, values: list, nested: bool) -> None:
    data = [values] if nested else values
    req = v2.decode_request(body({"name": "x", "shape": [1, 2], "datatype": datatype, "data": data}))
    t = req.inputs[0]
    assert (t.name, t.shape, t.datatype) == ("x", [1, 2], datatype)
    assert t.data.shape == (1, 2)
    if datatype == "BYTES":
        assert t.data.dtype == object and t.data.tolist() == [values]
    else:
        assert t.data.dtype == v2.DTYPES[datatype]
        assert t.data.ravel().tolist() == values


@pytest.mark.parametrize("datatype, values", list(NUMERIC.items()) + [("BOOL", [True, False])])
def test_binary_round_trip_every_datatype(datatype: str, values: list) -> None:
    arr = np.array(values, dtype=v2.DTYPES[datatype]).reshape(2, 1)
    raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    head = orjson.dumps({"inputs": [{"name": "x", "shape": [2, 1], "datatype": datatype,
                                     "parameters": {"binary_data_size": len(raw)}}]})
    req = v2.decode_request(head + raw, len(head))
    t = req.inputs[0]
    assert t.data.dtype == v2.DTYPES[datatype] and t.data.tolist() == arr.tolist()
    assert "binary_data_size" not in t.parameters
    # back out as binary
    resp = v2.InferResponse("m", [v2.Tensor("y", [2, 1], datatype, t.data)], binary=[True])
    out, hlen = v2.encode_response(resp)
    header = json.loads(out[:hlen])
    assert header["outputs"][0]["parameters"] == {"binary_data_size": len(raw)}
    assert "data" not in header["outputs"][0]
    assert out[hlen:] == raw


def test_binary_bytes_elements_are_length_prefixed() -> None:
    raw = struct.pack("<I", 3) + b"abc" + struct.pack("<I", 0) + struct.pack("<I", 2) + b"\xff\x00"
    head = body({"name": "s", "shape": [3], "datatype": "BYTES", "parameters": {"binary_data_size": len(raw)}})
    t = v2.decode_request(head + raw, len(head)).inputs[0]
    assert t.data.tolist() == [b"abc", b"", b"\xff\x00"]
    out, hlen = v2.encode_response(v2.InferResponse("m", [v2.Tensor("s", [3], "BYTES", t.data)], binary=[True]))
    assert out[hlen:] == raw


def test_mixed_json_and_binary_inputs_in_order() -> None:
    a = np.array([1.0, 2.0], dtype="<f4").tobytes()
    b = np.array([7], dtype="<i8").tobytes()
    head = body({"name": "a", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}},
                {"name": "j", "shape": [1], "datatype": "INT32", "data": [5]},
                {"name": "b", "shape": [1], "datatype": "INT64", "parameters": {"binary_data_size": 8}},
                id="req-1", parameters={"p": 1}, outputs=[{"name": "o", "parameters": {"binary_data": True}}])
    req = v2.decode_request(head + a + b, len(head))
    assert [t.data.tolist() for t in req.inputs] == [[1.0, 2.0], [5], [7]]
    assert req.id == "req-1" and req.parameters == {"p": 1}
    assert req.outputs[0].name == "o" and req.outputs[0].binary is True


def test_encode_json_response_fields_and_types() -> None:
    resp = v2.InferResponse("m", [
        v2.Tensor("f", [1, 2], "FP32", np.array([[1.5, 2.5]], dtype=np.float32)),
        v2.Tensor("h", [1], "FP16", np.array([0.5], dtype=np.float16)),
        v2.Tensor("i", [2], "INT64", np.array([1, 2])),
        v2.Tensor("b", [2], "BOOL", np.array([True, False])),
        v2.Tensor("s", [2], "BYTES", np.array(["x", b"y"], dtype=object)),
    ], model_version="3", id="r", parameters={"k": "v"})
    out, hlen = v2.encode_response(resp)
    assert hlen is None
    doc = json.loads(out)
    assert doc == {"model_name": "m", "model_version": "3", "id": "r", "parameters": {"k": "v"}, "outputs": [
        {"name": "f", "datatype": "FP32", "shape": [1, 2], "data": [1.5, 2.5]},
        {"name": "h", "datatype": "FP16", "shape": [1], "data": [0.5]},
        {"name": "i", "datatype": "INT64", "shape": [2], "data": [1, 2]},
        {"name": "b", "datatype": "BOOL", "shape": [2], "data": [True, False]},
        {"name": "s", "datatype": "BYTES", "shape": [2], "data": ["x", "y"]},
    ]}
    assert b'"data":[1,2]' in out  # integers stay integers


def test_binary_flags_from_request() -> None:
    outs = [v2.Tensor("a", [1], "FP32", np.zeros(1, np.float32)), v2.Tensor("b", [1], "FP32", np.zeros(1, np.float32))]
    req = v2.InferRequest([], parameters={"binary_data_output": True},
                          outputs=[v2.RequestedOutput("b", {"binary_data": False})])
    assert v2.binary_flags(req, outs) == [True, False]
    assert v2.binary_flags(v2.InferRequest([]), outs) is None
    out, hlen = v2.encode_response(v2.InferResponse("m", outs), req)
    doc = json.loads(out[:hlen])
    assert doc["outputs"][0]["parameters"] == {"binary_data_size": 4} and doc["outputs"][1]["data"] == [0.0]
    assert len(out) == hlen + 4


def test_non_utf8_bytes_in_json_output_explains_fix() -> None:
    with pytest.raises(MicroserviceError, match="binary_data_output"):
        v2.encode_response(v2.InferResponse("m", [v2.Tensor("s", [1], "BYTES", np.array([b"\xff"], dtype=object))]))


@pytest.mark.parametrize("doc, fragment", [
    ({"inputs": []}, "non-empty 'inputs'"),
    ({"inputs": [{"name": "x", "shape": [2], "datatype": "FP33", "data": [1, 2]}]}, "datatype 'FP33' is not one of"),
    ({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2]}]}, "shape [3] needs 3 elements, got 2"),
    ({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3]]}]}, "ragged"),
    ({"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]}, "non-negative integers"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT8", "data": [256]}]}, "value 256 is out of range for UINT8 (0..255)"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [-129]}]}, "value -129 is out of range for INT8"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "UINT64", "data": [-1]}]}, "out of range for UINT64"),
    ({"inputs": [{"name": "x", "shape": [2], "datatype": "INT64", "data": [2**63, 1]}]}, "value 9223372036854775808 is out of range for INT64"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "INT32", "data": [1.5]}]}, "INT32 data must be integers"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": ["1"]}]}, "FP32 data must be numbers"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [True]}]}, "FP32 data must be numbers"),
    ({"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [1, "a"]}]}, "FP64 data must be numbers"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}]}, "BOOL data must be true/false"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": [1]}]}, "BYTES data must be strings"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}, "neither 'data' nor parameters.binary_data_size"),
    ({"inputs": [{"shape": [1], "datatype": "FP32", "data": [1]}]}, "inputs[0].name must be a string"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": 3}]}, "parameters must be an object"),
    ({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"x": 1}]}, "outputs[0]"),
    ([1], "must be a JSON object"),
])
def test_decode_errors(doc: object, fragment: str) -> None:
    with pytest.raises(MicroserviceError) as ei:
        v2.decode_request(orjson.dumps(doc))
    assert ei.value.status_code == 400
    assert fragment in ei.value.message


@pytest.mark.parametrize("raw, header_delta, params, fragment", [
    (b"\x00" * 7, 0, {"binary_data_size": 7}, "binary_data_size is 7 bytes but shape [2] of FP32 needs 8"),
    (b"\x00" * 8, 0, {"binary_data_size": 16}, "runs past the end of the body"),
    (b"\x00" * 12, 0, {"binary_data_size": 8}, "4 bytes of binary data after the JSON are not claimed"),
    (b"\x00" * 8, 0, {"binary_data_size": "8"}, "binary_data_size must be a non-negative integer"),
    (b"\x00" * 8, 10**6, {"binary_data_size": 8}, "Inference-Header-Content-Length is"),
])
def test_binary_errors(raw: bytes, header_delta: int, params: dict, fragment: str) -> None:
    head = body({"name": "x", "shape": [2], "datatype": "FP32", "parameters": params})
    with pytest.raises(MicroserviceError) as ei:
        v2.decode_request(head + raw, len(head) + header_delta)
    assert fragment in ei.value.message


def test_binary_without_header_length_explains() -> None:
    head = body({"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": 4}})
    with pytest.raises(MicroserviceError, match="no Inference-Header-Content-Length header"):
        v2.decode_request(head, None)
    with pytest.raises(MicroserviceError, match="not valid JSON.*needs the Inference-Header-Content-Length header"):
        v2.decode_request(head + b"\x00" * 4, None)


def test_binary_and_data_together_is_an_error() -> None:
    head = body({"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}})
    with pytest.raises(MicroserviceError, match="both 'data' and parameters.binary_data_size"):
        v2.decode_request(head + b"\x00" * 4, len(head))


def test_truncated_bytes_element() -> None:
    raw = struct.pack("<I", 10) + b"abc"
    head = body({"name": "s", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": len(raw)}})
    with pytest.raises(MicroserviceError, match="runs past binary_data_size"):
        v2.decode_request(head + raw, len(head))


def test_bool_binary_rejects_other_bytes() -> None:
    head = body({"name": "b", "shape": [1], "datatype": "BOOL", "parameters": {"binary_data_size": 1}})
    with pytest.raises(MicroserviceError, match="bytes 0 or 1"):
        v2.decode_request(head + b"\x02", len(head))


@pytest.mark.parametrize("value, datatype, shape", [
    (np.zeros((2, 3), np.float32), "FP32", [2, 3]),
    ([1, 2], "INT64", [2]),
    (np.array(["a", "b"]), "BYTES", [2]),
    (np.array([b"a"], dtype=object), "BYTES", [1]),
    (np.array([1, 2], dtype=object), "INT64", [2]),
    (3.5, "FP64", [1]),
    ("text", "BYTES", [1]),
    (np.array([True]), "BOOL", [1]),
    (np.zeros(1, np.uint16), "UINT16", [1]),
])
def test_to_output_infers_datatype(value: object, datatype: str, shape: list) -> None:
    t = v2.to_output("o", value)
    assert (t.datatype, t.shape) == (datatype, shape)


def test_to_output_rejects_unrepresentable_dtype() -> None:
    with pytest.raises(MicroserviceError) as ei:
        v2.to_output("o", np.array([1 + 2j]))
    assert ei.value.status_code == 500 and "complex128" in ei.value.message


def test_large_float_json_decodes_fast() -> None:
    import time

    data = np.random.rand(1000, 100).tolist()
    raw = body({"name": "x", "shape": [1000, 100], "datatype": "FP32", "data": data})
    per_call = float("inf")
    for _ in range(5):  # best of 5: other processes on a shared machine only add time
        start = time.perf_counter()
        t = v2.decode_request(raw).inputs[0]
        per_call = min(per_call, time.perf_counter() - start)
    assert t.data.shape == (1000, 100) and t.data.dtype == np.float32
    # orjson parse + one np.array call: a per-element Python loop would take far longer
    assert per_call < 0.05, per_call
