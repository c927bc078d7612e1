"""The raw-limit baseline for gRPC: a minimal grpcio server, no framework, on the same server stack
as modelpack's gRPC (grpcio's synchronous `grpc.server` with a 1-thread ThreadPoolExecutor, as
modelpack's default GRPC_THREADS=1, and the same 100 MiB message limits), doing the same
decode -> numpy -> row sums -> encode work.

Requests are parsed by protobuf (upb, C) into the generated message classes (modelpack's committed
stubs: plain protoc output, no runtime code); the values go to numpy in one copy; the answer is
written as protobuf bytes by hand (tag, varint length, packed values), the cheapest correct
encoding. No validation, no metrics, no error mapping, no health or reflection service: a ceiling
to measure against, not a server to copy. raw_app.py starts it in the same process as the ASGI
app (as modelpack serves both from one worker) when RAW_GRPC_PORT is set.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np

from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2 as v2
from modelpack_runtime.grpc.gen import prediction_pb2 as seldon

_LIMIT = 100 << 20
_RAW_DTYPES = {"FP32": "<f4", "FP64": "<f8"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): key byte, varint length, payload."""
    return bytes([tag << 3 | 2]) + _varint(len(payload)) + payload


def _packed_shape(shape: tuple[int, ...]) -> bytes:
    return b"".join(_varint(d) for d in shape)


def seldon_predict(request: seldon.SeldonMessage, context: grpc.ServicerContext) -> bytes:
    tensor = request.data.tensor
    x = np.asarray(tensor.values, dtype=np.float64).reshape(tuple(tensor.shape))
    sums = x.sum(axis=1)
    # SeldonMessage{data(3): DefaultData{tensor(2): Tensor{shape(1), values(2)}}}
    t = _field(1, _packed_shape(sums.shape)) + _field(2, sums.astype("<f8").tobytes())
    return _field(3, _field(2, t))


def v2_infer(request: v2.ModelInferRequest, context: grpc.ServicerContext) -> bytes:
    spec = request.inputs[0]
    shape = tuple(spec.shape)
    if request.raw_input_contents:
        x = np.frombuffer(request.raw_input_contents[0], dtype=_RAW_DTYPES[spec.datatype]).reshape(shape)
    else:
        values = spec.contents.fp32_contents if spec.datatype == "FP32" else spec.contents.fp64_contents
        x = np.asarray(values, dtype=_RAW_DTYPES[spec.datatype]).reshape(shape)
    sums = x.sum(axis=1)
    data = sums.astype(_RAW_DTYPES[spec.datatype]).tobytes()
    # InferOutputTensor{name(1), datatype(2), shape(3), contents(5){fp32(6) | fp64(7)}}
    out = _field(1, b"sum") + _field(2, spec.datatype.encode()) + _field(3, _packed_shape(sums.shape))
    if request.raw_input_contents:
        # ModelInferResponse{model_name(1), outputs(5), raw_output_contents(6)}
        return _field(1, request.model_name.encode()) + _field(5, out) + _field(6, data)
    contents = _field(6 if spec.datatype == "FP32" else 7, data)
    return _field(1, request.model_name.encode()) + _field(5, out + _field(5, contents))


def serve(port: int) -> grpc.Server:
    """Start the baseline on 127.0.0.1:`port` and return the running server."""
    handlers = {
        "seldon.protos.Model": {"Predict": grpc.unary_unary_rpc_method_handler(
            seldon_predict, request_deserializer=seldon.SeldonMessage.FromString)},
        "inference.GRPCInferenceService": {"ModelInfer": grpc.unary_unary_rpc_method_handler(
            v2_infer, request_deserializer=v2.ModelInferRequest.FromString)},
    }
    server = grpc.server(ThreadPoolExecutor(max_workers=1),
                         options=[("grpc.max_send_message_length", _LIMIT),
                                  ("grpc.max_receive_message_length", _LIMIT)])
    # no response_serializer: the handlers return the encoded bytes themselves
    server.add_generic_rpc_handlers(tuple(grpc.method_handlers_generic_handler(service, methods)
                                          for service, methods in handlers.items()))
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise RuntimeError(f"raw gRPC baseline cannot listen on 127.0.0.1:{port}")
    server.start()
    return server
