"""Seldon protocol over gRPC with our own stubs: every service and method, and every error."""
from __future__ import annotations

import importlib.util

import grpc
import numpy as np
import pytest
from google.protobuf import any_pb2, empty_pb2, struct_pb2, wrappers_pb2

from modelpack_runtime.grpc.gen import prediction_pb2 as pb


def tensor_msg(values, shape, names=()) -> pb.SeldonMessage:
    m = pb.SeldonMessage()
    m.data.names.extend(names)
    m.data.tensor.shape.extend(shape)
    m.data.tensor.values.extend(values)
    return m


def ndarray_msg(rows) -> pb.SeldonMessage:
    m = pb.SeldonMessage()
    m.data.ndarray.extend(rows)
    return m


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)
    return info.value


def test_predict_tensor_keeps_tensor_and_puid(echo):
    req = tensor_msg([1, 2, 3, 4], [2, 2], names=["a", "b"])
    req.meta.puid = "p-1"
    resp = echo.seldon("Model").Predict(req, timeout=10)
    assert resp.data.WhichOneof("data_oneof") == "tensor"
    assert list(resp.data.tensor.shape) == [2, 2]
    assert list(resp.data.tensor.values) == [1, 2, 3, 4]
    assert list(resp.data.names) == ["t:0", "t:1"]
    assert resp.meta.puid == "p-1"


def test_predict_ndarray_numbers_are_floats(echo):
    resp = echo.seldon("Seldon").Predict(ndarray_msg([[1, 2], [3, 4]]), timeout=10)
    assert resp.data.WhichOneof("data_oneof") == "ndarray"
    rows = [[v.number_value for v in row.list_value.values] for row in resp.data.ndarray.values]
    assert rows == [[1.0, 2.0], [3.0, 4.0]]


def test_predict_str_bin_json_custom(echo):
    stub = echo.seldon("Model")
    assert stub.Predict(pb.SeldonMessage(strData="hello"), timeout=10).strData == "hello"
    assert stub.Predict(pb.SeldonMessage(binData=b"\x00\xffraw"), timeout=10).binData == b"\x00\xffraw"
    j = struct_pb2.Value()
    j.struct_value.update({"q": "hi", "n": [1, 2]})
    resp = stub.Predict(pb.SeldonMessage(jsonData=j), timeout=10)
    assert resp.WhichOneof("data_oneof") == "jsonData"
    assert resp.jsonData.struct_value["q"] == "hi"
    custom = any_pb2.Any()
    custom.Pack(wrappers_pb2.StringValue(value="packed"))
    resp = stub.Predict(pb.SeldonMessage(customData=custom), timeout=10)
    assert resp.WhichOneof("data_oneof") == "customData"
    out = wrappers_pb2.StringValue()
    assert resp.customData.Unpack(out) and out.value == "packed"


def test_meta_tags_and_metrics_round_trip(echo):
    req = tensor_msg([1.0], [1, 1])
    req.meta.tags["who"].string_value = "me"
    req.meta.routing["r"] = 2
    m = req.meta.metrics.add(key="k", type=pb.Metric.GAUGE, value=3.0)
    m.tags["a"] = "b"
    resp = echo.seldon("Model").Predict(req, timeout=10)
    assert resp.meta.tags["who"].string_value == "me"
    assert [(x.key, x.type, x.value, dict(x.tags)) for x in resp.meta.metrics] == [("k", pb.Metric.GAUGE, 3.0,
                                                                                    {"a": "b"})]


def test_generic_and_single_purpose_services(echo):
    req = tensor_msg([1, 2], [1, 2])
    for service in ("Generic", "Transformer"):
        assert list(echo.seldon(service).TransformInput(req, timeout=10).data.tensor.values) == [2, 4]
    for service in ("Generic", "OutputTransformer"):
        assert list(echo.seldon(service).TransformOutput(req, timeout=10).data.tensor.values) == [2, 3]
    for service in ("Generic", "Router"):
        routed = echo.seldon(service).Route(req, timeout=10)
        assert list(routed.data.tensor.values) == [1] and list(routed.data.tensor.shape) == [1, 1]
    msgs = pb.SeldonMessageList(seldonMessages=[tensor_msg([1, 2], [1, 2]), tensor_msg([10, 20], [1, 2])])
    for service in ("Generic", "Combiner"):
        assert list(echo.seldon(service).Aggregate(msgs, timeout=10).data.tensor.values) == [11, 22]


def test_send_feedback_on_every_service_that_has_it(echo):
    fb = pb.Feedback(request=tensor_msg([1, 2], [1, 2]), response=tensor_msg([1, 2], [1, 2]), reward=0.5)
    for service in ("Generic", "Model", "Router", "Seldon"):
        resp = echo.seldon(service).SendFeedback(fb, timeout=10)
        assert list(resp.data.tensor.values) == [0.5], service


def test_metadata_and_model_metadata(echo):
    md = echo.seldon("Model").Metadata(empty_pb2.Empty(), timeout=10)
    assert isinstance(md, pb.SeldonModelMetadata)
    md2 = echo.seldon("Seldon").ModelMetadata(pb.SeldonModelMetadataRequest(name="Model"), timeout=10)
    assert md == md2


def test_graph_metadata_is_unimplemented_with_a_reason(echo):
    err = rpc_error(echo.seldon("Seldon").GraphMetadata, empty_pb2.Empty())
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "Seldon executor" in err.details()


def test_user_exception_is_internal_and_server_goes_on(echo):
    stub = echo.seldon("Model")
    err = rpc_error(stub.Predict, pb.SeldonMessage(strData="boom"))
    assert err.code() == grpc.StatusCode.INTERNAL
    assert err.details() == "boom from user code"
    assert dict(err.trailing_metadata())["seldon-reason"] == "MICROSERVICE_INTERNAL_ERROR"
    assert stub.Predict(pb.SeldonMessage(strData="still here"), timeout=10).strData == "still here"


def test_bad_content_is_invalid_argument(echo):
    stub = echo.seldon("Model")
    # no payload at all
    err = rpc_error(stub.Predict, pb.SeldonMessage())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Invalid request data type" in err.details()
    # tensor values that do not fit the shape
    err = rpc_error(stub.Predict, tensor_msg([1, 2, 3], [2, 2]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "3 values do not fit shape [2, 2]" in err.details()
    # ragged ndarray
    err = rpc_error(stub.Predict, ndarray_msg([[1, 2], [3]]))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "ragged" in err.details()
    # empty aggregate list
    err = rpc_error(echo.seldon("Combiner").Aggregate, pb.SeldonMessageList())
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is not None,
                    reason="TensorFlow is installed here: the 'not installed' answer cannot be tested")
def test_tftensor_without_tensorflow_is_a_clear_invalid_argument(echo):
    req = pb.SeldonMessage()
    # a minimal TensorProto: dtype DT_FLOAT (field 1 = 1), float_val (field 5) = [1.0]
    req.data.tftensor = b"\x08\x01" + b"\x2a\x04" + np.float32(1.0).tobytes()
    err = rpc_error(echo.seldon("Model").Predict, req)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tftensor" in err.details() and "tensorflow" in err.details().lower()


def test_large_tensor_round_trips_exactly(echo):
    values = np.random.default_rng(0).random(200_000)
    resp = echo.seldon("Model").Predict(tensor_msg(values, [400, 500]), timeout=30)
    assert np.array_equal(np.asarray(resp.data.tensor.values), values)
    assert list(resp.data.tensor.shape) == [400, 500]


def test_predict_raw_gets_the_proto_on_grpc_and_the_dict_on_rest(start):
    import requests

    server = start("raw")
    assert server.seldon("Model").Predict(pb.SeldonMessage(strData="x"), timeout=10).strData == "proto:x"
    assert requests.post(server.url + "/predict", json={"strData": "x"}, timeout=10).json()["strData"] == "dict:x"


def test_raw_hook_falls_through_to_predict_on_both_transports(start):
    """A raw hook raising SeldonNotImplementedError falls through to predict(), on gRPC too (the
    data plane gets the decoded dict beside the proto), and send_feedback_raw gets the proto on gRPC."""
    import requests

    server = start("raw")
    resp = server.seldon("Model").Predict(tensor_msg(np.array([1.0, 2.0]), [1, 2]), timeout=10)
    assert list(resp.data.tensor.values) == [2.0, 4.0], resp
    rest = requests.post(server.url + "/predict", json={"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}},
                         timeout=10).json()
    assert rest["data"]["tensor"]["values"] == [2.0, 4.0], rest
    fb = pb.Feedback(request=pb.SeldonMessage(strData="q"), reward=1.0)
    assert server.seldon("Model").SendFeedback(fb, timeout=10).strData == "feedback:Feedback"
    rest_fb = requests.post(server.url + "/send-feedback", json={"request": {"strData": "q"}, "reward": 1.0},
                            timeout=10).json()
    assert rest_fb["strData"] == "feedback:dict", rest_fb
