"""Open Inference V2 over gRPC with our own stubs: health, metadata, typed and raw infer, errors."""
from __future__ import annotations

import struct

import grpc
import numpy as np
import pytest

from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2 as v2


def infer_request(name="x", datatype="FP32", shape=(1, 3), field="fp32_contents", values=(1.0, 2.0, 3.0),
                  model="Model") -> v2.ModelInferRequest:
    req = v2.ModelInferRequest(model_name=model, id="req-1")
    t = req.inputs.add(name=name, datatype=datatype, shape=list(shape))
    getattr(t.contents, field).extend(values)
    return req


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)
    return info.value


def test_server_live_ready_and_model_ready(echo):
    stub = echo.v2()
    assert stub.ServerLive(v2.ServerLiveRequest(), timeout=10).live is True
    assert stub.ServerReady(v2.ServerReadyRequest(), timeout=10).ready is True
    assert stub.ModelReady(v2.ModelReadyRequest(name="Model"), timeout=10).ready is True


def test_server_and_model_metadata(echo):
    stub = echo.v2()
    md = stub.ServerMetadata(v2.ServerMetadataRequest(), timeout=10)
    assert md.name == "modelpack" and "binary_tensor_data" in md.extensions
    mm = stub.ModelMetadata(v2.ModelMetadataRequest(name="Model"), timeout=10)
    assert mm.name == "Model"


@pytest.mark.parametrize("datatype,field,values,dtype", [
    ("FP32", "fp32_contents", [1.5, -2.0, 3.25], np.float32),
    ("FP64", "fp64_contents", [1e300, -2.0, 0.1], np.float64),
    ("INT32", "int_contents", [1, -2, 3], np.int32),
    ("INT8", "int_contents", [1, -2, 127], np.int8),
    ("INT64", "int64_contents", [2**40, -2, 3], np.int64),
    ("UINT8", "uint_contents", [0, 200, 255], np.uint8),
    ("UINT64", "uint64_contents", [2**63, 1, 2], np.uint64),
    ("BOOL", "bool_contents", [True, False, True], np.bool_),
])
def test_typed_contents_round_trip(echo, datatype, field, values, dtype):
    resp = echo.v2().ModelInfer(infer_request(datatype=datatype, field=field, values=values), timeout=10)
    assert resp.model_name == "Model" and resp.id == "req-1"
    (out,) = resp.outputs
    assert (out.name, out.datatype, list(out.shape)) == ("output-0", datatype, [1, 3])
    assert not resp.raw_output_contents
    got = np.asarray(list(getattr(out.contents, field)), dtype=dtype)
    assert np.array_equal(got, np.asarray(values, dtype=dtype))


def test_bytes_contents_round_trip(echo):
    req = infer_request(datatype="BYTES", field="bytes_contents", values=[b"a", b"\x00\xff", b""])
    (out,) = echo.v2().ModelInfer(req, timeout=10).outputs
    assert out.datatype == "BYTES" and list(out.contents.bytes_contents) == [b"a", b"\x00\xff", b""]


def test_raw_input_contents_get_raw_output_contents(echo):
    req = v2.ModelInferRequest(model_name="Model")
    req.inputs.add(name="x", datatype="FP32", shape=[2, 2])
    req.raw_input_contents.append(np.arange(4, dtype="<f4").tobytes())
    resp = echo.v2().ModelInfer(req, timeout=10)
    assert len(resp.raw_output_contents) == 1 and not resp.outputs[0].contents.ListFields()
    assert np.array_equal(np.frombuffer(resp.raw_output_contents[0], "<f4"), np.arange(4, dtype="<f4"))


def test_raw_bytes_are_length_prefixed(echo):
    items = [b"hello", b"", b"\x01\x02"]
    req = v2.ModelInferRequest(model_name="Model")
    req.inputs.add(name="s", datatype="BYTES", shape=[3])
    req.raw_input_contents.append(b"".join(struct.pack("<I", len(b)) + b for b in items))
    resp = echo.v2().ModelInfer(req, timeout=10)
    assert resp.raw_output_contents[0] == req.raw_input_contents[0]


def test_fp16_needs_raw_and_answers_raw(echo):
    req = infer_request(datatype="FP16", field="fp32_contents", values=[1, 2, 3])
    err = rpc_error(echo.v2().ModelInfer, req)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "raw_input_contents" in err.details()
    req = v2.ModelInferRequest(model_name="Model")
    req.inputs.add(name="h", datatype="FP16", shape=[2])
    req.raw_input_contents.append(np.array([1.5, 2.5], "<f2").tobytes())
    resp = echo.v2().ModelInfer(req, timeout=10)
    assert np.array_equal(np.frombuffer(resp.raw_output_contents[0], "<f2"), [1.5, 2.5])


def test_unknown_model_is_not_found(echo):
    stub = echo.v2()
    for call, req in ((stub.ModelInfer, infer_request(model="nope")),
                      (stub.ModelReady, v2.ModelReadyRequest(name="nope")),
                      (stub.ModelMetadata, v2.ModelMetadataRequest(name="nope"))):
        err = rpc_error(call, req)
        assert err.code() == grpc.StatusCode.NOT_FOUND, call
        assert "nope" in err.details()


@pytest.mark.parametrize("req,words", [
    (infer_request(datatype="FP23"), "datatype 'FP23' is not one of"),
    (infer_request(datatype="FP32", field="fp64_contents"), "carried in contents.fp32_contents"),
    (infer_request(shape=(2, 3)), "shape [2, 3] needs 6 elements"),
    (infer_request(datatype="INT8", field="int_contents", values=[1, 300, 2]), "out of range for INT8"),
    (v2.ModelInferRequest(model_name="Model"), "inputs is empty"),
])
def test_wrong_content_is_invalid_argument(echo, req, words):
    err = rpc_error(echo.v2().ModelInfer, req)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in err.details()


def test_raw_size_mismatch_is_invalid_argument(echo):
    req = v2.ModelInferRequest(model_name="Model")
    req.inputs.add(name="x", datatype="FP32", shape=[3])
    req.raw_input_contents.append(b"\x00" * 8)
    err = rpc_error(echo.v2().ModelInfer, req)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "needs 12" in err.details()
    req.raw_input_contents.append(b"\x00" * 12)
    err = rpc_error(echo.v2().ModelInfer, req)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "one raw entry per input" in err.details()


def test_requested_outputs_and_parameters(echo):
    req = infer_request()
    req.outputs.add(name="y")
    req.parameters["p"].string_param = "v"
    resp = echo.v2().ModelInfer(req, timeout=10)
    assert [o.name for o in resp.outputs] == ["y"]
