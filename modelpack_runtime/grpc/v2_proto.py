"""Open Inference V2 protos <-> v2_codec's InferRequest / InferResponse.

Inputs come either as typed `contents` (one repeated field per datatype, below) or, for all
inputs at once, as `raw_input_contents` (little-endian bytes, BOOL one byte each, BYTES elements
prefixed by a 4-byte little-endian length). The answer uses `raw_output_contents` when the request
used raw inputs (or when an output is FP16, which has no typed field), typed `contents` otherwise.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from google.protobuf import json_format

from .. import v2_codec
from ..errors import MicroserviceError
from .gen import grpc_predict_v2_pb2 as pb
from .seldon_proto import _encode_varint

# datatype -> the InferTensorContents field that carries it (FP16 has none: raw only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
    "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_FIELD_DTYPE = {"bool_contents": np.bool_, "int_contents": np.int32, "int64_contents": np.int64,
                "uint_contents": np.uint32, "uint64_contents": np.uint64, "fp32_contents": np.float32,
                "fp64_contents": np.float64}


def params_to_dict(params: Any) -> dict:
    out = {}
    for key, p in params.items():
        kind = p.WhichOneof("parameter_choice")
        out[key] = getattr(p, kind) if kind else None
    return out


def fill_params(target: Any, params: Optional[dict], where: str) -> None:
    for key, value in (params or {}).items():
        p = target[key]
        if isinstance(value, bool) or isinstance(value, np.bool_):
            p.bool_param = bool(value)
        elif isinstance(value, (int, np.integer)):
            p.int64_param = int(value)
        elif isinstance(value, str):
            p.string_param = value
        else:  # InferParameter has no float or nested kind
            p.string_param = str(value)


def _typed_input(t: Any, shape: list, where: str) -> np.ndarray:
    datatype = t.datatype
    field = CONTENTS_FIELD.get(datatype)
    used = [f.name for f, _ in t.contents.ListFields()]
    if field is None:
        raise MicroserviceError(f"{where}: datatype {datatype} has no typed contents field; "
                                "send it in raw_input_contents")
    wrong = [f for f in used if f != field]
    if wrong:
        raise MicroserviceError(f"{where}: datatype {datatype} is carried in contents.{field}, "
                                f"but the request filled contents.{', '.join(wrong)}; use {field} or change datatype")
    count = int(np.prod(shape)) if shape else 1
    values = getattr(t.contents, field)
    if len(values) != count:
        # the same words as the REST decoder, so both transports answer alike (tests/runtime/grpc)
        raise MicroserviceError(f"{where}: shape {shape} needs {count} elements, got {len(values)}")
    if datatype == "BYTES":
        arr = np.empty(count, dtype=object)
        arr[:] = list(values)
        return arr.reshape(shape)
    arr = np.asarray(values, dtype=_FIELD_DTYPE[field])  # upb: one memcpy
    target = v2_codec.DTYPES[datatype]
    if arr.dtype != target:
        info = np.iinfo(target)
        if arr.size and (arr.min() < info.min or arr.max() > info.max):
            bad = arr.min() if arr.min() < info.min else arr.max()
            raise MicroserviceError(f"{where}: value {int(bad)} is out of range for {datatype} "
                                    f"({info.min}..{info.max})")
        arr = arr.astype(target)
    return arr.reshape(shape)


def request_from_proto(req: pb.ModelInferRequest) -> v2_codec.InferRequest:
    """ModelInferRequest -> InferRequest; every bad field gives a 400 naming the input."""
    if not req.inputs:
        raise MicroserviceError("ModelInferRequest.inputs is empty; send at least one input tensor")
    raw = list(req.raw_input_contents)
    if raw and len(raw) != len(req.inputs):
        raise MicroserviceError(f"raw_input_contents has {len(raw)} entries but there are {len(req.inputs)} inputs; "
                                "send one raw entry per input, in the same order")
    inputs = []
    for i, t in enumerate(req.inputs):
        where = f"input {t.name!r}" if t.name else f"inputs[{i}]"
        if t.datatype not in v2_codec.DTYPES:
            raise MicroserviceError(f"{where}: datatype {t.datatype!r} is not one of {', '.join(v2_codec.DTYPES)}")
        shape = list(t.shape)
        if any(d < 0 for d in shape):
            raise MicroserviceError(f"{where}: shape {shape} has a negative dimension; shapes must be >= 0")
        if raw:
            if t.HasField("contents") and t.contents.ListFields():
                raise MicroserviceError(f"{where} has typed contents while raw_input_contents is used; "
                                        "send all inputs one way")
            # same validation (and messages) as the REST binary extension
            arr = v2_codec._binary_tensor(raw[i], shape, t.datatype, where)  # noqa: SLF001
        else:
            arr = _typed_input(t, shape, where)
        inputs.append(v2_codec.Tensor(t.name, shape, t.datatype, arr, params_to_dict(t.parameters)))
    outputs = [v2_codec.RequestedOutput(o.name, params_to_dict(o.parameters)) for o in req.outputs]
    return v2_codec.InferRequest(inputs, req.id or None, params_to_dict(req.parameters), outputs)


# Packed floats are written as one length-delimited field: tag byte, varint length, raw bytes.
# That is ~1000x faster than extending the repeated field from a numpy array element by element.
_PACKED_TAG = {"fp32_contents": (b"\x32", "<f4"), "fp64_contents": (b"\x3a", "<f8")}


def _typed_output(out: Any, t: v2_codec.Tensor) -> None:
    field = CONTENTS_FIELD[t.datatype]
    flat = np.asarray(t.data).ravel()
    packed = _PACKED_TAG.get(field)
    if packed is not None:
        if flat.size:
            raw = np.ascontiguousarray(flat, dtype=packed[1]).tobytes()
            out.contents.MergeFromString(packed[0] + _encode_varint(len(raw)) + raw)
        return
    values = getattr(out.contents, field)
    if t.datatype == "BYTES":
        values.extend(v2_codec._bytes_of(x) for x in flat.tolist())  # noqa: SLF001
    else:
        values.extend(flat.astype(_FIELD_DTYPE[field], copy=False).tolist())


def response_to_proto(resp: v2_codec.InferResponse, raw: bool) -> pb.ModelInferResponse:
    """InferResponse -> ModelInferResponse; `raw` puts every output in raw_output_contents."""
    out = pb.ModelInferResponse(model_name=resp.model_name, model_version=resp.model_version or "",
                                id=resp.id or "")
    fill_params(out.parameters, resp.parameters, "response")
    raw = raw or any(t.datatype not in CONTENTS_FIELD for t in resp.outputs)
    for t in resp.outputs:
        o = out.outputs.add(name=t.name, datatype=t.datatype, shape=[int(d) for d in t.shape])
        fill_params(o.parameters, t.parameters, f"output {t.name!r}")
        if raw:
            out.raw_output_contents.append(v2_codec.binary_of(t))
        else:
            _typed_output(o, t)
    return out


def _from_dict(d: dict, message: Any) -> Any:
    from .seldon_proto import plain

    json_format.ParseDict(plain(d), message, ignore_unknown_fields=True)
    return message


def server_metadata_to_proto(d: dict) -> pb.ServerMetadataResponse:
    return _from_dict(d, pb.ServerMetadataResponse())


def model_metadata_to_proto(d: dict) -> pb.ModelMetadataResponse:
    return _from_dict(d, pb.ModelMetadataResponse())
