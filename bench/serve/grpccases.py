"""gRPC cases: the request message of each case, its gRPC wire frame (what h2load replays), and a
real grpcio call that checks a server's answer.

The messages are built with the stubs that ship in modelpack's runtime (modelpack_runtime.grpc.gen,
generated from the wire facts: same packages, names and field numbers as Seldon's and the Open
Inference Protocol's .proto files), so the bytes are what Seldon's, Triton's and KServe's clients
send:
- grpc-seldon: seldon.protos.Model/Predict with `data.tensor` (shape + packed doubles), which is
  what SeldonClient sends over gRPC by default (payload_type="tensor"); `ndarray` would be a
  google.protobuf.ListValue of Values, a format no client picks for numbers;
- grpc-v2: inference.GRPCInferenceService/ModelInfer, one FP32 input in typed `fp32_contents`
  (what KServe's InferRequest.to_grpc sends);
- grpc-v2-raw: the same with the tensor in `raw_input_contents` (little-endian bytes; what
  Triton's client sends).
"""
from __future__ import annotations

import struct
from typing import Any

import numpy as np

METHODS = {
    "grpc-seldon": "/seldon.protos.Model/Predict",
    "grpc-v2": "/inference.GRPCInferenceService/ModelInfer",
    "grpc-v2-raw": "/inference.GRPCInferenceService/ModelInfer",
}
# h2load sends these with the framed body; gRPC servers also need method POST (h2load's -d).
HEADERS = {"content-type": "application/grpc", "te": "trailers"}
# 100 MiB both ways, as modelpack's default; a client must raise gRPC's 4 MiB receive default
# itself (docs/grpc.md). The large requests are 0.4-0.8 MB, under every server's default limit.
CHANNEL_OPTIONS = [("grpc.max_send_message_length", 100 << 20),
                   ("grpc.max_receive_message_length", 100 << 20)]
_RAW_DTYPES = {"FP32": "<f4", "FP64": "<f8"}


def _pb() -> tuple[Any, Any]:
    from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2, prediction_pb2
    return prediction_pb2, grpc_predict_v2_pb2


def request_message(protocol: str, x: np.ndarray, model: str) -> Any:
    """The request message for `protocol` carrying the 2-D float32 matrix `x`."""
    seldon, v2 = _pb()
    if protocol == "grpc-seldon":
        msg = seldon.SeldonMessage()
        msg.data.tensor.shape.extend(x.shape)
        msg.data.tensor.values.extend(x.astype(np.float64).ravel().tolist())  # float32 -> double: exact
        return msg
    if protocol not in ("grpc-v2", "grpc-v2-raw"):
        raise ValueError(f"not a gRPC protocol: {protocol!r}")
    msg = v2.ModelInferRequest(model_name=model)
    tensor = msg.inputs.add(name="x", datatype="FP32", shape=list(x.shape))
    if protocol == "grpc-v2":
        tensor.contents.fp32_contents.extend(x.ravel().tolist())
    else:
        msg.raw_input_contents.append(x.astype("<f4").tobytes())
    return msg


def frame(message: bytes) -> bytes:
    """One gRPC length-prefixed message: flag 0 (not compressed), 4-byte big-endian length, bytes."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def unframe(data: bytes) -> bytes:
    """The message inside one uncompressed gRPC frame (the inverse of frame())."""
    if len(data) < 5 or data[0] != 0:
        raise ValueError("not an uncompressed gRPC frame")
    (length,) = struct.unpack(">I", data[1:5])
    if len(data) != 5 + length:
        raise ValueError(f"gRPC frame says {length} bytes but holds {len(data) - 5}")
    return data[5:]


def answer_values(protocol: str, payload: bytes) -> np.ndarray:
    """The row sums in a serialized response, in whichever form the server chose: a Seldon answer
    as data.tensor or data.ndarray; a V2 answer in typed contents or in raw_output_contents."""
    seldon, v2 = _pb()
    kind = seldon.SeldonMessage if protocol == "grpc-seldon" else v2.ModelInferResponse
    from google.protobuf.message import DecodeError

    try:
        msg = kind.FromString(payload)
    except DecodeError as exc:
        raise AssertionError(f"answer is not a {kind.DESCRIPTOR.full_name}: {exc}") from None
    if protocol == "grpc-seldon":
        if msg.WhichOneof("data_oneof") != "data":
            raise AssertionError(f"answer has no data (status {msg.status.info or msg.status.reason!r})")
        data = msg.data
        which = data.WhichOneof("data_oneof")
        if which == "tensor":
            return np.asarray(data.tensor.values, dtype=np.float64)
        if which == "ndarray":
            return np.asarray(_numbers(data.ndarray), dtype=np.float64)
        raise AssertionError(f"answer data holds {which!r}, neither tensor nor ndarray")
    if not msg.outputs:
        raise AssertionError("answer has no outputs")
    out = msg.outputs[0]
    if msg.raw_output_contents:
        dtype = _RAW_DTYPES.get(out.datatype)
        if dtype is None:
            raise AssertionError(f"raw output of datatype {out.datatype!r}; expected FP32 or FP64")
        return np.frombuffer(msg.raw_output_contents[0], dtype=dtype).astype(np.float64)
    field = out.contents.ListFields()
    if len(field) != 1:
        raise AssertionError(f"output {out.name!r} has {len(field)} contents fields, expected one")
    return np.asarray(field[0][1], dtype=np.float64)


def _numbers(list_value: Any) -> list[float]:
    """Every number in a google.protobuf.ListValue, nested lists flattened in order."""
    out: list[float] = []
    for v in list_value.values:
        if v.WhichOneof("kind") == "list_value":
            out += _numbers(v.list_value)
        else:
            out.append(v.number_value)
    return out


def call(target: str, method: str, request: bytes, timeout: float = 30.0) -> bytes:
    """One unary call with grpcio over a fresh plaintext channel; the serialized answer. A status
    other than OK raises AssertionError naming it (and the server's details)."""
    import grpc

    with grpc.insecure_channel(target, options=CHANNEL_OPTIONS) as channel:
        # no (de)serializers: bytes in, bytes out, so the answer's size is known exactly
        stub = channel.unary_unary(method)
        try:
            return stub(request, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            details = exc.details() if hasattr(exc, "details") else str(exc)
            raise AssertionError(f"{method} on {target}: {getattr(code, 'name', code)}: {details}") from None


def wait_ready(target: str, timeout: float) -> None:
    """Until a gRPC (HTTP/2) connection to `target` is up; TimeoutError after `timeout` s."""
    import grpc

    with grpc.insecure_channel(target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise TimeoutError(f"no gRPC server answered on {target} within {timeout:.0f} s") from None
