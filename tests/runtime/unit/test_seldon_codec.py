"""SeldonMessage decode (C.6) and encode (C.8) tables, and the C.8 examples byte for byte
after JSON normalisation, through a real DataPlane over the identity fixture."""
from __future__ import annotations

import base64
import json

import numpy as np
import orjson
import pytest

from modelpack_runtime import seldon_codec as sc
from modelpack_runtime.errors import MicroserviceError


def wire(obj: object) -> object:
    """What a REST client sees: orjson with numpy, then parsed back (JSON normalisation)."""
    return json.loads(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=sc.json_default))


def T(n: int) -> list:
    return [f"t:{i}" for i in range(n)]


# ---- decode ----------------------------------------------------------------------------------

@pytest.mark.parametrize("msg, expected, dtype_kind, kind", [
    ({"data": {"ndarray": [[1.0, 2.0]]}}, [[1.0, 2.0]], "f", "ndarray"),
    ({"data": {"ndarray": [[1, 2]]}}, [[1, 2]], "i", "ndarray"),  # C.6: integers stay integers
    ({"data": {"ndarray": [["a", "b"]]}}, [["a", "b"]], "U", "ndarray"),
    ({"data": {"ndarray": [[1, "b"]]}}, [["1", "b"]], "U", "ndarray"),  # mixed types coerced
    ({"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}}}, [[1, 2], [3, 4]], "i", "tensor"),
    ({"data": {"tensor": {"shape": [1, 3], "values": [0.5, 1.5, 2.5]}}}, [[0.5, 1.5, 2.5]], "f", "tensor"),
    ({"data": {"names": ["x"]}}, [], "f", "ndarray"),  # data with no payload -> np.array([])
])
def test_decode_data_kinds(msg: dict, expected: list, dtype_kind: str, kind: str) -> None:
    d = sc.decode(msg)
    assert isinstance(d.features, np.ndarray)
    assert d.features.tolist() == expected
    assert d.features.dtype.kind == dtype_kind
    assert d.kind == kind
    assert d.names == msg["data"].get("names", [])


def test_decode_tensor_values_as_numpy_fast_path() -> None:
    values = np.arange(6, dtype=np.float64)
    d = sc.decode({"data": {"tensor": {"shape": [2, 3], "values": values}}})
    assert d.features.shape == (2, 3) and d.features.dtype == np.float64


@pytest.mark.parametrize("msg, features", [
    ({"jsonData": {"q": [1, 2]}}, {"q": [1, 2]}),
    ({"strData": "hello"}, "hello"),
    ({"binData": base64.b64encode(b"\x00\x01raw").decode()}, b"\x00\x01raw"),
    ({"binData": b"grpc-bytes"}, b"grpc-bytes"),
])
def test_decode_other_payloads(msg: dict, features: object) -> None:
    d = sc.decode(dict(msg, meta={"puid": "p"}))
    assert d.features == features and d.kind is None and d.names == [] and d.meta == {"puid": "p"}


@pytest.mark.parametrize("msg, fragment", [
    ([1, 2], "must be a JSON object"),
    ({"meta": {}}, "Invalid request data type"),
    ({"data": {"ndarray": [[1, 2], [3]]}}, "ragged"),
    ({"data": {"ndarray": [[1, 2], 3]}}, "ragged"),
    ({"data": {"tensor": {"shape": [3, 2], "values": [1, 2, 3, 4]}}}, "4 values do not fit shape [3, 2]"),
    ({"data": {"tensor": {"shape": [2], "values": ["a", "b"]}}}, "flat list of numbers"),
    ({"data": {"tftensor": {"dtype": "DT_FLOAT"}}}, "needs tensorflow"),
    ({"data": [1, 2]}, "'data' must be an object"),
    ({"binData": "***not base64***"}, "not valid base64"),
    ({"strData": "x", "meta": [1]}, "'meta' must be an object, got list"),
    ({"strData": "x", "meta": {"tags": [1]}}, "meta.tags must be an object, got list"),
    ({"strData": "x", "meta": {"metrics": {}}}, "meta.metrics must be a list, got dict"),
    ({"strData": "x", "meta": {"puid": 5}}, "meta.puid must be a string, got int"),
])
def test_decode_errors_are_400_with_clear_message(msg: object, fragment: str) -> None:
    with pytest.raises(MicroserviceError) as ei:
        sc.decode(msg)
    assert ei.value.status_code == 400 and ei.value.reason == "MICROSERVICE_BAD_DATA"
    assert fragment in ei.value.message


# ---- encode ----------------------------------------------------------------------------------

@pytest.mark.parametrize("result, request_kind, expected", [
    (np.array([[1.0, 2.0]]), "ndarray", {"data": {"names": T(2), "ndarray": [[1.0, 2.0]]}}),
    (np.array([[1.0, 2.0]]), "tensor", {"data": {"names": T(2), "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}}),
    (np.array([[1.0, 2.0]]), None, {"data": {"names": T(2), "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}}),
    (np.array([1, 2, 3]), "ndarray", {"data": {"names": [], "ndarray": [1, 2, 3]}}),
    ([[1, 2]], "ndarray", {"data": {"names": T(2), "ndarray": [[1, 2]]}}),
    ([[1, 2]], None, {"data": {"names": T(2), "tensor": {"shape": [1, 2], "values": [1, 2]}}}),
    (np.array([["a", "b"]]), "tensor", {"data": {"names": T(2), "ndarray": [["a", "b"]]}}),  # non-numeric
    (["x", "y"], None, {"data": {"names": [], "ndarray": ["x", "y"]}}),
    ([[1, 2], [3]], "ndarray", {"data": {"names": [], "ndarray": [[1, 2], [3]]}}),  # ragged list as-is
    (np.array([True, False]), "tensor", {"data": {"names": [], "ndarray": [True, False]}}),
    (np.array([[1.5]], dtype=np.float16), "ndarray", {"data": {"names": T(1), "ndarray": [[1.5]]}}),
    (np.array([[1.5]], dtype=np.float16), "tensor", {"data": {"names": T(1), "tensor": {"shape": [1, 1], "values": [1.5]}}}),
    (np.array([[1, None]], dtype=object), "ndarray", {"data": {"names": T(2), "ndarray": [[1, None]]}}),
    (np.arange(6).reshape(2, 3).T, "ndarray", {"data": {"names": T(2), "ndarray": [[0, 3], [1, 4], [2, 5]]}}),
    ({"a": 1}, "ndarray", {"jsonData": {"a": 1}}),
    ("HELLO", None, {"strData": "HELLO"}),
    (b"\xff\x00", None, {"binData": base64.b64encode(b"\xff\x00").decode()}),
])
def test_encode_payload_table(result: object, request_kind: str | None, expected: dict) -> None:
    out = sc.encode_payload(result, request_kind, lambda n: T(n))
    assert wire(out) == expected
    # and orjson alone (no default hook) must be able to serialise every numpy value we emit
    orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)


def test_integer_results_keep_integers_on_rest() -> None:
    out = sc.encode_payload(np.array([[1, 2]], dtype=np.int32), "ndarray", T)
    assert orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY) == b'{"data":{"names":["t:0","t:1"],"ndarray":[[1,2]]}}'


def test_encode_uses_class_names_for_2d_only() -> None:
    assert sc.encode_payload(np.zeros((1, 2)), "ndarray", lambda n: ["p", "q"])["data"]["names"] == ["p", "q"]
    assert sc.encode_payload(np.zeros(2), "ndarray", lambda n: ["p", "q"])["data"]["names"] == []


def test_encode_unknown_type_is_400() -> None:
    with pytest.raises(MicroserviceError) as ei:
        sc.encode_payload(3.5, "ndarray", T)
    assert ei.value.status_code == 400 and "must be list or np array" in ei.value.message
    assert "float" in ei.value.message


def test_response_meta_merges_without_mutating_the_request() -> None:
    req = {"puid": "p1", "tags": {"a": 1}, "metrics": [{"key": "r", "type": "COUNTER", "value": 1}],
           "requestPath": {"up": "img:0"}, "routing": {"x": 1}}
    snapshot = json.loads(json.dumps(req))
    meta = sc.response_meta(req, {"b": 2}, [{"key": "c", "type": "GAUGE", "value": 2}], {"me": "img:1"})
    assert meta == {"puid": "p1", "tags": {"a": 1, "b": 2},
                    "metrics": [{"key": "r", "type": "COUNTER", "value": 1}, {"key": "c", "type": "GAUGE", "value": 2}],
                    "requestPath": {"up": "img:0", "me": "img:1"}}
    assert req == snapshot
    assert sc.response_meta(None, None, None, None) == {}


def test_json_default_handles_what_orjson_refuses() -> None:
    body = {"jsonData": {"arr": np.array(["a", "b"]), "n": np.float16(1.5), "o": np.array([1, None], dtype=object)}}
    assert wire(body) == {"jsonData": {"arr": ["a", "b"], "n": 1.5, "o": [1, None]}}


# ---- metadata --------------------------------------------------------------------------------

@pytest.mark.parametrize("image, name, tag", [
    ("repo/img:1.2", "repo/img", "1.2"),
    ("host:5000/img", "host:5000/img", "latest"),
    ("host:5000/img:v3", "host:5000/img", "v3"),
    (None, "", ""),
])
def test_split_image(image: str | None, name: str, tag: str) -> None:
    assert sc.split_image(image) == (name, tag)


@pytest.mark.parametrize("md, fragment", [
    ({"nope": 1}, "unknown metadata keys ['nope']"),
    ({"versions": "v1"}, "versions must be a list of strings"),
    ({"custom": {"a": 1}}, "custom must be a map of string to string"),
    ({"inputs": [{"name": "x", "datatype": "FP99", "shape": [1]}]}, "inputs[0].datatype 'FP99'"),
    ({"inputs": [{"name": "x", "datatype": "FP32"}]}, "inputs[0]"),
    ({"outputs": [{"messagetype": "tensor", "extra": 1}]}, "outputs[0]"),
    ({"outputs": [{"name": "y", "datatype": "INT64", "shape": ["a"]}]}, "outputs[0].shape"),
    ([], "metadata must be an object"),
])
def test_validate_metadata_errors(md: object, fragment: str) -> None:
    with pytest.raises(ValueError) as ei:
        sc.validate_metadata(md)
    assert fragment in str(ei.value)


def test_validate_metadata_accepts_both_item_forms() -> None:
    sc.validate_metadata({
        "name": "m", "versions": ["v"], "platform": "p", "custom": {"k": "v"},
        "inputs": [{"messagetype": "tensor", "schema": {"names": ["a"], "shape": [2]}}],
        "outputs": [{"name": "y", "datatype": "BYTES", "shape": [-1]}],
    })
