"""The proto <-> dict/tensor codecs on their own (no server)."""
from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import any_pb2, wrappers_pb2

from modelpack_runtime import v2_codec
from modelpack_runtime.errors import MicroserviceError
from modelpack_runtime.grpc import seldon_proto, v2_proto
from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2 as v2
from modelpack_runtime.grpc.gen import prediction_pb2 as pb


def test_tensor_values_become_a_writable_float64_array():
    m = pb.SeldonMessage()
    m.data.tensor.shape.extend([2, 3])
    m.data.tensor.values.extend(range(6))
    d = seldon_proto.message_to_dict(pb.SeldonMessage.FromString(m.SerializeToString()))
    values = d["data"]["tensor"]["values"]
    assert values.dtype == np.float64 and values.flags.writeable
    assert values.tolist() == [0, 1, 2, 3, 4, 5] and d["data"]["tensor"]["shape"] == [2, 3]
    values[0] = 42  # the user may modify X in place without touching the message
    assert m.data.tensor.values[0] == 0


def test_fill_tensor_writes_shape_and_values_in_one_piece():
    t = pb.Tensor()
    seldon_proto.fill_tensor(t, [2, -1], np.arange(4, dtype=np.int64))
    assert list(t.shape) == [2, -1] and list(t.values) == [0.0, 1.0, 2.0, 3.0]
    msg = pb.SeldonMessage()
    seldon_proto.fill_tensor(msg.data.tensor, [0], [])
    assert msg.data.WhichOneof("data_oneof") == "tensor" and list(msg.data.tensor.shape) == [0]


def test_response_dict_kinds():
    m = seldon_proto.dict_to_message({"data": {"names": ["a"], "ndarray": np.array([[1, 2]])}, "meta": {}})
    assert m.data.ndarray.values[0].list_value.values[1].number_value == 2.0
    m = seldon_proto.dict_to_message({"binData": "aGk=", "meta": {"puid": "p", "tags": {"n": np.int64(3)}}})
    assert m.binData == b"hi" and m.meta.tags["n"].number_value == 3
    packed = any_pb2.Any()
    packed.Pack(wrappers_pb2.Int32Value(value=7))
    assert seldon_proto.dict_to_message({"customData": packed, "meta": {}}).customData == packed
    m = seldon_proto.dict_to_message({"jsonData": {"a": [np.float32(0.5), None]}, "meta": {}})
    assert m.jsonData.struct_value["a"][0] == 0.5


def test_a_bad_meta_in_a_response_is_an_internal_error():
    with pytest.raises(MicroserviceError) as info:
        seldon_proto.dict_to_message({"strData": "x", "meta": {"routing": {"a": "not-an-int"}}})
    assert info.value.status_code == 500 and "meta" in info.value.message


def test_v2_raw_bytes_and_typed_uint8_range():
    req = v2.ModelInferRequest(model_name="m")
    req.inputs.add(name="s", datatype="BYTES", shape=[2])
    req.raw_input_contents.append(b"\x01\x00\x00\x00a\x00\x00\x00\x00")
    (t,) = v2_proto.request_from_proto(req).inputs
    assert t.data.tolist() == [b"a", b""]
    req = v2.ModelInferRequest(model_name="m")
    req.inputs.add(name="u", datatype="UINT8", shape=[2]).contents.uint_contents.extend([1, 256])
    with pytest.raises(MicroserviceError, match=r"input 'u': value 256 is out of range for UINT8"):
        v2_proto.request_from_proto(req)


def test_v2_fp16_output_forces_raw_for_every_output():
    resp = v2_codec.InferResponse("m", [v2_codec.to_output("h", np.array([1.5], np.float16)),
                                        v2_codec.to_output("f", np.array([2.0], np.float32))])
    out = v2_proto.response_to_proto(resp, raw=False)
    assert len(out.raw_output_contents) == 2
    assert np.frombuffer(out.raw_output_contents[0], "<f2").tolist() == [1.5]
    assert not any(o.contents.ListFields() for o in out.outputs)


def test_v2_parameters_round_trip():
    req = v2.ModelInferRequest(model_name="m")
    req.parameters["b"].bool_param = True
    req.parameters["i"].int64_param = 5
    req.parameters["s"].string_param = "x"
    req.inputs.add(name="x", datatype="FP32", shape=[1]).contents.fp32_contents.append(1.0)
    assert v2_proto.request_from_proto(req).parameters == {"b": True, "i": 5, "s": "x"}


def test_meta_to_dict_matches_json_format():
    from google.protobuf import json_format

    m = pb.Meta(puid="p")
    m.tags["a"].string_value = "b"
    m.tags["n"].list_value.values.add().number_value = 1
    m.routing["r"] = 3
    m.requestPath["u"] = "img:1"
    m.metrics.add(key="c", type=pb.Metric.COUNTER, value=1).tags["x"] = "y"
    m.metrics.add(key="g", type=pb.Metric.GAUGE, value=2)
    assert seldon_proto.meta_to_dict(m) == json_format.MessageToDict(m)
    assert seldon_proto.meta_to_dict(pb.Meta()) == json_format.MessageToDict(pb.Meta()) == {}


def test_value_to_python_matches_json_format():
    from google.protobuf import json_format, struct_pb2

    v = struct_pb2.Value()
    json_format.ParseDict({"a": [1, 2.5, "s", True, None, {"b": []}], "c": {}}, v)
    assert seldon_proto.value_to_python(v) == json_format.MessageToDict(v)
    assert seldon_proto.value_to_python(struct_pb2.Value()) is None
